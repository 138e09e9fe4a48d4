"""What every scenario shares: the result record, the registry of scenarios, process probes.

A scenario is a function ``scenario(full: bool) -> Result``. ``full=False`` is the
shortened size CI runs (``tests/reliability``); ``full=True`` the issue's size.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import cloudpickle
import psutil

from benchmarks.reliability import work

# Remote workers cannot import the benchmarks package: ship the worker functions by value.
cloudpickle.register_pickle_by_value(work)


@dataclasses.dataclass
class Result:
    """One scenario's figures and whether its target was met."""

    number: int
    title: str
    figures: dict[str, Any]
    target: str
    passed: bool
    note: str = ""
    covered_by: str = ""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


Scenario = Callable[[bool], Result]
SCENARIOS: dict[int, tuple[str, Scenario]] = {}


def scenario(number: int, title: str) -> Callable[[Scenario], Scenario]:
    """Register a scenario under its number in the issue."""

    def register(fn: Scenario) -> Scenario:
        SCENARIOS[number] = (title, fn)
        return fn

    return register


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return bool(value)
        time.sleep(interval)


def alive(pids: list[int] | set[int]) -> list[int]:
    """Those of ``pids`` that still run (zombies count as gone)."""
    found = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                found.append(pid)
        except psutil.Error:
            pass
    return found


def children() -> set[int]:
    """PIDs of this process's live descendants, without the stdlib's helper processes."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            if "multiprocessing.resource_tracker" in " ".join(child.cmdline()):
                continue
        except psutil.Error:
            continue
        found.add(child.pid)
    return found


def worker_pids(session: Any) -> list[int]:
    return sorted(session.client.run(os.getpid).values())


def rounded(seconds: float) -> float:
    return round(seconds, 2)


def start_local(n_workers: int = 2) -> Any:
    import clusterkit as ck

    return ck.start(n_workers=n_workers, threads_per_worker=1, memory_limit="1GiB")


def thread_names() -> set[str]:
    return {t.name for t in threading.enumerate()}
