"""What the live task stream costs: map throughput with the stream open vs closed, and its memory.

Run: ``.venv/bin/python -m benchmarks.bench_taskstream [--items 200000] [--tasks 2000] [--rounds 7]``

Throughput: the same map runs in alternating rounds with no task-stream widget
("closed") and with one polling the scheduler four times a second ("open"; in a
script no front end reports visibility, so it polls all the time, the worst case).
Two workloads: ``ck.map`` over tiny items (batched into few tasks) and
``client.map`` with one task per item (the most task-stream events per second).
The ratio is median(open) / median(closed) items per second; the issue asks >= 0.95.
"paired" is the median of open/closed over adjacent round pairs (robust to drift on a
shared machine).

Memory: 100,000 synthetic task records are fed through a real widget (buffer, lanes,
prefixes, flushes to the comm) and traced with tracemalloc after 10k and after 100k.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from typing import Any


def inc(x: int) -> int:
    return x + 1


def _throughput_rounds(session: Any, items: int, rounds: int, workload: str) -> dict[str, list[float]]:
    import clusterkit as ck
    from clusterkit.widgets.taskstream import TaskStreamWidget

    client = session.client

    def run() -> float:
        start = time.perf_counter()
        if workload == "ck.map":
            result = ck.map(inc, range(items), progress=False)
        else:
            result = client.gather(client.map(inc, range(items), pure=False))
        elapsed = time.perf_counter() - start
        assert result[-1] == items
        return items / elapsed

    run()  # warm up: imports, connections, worker caches
    results: dict[str, list[float]] = {"closed": [], "open": [], "pair_ratios": []}
    for index in range(rounds * 2):
        # Alternate which goes first so drift on a shared machine hits both alike.
        mode = ("closed", "open")[(index + index // 2) % 2]
        if mode == "open":
            stream = TaskStreamWidget(session)
            try:
                results["open"].append(run())
                deadline = time.monotonic() + 30
                while stream.polling and stream.buffer.tasks == 0 and time.monotonic() < deadline:
                    time.sleep(0.05)  # make sure it really saw the work
            finally:
                stream.close()
        else:
            results["closed"].append(run())
        print(f"  {workload} round {index + 1}/{rounds * 2} {mode}: {results[mode][-1]:.0f} items/s",
              file=sys.stderr, flush=True)
        if index % 2 == 1:  # rounds 2k and 2k+1 hold one of each: a paired ratio cancels slow drift
            results["pair_ratios"].append(results["open"][-1] / results["closed"][-1])
    return results


def _memory_after(session: Any, total: int = 100_000, batch: int = 1000) -> dict[str, Any]:
    from clusterkit.widgets.taskstream import TaskStreamWidget

    stream = TaskStreamWidget(session)
    if stream._poller is not None:
        stream._poller.stop()  # only our synthetic rows
    sent = [0]
    stream.send = lambda content, buffers=None: sent.__setitem__(0, sent[0] + len(content.get("rows", ())))

    def feed(first: int, count: int) -> None:
        records = [
            {
                "key": f"task-{i:032x}",
                "worker": f"tcp://127.0.0.1:{40000 + i % 4}",
                "thread": i % 2,
                "status": "OK",
                "startstops": ({"action": "compute", "start": 1e9 + i * 1e-3, "stop": 1e9 + i * 1e-3 + 5e-4},),
            }
            for i in range(first, first + count)
        ]
        stream.buffer.add_tasks(records)
        stream.flush()

    tracemalloc.start()
    try:
        for first in range(0, 10_000, batch):
            feed(first, batch)
        at_10k = tracemalloc.get_traced_memory()[0]
        for first in range(10_000, total, batch):
            feed(first, batch)
        at_100k = tracemalloc.get_traced_memory()[0]
        rows = len(stream.buffer.events)
    finally:
        tracemalloc.stop()
        stream.close()
    return {"events_fed": total, "events_sent": sent[0], "rows_kept": rows,
            "traced_bytes_at_10k": at_10k, "traced_bytes_at_100k": at_100k,
            "growth_10k_to_100k_bytes": at_100k - at_10k}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000, help="items for ck.map (batched)")
    parser.add_argument("--tasks", type=int, default=2000, help="items for client.map (one task each)")
    parser.add_argument("--workloads", default="ck.map,client.map")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    import clusterkit as ck

    session = ck.start(n_workers=2, threads_per_worker=1, memory_limit="1GiB")
    try:
        summary = {}
        for workload in args.workloads.split(","):
            items = args.items if workload == "ck.map" else args.tasks
            results = _throughput_rounds(session, items, args.rounds, workload)
            closed, opened = statistics.median(results["closed"]), statistics.median(results["open"])
            summary[workload] = {
                "items": items,
                "rounds": args.rounds,
                "closed_items_per_s": round(closed, 1),
                "open_items_per_s": round(opened, 1),
                "ratio_open_over_closed": round(opened / closed, 3),
                "median_paired_ratio": round(statistics.median(results["pair_ratios"]), 3),
                "all_closed": [round(x, 1) for x in results["closed"]],
                "all_open": [round(x, 1) for x in results["open"]],
            }
            print(json.dumps({"workload": workload, **summary[workload]}), flush=True)
        memory = _memory_after(session)
        print(json.dumps({"memory": memory}), flush=True)
        print()
        print(f"{'workload':<12} {'closed/s':>10} {'open/s':>10} {'open/closed':>12} {'paired':>8}")
        for workload, row in summary.items():
            print(f"{workload:<12} {row['closed_items_per_s']:>10} {row['open_items_per_s']:>10} "
                  f"{row['ratio_open_over_closed']:>12} {row['median_paired_ratio']:>8}")
        print(f"memory: {memory['rows_kept']} rows kept of {memory['events_fed']:,} fed; "
              f"growth from 10k to 100k events: {memory['growth_10k_to_100k_bytes'] / 1024:.0f} KiB")
    finally:
        session.stop()


if __name__ == "__main__":
    main()
