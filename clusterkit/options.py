"""Worker options, read one way everywhere: ``ck.start``, the magics, the CLI, the daemon, the REST API.

Each entry point hands what the user typed (strings from a command line, numbers
from JSON or Python) to :meth:`WorkerOptions.parse`, which checks it against one set
of bounds from config and raises :class:`~clusterkit.errors.OptionError` with the
same sentence whichever way the value came in::

    >>> WorkerOptions.parse(n_workers="2", memory_limit="1GiB").n_workers
    2
    >>> WorkerOptions.parse(n_workers=-3)
    Traceback (most recent call last):
    clusterkit.errors.OptionError: Worker count -3 is not allowed: use a whole number from 0 to 256 ...

Bounds: ``clusterkit.local.max-workers`` (worker counts, adapt limits) and
``clusterkit.local.max-threads-per-worker``; memory per worker from 16 MiB to 1 PiB.
A caller with its own, lower worker bound (the server's ``ClusterkitServer.max_workers``)
passes it as a :class:`WorkerLimit`; the message then names that setting::

    >>> workers(100, worker_limit(64, "ClusterkitServer.max_workers"))
    Traceback (most recent call last):
    clusterkit.errors.OptionError: Worker count 100 is not allowed: use a whole number from 0 to 64 ...
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from clusterkit import config, registry
from clusterkit.errors import OptionError

__all__ = [
    "WorkerLimit",
    "WorkerOptions",
    "adapt_range",
    "cluster_name",
    "max_workers",
    "memory",
    "threads",
    "worker_limit",
    "workers",
]

_MIN_MEMORY = 2**24
_MAX_MEMORY = 2**50
_MAX_WORKERS_SETTING = "clusterkit.local.max-workers"


def _whole(value: Any, what: str, low: int, high: int, setting: str) -> int:
    """A whole number from ``low`` to ``high``, given as an int or its decimal text."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value.strip())
    if number is None or not low <= number <= high:
        shown = value if number is None else number
        raise OptionError(
            f"{what} {shown!r} is not allowed: use a whole number from {low} to {high} ({setting})."
        )
    return number


def max_workers() -> int:
    """``clusterkit.local.max-workers``: larger counts are refused as a typo."""
    return int(config.get("local.max-workers"))


class WorkerLimit(NamedTuple):
    """The largest worker count accepted, and the setting that sets it (named in refusals)."""

    maximum: int
    setting: str


def worker_limit(maximum: int | None = None, setting: str = _MAX_WORKERS_SETTING) -> WorkerLimit:
    """``clusterkit.local.max-workers``, or a caller's own bound ``maximum`` (named ``setting``) if lower.

    The config bound always holds: the kernel or daemon that finally gets the count checks it too.
    """
    configured = max_workers()
    if maximum is not None and maximum < configured:
        return WorkerLimit(maximum, setting)
    return WorkerLimit(configured, _MAX_WORKERS_SETTING)


def workers(value: Any, limit: WorkerLimit | None = None) -> int:
    """A worker count: 0 to ``clusterkit.local.max-workers`` (or ``limit``, see :func:`worker_limit`)."""
    maximum, setting = limit or worker_limit()
    return _whole(value, "Worker count", 0, maximum, setting)


def threads(value: Any) -> int:
    """Threads per worker: 1 to ``clusterkit.local.max-threads-per-worker``."""
    limit = int(config.get("local.max-threads-per-worker"))
    return _whole(value, "Threads per worker", 1, limit, "clusterkit.local.max-threads-per-worker")


def memory(value: Any) -> int:
    """Memory per worker in bytes, from a number or a size such as ``"2GiB"`` (16 MiB to 1 PiB)."""
    import dask.utils

    size: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and value.strip():
        try:
            size = int(dask.utils.parse_bytes(value.strip()))
        except (ValueError, TypeError, KeyError, IndexError):
            size = None
    if size is None or not _MIN_MEMORY <= size <= _MAX_MEMORY:
        raise OptionError(
            f"Memory per worker {value!r} is not allowed: use a size from 16MiB to 1PiB, such as 2GiB or 500MB."
        )
    return size


