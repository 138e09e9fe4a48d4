# ruff: noqa: B023  (lambdas are called at once, inside the loop iteration)
"""CPU scaling: 16 tasks of 0.25 s of pure-Python CPU on 1 and 2 workers, against multiprocessing.

Run: ``.venv/bin/python -m benchmarks.bench_scaling [--repeat 3]``
Prints wall medians, efficiency against the ideal (16 x 0.25 s / workers) and the
ratio to multiprocessing.Pool(n).map in the same run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

from benchmarks._peers import best_of, emit, median, ratio_table

SECONDS = 0.25
TASKS = 16


def burn(_):
    end = time.process_time() + SECONDS
    x = 0
    while time.process_time() < end:
        x += 1
    return x


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import clusterkit as ck

    for workers in (1, 2):
        ideal = TASKS * SECONDS / workers
        rows = []
        session = ck.start(n_workers=workers, threads_per_worker=1)
        try:
            ck.map(burn, range(workers), progress=False)
            wall = median(best_of(lambda: ck.map(burn, range(TASKS), progress=False), args.repeat))
            rows.append(("clusterkit ck.map", wall))
            emit(bench="scaling", workers=workers, contender="ck.map", wall=wall, efficiency=ideal / wall)
            task = ck.remote(burn)
            wall = median(best_of(lambda: ck.get([task.remote(i) for i in range(TASKS)]), args.repeat))
            rows.append(("clusterkit remote tasks", wall))
            emit(bench="scaling", workers=workers, contender="ck.remote", wall=wall, efficiency=ideal / wall)
        finally:
            session.stop()
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            pool.map(burn, range(workers))
            wall = median(best_of(lambda: pool.map(burn, range(TASKS)), args.repeat))
        rows.append(("multiprocessing.Pool.map", wall))
        emit(bench="scaling", workers=workers, contender="multiprocessing", wall=wall, efficiency=ideal / wall)
        rows.append(("ideal", ideal))
        ratio_table(f"16 x {SECONDS} s on {workers} worker(s), wall", rows, "s", "clusterkit ck.map", False)


if __name__ == "__main__":
    main()
