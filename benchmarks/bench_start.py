"""Start-to-ready time of a clusterkit session against a plain LocalCluster, and cluster RSS.

    python -m benchmarks.bench_start [--rounds 5] [--workers 2]

Both are measured in the same process, alternating, after one warm-up each (a
kernel imports Dask once). "Ready" means every worker is connected and a client
can run a task. Prints JSON lines, then a ratio table (clusterkit / plain).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import psutil


def _rss_of_cluster(worker_pids: list[int]) -> int:
    return sum(psutil.Process(pid).memory_info().rss for pid in worker_pids)


def _clusterkit(n: int) -> tuple[float, int]:
    import clusterkit as ck

    started = time.perf_counter()
    session = ck.start(n_workers=n, threads_per_worker=1)
    session.client.submit(abs, -1).result()
    elapsed = time.perf_counter() - started
    pids = list(session.client.run(os.getpid).values())
    rss = _rss_of_cluster(pids)
    session.stop()
    return elapsed, rss


def _plain(n: int) -> tuple[float, int]:
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0")
    client = Client(cluster)
    client.submit(abs, -1).result()
    elapsed = time.perf_counter() - started
    pids = list(client.run(os.getpid).values())
    rss = _rss_of_cluster(pids)
    client.close()
    cluster.close()
    return elapsed, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("CLUSTERKIT_REGISTRY_DIR", tempfile.mkdtemp(prefix="ck-bench-"))
    _clusterkit(args.workers)
    _plain(args.workers)
    results: dict[str, list[tuple[float, int]]] = {"clusterkit": [], "plain": []}
    for round_ in range(args.rounds):
        for name, run in (("clusterkit", _clusterkit), ("plain", _plain)):
            seconds, rss = run(args.workers)
            results[name].append((seconds, rss))
            print(json.dumps({"bench": "start", "who": name, "round": round_, "seconds": round(seconds, 3),
                              "worker_rss_mib": round(rss / 2**20, 1)}))
    kernel_rss = psutil.Process().memory_info().rss
    ck_s = statistics.median(s for s, _ in results["clusterkit"])
    plain_s = statistics.median(s for s, _ in results["plain"])
    ck_rss = statistics.median(r for _, r in results["clusterkit"])
    print(f"\nstart-to-ready of {args.workers} workers (median of {args.rounds}, load {os.getloadavg()[0]:.1f})")
    print(f"  clusterkit ck.start      {ck_s:6.2f} s")
    print(f"  plain LocalCluster       {plain_s:6.2f} s")
    print(f"  ratio clusterkit/plain   {ck_s / plain_s:6.2f}x")
    print(f"worker processes RSS       {ck_rss / 2**20:6.0f} MiB (+ this process {kernel_rss / 2**20:.0f} MiB, "
          "which holds the scheduler and nannies)")


if __name__ == "__main__":
    main()
