"""Faults during work: killed, poisoned and hung workers, a killed scheduler, Ctrl-C, actors.

Scenarios 1, 2, 3, 7, 8 and 9 of issue 8. Each starts its own 2-worker local cluster.
"""

from __future__ import annotations

import _thread
import collections
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks.reliability import work
from benchmarks.reliability._core import Result, rounded, scenario, start_local, wait_until, worker_pids


@scenario(1, "Worker SIGKILL mid-map")
def worker_sigkill_mid_map(full: bool) -> Result:
    """200 items of 50 ms on 2 workers; one worker is SIGKILLed after 50 results."""
    import clusterkit as ck

    n = 200
    session = start_local()
    try:
        with tempfile.TemporaryDirectory() as folder:
            victim = worker_pids(session)[0]
            seen: collections.Counter[int] = collections.Counter()
            started = time.monotonic()
            for value in ck.imap(work.record_and_sleep, range(n), [folder] * n, ordered=False, progress=False):
                seen[value] += 1
                if sum(seen.values()) == n // 4:
                    os.kill(victim, signal.SIGKILL)
            seconds = time.monotonic() - started
            executions = len(work.executions(folder))
    finally:
        session.stop()
    delivered = len(seen)
    duplicates = sum(seen.values()) - delivered
    return Result(
        1, "Worker SIGKILL mid-map",
        {"items": n, "delivered": delivered, "duplicates delivered": duplicates,
         "executions": executions, "seconds": rounded(seconds)},
        target=f"delivered {n}/{n}, 0 duplicates",
        passed=delivered == n and duplicates == 0 and sorted(seen) == list(range(n)),
        note=f"{executions - n} re-executions: the batch on the killed worker ran again elsewhere",
    )


@scenario(2, "Poison task (os._exit) among 50 good ones")
def poison_task(full: bool) -> Result:
    import clusterkit as ck

    n, bad = 51, 25
    session = start_local()
    error: BaseException | None = None
    try:
        started = time.monotonic()
        try:
            ck.map(work.poison, range(n), [bad] * n, progress=False)
        except Exception as exc:
            error = exc
        seconds = time.monotonic() - started
        restored = wait_until(lambda: len(session.client.scheduler_info(n_workers=-1)["workers"]) == 2, timeout=60)
        good = [x for x in range(n) if x != bad]
        after = ck.map(work.square, good, progress=False)
        intact = after == [x * x for x in good]
    finally:
        session.stop()
    message = str(error).splitlines()[0] if error is not None else "(no error)"
    names_item = error is not None and getattr(error, "index", None) == bad and f"item {bad}" in message
    return Result(
        2, "Poison task (os._exit) among 50 good ones",
        {"seconds to error": rounded(seconds), "error names the item": names_item,
         "good results intact": intact, "workers restored": restored, "message": message[:160]},
        target="a clean error naming the item; good results intact; 2 workers again",
        passed=bool(error is not None and names_item and intact and restored),
    )


@scenario(3, "Hung worker (SIGSTOP) during a map")
def hung_worker(full: bool) -> Result:
    """200 items of 50 ms; one worker is stopped (SIGSTOP) 1 s in, under clusterkit's defaults."""
    import clusterkit as ck

    n = 200
    session = start_local()
    victim = worker_pids(session)[0]
    timer = threading.Timer(1.0, os.kill, (victim, signal.SIGSTOP))
    try:
        started = time.monotonic()
        timer.start()
        got = ck.map(work.sleep_then, range(n), [0.05] * n, progress=False)
        seconds = time.monotonic() - started
    finally:
        timer.cancel()
        with contextlib.suppress(OSError):
            os.kill(victim, signal.SIGCONT)
        session.stop()
    correct = got == list(range(n))
    return Result(
        3, "Hung worker (SIGSTOP) during a map",
        {"items": n, "correct": correct, "seconds to completion": rounded(seconds)},
        target="complete and correct in under 20 s",
        passed=correct and seconds < 20,
    )


