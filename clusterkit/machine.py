"""What this process may really use: CPUs and memory, cgroup limits included.

``os.cpu_count()`` reports the host's cores even inside a container limited to
one CPU (Binder gives 1 CPU and 2 GB), so default clusters sized from it would
oversubscribe the machine. These functions read the cgroup (v2, then v1) and
the CPU affinity mask and take the smallest answer.

>>> cpu_count() >= 1
True
"""

from __future__ import annotations

import math
import os
import pathlib

__all__ = ["cpu_count", "memory_bytes"]

_CGROUP = pathlib.Path("/sys/fs/cgroup")


def _read(path: pathlib.Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cgroup_cpu_limit() -> float | None:
    quota = _read(_CGROUP / "cpu.max")  # v2: "max 100000" or "100000 100000"
    if quota:
        value, _, period = quota.partition(" ")
        if value != "max" and period:
            return int(value) / int(period)
    v1_quota = _read(_CGROUP / "cpu" / "cpu.cfs_quota_us")
    v1_period = _read(_CGROUP / "cpu" / "cpu.cfs_period_us")
    if v1_quota and v1_period and int(v1_quota) > 0:
        return int(v1_quota) / int(v1_period)
    return None


def cpu_count() -> int:
    """CPUs this process may use: affinity mask and cgroup quota, at least 1."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    limit = _cgroup_cpu_limit()
    if limit is not None:
        count = min(count, max(1, math.ceil(limit)))
    return max(1, count)


def memory_bytes() -> int:
    """Memory this process may use: the cgroup limit if lower than physical RAM."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 0
    for path in (_CGROUP / "memory.max", _CGROUP / "memory" / "memory.limit_in_bytes"):
        value = _read(path)
        if value and value.isdigit():
            limit = int(value)
            if 0 < limit < total or not total:
                total = limit
            break
    return total
