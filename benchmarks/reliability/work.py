"""Functions the scenarios run on workers (sent by value, so any worker can load them)."""

from __future__ import annotations

import os
import time
from typing import Any


def record_and_sleep(x: int, folder: str, seconds: float = 0.05) -> int:
    """Append ``x`` to this process's execution log, sleep, return ``x``."""
    with open(os.path.join(folder, f"ran-{os.getpid()}"), "a") as log:
        log.write(f"{x}\n")
    time.sleep(seconds)
    return x


def executions(folder: str) -> list[int]:
    """Every item the workers started, from the logs ``record_and_sleep`` wrote."""
    found: list[int] = []
    for name in os.listdir(folder):
        if name.startswith("ran-"):
            with open(os.path.join(folder, name)) as log:
                found.extend(int(line) for line in log if line.strip())
    return found


def poison(x: int, bad: int) -> int:
    """Kills its worker process on item ``bad``; squares the others."""
    if x == bad:
        os._exit(1)
    return x * x


def sleep_then(x: Any, seconds: float = 0.2) -> Any:
    time.sleep(seconds)
    return x


def identity(x: Any) -> Any:
    return x


def square(x: int) -> int:
    return x * x


def executing(dask_worker: Any) -> int:
    return len(dask_worker.state.executing)


class Counter:
    def __init__(self, start: int = 0) -> None:
        self.value = start

    def add(self, n: int = 1) -> int:
        self.value += n
        return self.value

    def get(self) -> int:
        return self.value

    def pid(self) -> int:
        return os.getpid()


def stamp_and_sleep(x: int, folder: str, seconds: float = 0.2) -> int:
    """Append ``time x`` to this process's start log, sleep, return ``x``."""
    with open(os.path.join(folder, f"start-{os.getpid()}"), "a") as log:
        log.write(f"{time.time()} {x}\n")
    time.sleep(seconds)
    return x


def start_times(folder: str) -> list[float]:
    found: list[float] = []
    for name in os.listdir(folder):
        if name.startswith("start-"):
            with open(os.path.join(folder, name)) as log:
                found.extend(float(line.split()[0]) for line in log if line.strip())
    return found
