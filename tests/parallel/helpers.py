"""Functions the parallel tests run on workers (sent by value, see conftest.py)."""

from __future__ import annotations

import os
import pathlib
import time
from typing import Any


def square(x: int) -> int:
    return x * x


def identity(x: Any) -> Any:
    return x


def add(a: int, b: int) -> int:
    return a + b


def slow_identity(x: Any, seconds: float = 0.05) -> Any:
    time.sleep(seconds)
    return x


def sleep_then(x: Any) -> Any:
    time.sleep(0.2)
    return x


def fail_on(x: int, bad: int = 7) -> int:
    if x == bad:
        raise ValueError(f"item {x} is bad")
    return x


def flaky_once(x: int, folder: str) -> int:
    """Fails the first time it sees ``x`` (remembered in a file), then succeeds."""
    marker = pathlib.Path(folder) / f"seen-{x}"
    if not marker.exists():
        marker.touch()
        raise ConnectionError(f"transient failure for {x}")
    return x


def fail_times(folder: str, times: int) -> str:
    """Fails ``times`` times (counted in a file), then returns 'ok'."""
    counter = pathlib.Path(folder) / "attempts"
    attempts = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(attempts + 1))
    if attempts < times:
        raise ConnectionError(f"attempt {attempts + 1} failed")
    return "ok"


def pid(_: Any = None) -> int:
    return os.getpid()


def executing_on_worker(dask_worker: Any) -> int:
    return len(dask_worker.state.executing)


class Counter:
    """A small actor: ordered appends, a slow call, and a checkpoint pair."""

    def __init__(self, start: int = 0) -> None:
        self.value = start
        self.log: list[int] = []

    def add(self, n: int = 1) -> int:
        self.value += n
        return self.value

    def append(self, item: int) -> int:
        self.log.append(item)
        return len(self.log)

    def items(self) -> list[int]:
        return list(self.log)

    def get(self) -> int:
        return self.value

    def pid(self) -> int:
        return os.getpid()

    def slow(self, seconds: float) -> int:
        time.sleep(seconds)
        return self.value

    def slow_marked(self, seconds: float, marker: str) -> int:
        """Touch ``marker`` when it starts (so tests know the call is running), then sleep."""
        pathlib.Path(marker).touch()
        time.sleep(seconds)
        return self.value

    def fail(self) -> None:
        raise KeyError("no such thing")


class CheckpointedCounter(Counter):
    def __checkpoint__(self) -> int:
        return self.value

    def __restore__(self, state: int) -> None:
        self.value = state


def use_actor(handle: Any, n: int) -> int:
    """A task that calls an actor through a handle it received as an argument."""
    import clusterkit as ck

    return ck.get(handle.add.remote(n))



def work(name: str, seconds: float = 0.0, hold: str | None = None, cap: float = 120.0) -> str:
    """Short work (sleep ``seconds``) or, with ``hold``, long work: runs until the file
    ``hold`` exists (the test releases it). One function for both, so Dask's duration
    estimates cannot tell them apart. ``cap`` only bounds a test that forgot to release.
    """
    if hold is None:
        time.sleep(seconds)
        return name
    deadline = time.monotonic() + cap
    path = pathlib.Path(hold)
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return name


def total(values: Any) -> int:
    """The sum of the sums of ``values`` (arrays or lists of numbers)."""
    return int(sum(int(v.sum()) if hasattr(v, "sum") else sum(v) for v in values))
