"""The cost of security: TLS (the default) against ``--insecure``, in the same run.

    python -m benchmarks.bench_security [--rounds 3] [--calls 200] [--items 2000]

For each mode, alternating (TLS, insecure, TLS, ...) so a change in machine load hits
both alike: start-to-ready of ``ck.start(n_workers=2)`` (credentials made, cluster up,
first task done), the median round trip of one remote task (``ck.remote``), and
``ck.map`` throughput over ``--items`` small items. Prints JSON lines, then medians and
the TLS/insecure ratio, each with the load average (figures from a busy machine say
little; the lead runs this on a quiet one).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time


def inc(x: int) -> int:
    return x + 1


def _one_round(insecure: bool, calls: int, items: int) -> dict[str, float]:
    import clusterkit as ck

    started = time.perf_counter()
    session = ck.start(n_workers=2, threads_per_worker=1, insecure=insecure)
    try:
        session.client.submit(abs, -1).result()
        ready = time.perf_counter() - started
        remote_inc = ck.remote(inc)
        ck.get(remote_inc.remote(1))
        trips = []
        for _ in range(calls):
            begun = time.perf_counter()
            ck.get(remote_inc.remote(1))
            trips.append(time.perf_counter() - begun)
        begun = time.perf_counter()
        results = ck.map(inc, range(items), progress=False)
        elapsed = time.perf_counter() - begun
        assert list(results) == [i + 1 for i in range(items)]
    finally:
        session.stop()
    return {"start_to_ready_s": ready, "task_roundtrip_ms": statistics.median(trips) * 1000,
            "map_items_per_s": items / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("CLUSTERKIT_REGISTRY_DIR", tempfile.mkdtemp(prefix="ck-bench-security-"))

    figures: dict[str, list[dict[str, float]]] = {"tls": [], "insecure": []}
    for number in range(args.rounds):
        for mode in ("tls", "insecure"):
            result = _one_round(mode == "insecure", args.calls, args.items)
            figures[mode].append(result)
            print(json.dumps({"bench": "security", "mode": mode, "round": number, **result,
                              "loadavg": os.getloadavg()}), flush=True)
    summary = {}
    for mode, rows in figures.items():
        summary[mode] = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
    ratio = {key: summary["tls"][key] / summary["insecure"][key] for key in summary["tls"]}
    print(json.dumps({"bench": "security", "summary": summary, "tls_over_insecure": ratio,
                      "loadavg": os.getloadavg()}))


if __name__ == "__main__":
    main()