def adapt_range(value: Any, limit: WorkerLimit | None = None) -> tuple[int, int]:
    """``"MIN:MAX"``, ``(MIN, MAX)`` or ``{"minimum": MIN, "maximum": MAX}``; MIN <= MAX, MAX >= 1.

    Both ends are worker counts (:func:`workers`, with the same ``limit``).
    """
    if isinstance(value, str):
        low, sep, high = value.partition(":")
        if not sep:
            raise OptionError(f"Adapt range {value!r} is not allowed: write MIN:MAX, e.g. 1:4.")
        pair: Any = (low, high)
    elif isinstance(value, dict) and set(value) == {"minimum", "maximum"}:
        pair = (value["minimum"], value["maximum"])
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = tuple(value)
    else:
        raise OptionError(f"Adapt range {value!r} is not allowed: write MIN:MAX, e.g. 1:4.")
    minimum, maximum = workers(pair[0], limit), workers(pair[1], limit)
    if minimum > maximum or maximum == 0:
        raise OptionError(
            f"Adapt range {minimum}:{maximum} is not allowed: the minimum must not be larger than the "
            "maximum, and the maximum must be at least 1."
        )
    return minimum, maximum


def cluster_name(value: Any) -> str:
    """A cluster name: 1-64 letters, digits, ``_ . -``, starting with a letter or digit."""
    if not isinstance(value, str) or not registry.valid_name(value):
        raise OptionError(
            f"Cluster name {value!r} is not allowed: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit."
        )
    return value


@dataclasses.dataclass(frozen=True)
class WorkerOptions:
    """What a new cluster should look like; every field checked. ``None`` means the default."""

    n_workers: int | None = None
    threads_per_worker: int | None = None
    memory_limit: int | None = None
    adapt: tuple[int, int] | None = None
    name: str | None = None
    insecure: bool = False

    @classmethod
    def parse(
        cls,
        n_workers: Any = None,
        threads_per_worker: Any = None,
        memory_limit: Any = None,
        adapt: Any = None,
        name: Any = None,
        insecure: Any = False,
        limit: WorkerLimit | None = None,
    ) -> WorkerOptions:
        """Check raw values (text or numbers); ``None`` or ``""`` keeps a default.

        ``memory_limit`` may also be ``"auto"`` (the default: granted memory split evenly);
        ``limit`` is a caller's own, lower bound for worker counts (:func:`worker_limit`).
        """

        def given(value: Any) -> bool:
            return value is not None and value != ""

        if not isinstance(insecure, bool):
            raise OptionError(f"insecure {insecure!r} is not allowed: use true or false.")
        return cls(
            n_workers=workers(n_workers, limit) if given(n_workers) else None,
            threads_per_worker=threads(threads_per_worker) if given(threads_per_worker) else None,
            memory_limit=memory(memory_limit) if given(memory_limit) and memory_limit != "auto" else None,
            adapt=adapt_range(adapt, limit) if given(adapt) else None,
            name=cluster_name(name) if given(name) else None,
            insecure=insecure,
        )

    def argv(self) -> list[str]:
        """The same options as ``clusterkit.daemon`` arguments (parsed again there)."""
        args: list[str] = []
        if self.name:
            args += ["--name", self.name]
        if self.n_workers is not None:
            args += ["-n", str(self.n_workers)]
        if self.threads_per_worker is not None:
            args += ["--threads", str(self.threads_per_worker)]
        if self.memory_limit is not None:
            args += ["--memory", str(self.memory_limit)]
        if self.adapt is not None:
            args += ["--adapt", f"{self.adapt[0]}:{self.adapt[1]}"]
        if self.insecure:
            args.append("--insecure")
        return args