def _external_scheduler() -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], str]:
    """A scheduler and one worker in their own processes (so the scheduler can be killed)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler = subprocess.Popen(
        [*dask, "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1",
         "--host", "127.0.0.1", "--no-nanny", "--death-timeout", "10"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return scheduler, worker, address


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@scenario(7, "Scheduler SIGKILL")
def scheduler_sigkill(full: bool) -> Result:
    """Attach to a scheduler in another process, SIGKILL it, time the next ck.map until it fails."""
    import clusterkit as ck
    from clusterkit import magics, registry

    scheduler, worker, address = _external_scheduler()
    session = None
    error: BaseException | None = None
    try:
        deadline = time.monotonic() + 60
        while session is None:
            try:
                session = ck.connect(address)
            except ck.ClusterkitError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert wait_until(lambda: session.client.nthreads(), timeout=60), "the worker never joined"
        assert ck.map(work.square, range(10), progress=False) == [x * x for x in range(10)]
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait()
        started = time.monotonic()
        try:
            ck.map(work.square, range(10), progress=False)
        except Exception as exc:
            error = exc
        seconds = time.monotonic() - started
        table = magics.format_table(registry.list_records())
        row = next((line for line in table.splitlines() if session.name in line), "")
    finally:
        if session is not None:
            session.stop()
        for process in (scheduler, worker):
            process.kill()
            process.wait()
    message = str(error).splitlines()[0] if error is not None else "(no error)"
    clean = error is not None and isinstance(error, ck.ClusterkitError | OSError | TimeoutError)
    listed_lost = "lost" in row.split()
    return Result(
        7, "Scheduler SIGKILL",
        {"seconds until the next call fails": rounded(seconds), "error type": type(error).__name__,
         "message": message[:160], "%cluster list shows lost": listed_lost},
        target="a clean error in under 5 s; %cluster list says lost",
        passed=bool(clean and seconds < 5 and listed_lost),
    )


@scenario(8, "Ctrl-C during ck.map")
def ctrl_c(full: bool) -> Result:
    """Interrupt ck.map (200 items of 0.2 s) after 1 s, as the kernel's SIGINT does."""
    import logging

    import clusterkit as ck

    session = start_local()
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setLevel(logging.WARNING)
    logging.getLogger().addHandler(handler)
    interrupted = returned = idle_after = float("nan")
    caught = None
    try:
        with tempfile.TemporaryDirectory() as folder:
            def interrupt() -> None:
                nonlocal interrupted
                interrupted = time.time()
                _thread.interrupt_main()

            timer = threading.Timer(1.0, interrupt)
            timer.start()
            try:
                with contextlib.redirect_stderr(captured):
                    ck.map(work.stamp_and_sleep, range(200), [folder] * 200, progress=False)
            except KeyboardInterrupt as exc:
                caught = exc
                returned = time.time()
            finally:
                timer.cancel()
            client = session.client

            def idle() -> bool:
                return sum(client.run(work.executing).values()) == 0 and not any(client.processing().values())

            is_idle = wait_until(idle, timeout=10, interval=0.02)
            idle_after = time.time() - returned
            time.sleep(0.5)  # anything that would still start, starts now
            starts = work.start_times(folder)
    finally:
        logging.getLogger().removeHandler(handler)
        session.stop()
    after_interrupt = sum(1 for t in starts if t > interrupted)
    after_return = sum(1 for t in starts if t > returned)
    lines = [line for line in captured.getvalue().splitlines() if line.strip()]
    return Result(
        8, "Ctrl-C during ck.map",
        {"KeyboardInterrupt raised": caught is not None, "seconds to return": rounded(returned - interrupted),
         "extra output lines": len(lines), "scheduler idle": is_idle,
         "seconds until scheduler idle": rounded(idle_after),
         "items started after the interrupt": after_interrupt,
         "items started after ck.map returned": after_return},
        target="KeyboardInterrupt only (no other output); idle within 2 s; no item started after return",
        passed=bool(caught is not None and not lines and is_idle and idle_after < 2 and after_return == 0),
        note="; ".join(lines[:3]),
    )


@scenario(9, "Actor on a killed worker")
def actor_on_killed_worker(full: bool) -> Result:
    import clusterkit as ck

    Counter = ck.remote(work.Counter)
    session = start_local()
    try:
        restarting = Counter.options(max_restarts=1).remote(10)
        assert ck.get(restarting.add.remote(1), timeout=60) == 11
        before = restarting.worker
        os.kill(ck.get(restarting.pid.remote(), timeout=60), signal.SIGKILL)
        killed = time.monotonic()
        interrupted_calls = 0
        while True:  # calls made before the death is noticed were in flight: they fail, once
            try:
                value = ck.get(restarting.get.remote(), timeout=120)
                break
            except ck.ActorRestartedError:
                interrupted_calls += 1
                if interrupted_calls > 5:
                    raise
        restart_seconds = time.monotonic() - killed
        moved = restarting.worker != before

        doomed = Counter.options(name="doomed").remote()
        ck.get(doomed.get.remote(), timeout=60)
        os.kill(ck.get(doomed.pid.remote(), timeout=60), signal.SIGKILL)
        killed = time.monotonic()
        lost: BaseException | None = None
        for _ in range(200):
            try:
                ck.get(doomed.get.remote(), timeout=30)
            except ck.ActorLostError as exc:
                lost = exc
                break
            except Exception as exc:  # anything else is not the clean error we want
                lost = exc
                break
        lost_seconds = time.monotonic() - killed
    finally:
        session.stop()
    clean = isinstance(lost, ck.ActorLostError) and "doomed" in str(lost)
    return Result(
        9, "Actor on a killed worker",
        {"restart seconds (max_restarts=1)": rounded(restart_seconds), "state after restart": value,
         "moved to another worker": moved,
         "calls failed with ActorRestartedError": interrupted_calls, "seconds to ActorLostError (no restarts)": rounded(lost_seconds),
         "error": type(lost).__name__},
        target="restarted from its constructor; ActorLostError naming the actor without restarts",
        passed=bool(value == 10 and clean),
        note=str(lost).splitlines()[0][:160] if lost is not None else "",
    )
