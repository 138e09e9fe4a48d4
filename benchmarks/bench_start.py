"""Start-to-ready time of a clusterkit session against a plain LocalCluster, and the cluster's PSS.

    python -m benchmarks.bench_start [--rounds 5] [--pss-rounds 3] [--cold-rounds 6] [--workers 2]
                                     [--peers ray,ipyparallel]

Time: both are measured in the same process, alternating, after one warm-up each
(a kernel imports Dask once). "Ready" means every worker is connected and a client
can run a task. Prints JSON lines, then a ratio table (clusterkit / plain).

Cold start (the issue's "import to 2 workers ready"): every fresh interpreter below
also times itself from just before it imports the framework (``distributed``,
``ray``, ``ipyparallel``; clusterkit's own import counts in its time) to every worker
ready and a first task's result. The ``--cold-rounds`` extra interpreters of
clusterkit and ``LocalCluster`` (no settle, PSS not read) add samples to the two
that the goal compares. Interpreter start-up itself is the same for all and is not
counted.

Memory (the issue's goal: PSS at most 1.05x Dask with its dashboard): each round
starts a fresh interpreter per contender, alternating, that imports ``distributed``,
reads its own PSS, starts the cluster (clusterkit's default: ``ck.start``, mutual
TLS, Dask's dashboard on; plain: ``LocalCluster`` with ``dashboard_address``),
runs one task, waits ``--settle`` seconds and sums PSS (``/proc/PID/smaps_rollup``)
over the worker processes, any other child process, and this process's growth
since that first reading (the scheduler and the nannies live in it, and so do the
client, the dashboard and for clusterkit its own import). PSS shares the pages the
processes map in common (the Python binary, libraries) between them, so the sum
counts them once. A fresh process per round: in a reused one, a second cluster
reuses the memory the first one freed, and its growth reads near zero. The peers
are measured the same way: Ray (``ray.init`` with 2 CPUs, no dashboard, after a task
on each worker: every process it starts, GCS, raylet, agents, workers) and
ipyparallel (``ipp.Cluster(n=2)``: controller and engines). The baseline is read
after importing the framework (``distributed``, ``ray``, ``ipyparallel``), so
``import clusterkit`` counts in clusterkit's growth.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import psutil

from benchmarks._memory import load_line, pss_bytes
from benchmarks._peers import available

#: Contenders whose PSS is measured, and their labels in the table.
PSS_LABELS = {"clusterkit": "clusterkit ck.start (TLS)", "plain": "LocalCluster + dashboard",
              "ray": "Ray (2 CPUs, no dashboard)", "ipyparallel": "ipyparallel (2 engines)"}
PSS_KINDS = tuple(PSS_LABELS)


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


def _start_for_pss(kind: str, n: int) -> tuple[list[int], Any, bool | None, float]:
    """Start one contender with ``n`` workers and run a task; its worker PIDs, a stop, a dashboard?, ready time.

    The ready time (``time.perf_counter()``) is taken once every worker is up and a first
    task has returned, before the worker PIDs are collected.
    """
    if kind in ("clusterkit", "plain"):
        import distributed

        if kind == "clusterkit":
            import clusterkit as ck

            session = ck.start(n_workers=n, threads_per_worker=1)
            client, stop = session.client, session.stop
        else:
            cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                               dashboard_address="127.0.0.1:0")
            client = distributed.Client(cluster)

            def stop() -> None:
                client.close()
                cluster.close()

        client.submit(abs, -1).result()  # ck.start and LocalCluster return once every worker is up
        ready = time.perf_counter()
        dashboard = "dashboard" in client.scheduler_info().get("services", {})
        return sorted(client.run(os.getpid).values()), stop, dashboard, ready
    if kind == "ray":
        from benchmarks._peers import start_ray

        ray = start_ray()  # 2 CPUs, no dashboard, loopback: as in the other benchmarks

        @ray.remote
        def pid_after(seconds: float) -> int:
            time.sleep(seconds)
            return os.getpid()

        ray.get([pid_after.remote(0) for _ in range(n)])
        ready = time.perf_counter()
        pids = sorted(set(ray.get([pid_after.remote(0.5) for _ in range(n)])))  # n workers at once
        return pids, ray.shutdown, False, ready
    import ipyparallel as ipp

    cluster = ipp.Cluster(n=n, log_level=40, controller_ip="127.0.0.1")
    rc = cluster.start_and_connect_sync()
    rc.wait_for_engines(n, timeout=120)
    rc[:].apply_sync(os.getpid)
    ready = time.perf_counter()

    def stop_ipp() -> None:
        rc.close()
        cluster.stop_cluster_sync()

    return sorted(rc[:].apply_sync(os.getpid)), stop_ipp, None, ready


def _pss_child(kind: str, n: int, settle: float, *, read_pss: bool = True) -> None:
    """In a fresh interpreter: start one cluster, print one JSON line of its cold start and PSS, stop it.

    The cold start runs from just before the framework's core package (``distributed``,
    ``ray``, ``ipyparallel``) is imported to ready (see :func:`_start_for_pss`). The PSS
    baseline is read after that import: clusterkit's own import counts in its growth.
    """
    import gc
    import importlib

    started = time.perf_counter()
    importlib.import_module({"clusterkit": "distributed", "plain": "distributed"}.get(kind, kind))
    gc.collect()
    me = os.getpid()
    before = (pss_bytes(me) or 0) if read_pss else 0
    workers, stop, dashboard, ready = _start_for_pss(kind, n)
    cold = {"bench": "start-cold", "who": kind, "workers": len(workers), "seconds": round(ready - started, 3)}
    try:
        if not read_pss:
            print(json.dumps(cold), flush=True)
            return
        time.sleep(settle)
        others = [p.pid for p in psutil.Process(me).children(recursive=True) if p.pid not in workers]
        mib = 2**20
        worker_pss = sum(pss_bytes(pid) or 0 for pid in workers)
        other_pss = sum(pss_bytes(pid) or 0 for pid in others)
        growth = (pss_bytes(me) or 0) - before
        print(json.dumps({"bench": "start-pss", "who": kind, "workers": len(workers), "dashboard": dashboard,
                          "worker_pss_mib": round(worker_pss / mib, 1),
                          "other_children": len(others), "other_children_pss_mib": round(other_pss / mib, 1),
                          "client_process_growth_mib": round(growth / mib, 1),
                          "client_process_pss_before_mib": round(before / mib, 1),
                          "total_pss_mib": round((worker_pss + other_pss + growth) / mib, 1),
                          "cold_start_s": cold["seconds"]}), flush=True)
    finally:
        stop()


def _pss_rounds(
    n: int, rounds: int, settle: float, kinds: list[str], *, cold_only: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Fresh interpreters measuring each contender's cold start and PSS, in turn (reversed every other round).

    ``cold_only``: the cold start alone (no settle, no PSS reading).
    """
    bench = "start-cold" if cold_only else "start-pss"
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for round_ in range(rounds):
        order = kinds if round_ % 2 == 0 else kinds[::-1]
        for kind in order:
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_start", "--pss-child", kind, "--workers", str(n),
                 "--settle", str(settle), *(["--cold-only"] if cold_only else [])],
                capture_output=True, text=True, timeout=300, check=False,
            )
            lines = [line for line in done.stdout.splitlines() if line.startswith(f'{{"bench": "{bench}"')]
            if done.returncode or not lines:
                error = (done.stderr.strip().splitlines() or ["no output"])[-1]
                print(json.dumps({"bench": bench, "who": kind, "contender": f"{kind} {bench}", "round": round_,
                                  "error": f"exit {done.returncode}: {error}"[:300]}), flush=True)
                continue
            record = {**json.loads(lines[-1]), "round": round_}
            print(json.dumps(record), flush=True)
            results[kind].append(record)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pss-rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after ready before PSS is read")
    parser.add_argument("--peers", default="ray,ipyparallel", help="PSS of these too (comma-separated)")
    parser.add_argument("--cold-rounds", type=int, default=6,
                        help="extra fresh interpreters each of clusterkit and LocalCluster, timed only")
    parser.add_argument("--pss-child", choices=PSS_KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--cold-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("CLUSTERKIT_REGISTRY_DIR", tempfile.mkdtemp(prefix="ck-bench-"))
    if args.pss_child:
        _pss_child(args.pss_child, args.workers, args.settle, read_pss=not args.cold_only)
        return
    print(load_line("before"), flush=True)
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
    kinds = ["clusterkit", "plain"] + [p for p in args.peers.split(",") if p in PSS_KINDS and available(p)]
    pss = _pss_rounds(args.workers, args.pss_rounds, args.settle, kinds)
    print(f"\nPSS of a {args.workers}-worker cluster, MiB (median of {args.pss_rounds} fresh processes each; "
          "workers + other children + client-process growth)")
    print(f"  {'':<28} {'workers':>8} {'children':>9} {'client+':>8} {'total':>8}")
    for kind, label in PSS_LABELS.items():
        if kind not in pss:
            continue
        rows = pss[kind]
        if not rows:
            print(f"  {label:<28} (no successful round)")
            continue
        cells = [statistics.median(r[k] for r in rows)
                 for k in ("worker_pss_mib", "other_children_pss_mib", "client_process_growth_mib", "total_pss_mib")]
        print(f"  {label:<28} " + " ".join(f"{c:>8.1f}" for c in cells))
    if pss["clusterkit"]:
        ck_total = statistics.median(r["total_pss_mib"] for r in pss["clusterkit"])
        for kind, rows in pss.items():
            if kind == "clusterkit" or not rows:
                continue
            peer_total = statistics.median(r["total_pss_mib"] for r in rows)
            goal = "  (goal: at most 1.05x)" if kind == "plain" else ""
            print(f"  ratio clusterkit/{kind:<12} {ck_total / peer_total:.3f}x{goal}")
    cold = _pss_rounds(args.workers, args.cold_rounds, 0.0, ["clusterkit", "plain"], cold_only=True)
    _cold_table(args.workers, pss, cold)
    print(load_line("after"), flush=True)


def _cold_table(n: int, pss: dict[str, list[dict[str, Any]]], cold: dict[str, list[dict[str, Any]]]) -> None:
    """Cold start, import to ``n`` workers ready and a first result: medians and ratios."""
    times = {kind: [r["cold_start_s"] for r in rows if "cold_start_s" in r] for kind, rows in pss.items()}
    for kind, rows in cold.items():
        times.setdefault(kind, []).extend(r["seconds"] for r in rows)
    labels = {"clusterkit": "clusterkit ck.start (TLS)", "plain": "LocalCluster + dashboard",
              "ray": "Ray (2 CPUs, no dashboard)", "ipyparallel": "ipyparallel (2 engines)"}
    print(f"\ncold start: fresh process, framework import to {n} workers ready and a first result, s "
          "(median of every fresh process above)")
    for kind, label in labels.items():
        if times.get(kind):
            values = times[kind]
            print(f"  {label:<28} {statistics.median(values):6.2f}  (n={len(values)}, "
                  f"{min(values):.2f}-{max(values):.2f})")
    if times.get("clusterkit"):
        ck_s = statistics.median(times["clusterkit"])
        for kind, values in times.items():
            if kind != "clusterkit" and values:
                goal = "  (goal: at most 1.0x)" if kind == "plain" else ""
                print(f"  ratio clusterkit/{kind:<12} {ck_s / statistics.median(values):.3f}x{goal}")


if __name__ == "__main__":
    main()
