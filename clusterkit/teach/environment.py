"""Facts about the machine the curriculum runs on, for text, plots and graders.

Binder gives one CPU and 2 GB; a laptop gives more. Notebooks print these facts
so a learner knows what speed-ups to expect, and graders use :func:`time_window`
so that a check about waiting is as fair on one CPU as on eight.

>>> cpus() >= 1
True
>>> time_window(1.0) >= 1.0
True
"""

from __future__ import annotations

import os
from typing import Any

from clusterkit import machine

__all__ = ["cpus", "curriculum_workers", "describe", "facts", "memory_bytes", "on_binder", "time_window"]


def cpus() -> int:
    """CPUs this kernel may really use (affinity mask and cgroup quota)."""
    return machine.cpu_count()


def memory_bytes() -> int:
    """Memory this kernel may really use (cgroup limit if lower than RAM)."""
    return machine.memory_bytes()


def on_binder() -> bool:
    """True on mybinder.org (or another BinderHub)."""
    return bool(os.environ.get("BINDER_LAUNCH_HOST") or os.environ.get("BINDER_REQUEST"))


def curriculum_workers() -> int:
    """Workers of the shared curriculum cluster: one per CPU, at least 2, at most 4.

    At least two even on one CPU: work that *waits* (sleep, I/O) overlaps on two
    workers without needing two cores, and fault-tolerance lessons need a second
    worker to survive the first.
    """
    return max(2, min(cpus(), 4))


def time_window(seconds: float) -> float:
    """A deadline for a grader: ``seconds`` stretched on machines with fewer than 2 CPUs.

    The kernel, scheduler and workers share the CPUs; with one CPU, bookkeeping
    that is free on a laptop takes real time, so windows grow, and every window
    gets a fixed allowance for scheduling latency.
    """
    stretch = max(1.0, 2.0 / cpus())
    return seconds * stretch + 1.0 * stretch


def facts() -> dict[str, Any]:
    """CPUs, memory and whether this is Binder, as a dictionary."""
    return {"cpus": cpus(), "memory_bytes": memory_bytes(), "binder": on_binder()}


def describe() -> str:
    """One sentence about this machine, for the top of each notebook."""
    gib = memory_bytes() / 2**30
    where = "Binder" if on_binder() else "this machine"
    cpu_word = "CPU" if cpus() == 1 else "CPUs"
    text = f"{where} gives this kernel {cpus()} {cpu_word} and {gib:.1f} GiB of memory."
    if cpus() == 1:
        text += (
            " With one CPU, CPU-bound work cannot run faster in parallel: the early demos of overlap"
            " use work that waits (sleep, simulated I/O); notebooks 04 and 06 train and simulate for"
            " real and show the overlap without a speed-up."
        )
    return text
