"""Round trips: one remote task, one actor call; clusterkit against raw Dask (and Ray if installed).

Run: ``.venv/bin/python -m benchmarks.bench_roundtrip [--calls 300]``
Also measures the idle CPU of the cluster processes with clusterkit's batched-send
interval (0 ms) against Dask's defaults.
"""

from __future__ import annotations

import argparse
import time

import psutil

from benchmarks._peers import available, emit, median, ratio_table


def inc(x):
    return x + 1


class Counter:
    def __init__(self):
        self.n = 0

    def add(self, k=1):
        self.n += k
        return self.n


def _timed(fn, calls):
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return median(times) * 1000


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
    emit(bench="roundtrip", contender="dask", task_ms=raw_task, actor_ms=raw_actor, idle_cpu_percent=raw_idle)

    session = ck.start(n_workers=2, threads_per_worker=1)
    try:
        remote_inc = ck.remote(inc)
        ck.get(remote_inc.remote(1))
        ck_task = _timed(lambda: ck.get(remote_inc.remote(1)), args.calls)
        counter = ck.remote(Counter).remote()
        ck_actor = _timed(lambda: ck.get(counter.add.remote(1)), args.calls)
        ck_idle = _idle_cpu()
        interval = dask.config.get("clusterkit.parallel.batched-send-interval", "0ms")
    finally:
        session.stop()
    emit(bench="roundtrip", contender="clusterkit", task_ms=ck_task, actor_ms=ck_actor,
         idle_cpu_percent=ck_idle, batched_send_interval=str(interval))
    if available("ray"):
        emit(bench="roundtrip", contender="ray", note="not wired on this machine")
    rows = [("clusterkit remote task", ck_task), ("dask submit+result", raw_task)]
    ratio_table("remote-task round trip (median)", rows, "ms", "clusterkit remote task", False)
    rows = [("clusterkit actor call", ck_actor), ("dask actor call", raw_actor)]
    ratio_table("actor-call round trip (median)", rows, "ms", "clusterkit actor call", False)
    rows = [("clusterkit idle", ck_idle), ("dask idle", raw_idle)]
    ratio_table("idle CPU of client+scheduler+workers", rows, "% of one core", "clusterkit idle", False)


if __name__ == "__main__":
    main()
