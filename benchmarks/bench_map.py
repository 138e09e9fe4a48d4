# ruff: noqa: B023, RUF017  (lambdas are called at once, inside the loop iteration)
"""Tiny-item map: clusterkit against client.map, hand-chunked Dask, multiprocessing and peers.

Run: ``.venv/bin/python -m benchmarks.bench_map [--sizes 10000,100000,1000000] [--repeat 3]``
Prints one JSON line per measurement, then a ratio table per size (items per second).
All contenders run in the same process on the same 2-worker x 1-thread cluster.
"""

from __future__ import annotations

import argparse
import multiprocessing
import pickle

from benchmarks._peers import available, best_of, emit, median, ratio_table


def noop(x):
    return x


def _chunk_list(xs):
    return [noop(x) for x in xs]


def _chunk_blob(blob):
    return pickle.dumps([noop(x) for x in pickle.loads(blob)], protocol=5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import clusterkit as ck

    session = ck.start(n_workers=2, threads_per_worker=1, memory_limit="2GiB")
    client = session.client
    pool = multiprocessing.get_context("spawn").Pool(2)
    try:
        ck.map(noop, range(10), progress=False)  # warm up
        pool.map(noop, range(10))
        for n in sizes:
            data = list(range(n))
            rows = []

            def measure(name, fn, repeat=args.repeat):
                seconds = median(best_of(fn, repeat))
                emit(bench="map", items=n, contender=name, seconds=seconds, items_per_s=n / seconds)
                rows.append((name, n / seconds))

            measure("clusterkit ck.map(list)", lambda: ck.map(noop, data, progress=False))
            measure("clusterkit ck.map(range)", lambda: ck.map(noop, range(n), progress=False))
            measure("multiprocessing.Pool(2).map", lambda: pool.map(noop, data))
            chunks = [data[: n // 2], data[n // 2 :]]
            measure("dask 2 hand chunks (list)",
                    lambda: sum(client.gather(client.map(_chunk_list, chunks, pure=False)), []))
            measure("dask 2 hand chunks (blob)", lambda: [
                x for b in client.gather(client.map(_chunk_blob, [pickle.dumps(c, 5) for c in chunks], pure=False))
                for x in pickle.loads(b)])
            if n <= 10_000:
                measure("dask client.map per item", lambda: client.gather(client.map(noop, data, pure=False)), 1)
            if available("ray"):
                emit(bench="map", items=n, contender="ray", note="ray comparison not wired on this machine")
            if available("ipyparallel"):
                emit(bench="map", items=n, contender="ipyparallel", note="not wired on this machine")
            ratio_table(f"map of {n} no-op items", rows, "items/s", "clusterkit ck.map(list)", True)
    finally:
        pool.terminate()
        session.stop()


if __name__ == "__main__":
    main()
