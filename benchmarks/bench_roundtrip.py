"""Round trips: one remote task, one actor call; clusterkit against raw Dask and Ray.

Run: ``.venv/bin/python -m benchmarks.bench_roundtrip [--calls 300]``
Reports median, p90 and p99 of each, plus the time from submitting two short tasks
to both done (``ck.map`` against raw ``client.map``), and of a task taking and
returning a 10k-item list (Dask walks list arguments and serializes list results
item by item; clusterkit pickles each once). Also measures the idle CPU of the cluster processes with clusterkit's batched-send
interval (0 ms) against Dask's defaults.
"""

from __future__ import annotations

import argparse
import time

import psutil

from benchmarks._peers import available, emit, median, peer_failed, ratio_table, start_ray


def inc(x):
    return x + 1


def identity(x):
    return x


#: The list a task takes and returns in the "10k-item list" round trip.
ITEMS = list(range(10_000))


class Counter:
    def __init__(self):
        self.n = 0

    def add(self, k=1):
        self.n += k
        return self.n


def _timed(fn, calls):
    """Milliseconds: (median, p90, p99) of ``calls`` calls of ``fn``."""
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()

    def pct(q):
        return times[min(len(times) - 1, int(q * len(times)))]

    return median(times), pct(0.9), pct(0.99)


def _ray():
    ray = start_ray()
    try:
        remote_inc = ray.remote(inc)
        ray.get(remote_inc.remote(1))
        task = _timed(lambda: ray.get(remote_inc.remote(1)), CALLS[0])
        counter = ray.remote(Counter).remote()
        ray.get(counter.add.remote(1))
        actor = _timed(lambda: ray.get(counter.add.remote(1)), CALLS[0])
        remote_identity = ray.remote(identity)
        ray.get(remote_identity.remote(ITEMS))
        listed = _timed(lambda: ray.get(remote_identity.remote(ITEMS)), max(10, CALLS[0] // 10))
    finally:
        ray.shutdown()
    return task, actor, listed


CALLS = [300]


def _idle_cpu(seconds=5.0):
    procs = [psutil.Process(), *psutil.Process().children(recursive=True)]
    before = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
    time.sleep(seconds)
    after = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
    return 100 * (after - before) / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    CALLS[0] = args.calls
    import dask
    from distributed import Client, LocalCluster

    import clusterkit as ck

    rows = []
    # Raw Dask with its own timers, measured first, on its own cluster.
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        client.submit(inc, 1, pure=False).result()
        raw_task = _timed(lambda: client.submit(inc, 1, pure=False).result(), args.calls)
        actor = client.submit(Counter, actor=True).result()
        raw_actor = _timed(lambda: actor.add(1).result(), args.calls)
        raw_idle = _idle_cpu()
        raw_two = _timed(lambda: client.gather(client.map(inc, [1, 2], pure=False)), max(10, args.calls // 10))
        raw_list = _timed(lambda: client.submit(identity, ITEMS, pure=False).result(), 10)
    emit(bench="roundtrip", contender="dask", task_ms=raw_task, actor_ms=raw_actor, idle_cpu_percent=raw_idle,
         two_tasks_ms=raw_two, list_task_ms=raw_list)

    session = ck.start(n_workers=2, threads_per_worker=1)
    try:
        remote_inc = ck.remote(inc)
        ck.get(remote_inc.remote(1))
        ck_task = _timed(lambda: ck.get(remote_inc.remote(1)), args.calls)
        counter = ck.remote(Counter).remote()
        ck_actor = _timed(lambda: ck.get(counter.add.remote(1)), args.calls)
        ck_idle = _idle_cpu()
        ck_two = _timed(lambda: ck.map(inc, [1, 2], progress=False), max(10, args.calls // 10))
        remote_identity = ck.remote(identity)
        ck.get(remote_identity.remote(ITEMS))
        ck_list = _timed(lambda: ck.get(remote_identity.remote(ITEMS)), max(10, args.calls // 10))
        interval = dask.config.get("clusterkit.parallel.batched-send-interval", "0ms")
    finally:
        session.stop()
    emit(bench="roundtrip", contender="clusterkit", task_ms=ck_task, actor_ms=ck_actor,
         idle_cpu_percent=ck_idle, batched_send_interval=str(interval), two_tasks_ms=ck_two, list_task_ms=ck_list)
    task_rows = [("clusterkit remote task", ck_task), ("dask submit+result", raw_task)]
    actor_rows = [("clusterkit actor call", ck_actor), ("dask actor call", raw_actor)]
    list_rows = [("clusterkit remote task", ck_list[0]), ("dask submit+result", raw_list[0])]
    if available("ray"):
        try:
            ray_task, ray_actor, ray_list = _ray()
        except Exception as exc:
            peer_failed("roundtrip", "ray", exc)
        else:
            emit(bench="roundtrip", contender="ray", task_ms=ray_task, actor_ms=ray_actor, list_task_ms=ray_list)
            task_rows.append(("ray task", ray_task))
            actor_rows.append(("ray actor call", ray_actor))
            list_rows.append(("ray task", ray_list[0]))
    for i, name in enumerate(("median", "p90", "p99")):
        ratio_table(f"remote-task round trip ({name})", [(n, v[i]) for n, v in task_rows], "ms",
                    "clusterkit remote task", False)
        ratio_table(f"actor-call round trip ({name})", [(n, v[i]) for n, v in actor_rows], "ms",
                    "clusterkit actor call", False)
    ratio_table("two short tasks, submit to done (median)", [("clusterkit ck.map", ck_two[0]),
                ("dask client.map+gather", raw_two[0])], "ms", "clusterkit ck.map", False)
    ratio_table("a task taking and returning a 10k-item list (median)", list_rows, "ms",
                "clusterkit remote task", False)
    rows = [("clusterkit idle", ck_idle), ("dask idle", raw_idle)]
    ratio_table("idle CPU of client+scheduler+workers", rows, "% of one core", "clusterkit idle", False)


if __name__ == "__main__":
    main()
