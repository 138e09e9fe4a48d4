# ruff: noqa: B023, RUF017  (lambdas are called at once, inside the loop iteration)
"""Tiny-item map: clusterkit against client.map, hand-chunked Dask, multiprocessing and peers.

Run: ``.venv/bin/python -m benchmarks.bench_map [--sizes 10000,100000,1000000] [--repeat 3]``
Prints one JSON line per measurement, then a ratio table per size (items per second):
medians of ``--repeat`` rounds at 1M items times 2, at 100k times 3, at 10k times 10
(see :func:`rounds_for`).
The Dask contenders share one 2-worker x 1-thread cluster; Ray (2 CPUs, the items
split by hand into one task per worker) and ipyparallel (2 engines, DirectView.map)
run after it, one at a time, in the same run (``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import pickle

from benchmarks._peers import available, best_of, emit, median, peer_failed, ratio_table, start_ray


def noop(x):
    return x


def _chunk_list(xs):
    return [noop(x) for x in xs]


def _chunk_blob(blob):
    return pickle.dumps([noop(x) for x in pickle.loads(blob)], protocol=5)


def rounds_for(n: int, repeat: int) -> int:
    """Timed rounds at ``n`` items: more for the short runs, whose medians a few outliers move.

    A 10k-item map takes a few milliseconds, near one scheduler round trip, so the
    median of 5 moved by 1.6x between two quiet runs; 50 rounds cost about 3 s.
    """
    return repeat * (10 if n <= 10_000 else 3 if n <= 100_000 else 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import clusterkit as ck

    tables: dict[int, list[tuple[str, float]]] = {}
    session = ck.start(n_workers=2, threads_per_worker=1, memory_limit="2GiB")
    client = session.client
    pool = multiprocessing.get_context("spawn").Pool(2)
    try:
        ck.map(noop, range(10), progress=False)  # warm up
        pool.map(noop, range(10))
        for n in sizes:
            data = list(range(n))

            def chunks() -> list[list[int]]:  # split inside each timed call, as Ray's contender does
                return [data[: n // 2], data[n // 2 :]]

            contenders = {
                "clusterkit ck.map(list)": lambda: ck.map(noop, data, progress=False),
                "clusterkit ck.map(generator)": lambda: ck.map(noop, (x for x in data), progress=False),
                "clusterkit ck.map(range)": lambda: ck.map(noop, range(n), progress=False),
                "multiprocessing.Pool(2).map": lambda: pool.map(noop, data),
                "dask 2 hand chunks (blob)": lambda: [
                    x for b in client.gather(client.map(
                        _chunk_blob, [pickle.dumps(c, 5) for c in chunks()], pure=False))
                    for x in pickle.loads(b)],
            }
            # Round-robin: every contender runs once per round, so a first run's costs (the workers'
            # heaps growing to this size) and any drift fall on all of them alike.
            times: dict[str, list[float]] = {name: [] for name in contenders}
            for _ in range(rounds_for(n, args.repeat)):
                for name, fn in contenders.items():
                    times[name] += best_of(fn, 1)
            rows = []
            for name, values in times.items():
                seconds = median(values)
                emit(bench="map", items=n, contender=name, seconds=seconds, items_per_s=n / seconds)
                rows.append((name, n / seconds))
            # Slow contenders, once: Dask walks a list argument item by item; one task per item.
            slow = {"dask 2 hand chunks (list)": lambda: sum(
                client.gather(client.map(_chunk_list, chunks(), pure=False)), [])}
            if n <= 10_000:
                slow["dask client.map per item"] = lambda: client.gather(client.map(noop, data, pure=False))
            for name, fn in slow.items():
                [seconds] = best_of(fn, 1)
                emit(bench="map", items=n, contender=name, seconds=seconds, items_per_s=n / seconds)
                rows.append((name, n / seconds))
            tables[n] = rows
    finally:
        pool.terminate()
        session.stop()
    _peers_map(sizes, args.repeat, tables)
    for n, rows in tables.items():
        ratio_table(f"map of {n} no-op items", rows, "items/s", "clusterkit ck.map(list)", True)


def _peers_map(sizes: list[int], repeat: int, tables: dict[int, list[tuple[str, float]]]) -> None:
    """Ray (one task per worker, split by hand) and ipyparallel DirectView, one after the other."""
    if available("ray"):
        try:
            ray = start_ray()
        except Exception as exc:
            peer_failed("map", "ray", exc)
            ray = None
        try:
            chunk = ray.remote(_chunk_list) if ray is not None else None
            if ray is not None:
                ray.get([chunk.remote([1]), chunk.remote([2])])  # warm up both workers
            for n in sizes if ray is not None else []:
                data = list(range(n))
                seconds = median(best_of(lambda: [
                    x for part in ray.get([chunk.remote(data[: n // 2]), chunk.remote(data[n // 2 :])])
                    for x in part], rounds_for(n, repeat)))
                emit(bench="map", items=n, contender="ray 2 hand chunks", seconds=seconds, items_per_s=n / seconds)
                tables[n].append(("ray 2 hand chunks", n / seconds))
        finally:
            if ray is not None:
                ray.shutdown()
    if available("ipyparallel"):
        import ipyparallel as ipp

        with ipp.Cluster(n=2, log_level=40, controller_ip="127.0.0.1") as rc:
            view = rc[:]
            view.map_sync(noop, range(10))
            for n in sizes:
                data = list(range(n))
                seconds = median(best_of(lambda: view.map_sync(noop, data), rounds_for(n, repeat)))
                emit(bench="map", items=n, contender="ipyparallel DirectView", seconds=seconds,
                     items_per_s=n / seconds)
                tables[n].append(("ipyparallel DirectView", n / seconds))


if __name__ == "__main__":
    main()
