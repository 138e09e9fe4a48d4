"""What the learner's code did on the cluster, read from the scheduler, scoped to one call.

A grader must judge the work that *produced* the answer, not whatever else ran on
the cluster at the same time (a decoy, an earlier cell, another kernel sharing
the cluster). :class:`Capture` asks a scheduler plugin to note every task this
client submits while the ``with`` block runs, with its dependencies as the
scheduler sees them, and every compute interval of those tasks::

    with Capture(client) as capture:
        answer = learner_function(inputs)
        client.gather(answer)              # let the returned futures finish
    capture.tasks                          # only the tasks the call created
    capture.overlap()                      # most of them computing at one moment
    capture.depth(answer.key)              # longest dependency chain to the answer

Structure (dependencies, depth, which keys lead to the answer) comes from the
scheduler's own task states, never from objects the learner returns. The plugin
is installed once per scheduler and keeps nothing once a capture ends.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

__all__ = ["Capture", "CapturedTask", "GraderCapturePlugin", "max_overlap"]

PLUGIN_NAME = "clusterkit-grader-capture"


def max_overlap(intervals: Sequence[tuple[float, float]]) -> int:
    """The largest number of intervals that contain one common moment.

    >>> max_overlap([(0, 2), (1, 3), (2.5, 4)])
    2
    """
    events = sorted([(start, 1) for start, _ in intervals] + [(stop, -1) for _, stop in intervals])
    best = current = 0
    for _, change in events:  # at equal times a stop (-1) sorts before a start
        current += change
        best = max(best, current)
    return best


class GraderCapturePlugin(SchedulerPlugin):
    """Scheduler side: records the tasks of active captures (client id -> capture ids)."""

    name = PLUGIN_NAME

    def __init__(self) -> None:
        self.active: dict[str, dict[str, Any]] = {}
        self.scheduler: Any = None

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def update_graph(self, scheduler: Any, *, client: str, tasks: Iterable[Any] = (), **kwargs: Any) -> None:
        watching = [c for c in self.active.values() if c["client"] == client]
        if not watching:
            return
        now = time.time()
        for key in tasks:
            ts = scheduler.tasks.get(key)
            if ts is None or all(key in c["existing"] for c in watching):
                continue
            entry = {
                "key": str(key),
                "prefix": str(ts.prefix.name) if ts.prefix is not None else str(key),
                "deps": [str(d.key) for d in ts.dependencies],
                "created": now,
                "computed": ts.run_spec is not None,
            }
            for capture in watching:
                if key not in capture["existing"]:
                    capture["tasks"].setdefault(str(key), entry)

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if not self.active or finish not in ("memory", "erred"):
            return
        name = str(key)
        for capture in self.active.values():
            entry = capture["tasks"].get(name)
            if entry is None:
                continue
            spans = [s for s in kwargs.get("startstops", ()) or () if s.get("action") == "compute"]
            if spans:
                entry["start"], entry["stop"] = spans[0]["start"], spans[-1]["stop"]
            entry["worker"] = kwargs.get("worker", "")
            entry["state"] = finish


def _install(dask_scheduler: Any = None) -> bool:
    if PLUGIN_NAME not in dask_scheduler.plugins:
        dask_scheduler.add_plugin(GraderCapturePlugin(), name=PLUGIN_NAME)
    return True


def _begin(capture_id: str, client_id: str, dask_scheduler: Any = None) -> None:
    plugin = dask_scheduler.plugins[PLUGIN_NAME]
    # Keys the scheduler knows already were not created by the captured call (inputs made earlier).
    plugin.active[capture_id] = {"client": client_id, "tasks": {}, "existing": set(dask_scheduler.tasks)}


def _end(capture_id: str, dask_scheduler: Any = None) -> list[dict[str, Any]]:
    plugin = dask_scheduler.plugins[PLUGIN_NAME]
    capture = plugin.active.pop(capture_id, {"tasks": {}})
    return list(capture["tasks"].values())


def _barrier() -> None:
    """A no-op task: once it finished, every message sent before it reached the scheduler."""


@dataclasses.dataclass(frozen=True)
class CapturedTask:
    """One task the captured call submitted: key, function prefix, dependencies, where and when."""

    key: str
    prefix: str
    deps: tuple[str, ...]
    computed: bool
    worker: str = ""
    start: float | None = None
    stop: float | None = None
    state: str = "unfinished"

    @property
    def ran(self) -> bool:
        return self.start is not None and self.stop is not None

    @property
    def seconds(self) -> float:
        return (self.stop - self.start) if self.start is not None and self.stop is not None else 0.0


class Capture:
    """The tasks one client submitted while the ``with`` block ran (see the module docstring)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.id = uuid.uuid4().hex
        self.tasks: list[CapturedTask] = []
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> Capture:
        self.client.run_on_scheduler(_install)
        self.client.run_on_scheduler(_begin, self.id, self.client.id)
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._started
        try:
            # Everything the client sent before this task is known to the scheduler once it has run.
            barrier = self.client.submit(_barrier, key=f"clusterkit-grader-barrier-{self.id}", pure=False)
            barrier.result(timeout=60)
            barrier.release()
            time.sleep(0.05)  # transitions of tasks finishing right now reach the plugin
        finally:
            raw = self.client.run_on_scheduler(_end, self.id)
        self.tasks = [
            CapturedTask(r["key"], r["prefix"], tuple(r["deps"]), r["computed"], r.get("worker", ""),
                         r.get("start"), r.get("stop"), r.get("state", "unfinished"))
            for r in raw if not r["key"].startswith("clusterkit-grader-barrier-")
        ]

    # -- questions about what ran ------------------------------------------------------------
    def select(self, keys: Iterable[str] | None = None, prefix: str | None = None) -> list[CapturedTask]:
        """Captured tasks, optionally only ``keys`` or those whose key or prefix contains ``prefix``."""
        chosen = self.tasks
        if keys is not None:
            wanted = {str(k) for k in keys}
            chosen = [t for t in chosen if t.key in wanted]
        if prefix is not None:
            chosen = [t for t in chosen if prefix in t.prefix or prefix in t.key]
        return list(chosen)

    def ran(self, keys: Iterable[str] | None = None, prefix: str | None = None) -> list[CapturedTask]:
        """The selected tasks that computed on a worker (not scattered data, not unfinished)."""
        return [t for t in self.select(keys, prefix) if t.computed and t.ran]

    def overlap(self, keys: Iterable[str] | None = None, prefix: str | None = None) -> int:
        """Most selected tasks computing at one moment."""
        return max_overlap([(t.start, t.stop) for t in self.ran(keys, prefix)])  # type: ignore[misc]

    def busy_seconds(self, keys: Iterable[str] | None = None, prefix: str | None = None) -> float:
        """Total compute time of the selected tasks, summed over workers."""
        return sum(t.seconds for t in self.ran(keys, prefix))

    def workers(self, keys: Iterable[str] | None = None, prefix: str | None = None) -> set[str]:
        return {t.worker for t in self.ran(keys, prefix)}

    def ancestors(self, key: str) -> set[str]:
        """Every key ``key`` depends on, directly or not (captured tasks and their inputs)."""
        graph = {t.key: t.deps for t in self.tasks}
        seen: set[str] = set()
        stack = [str(key)]
        while stack:
            for dep in graph.get(stack.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return seen

    def depth(self, key: str) -> int:
        """Captured tasks on the longest dependency path ending at ``key`` (inputs made earlier count 0)."""
        graph = {t.key: t.deps for t in self.tasks}
        memo: dict[str, int] = {}

        def walk(name: str) -> int:
            if name not in graph:
                return 0
            if name not in memo:
                memo[name] = 1 + max((walk(d) for d in graph[name]), default=0)
            return memo[name]

        return walk(str(key))
