"""A 64-worker local cluster: what the live widgets cost per update, whether they keep up, and scaling.

Run: ``.venv/bin/python -m benchmarks.bench_cluster64 [--mode threads|processes] [--workers 64]
[--seconds 20] [--pairs 2] [--memory 256MiB]``

Everything runs in a real IPython kernel (``jupyter_client``), as in a notebook:

1. A 2-worker x 1-thread cluster through clusterkit's API. ``--mode processes``:
   ``ck.start(n_workers=2, threads_per_worker=1, memory_limit="256MiB")``, the default
   local cluster (worker processes, mutual TLS, Dask's dashboard). ``--mode threads``:
   ``ck.start(factory=...)`` with a ``clusterkit.factories`` entry for a
   ``LocalCluster(processes=False)``: the workers are threads of the kernel, talking
   over Dask's in-process transport (no socket but the dashboard's), with no
   per-worker memory limit (in-process workers each compare the whole process's memory
   with their own limit, so 256 MiB would pause them all).
2. A cell ``%cluster scale 64``, timed inside the kernel (the magic returns once the
   scheduler counts 64 workers; it gives up after 60 s, and then the benchmark waits on).
3. The same workload in ``--pairs`` pairs of phases of ``--seconds``, alternating:
   ``client.map(abs, ...)`` with one task per item (the most task-stream events per
   second), ``--batch`` at a time, with no widget, and with the status widget (polls
   once a second) and the task stream (four times a second) open. In a kernel with no
   front end every widget polls all the time, the worst case. Each widget's poll tick
   is wrapped with a timer in the kernel: *tick* is one whole poll (asking the
   scheduler, which runs on the same event loop in this process, and the update),
   *update* the synchronous part that builds and sends the message
   (``StatusWidget._apply``, ``TaskStreamWidget.flush``). The driver counts the comm
   messages that reach it on IOPub (what a front end would receive): *deliver/s*
   against the *wanted* rate. The workload's tasks/s and the kernel's CPU (psutil)
   with the widgets open and closed show what they cost in total.
4. ``%cluster scale 2``, timed.
5. The peer, in a second kernel that never imports clusterkit (so Dask's own settings,
   not the ones clusterkit's config sets): a plain ``LocalCluster`` of the same kind
   (processes on TCP, or threads), dashboard on, started with 2 workers, ``cluster.scale(64)`` and
   back to 2, each waited for the way the magic waits (the scheduler's worker count,
   polled every 0.1 s, which is also the resolution of both). Ratio = clusterkit / Dask.

Prints JSON records, then tables, Dask's ERROR log lines from the kernel counted by
message, and the load average before and after.

64 worker *processes* do not fit a 2-core machine: an idle worker process alone uses
about 2.6% of a core (8 idle workers of ``ck.start`` over 10 s, all housekeeping), so
64 idle ones take ~1.7 of the 2 cores before any work. In the one 64-process run
(load average 5 before, over 60 during), ``%cluster scale 64`` took 68 s, the load
average passed 60, the kernel (scheduler, nannies, widgets) got about 4% of a core,
37 worker heartbeats timed out and clusterkit's 8 s ``distributed.scheduler.worker-ttl``
removed workers (59 of 64 left), and the workload ran 12.6 tasks/s. So on such a
machine run ``--mode processes`` with the workers that fit (``--workers 16``) and
``--mode threads`` for 64.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import pathlib
import queue
import statistics
import tempfile
import time
from typing import Any

import psutil

from benchmarks._memory import load_line

REPO = pathlib.Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------------------------
# Kernel side: imported by the cells that run in the kernel
# ----------------------------------------------------------------------------------------------
class TickTimer:
    """Time each poll tick of a live widget, and its synchronous update step.

    Wraps ``widget._poller.tick`` (read afresh by the poller on every round) and the
    widget's method ``update`` (an instance attribute shadows the class's). Records
    ``(epoch start, seconds)`` so ticks can be matched to a window of the workload.
    """

    def __init__(self, widget: Any, update: str) -> None:
        self.ticks: list[tuple[float, float]] = []
        self.updates: list[tuple[float, float]] = []
        poller = widget._poller
        tick = poller.tick

        async def timed_tick() -> Any:
            wall, started = time.time(), time.perf_counter()
            try:
                return await tick()
            finally:
                self.ticks.append((wall, time.perf_counter() - started))

        poller.tick = timed_tick
        step = getattr(widget, update)

        def timed_update(*args: Any, **kwargs: Any) -> Any:
            wall, started = time.time(), time.perf_counter()
            try:
                return step(*args, **kwargs)
            finally:
                self.updates.append((wall, time.perf_counter() - started))

        setattr(widget, update, timed_update)

    def summary(self, start: float, end: float, interval: float) -> dict[str, Any]:
        """Ticks and updates whose start fell in ``[start, end]`` (epoch seconds)."""
        ticks = [d for t, d in self.ticks if start <= t <= end]
        updates = [d for t, d in self.updates if start <= t <= end]
        window = end - start
        return {
            "wanted_per_s": round(1 / interval, 2),
            "ticks": len(ticks),
            "ticks_per_s": round(len(ticks) / window, 2) if window > 0 else 0.0,
            "tick_ms": _spread(ticks),
            "update_ms": _spread(updates),
            "tick_share_of_loop": round(sum(ticks) / window, 4) if window > 0 else 0.0,
            "tick_list_ms": [round(d * 1e3, 3) for d in ticks],
            "update_list_ms": [round(d * 1e3, 3) for d in updates],
        }


def _spread(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {"n": 0}
    ordered = sorted(seconds)
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered) * 1e3, 3),
        "p90": round(ordered[math.ceil(0.9 * len(ordered)) - 1] * 1e3, 3),  # nearest rank
        "max": round(ordered[-1] * 1e3, 3),
    }


class LoopLag:
    """How late a 0.1 s sleep wakes on an event loop: how busy the loop the widgets poll on is.

    Widgets sleep their interval between ticks on the client's loop (which, for a
    LocalCluster, also runs the scheduler and the nannies): when the loop is busy their
    timers fire late, and they poll less often than asked whatever their own cost.
    """

    def __init__(self, loop: Any, interval: float = 0.1) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self._running = True
        asyncio.run_coroutine_threadsafe(self._run(), loop.asyncio_loop)

    async def _run(self) -> None:
        while self._running:
            started = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags.append(time.perf_counter() - started - self.interval)

    def stop(self) -> list[float]:
        self._running = False
        return self.lags


def run_workload(client: Any, seconds: float, batch: int) -> dict[str, Any]:
    """One task per item (``abs``), ``batch`` at a time, until ``seconds`` have passed."""
    lag = LoopLag(client.loop)
    done, wall, started = 0, time.time(), time.perf_counter()
    while time.perf_counter() - started < seconds:
        client.gather(client.map(abs, range(-batch, 0), pure=False))
        done += batch
    elapsed = time.perf_counter() - started
    lags = lag.stop()
    return {"tasks": done, "seconds": round(elapsed, 3), "tasks_per_s": round(done / elapsed, 1),
            "t_start": wall, "t_end": wall + elapsed, "loop_lag_ms": _spread(lags),
            "lag_list_ms": [round(x * 1e3, 3) for x in lags]}


def idle_update_cost(widget: Any, rounds: int = 10) -> dict[str, Any]:
    """One update of ``widget`` (``refresh()``: ask the scheduler, build and send) with no workload.

    Its poller is stopped first. Wall time, and this process's CPU time (every thread:
    an upper bound, since idle workers' housekeeping runs too).
    """
    widget._poller.stop()
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        widget.refresh()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        time.sleep(0.05)
    return {"wall_ms": _spread(walls), "cpu_ms": _spread(cpus)}


def worker_count(client: Any) -> int:
    return len(client.scheduler_info(n_workers=-1)["workers"])


def wait_for_workers(client: Any, n: int, timeout: float) -> bool:
    """Poll the scheduler's worker count every 0.1 s, as ``Session.scale`` does; ``True`` once it is ``n``."""
    deadline = time.monotonic() + timeout
    while worker_count(client) != n:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def dask_scale(cluster: Any, client: Any, n: int, timeout: float) -> dict[str, Any]:
    """Raw Dask: ``cluster.scale(n)``, then wait for the count like the magic does."""
    started = time.perf_counter()
    cluster.scale(n)
    reached = wait_for_workers(client, n, timeout)
    return {"seconds": round(time.perf_counter() - started, 3), "reached": reached, "workers": worker_count(client)}


