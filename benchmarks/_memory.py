"""Memory of processes as the kernel accounts it: RSS, and PSS from ``/proc/PID/smaps_rollup``.

PSS (proportional set size) splits each shared page between the processes that map
it, so summing PSS over a cluster's processes counts the Python binary and the
libraries every worker maps once, not once per worker (summed RSS would). Linux
only; on another system (or without permission) :func:`pss_bytes` returns ``None``.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import psutil

__all__ = ["MemorySampler", "load_line", "pss_bytes", "rss_bytes"]


def pss_bytes(pid: int) -> int | None:
    """PSS of one process in bytes (``None`` if it cannot be read)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_bytes(pid: int) -> int | None:
    """RSS of one process in bytes (``None`` if it is gone)."""
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return None


def load_line(when: str) -> str:
    """``# load average WHEN: 1.23 / 1.10 / 0.98`` (1, 5 and 15 minutes), as every benchmark prints it."""
    return f"# load average {when}: " + " / ".join(f"{x:.2f}" for x in os.getloadavg())


class MemorySampler:
    """Sample one process's RSS and PSS every ``interval`` seconds on a thread; keep start, peak, end.

    Use as a context manager around the work: the first sample is taken on entry,
    the last on exit, and the thread samples in between. Reading PSS walks the
    process's page tables (a few ms for a few hundred MiB), so the interval should
    stay well above that.
    """

    def __init__(self, pid: int | None = None, interval: float = 0.05) -> None:
        self.pid = os.getpid() if pid is None else pid
        self.interval = interval
        self.samples: list[tuple[float, int, int]] = []  # (seconds since start, rss, pss)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._t0 = 0.0

    def sample(self) -> None:
        rss, pss = rss_bytes(self.pid), pss_bytes(self.pid)
        self.samples.append((time.monotonic() - self._t0, rss or 0, pss or 0))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> MemorySampler:
        self._t0 = time.monotonic()
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def summary(self) -> dict[str, Any]:
        """Start, peak and end of RSS and PSS in MiB, PSS at each tenth of the run, the number of samples."""
        mib = 2**20
        rss = [s[1] for s in self.samples]
        pss = [s[2] for s in self.samples]
        tenths = [pss[min(len(pss) - 1, round(i * (len(pss) - 1) / 10))] for i in range(11)]
        return {
            "samples": len(self.samples),
            "pss_tenths_mib": [round(x / mib, 1) for x in tenths],
            "rss_start_mib": round(rss[0] / mib, 1), "rss_peak_mib": round(max(rss) / mib, 1),
            "rss_end_mib": round(rss[-1] / mib, 1),
            "pss_start_mib": round(pss[0] / mib, 1), "pss_peak_mib": round(max(pss) / mib, 1),
            "pss_end_mib": round(pss[-1] / mib, 1),
        }
