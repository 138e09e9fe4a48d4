"""Shared benchmark helpers: JSON lines, ratio tables, optional peers."""

from __future__ import annotations

import importlib.util
import json
import statistics
import time
from collections.abc import Callable
from typing import Any


def available(module: str) -> bool:
    """Whether a peer (ray, ipyparallel) is installed; says so loudly when not.

    The peers are in the ``bench`` extra (``pip install -e .[bench]``): a run without
    them prints an ``error`` record, so a table missing a peer is never mistaken
    for a complete one.
    """
    if importlib.util.find_spec(module) is None:
        emit(bench="peer", contender=module, error=f"{module} is not installed: pip install -e .[bench]")
        return False
    return True


def start_ray() -> Any:
    """``ray`` started with 2 CPUs on loopback only (no dashboard), as the peer of a 2-thread cluster."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    return ray


def peer_failed(bench: str, contender: str, exc: BaseException) -> None:
    """Record that a peer could not run (e.g. Ray timing out at start on a loaded machine)."""
    emit(bench=bench, contender=contender, error=f"{type(exc).__name__}: {exc}"[:300])


def emit(**record: Any) -> dict[str, Any]:
    """Print one JSON line and return the record."""
    print(json.dumps(record), flush=True)
    return record


def best_of(fn: Callable[[], Any], repeat: int) -> list[float]:
    """Wall seconds of ``repeat`` runs of ``fn``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio_table(title: str, rows: list[tuple[str, float]], unit: str, reference: str, higher_is_better: bool) -> None:
    """Print rows as ``name  value  ratio-to-reference``."""
    ref = dict(rows).get(reference)
    print(f"\n{title}  ({unit}; ratio = clusterkit vs peer, >1 means clusterkit is better)")
    for name, value in rows:
        if ref is None or name == reference or value == 0:
            ratio = ""
        else:
            ratio = f"{(ref / value if higher_is_better else value / ref):.2f}x"
        print(f"  {name:<34} {value:>14.4g}  {ratio}")
