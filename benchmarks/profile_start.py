"""Where ``ck.start()``'s cold start goes, hop by hop, against a plain ``LocalCluster``.

    python -m benchmarks.profile_start [--rounds 10] [--workers 2] [--fresh]

Alternates, in one process after one warm-up each: ``ck.start()`` (the default
cluster, mutual TLS on fresh per-cluster credentials), ``ck.start(insecure=True)``,
a plain ``LocalCluster`` with its dashboard (TCP) and the same ``LocalCluster``
with clusterkit's TLS credentials (what Dask's TLS alone costs). Each clusterkit
start is stamped at the entry and exit of every step of its start path (the
functions are wrapped for the run, not changed). "Ready" is the same as in
``bench_start``: every worker connected and one task's result back. Prints JSON
lines, then the median of each hop in ms, with the load average before and after.

``--fresh`` instead starts each cluster in a new Python process and times it from
before the first import (``import clusterkit`` and ``ck.start()``, or ``import
distributed`` and ``LocalCluster`` + ``Client``) to the first result: what a new
kernel's first cell costs, one-time loads included.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

_stamps: dict[str, float] = collections.defaultdict(float)


def _timed(label: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            _stamps[label] += time.perf_counter() - started

    return wrapper


@contextlib.contextmanager
def _wrapped(targets: list[tuple[Any, str, str]]) -> Iterator[None]:
    saved = [(owner, attribute, getattr(owner, attribute)) for owner, attribute, _ in targets]
    try:
        for owner, attribute, label in targets:
            setattr(owner, attribute, _timed(label, getattr(owner, attribute)))
        yield
    finally:
        for owner, attribute, original in saved:
            setattr(owner, attribute, original)


def _targets() -> list[tuple[Any, str, str]]:
    from clusterkit import control, options, registry, security, session, task_history
    from clusterkit.backends import local

    found = [
        (options.WorkerOptions, "parse", "option checks"),
        (registry, "new_id", "record id"),
        (security, "create", "credentials (generate + write)"),
        (security, "_generate", "  of which: generate CA + 3 certs"),
        (local, "start_local", "LocalCluster: scheduler + workers up"),
        (session, "_client", "Client connects"),
        (task_history, "keep_history", "task-stream history plugin"),
        (session.Session, "_counts", "worker counts"),
        (session.Session, "_dashboard_port", "dashboard port"),
        (control, "wait_until_subscribed", "control topic confirmed"),
        (registry, "write", "registry record write"),
        (session, "_unique_name", "unique name (reads registry)"),
        (session.Session, "_start_refresher", "record refresher"),
    ]
    return [(owner, attribute, label) for owner, attribute, label in found if hasattr(owner, attribute)]


def _clusterkit(n: int, insecure: bool) -> tuple[float, dict[str, float]]:
    import clusterkit as ck

    _stamps.clear()
    with _wrapped(_targets()):
        started = time.perf_counter()
        session = ck.start(n_workers=n, threads_per_worker=1, insecure=insecure)
        _stamps["ck.start total"] = time.perf_counter() - started
        first = time.perf_counter()
        session.client.submit(abs, -1).result()
        _stamps["first task"] = time.perf_counter() - first
        elapsed = time.perf_counter() - started
    session.stop()
    return elapsed, dict(_stamps)


def _plain(n: int, tls: bool) -> float:
    from distributed import Client, LocalCluster

    from clusterkit import registry, security

    options: dict[str, Any] = {}
    record_id = registry.new_id()
    started = time.perf_counter()
    if tls:
        options = {"security": security.create(record_id), "protocol": "tls://"}
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                           **options)
    client = Client(cluster, **({"security": options["security"]} if tls else {}))
    client.submit(abs, -1).result()
    elapsed = time.perf_counter() - started
    client.close()
    cluster.close()
    if tls:
        registry.remove(record_id)
    return elapsed


_FRESH = {
    "clusterkit": "import clusterkit as ck\n"
                  "s = ck.start(n_workers={n}, threads_per_worker=1)\n"
                  "s.client.submit(abs, -1).result()\n",
    "clusterkit:stop": "s.stop()\n",
    "plain": "from distributed import Client, LocalCluster\n"
             "c = LocalCluster(n_workers={n}, threads_per_worker=1, processes=True, dashboard_address='127.0.0.1:0')\n"
             "cl = Client(c)\n"
             "cl.submit(abs, -1).result()\n",
    "plain:stop": "cl.close()\nc.close()\n",
}


def _fresh(who: str, n: int) -> float:
    """Seconds from a new process's first import to its first result (printed by the child)."""
    import subprocess
    import sys

    program = ("import time\nstarted = time.perf_counter()\n" + _FRESH[who].format(n=n)
               + "print(time.perf_counter() - started, flush=True)\n" + _FRESH[f"{who}:stop"])
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=120)
    return float(done.stdout.strip().splitlines()[-1])