# ----------------------------------------------------------------------------------------------
# Driver side
# ----------------------------------------------------------------------------------------------
class Kernel:
    """A real IPython kernel (``python3`` spec of this environment), cells run one at a time."""

    def __init__(self, env: dict[str, str], log: pathlib.Path) -> None:
        from jupyter_client.manager import start_new_kernel

        self.log = log
        with open(log, "wb") as out:  # the kernel's (and Dask's) stdout/stderr: counted, not shown
            self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=str(REPO), env=env,
                                                startup_timeout=120, stdout=out, stderr=out)
        self.process = psutil.Process(self.km.provisioner.process.pid)  # type: ignore[union-attr]

    def logged_errors(self) -> dict[str, int]:
        """Dask's ERROR log lines in the kernel's output, counted by message."""
        counts: dict[str, int] = {}
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return counts
        for line in text.splitlines():
            if " - ERROR - " in line:
                message = line.split(" - ERROR - ", 1)[1].strip()[:100]
                counts[message] = counts.get(message, 0) + 1
        return counts

    def run(self, code: str, timeout: float = 900) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
        """Run one cell: its JSON lines, every IOPub message it saw, and its error ("" if none)."""
        msg_id = self.kc.execute(code, store_history=False)
        messages: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        error = ""
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(1.0, deadline - time.monotonic()))
            except queue.Empty as exc:
                raise TimeoutError(f"cell did not finish within {timeout:.0f} s: {code[:80]!r}") from exc
            messages.append(msg)
            ours = msg["parent_header"].get("msg_id") == msg_id
            kind, content = msg["msg_type"], msg["content"]
            if ours and kind == "stream" and content.get("name") == "stdout":
                for line in content["text"].splitlines():
                    if line.startswith("{"):
                        records.append(json.loads(line))
            elif ours and kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif ours and kind == "status" and content["execution_state"] == "idle":
                break
        self.kc.get_shell_msg(timeout=30)
        return records, messages, error

    def children(self) -> list[psutil.Process]:
        try:
            return self.process.children(recursive=True)
        except psutil.Error:
            return []

    def stop(self, clusterkit: bool = True) -> None:
        """Stop every clusterkit cluster in the kernel, shut it down, and end any child it left (by PID)."""
        left = self.children()
        try:
            if clusterkit:
                self.run("import clusterkit as _ck\n_ck.stop_all()", timeout=120)
        except Exception as exc:
            print(f"# stopping clusters in the kernel failed: {exc}", flush=True)
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)
        _gone, alive = psutil.wait_procs(left, timeout=30)
        for process in alive:
            print(f"# ending left-over process {process.pid}", flush=True)
            try:
                process.kill()
            except psutil.Error:
                pass


