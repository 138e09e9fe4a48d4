"""Reliability and security scenarios of issue 8, each a function returning figures.

``python -m benchmarks.reliability [--full] [--only 1,2] [--json]`` prints the table;
``tests/reliability`` runs the same functions in their shortened size and asserts.
"""

from __future__ import annotations

from benchmarks.reliability._core import SCENARIOS, Result, Scenario

__all__ = ["SCENARIOS", "Result", "load_all"]


def load_all() -> dict[int, tuple[str, Scenario]]:
    """Import every scenario module (each registers its scenarios) and return the registry."""
    from benchmarks.reliability import delegated, faults, leaks, soak  # noqa: F401

    return SCENARIOS
