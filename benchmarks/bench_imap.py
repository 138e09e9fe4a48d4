"""``ck.imap`` over 10M no-op items from a generator: the kernel's memory stays flat, and throughput.

Run: ``.venv/bin/python -m benchmarks.bench_imap [--items 10000000] [--chunksize 10000]``

One pass each, in this process (the "kernel"), consuming results as they come and
keeping none: ``ck.imap(noop, generator)`` on the default (TLS) 2-worker x 1-thread
cluster, then ``multiprocessing.Pool(2).imap(noop, generator, chunksize)`` and
``ray.util.multiprocessing.Pool(2).imap`` (Ray's lazy, bounded imap) with the same
chunk size. While each runs, a thread samples this process's RSS and PSS every
50 ms; the table shows start (after a warm-up), peak and end, and the growth
peak - start, which is what "flat" is about, and the JSON record PSS at each tenth of
the run (linear growth means memory kept per item). ``ck.imap`` runs a second pass on
the same cluster: a bounded buffer filled in the first pass does not grow again. This process also holds the Dask
scheduler and the nannies of clusterkit's local cluster, so its starting size is
larger than for the pools; compare the growth, not the start.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from benchmarks._memory import MemorySampler, load_line
from benchmarks._peers import available, emit, peer_failed, ratio_table, start_ray


def noop(x: Any) -> Any:
    return x


def _items(n: int) -> Iterator[int]:
    return (i for i in range(n))


def _consume(results: Iterator[Any], n: int) -> None:
    count, last = 0, None
    for value in results:
        count += 1
        last = value
    if count != n or last != n - 1:
        raise RuntimeError(f"expected {n} results ending in {n - 1}, got {count} ending in {last!r}")


def _measure(name: str, n: int, run: Callable[[Iterator[int]], Iterator[Any]],
             rows: list[tuple[str, float]], memory: dict[str, dict[str, Any]], warm: bool = True) -> None:
    if warm:
        _consume(run(_items(1000)), 1000)  # warm up: imports, connections, worker caches
    with MemorySampler(interval=0.05) as sampler:
        started = time.perf_counter()
        _consume(run(_items(n)), n)
        seconds = time.perf_counter() - started
    summary = sampler.summary()
    summary["pss_growth_mib"] = round(summary["pss_peak_mib"] - summary["pss_start_mib"], 1)
    summary["rss_growth_mib"] = round(summary["rss_peak_mib"] - summary["rss_start_mib"], 1)
    emit(bench="imap", items=n, contender=name, seconds=round(seconds, 3), items_per_s=round(n / seconds, 1),
         **summary)
    rows.append((name, n / seconds))
    memory[name] = summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000_000)
    parser.add_argument("--chunksize", type=int, default=10_000, help="chunk size of the pools' imap")
    parser.add_argument("--peers", default="pool,ray", help="comma-separated: pool, ray")
    args = parser.parse_args()
    peers = {p for p in args.peers.split(",") if p}
    n = args.items
    print(load_line("before"), flush=True)

    import os

    os.environ.setdefault("CLUSTERKIT_REGISTRY_DIR", tempfile.mkdtemp(prefix="ck-bench-"))
    import clusterkit as ck

    rows: list[tuple[str, float]] = []
    memory: dict[str, dict[str, Any]] = {}
    session = ck.start(n_workers=2, threads_per_worker=1, memory_limit="1GiB")
    try:
        _measure("clusterkit ck.imap(generator)", n, lambda items: ck.imap(noop, items, progress=False),
                 rows, memory)
        # Again on the same cluster: memory that a bounded buffer took in the first pass is not taken
        # again; memory that grows with the items is.
        _measure("clusterkit ck.imap, 2nd pass", n, lambda items: ck.imap(noop, items, progress=False),
                 rows, memory, warm=False)
    finally:
        session.stop()

    if "pool" in peers:
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            _measure(f"multiprocessing.Pool(2).imap({args.chunksize})", n,
                     lambda items: pool.imap(noop, items, chunksize=args.chunksize), rows, memory)
    if "ray" in peers and available("ray"):
        try:
            ray = start_ray()
        except Exception as exc:
            peer_failed("imap", "ray", exc)
        else:
            try:
                from ray.util.multiprocessing import Pool as RayPool

                ray_pool = RayPool(2)
                try:
                    _measure(f"ray Pool(2).imap({args.chunksize})", n,
                             lambda items: ray_pool.imap(noop, items, chunksize=args.chunksize), rows, memory)
                finally:
                    ray_pool.terminate()
            except Exception as exc:
                peer_failed("imap", "ray", exc)
            finally:
                ray.shutdown()

    ratio_table(f"imap of {n:,} no-op items from a generator", rows, "items/s",
                "clusterkit ck.imap(generator)", True)
    print("\nmemory of this process while it ran (MiB; sampled every 50 ms; growth = peak - start)")
    print(f"  {'contender':<34} {'PSS start':>10} {'peak':>8} {'end':>8} {'growth':>8}   "
          f"{'RSS start':>10} {'peak':>8} {'growth':>8}")
    for name, m in memory.items():
        print(f"  {name:<34} {m['pss_start_mib']:>10} {m['pss_peak_mib']:>8} {m['pss_end_mib']:>8} "
              f"{m['pss_growth_mib']:>8}   {m['rss_start_mib']:>10} {m['rss_peak_mib']:>8} "
              f"{m['rss_growth_mib']:>8}")
    print(load_line("after"), flush=True)


if __name__ == "__main__":
    main()