def _comm_counts(messages: list[dict[str, Any]], comm_id: str, start: float, end: float) -> dict[str, int]:
    """Comm messages of one widget in ``[start, end]`` (kernel clock), by kind."""
    counts = {"state_updates": 0, "event_batches": 0}
    for msg in messages:
        if msg["msg_type"] != "comm_msg" or msg["content"].get("comm_id") != comm_id:
            continue
        date = msg["header"].get("date")
        stamp = date.timestamp() if isinstance(date, datetime.datetime) else None
        if stamp is None or not start <= stamp <= end:
            continue
        data = msg["content"].get("data") or {}
        if data.get("method") == "update":
            counts["state_updates"] += 1
        elif data.get("method") == "custom" and (data.get("content") or {}).get("type") == "events":
            counts["event_batches"] += 1
    return counts


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _workload(kernel: Kernel, code: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cpu = _cpu(kernel.process)
    records, messages, error = kernel.run(code)
    if error or not records:
        raise RuntimeError(f"workload cell failed: {error or 'no record'}")
    record = records[-1]
    record["kernel_cpu_per_s"] = round((_cpu(kernel.process) - cpu) / record["seconds"], 3)
    return record, messages


def _scale_cell(kernel: Kernel, n: int, rounds: list[dict[str, Any]], label: str) -> None:
    """``%cluster scale n`` in a cell of its own, timed in the kernel; then make sure ``n`` were reached."""
    records, _, error = kernel.run(
        "_t0 = time.perf_counter()\n"
        f"%cluster scale {n}\n"
        "print(json.dumps({'magic_s': round(time.perf_counter() - _t0, 3)}))"
    )
    reached, _, _ = kernel.run(
        f"_ok = b.wait_for_workers(session.client, {n}, 900)\n"
        "print(json.dumps({'reached_s': round(time.perf_counter() - _t0, 3), 'ok': _ok, "
        "'workers': b.worker_count(session.client)}))"
    )
    record = {"step": label, "n": n, "magic_s": records[-1]["magic_s"] if records else None,
              "magic_error": error, **(reached[-1] if reached else {})}
    # The magic's own time when it succeeded; else until the count was reached anyway.
    record["seconds"] = record["magic_s"] if not error else record.get("reached_s")
    print(json.dumps(record), flush=True)
    rounds.append(record)


def _open_phase(kernel: Kernel, args: argparse.Namespace) -> dict[str, Any]:
    """Open both widgets (timed ticks), run the workload, count what was delivered, close them."""
    opened_ids, _, error = kernel.run(
        "from clusterkit.widgets import status_widget, task_stream\n"
        "sw, ts = status_widget(session), task_stream(session)\n"
        "sw_t, ts_t = b.TickTimer(sw, '_apply'), b.TickTimer(ts, 'flush')\n"
        "print(json.dumps({'status': sw.model_id, 'stream': ts.model_id}))"
    )
    if error:
        raise RuntimeError(f"opening the widgets failed: {error}")
    ids = opened_ids[-1]
    try:
        record, messages = _workload(
            kernel,
            f"_w = b.run_workload(session.client, {args.seconds}, {args.batch})\n"
            "print(json.dumps({**_w, 'status': sw_t.summary(_w['t_start'], _w['t_end'], 1.0), "
            "'stream': ts_t.summary(_w['t_start'], _w['t_end'], 0.25)}))",
        )
    finally:
        kernel.run("sw.close(); ts.close()")
    for widget in ("status", "stream"):
        record[widget]["delivered"] = _comm_counts(messages, ids[widget], record["t_start"], record["t_end"])
    return record


def _phases(kernel: Kernel, args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """``--pairs`` pairs of workload phases, widgets closed and open, alternating which goes first."""
    phases: dict[str, list[dict[str, Any]]] = {"closed": [], "open": []}
    for index in range(args.pairs * 2):
        mode = ("closed", "open")[(index + index // 2) % 2]  # closed, open, open, closed, ...
        if mode == "open":
            record = _open_phase(kernel, args)
        else:
            record, _ = _workload(kernel, f"print(json.dumps(b.run_workload(session.client, {args.seconds}, "
                                          f"{args.batch})))")
        record["phase"] = mode
        shown = {k: ({kk: vv for kk, vv in v.items() if not kk.endswith("_list_ms")} if isinstance(v, dict) else v)
                 for k, v in record.items() if not k.endswith("_list_ms")}
        print(json.dumps(shown), flush=True)
        phases[mode].append(record)
    return phases


def _widget_row(name: str, opened: list[dict[str, Any]], key: str, delivered_key: str) -> str:
    """One table row for a widget, pooled over every open phase."""
    window = sum(r["t_end"] - r["t_start"] for r in opened)
    ticks = [d for r in opened for d in r[key]["tick_list_ms"]]
    updates = [d for r in opened for d in r[key]["update_list_ms"]]
    delivered = sum(r[key]["delivered"][delivered_key] for r in opened)
    tick, update = _spread([d / 1e3 for d in ticks]), _spread([d / 1e3 for d in updates])
    wanted = opened[0][key]["wanted_per_s"]
    return (f"  {name:<13} {wanted:>6} {len(ticks) / window:>8.2f} {delivered / window:>10.2f} "
            f"{tick.get('median', 0):>10} {tick.get('p90', 0):>8} {tick.get('max', 0):>8} "
            f"{update.get('median', 0):>11} {update.get('p90', 0):>8} {sum(ticks) / 1e3 / window:>7.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--mode", choices=("threads", "processes"), default="threads",
                        help="workers as threads of the kernel (a factory) or as processes (ck.start's default)")
    parser.add_argument("--seconds", type=float, default=20.0, help="each workload phase")
    parser.add_argument("--batch", type=int, default=1000, help="tasks per client.map in the workload")
    parser.add_argument("--memory", default="256MiB", help="memory limit per worker process (--mode processes)")
    parser.add_argument("--rounds", type=int, default=3, help="scale up/down cycles for each contender")
    parser.add_argument("--pairs", type=int, default=2, help="pairs of workload phases, widgets closed / open")
    args = parser.parse_args()
    n = args.workers
    # In-process workers each measure the whole process's memory against their own limit
    # (they would all pause at 80% of 256 MiB): no per-worker limit for threads.
    memory = args.memory if args.mode == "processes" else 0
    print(load_line("before"), flush=True)

    folder = pathlib.Path(tempfile.mkdtemp(prefix="ck-bench-64-"))
    env = {**os.environ, "CLUSTERKIT_REGISTRY_DIR": str(folder / "registry")}
    kernel = Kernel(env, folder / "kernel.log")
    processes = args.mode == "processes"
    if processes:  # clusterkit's default local cluster: worker processes, mutual TLS
        start = f"session = ck.start(n_workers=2, threads_per_worker=1, memory_limit={memory!r})\n"
    else:  # workers as threads of the kernel (in-process transport): a factory, clusterkit's own API
        start = (
            "import dask, logging\n"
            "dask.config.set({'clusterkit.factories.bench-threads': {'module': 'distributed', "
            "'class': 'LocalCluster', 'kwargs': {'n_workers': 2, 'threads_per_worker': 1, "
            f"'memory_limit': {memory!r}, 'processes': False, "
            "'dashboard_address': '127.0.0.1:0', 'silence_logs': logging.ERROR}}})\n"
            "session = ck.start(factory='bench-threads')\n"
        )
    scales: dict[str, list[dict[str, Any]]] = {"clusterkit": [], "dask": []}
    try:
        records, _, error = kernel.run(
            "%load_ext clusterkit\n"
            "import json, time\n"
            "import clusterkit as ck\n"
            "from benchmarks import bench_cluster64 as b\n"
            "_t0 = time.perf_counter()\n"
            + start +
            "session.client.submit(abs, -1).result()\n"
            "print(json.dumps({'step': 'start', 'workers': 2, 'seconds': round(time.perf_counter() - _t0, 3), "
            "'address': session.address}))",
            timeout=300,
        )
        if error:
            raise RuntimeError(f"ck.start failed in the kernel: {error}")
        print(json.dumps(records[-1]), flush=True)

        _scale_cell(kernel, n, scales["clusterkit"], "clusterkit scale up")
        kernel.run(f"b.run_workload(session.client, 1, {args.batch})")  # warm up every worker
        phases = _phases(kernel, args)
        idle, _, error = kernel.run(
            "from clusterkit.widgets import status_widget, task_stream\n"
            "sw, ts = status_widget(session), task_stream(session)\n"
            "try:\n"
            "    print(json.dumps({'step': 'idle update', 'status': b.idle_update_cost(sw), "
            "'stream': b.idle_update_cost(ts)}))\n"
            "finally:\n"
            "    sw.close(); ts.close()"
        )
        phases["idle"] = idle[-1:] if not error else [{"error": error}]
        print(json.dumps(phases["idle"][0]), flush=True)
        _scale_cell(kernel, 2, scales["clusterkit"], "clusterkit scale down")
        for _ in range(args.rounds - 1):
            _scale_cell(kernel, n, scales["clusterkit"], "clusterkit scale up")
            _scale_cell(kernel, 2, scales["clusterkit"], "clusterkit scale down")
        kernel.run("session.stop()")
    finally:
        kernel.stop()
    errors = kernel.logged_errors()
    print(json.dumps({"kernel_log": str(kernel.log), "dask_errors": errors}), flush=True)

    # The peer in a kernel of its own that never imports clusterkit, so it runs with Dask's own settings.
    peer = Kernel(env, folder / "kernel-dask.log")
    try:
        records, _, error = peer.run(
            "import json, logging, time\n"
            "from distributed import Client, LocalCluster\n"
            "from benchmarks import bench_cluster64 as b\n"
            f"dc = LocalCluster(n_workers=2, threads_per_worker=1, memory_limit={memory!r}, processes={processes}, "
            + ("host='127.0.0.1', " if processes else "")  # in-process workers use inproc://, no host
            + "dashboard_address='127.0.0.1:0', silence_logs=logging.ERROR)\n"
            "dclient = Client(dc)\n"
            "dclient.submit(abs, -1).result()\n"
            "import sys\n"
            "print(json.dumps({'step': 'dask start', 'clusterkit_imported': 'clusterkit' in sys.modules}))",
            timeout=300,
        )
        if error:
            raise RuntimeError(f"LocalCluster failed in the kernel: {error}")
        print(json.dumps(records[-1]), flush=True)
        try:
            for _ in range(args.rounds):
                for target, label in ((n, "dask scale up"), (2, "dask scale down")):
                    records, _, error = peer.run(
                        f"print(json.dumps(b.dask_scale(dc, dclient, {target}, 900)))")
                    record = {"step": label, "n": target, **(records[-1] if records else {"error": error})}
                    print(json.dumps(record), flush=True)
                    scales["dask"].append(record)
        finally:
            peer.run("dclient.close(); dc.close()", timeout=300)
    finally:
        peer.stop(clusterkit=False)
    peer_errors = peer.logged_errors()
    print(json.dumps({"kernel_log": str(peer.log), "dask_errors": peer_errors}), flush=True)
    for message, count in peer_errors.items():
        errors[f"(dask peer) {message}"] = count

    _report(n, args, phases, scales)
    if errors:
        print(f"\nDask logged {sum(errors.values())} errors in the kernels ({folder}):")
        for message, count in sorted(errors.items(), key=lambda kv: -kv[1])[:5]:
            print(f"  {count:>5} x {message}")
    print(load_line("after"), flush=True)


def _report(n: int, args: argparse.Namespace, phases: dict[str, list[dict[str, Any]]],
            scales: dict[str, list[dict[str, Any]]]) -> None:
    opened, closed = phases["open"], phases["closed"]
    print(f"\nlive widgets on {n} workers ({args.mode}) x 1 thread, client.map of no-op tasks, {len(opened)} x "
          f"{args.seconds:.0f} s (kernel side; a kernel with no front end polls all the time)")
    print(f"  {'widget':<13} {'wanted':>6} {'ticks/s':>8} {'deliver/s':>10} {'tick ms':>10} {'p90':>8} "
          f"{'max':>8} {'update ms':>11} {'p90':>8} {'loop %':>7}")
    print(_widget_row("status", opened, "status", "state_updates"))
    print(_widget_row("task stream", opened, "stream", "event_batches"))
    print("  (tick: one poll, asking the in-process scheduler on the shared event loop, plus the update;\n"
          "   update: building and sending the message; deliver/s: status state messages and task-stream\n"
          "   event batches that reached the client over IOPub; loop %: ticks' wall time / window;\n"
          "   loop lag: how late a 0.1 s sleep on the same loop woke, i.e. how busy the loop was)")
    idle = (phases.get("idle") or [{}])[0]
    if "status" in idle:
        print("  one update with no workload (refresh(), poller stopped; median ms of 10): "
              f"status {idle['status']['wall_ms']['median']} wall / {idle['status']['cpu_ms']['median']} CPU, "
              f"task stream {idle['stream']['wall_ms']['median']} wall / {idle['stream']['cpu_ms']['median']} CPU "
              "(CPU: the whole process)")
    print(f"\n  {'workload (median)':<18} {'tasks/s':>10} {'kernel CPU s/s':>15} {'CPU ms/task':>12} "
          f"{'loop lag ms':>12} {'p90':>8}")
    medians = {}
    for mode, phase in (("closed", closed), ("open", opened)):
        tasks = statistics.median(r["tasks_per_s"] for r in phase)
        cpu = statistics.median(r["kernel_cpu_per_s"] for r in phase)
        per_task = statistics.median(1e3 * r["kernel_cpu_per_s"] / r["tasks_per_s"] for r in phase)
        lag = _spread([x / 1e3 for r in phase for x in r["lag_list_ms"]])
        medians[mode] = (tasks, cpu, per_task)
        print(f"  widgets {mode:<10} {tasks:>10.1f} {cpu:>15.3f} {per_task:>12.3f} {lag.get('median', 0):>12} "
              f"{lag.get('p90', 0):>8}")
    pairs = [o["tasks_per_s"] / c["tasks_per_s"] for o, c in zip(opened, closed, strict=False)]
    print(f"  open/closed        {medians['open'][0] / medians['closed'][0]:>10.3f} "
          f"{medians['open'][1] - medians['closed'][1]:>+15.3f} {medians['open'][2] - medians['closed'][2]:>+12.3f}"
          f"   (paired tasks/s ratios: {', '.join(f'{p:.3f}' for p in pairs)})")

    how = "worker processes, TLS" if args.mode == "processes" else "in-process workers, factory session"
    print(f"\nscaling 2 -> {n} -> 2 workers (s; clusterkit: `%cluster scale N` in a kernel cell, {how}; "
          "dask: LocalCluster.scale(N) + the same wait)")
    times: dict[str, dict[str, list[float]]] = {}
    for who, records in scales.items():
        for record in records:
            seconds = record.get("seconds")
            if seconds is None or record.get("ok", record.get("reached")) is False:
                continue
            direction = "up" if record["n"] == n else "down"
            times.setdefault(direction, {}).setdefault(who, []).append(float(seconds))
    for direction, label in (("up", f"scale to {n}"), ("down", "scale to 2")):
        ck_s, dask_s = times.get(direction, {}).get("clusterkit"), times.get(direction, {}).get("dask")
        ck_m = statistics.median(ck_s) if ck_s else None
        dask_m = statistics.median(dask_s) if dask_s else None
        ratio = f"{ck_m / dask_m:.2f}x" if ck_m and dask_m else "n/a"
        print(f"  {label:<14} clusterkit {_fmt(ck_m)}   dask {_fmt(dask_m)}   clusterkit/dask {ratio}")
    errors = [r["magic_error"] for r in scales["clusterkit"] if r.get("magic_error")]
    if errors:
        print("  the magic reported: " + "; ".join(errors))


def _fmt(value: float | None, width: int = 7) -> str:
    return f"{value:>{width}.2f}" if value is not None else f"{'n/a':>{width}}"


if __name__ == "__main__":
    main()
