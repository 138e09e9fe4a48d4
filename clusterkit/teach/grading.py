"""How exercises are graded: one line of result, or a hint, never a traceback.

Each exercise in the curriculum ends with ``teach.check("<id>", answer...)``.
The grader registered under that id runs the learner's answer, usually on the
cluster, and looks at what *happened* as well as what came back: which tasks
ran and whether they overlapped (from the scheduler's task stream), how many
tasks were submitted, which actor calls were logged. It prints one line::

    PASSED 01.distinct-rolls: five tasks, five different values.
    NOT YET 01.distinct-rolls: Hint: all five futures share one key ...

A grader says "not yet" by raising :class:`NotYet` with a hint; any other
exception from the learner's code is caught and turned into a hint too.

Writing a grader::

    @grader("00.growth", hint="Growth over t months with doubling time d is 2 ** (t / d).")
    def _growth(growth):
        expect(abs(growth(3.4, 18) - 39.2) < 0.5, "growth(3.4, 18) should be about 39.")
        return "the demand curve grows about 39x in 18 months."
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = [
    "GRADERS",
    "NotYet",
    "Result",
    "TaskRecord",
    "TaskStream",
    "actor_calls",
    "call_with_timeout",
    "check",
    "elapsed",
    "expect",
    "grader",
    "max_overlap",
]

PASSED = "PASSED"
NOT_YET = "NOT YET"


class NotYet(Exception):
    """Raised by a grader: the answer is not right yet; the message is the hint."""


@dataclasses.dataclass(frozen=True)
class Result:
    """The outcome of one check."""

    exercise: str
    passed: bool
    message: str

    def line(self) -> str:
        if self.passed:
            return f"{PASSED} {self.exercise}: {self.message}"
        return f"{NOT_YET} {self.exercise}: Hint: {self.message}"

    def __bool__(self) -> bool:
        return self.passed


@dataclasses.dataclass(frozen=True)
class _Grader:
    exercise: str
    function: Callable[..., str]
    hint: str


#: Every registered grader by exercise id.
GRADERS: dict[str, _Grader] = {}

#: Every result of this kernel, in order (notebooks may summarise them).
RESULTS: list[Result] = []


def grader(exercise: str, *, hint: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Register ``function`` as the grader of ``exercise``; ``hint`` is shown when code raises."""

    def register(function: Callable[..., str]) -> Callable[..., str]:
        GRADERS[exercise] = _Grader(exercise, function, hint)
        return function

    return register


def expect(condition: object, hint: str) -> None:
    """Fail the check with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise NotYet(hint)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def run(exercise: str, *args: Any, **kwargs: Any) -> Result:
    """Run the grader of ``exercise`` and return its :class:`Result` (prints nothing)."""
    from clusterkit.teach import exercises  # noqa: F401  (registers the graders)

    entry = GRADERS.get(exercise)
    if entry is None:
        known = ", ".join(sorted(GRADERS))
        return Result(exercise, False, f"there is no exercise {exercise!r}. Known exercises: {known}.")
    try:
        message = entry.function(*args, **kwargs)
        result = Result(exercise, True, message or "correct.")
    except NotYet as exc:
        result = Result(exercise, False, str(exc))
    except Exception as exc:  # the learner's code raised: a hint, not a traceback
        result = Result(exercise, False, f"your code raised {_first_line(exc)}. {entry.hint}")
    RESULTS.append(result)
    return result


def check(exercise: str, *args: Any, **kwargs: Any) -> None:
    """Grade an exercise and print one line: ``PASSED ...`` or ``NOT YET ...: Hint: ...``."""
    print(run(exercise, *args, **kwargs).line())


# -- probes: what happened on the cluster -------------------------------------------
def call_with_timeout(function: Callable[..., Any], *args: Any, timeout: float) -> Any:
    """Call ``function`` in a helper thread; :class:`NotYet` if it takes longer than ``timeout`` s.

    The call keeps running in the background if it overruns (Python cannot stop
    a thread), but the grader answers on time.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="clusterkit-grader", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise NotYet(f"your code did not finish within {timeout:.0f} s.")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@dataclasses.dataclass(frozen=True)
class TaskRecord:
    """One task the cluster computed: its key, worker and compute interval."""

    key: str
    worker: str
    start: float
    stop: float

    @property
    def prefix(self) -> str:
        from dask.utils import key_split

        return str(key_split(self.key))


class TaskStream:
    """The tasks the cluster computed while the ``with`` block ran.

    >>> with TaskStream(client) as stream:      # doctest: +SKIP
    ...     client.gather(client.map(slow, range(4)))
    >>> len(stream.tasks(prefix="slow"))        # doctest: +SKIP
    4
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.records: list[TaskRecord] = []
        self._context: Any = None

    def __enter__(self) -> TaskStream:
        from distributed import get_task_stream

        self._context = get_task_stream(client=self.client)
        self._context.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._context.__exit__(*exc)
        records = []
        for item in self._context.data:
            for span in item.get("startstops", ()):
                if span.get("action") == "compute":
                    records.append(TaskRecord(str(item["key"]), item.get("worker", ""), span["start"], span["stop"]))
        self.records = sorted(records, key=lambda r: r.start)

    def tasks(self, prefix: str | Sequence[str] | None = None) -> list[TaskRecord]:
        """Tasks whose key starts with ``prefix`` (a function name), or all."""
        if prefix is None:
            return list(self.records)
        prefixes = (prefix,) if isinstance(prefix, str) else tuple(prefix)
        return [r for r in self.records if r.prefix in prefixes or r.key.startswith(prefixes)]

    def workers(self, prefix: str | Sequence[str] | None = None) -> set[str]:
        return {r.worker for r in self.tasks(prefix)}

    def overlap(self, prefix: str | Sequence[str] | None = None) -> int:
        """The largest number of these tasks that were computing at the same moment."""
        return max_overlap([(r.start, r.stop) for r in self.tasks(prefix)])


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


def actor_calls(client: Any, since: float = 0.0) -> list[dict[str, Any]]:
    """Actor calls logged on the ``clusterkit-actors`` topic after ``since`` (a time.time())."""
    events = client.get_events("clusterkit-actors")
    calls = []
    for stamp, message in events:
        if isinstance(message, dict) and stamp >= since:
            calls.append(message)
    return calls


@contextlib.contextmanager
def elapsed() -> Iterator[list[float]]:
    """``with elapsed() as t:`` ... ``t[0]`` is the block's wall time in seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start