def _summary(title: str, load_before: tuple[float, ...], totals: dict[str, list[float]]) -> None:
    """Print the medians and the clusterkit/plain ratio, with the load average before and now."""
    loads = [" / ".join(f"{x:.2f}" for x in load) for load in (load_before, os.getloadavg())]
    print(f"\n{title}; load before {loads[0]}, after {loads[1]}")
    for name, values in totals.items():
        print(f"  {name:22s} {statistics.median(values) * 1e3:7.1f} ms")
    print(f"  ratio clusterkit/plain  {statistics.median(totals['clusterkit']) / statistics.median(totals['plain']):.3f}x")


def main_fresh(rounds: int, n: int) -> None:
    load_before = os.getloadavg()
    totals: dict[str, list[float]] = collections.defaultdict(list)
    for round_ in range(rounds):
        for who in ("clusterkit", "plain"):
            seconds = _fresh(who, n)
            totals[who].append(seconds)
            print(json.dumps({"bench": "profile_start", "fresh": True, "who": who, "round": round_,
                              "seconds": round(seconds, 4), "load": os.getloadavg()[0]}))
    _summary(f"fresh process, import to first result, median of {rounds} alternating rounds", load_before, totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fresh", action="store_true", help="a new process per start, imports included")
    args = parser.parse_args()
    os.environ.setdefault("CLUSTERKIT_REGISTRY_DIR", tempfile.mkdtemp(prefix="ck-profile-start-"))
    if args.fresh:
        main_fresh(args.rounds, args.workers)
        return
    load_before = os.getloadavg()
    runs: dict[str, Callable[[], Any]] = {
        "clusterkit": lambda: _clusterkit(args.workers, insecure=False),
        "clusterkit-insecure": lambda: _clusterkit(args.workers, insecure=True),
        "plain": lambda: _plain(args.workers, tls=False),
        "plain-tls": lambda: _plain(args.workers, tls=True),
    }
    for run in runs.values():
        run()  # warm-up: imports, first-time caches
    totals: dict[str, list[float]] = collections.defaultdict(list)
    hops: dict[str, dict[str, list[float]]] = collections.defaultdict(lambda: collections.defaultdict(list))
    for round_ in range(args.rounds):
        for name, run in runs.items():
            result = run()
            seconds, stamps = result if isinstance(result, tuple) else (result, {})
            totals[name].append(seconds)
            for label, value in stamps.items():
                hops[name][label].append(value)
            print(json.dumps({"bench": "profile_start", "who": name, "round": round_, "seconds": round(seconds, 4),
                              "hops_ms": {k: round(v * 1e3, 2) for k, v in stamps.items()},
                              "load": os.getloadavg()[0]}))
    _summary(f"median of {args.rounds} alternating rounds, {args.workers} workers x 1 thread", load_before, totals)
    for name in ("clusterkit", "clusterkit-insecure"):
        print(f"\n{name}: median ms per hop")
        for label, values in hops[name].items():
            print(f"  {label:40s} {statistics.median(values) * 1e3:7.2f}")


if __name__ == "__main__":
    main()
