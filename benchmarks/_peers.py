"""Shared benchmark helpers: JSON lines, ratio tables, optional peers."""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def available(module: str) -> bool:
    """Whether an optional peer (ray, ipyparallel) is installed; prints a note when not."""
    if importlib.util.find_spec(module) is None:
        print(f"# {module} is not installed: skipped (pip install {module} to compare)", file=sys.stderr)
        return False
    return True


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
