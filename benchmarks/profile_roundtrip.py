"""Where a remote task's round trip spends its time, hop by hop.

Run: ``.venv/bin/python -m benchmarks.profile_roundtrip [--calls 300]``

Timestamps are taken on one machine (one clock) at each hop of
``ck.get(f.remote(i))`` on a 2-worker x 1-thread cluster:

========================  ==================================================================
``submit``                the client thread builds and queues the ``update-graph`` message
``to scheduler``          ... until the scheduler has the task (``released -> waiting``):
                          client loop wake-up, write, read, graph unpickling
``scheduler decides``     ... until it is ``processing`` on a worker (the message is queued)
``to worker``             ... until the worker starts executing it
``execute``               the function on the worker thread
``back to scheduler``     ``task-finished`` travels to the scheduler (``processing -> memory``)
``to client``             ``key-in-memory`` reaches the client's loop
``fetch result``          the client thread wakes and reads the value: clusterkit's came with the
                          completion (``clusterkit.parallel._results``); Dask's ``result()``
                          gathers it (another round trip through the scheduler)
========================  ==================================================================

Plugins record the times (a scheduler plugin, a worker plugin, a wrapper around the
client's ``key-in-memory`` handler); they cost a few microseconds per hop.

Then it measures the **CPU time per round trip**, process by process (this process runs
the client and, for a local cluster, the scheduler; then each worker), for clusterkit,
raw Dask and Ray (driver, raylet, GCS and workers): on one machine a round trip is a
serial chain, so its CPU time is the floor of its latency, whatever the load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin

from benchmarks._peers import emit


def inc(x: int) -> int:
    return x + 1


class _SchedulerTimes(SchedulerPlugin):
    name = "profile-roundtrip"

    def __init__(self) -> None:
        self.times: dict[Any, dict[str, float]] = {}

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        now = time.time()
        if finish in ("waiting", "processing", "memory") and start != finish:
            self.times.setdefault(key, {}).setdefault(finish, now)


class _WorkerTimes(WorkerPlugin):
    name = "profile-roundtrip"

    def setup(self, worker: Any) -> None:
        self.times: dict[Any, dict[str, float]] = {}
        worker._profile_times = self.times

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish in ("executing", "memory"):
            self.times.setdefault(key, {}).setdefault(finish, time.time())


def _worker_times(dask_worker: Any) -> dict[Any, dict[str, float]]:
    return dict(getattr(dask_worker, "_profile_times", {}))


def _scheduler_times(dask_scheduler: Any) -> dict[Any, dict[str, float]]:
    plugin = dask_scheduler.plugins.get("prof")
    dask_scheduler.remove_plugin(name="prof")
    return dict(plugin.times) if plugin is not None else {}


def profile(client: Any, submit: Any, get: Any, calls: int, label: str) -> dict[str, float]:
    """Median milliseconds of each hop over ``calls`` round trips."""
    scheduler_plugin = _SchedulerTimes()
    client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.add_plugin(scheduler_plugin, name="prof"))
    client.register_plugin(_WorkerTimes(), name="profile-roundtrip")
    in_memory: dict[Any, float] = {}
    handler = client._stream_handlers["key-in-memory"]

    def wrapped(key: Any = None, **kwargs: Any) -> Any:
        in_memory.setdefault(key, time.time())
        return handler(key=key, **kwargs)

    client._stream_handlers["key-in-memory"] = wrapped
    client_times: dict[Any, tuple[float, float, float]] = {}
    get(submit(0))  # warm up
    for i in range(calls):
        started = time.time()
        future = submit(i)
        submitted = time.time()
        get(future)
        client_times[future.key] = (started, submitted, time.time())
    client._stream_handlers["key-in-memory"] = handler
    worker = {}
    for times in client.run(_worker_times).values():
        worker.update(times)
    scheduler = client.run_on_scheduler(_scheduler_times)
    client.unregister_worker_plugin("profile-roundtrip")
    hops: dict[str, list[float]] = {}
    names = ["submit", "to scheduler", "scheduler decides", "to worker", "execute", "back to scheduler",
             "to client", "fetch result", "total"]
    for key, (started, submitted, done) in client_times.items():
        s, w, c = scheduler.get(key, {}), worker.get(key, {}), in_memory.get(key)
        if not {"waiting", "processing", "memory"} <= set(s) or not {"executing", "memory"} <= set(w) or c is None:
            continue
        stamps = [started, submitted, s["waiting"], s["processing"], w["executing"], w["memory"], s["memory"], c, done]
        for name, a, b in zip(names, stamps, stamps[1:], strict=False):
            hops.setdefault(name, []).append((b - a) * 1000)
        hops.setdefault("total", []).append((done - started) * 1000)
    result = {name: statistics.median(values) for name, values in hops.items()}
    emit(bench="profile_roundtrip", contender=label, samples=len(hops.get("total", [])),
         load=os.getloadavg(), **{k.replace(" ", "_") + "_ms": round(v, 3) for k, v in result.items()})
    return result


def _cpu_seconds(processes: list[Any]) -> list[float]:
    out = []
    for process in processes:
        try:
            times = process.cpu_times()
            out.append(times.user + times.system)
        except Exception:  # a process that ended
            out.append(0.0)
    return out


def cpu_per_call(call: Any, calls: int, label: str, worker_pids: set[int] | None = None) -> dict[str, float]:
    """CPU milliseconds per call of ``call()``: this process, the worker processes, everything else."""
    import psutil

    call()
    me = psutil.Process()
    processes = [me, *me.children(recursive=True)]
    before = _cpu_seconds(processes)
    for _ in range(calls):
        call()
    after = _cpu_seconds(processes)
    spent = {"this process (client, local scheduler)": 0.0, "workers": 0.0, "other processes": 0.0}
    for process, a, b in zip(processes, before, after, strict=True):
        if process.pid == me.pid:
            name = "this process (client, local scheduler)"
        elif worker_pids is None or process.pid in worker_pids:
            name = "workers"
        else:
            name = "other processes"
        spent[name] += (b - a) * 1000 / calls
    spent["total"] = sum(spent.values())
    emit(bench="profile_roundtrip_cpu", contender=label, calls=calls, load=os.getloadavg(),
         **{k.split(" (")[0].replace(" ", "_") + "_cpu_ms": round(v, 3) for k, v in spent.items()})
    return spent


def _ray_cpu(calls: int) -> dict[str, float] | None:
    from benchmarks._peers import available, peer_failed, start_ray

    if not available("ray"):
        return None
    try:
        ray = start_ray()
    except Exception as exc:
        peer_failed("profile_roundtrip_cpu", "ray", exc)
        return None
    try:
        remote_inc = ray.remote(inc)
        return cpu_per_call(lambda: ray.get(remote_inc.remote(1)), calls, "ray task")
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import clusterkit as ck

    print(f"# load average before: {os.getloadavg()}")
    session = ck.start(n_workers=2, threads_per_worker=1)
    try:
        client = session.client
        remote_inc = ck.remote(inc)
        # Alternate the two, so that a busy moment of the machine hits both alike.
        ours_runs, raw_runs = [], []
        for _ in range(args.rounds):
            ours_runs.append(profile(client, remote_inc.remote, ck.get, args.calls, "clusterkit"))
            raw_runs.append(profile(client, lambda i: client.submit(inc, i, pure=False), lambda f: f.result(),
                                    args.calls, "dask submit on the same cluster"))
        ours = {k: statistics.median(r[k] for r in ours_runs) for k in ours_runs[0]}
        raw = {k: statistics.median(r[k] for r in raw_runs) for k in raw_runs[0]}
        workers = set(client.run(os.getpid).values())
        cpu = {
            "clusterkit": cpu_per_call(lambda: ck.get(remote_inc.remote(1)), args.calls, "clusterkit", workers),
            "raw Dask": cpu_per_call(lambda: client.submit(inc, 1, pure=False).result(), args.calls,
                                     "dask submit on the same cluster", workers),
        }
    finally:
        session.stop()
    ray_cpu = _ray_cpu(args.calls)
    if ray_cpu is not None:
        cpu["Ray"] = ray_cpu
    print(f"# load average after: {os.getloadavg()}")
    print("\n| hop | clusterkit `ck.get(f.remote(i))` ms | `client.submit(...).result()` ms |\n|---|---|---|")
    for name in ours:
        print(f"| {name} | {ours[name]:.3f} | {raw.get(name, float('nan')):.3f} |")
    print("\n| CPU ms per round trip | " + " | ".join(cpu) + " |\n|---|" + "---|" * len(cpu))
    for row in next(iter(cpu.values())):
        print(f"| {row} | " + " | ".join(f"{spent[row]:.3f}" for spent in cpu.values()) + " |")


if __name__ == "__main__":
    main()
