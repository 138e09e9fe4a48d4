"""How exercises are graded: one line of result, or a hint, never a traceback.

Each exercise in the curriculum ends with ``teach.check("<id>", answer...)``.
The grader registered under that id runs the learner's answer on fresh random
inputs and judges the work that produced it: the tasks the call submitted
(:class:`~clusterkit.teach.capture.Capture`, read from the scheduler), the actor
calls on the actors the grader made, and :class:`Probe` functions that notice
being run here in the kernel. It prints one line::

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

from clusterkit.teach.capture import max_overlap

__all__ = [
    "GRADERS",
    "NotYet",
    "Probe",
    "Result",
    "actor_calls",
    "call_with_timeout",
    "check",
    "elapsed",
    "expect",
    "grader",
    "known_actor_ids",
    "max_overlap",
    "passed",
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


def passed(exercise: str) -> bool:
    """Whether the latest check of ``exercise`` in this kernel passed (demos that need it ask)."""
    for result in reversed(RESULTS):
        if result.exercise == exercise:
            return result.passed
    return False


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


#: Calls of :class:`Probe` functions made in this (the grading kernel's) process, by token.
LOCAL_CALLS: dict[str, int] = {}


class Probe:
    """A function that counts the calls made in the process that created it.

    Graders hand learners probed functions and objects: a call that runs on a
    worker is not counted (it is another process), a call made here, in the
    kernel, is. So "the right value computed serially in the kernel" shows.
    """

    def __init__(self, function: Callable[..., Any], token: str | None = None) -> None:
        import os
        import uuid

        self.function = function
        self.token = token or uuid.uuid4().hex
        self.home = os.getpid()
        self.__name__ = getattr(function, "__name__", "probe")
        self.__qualname__ = self.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import os

        if os.getpid() == self.home:
            LOCAL_CALLS[self.token] = LOCAL_CALLS.get(self.token, 0) + 1
        return self.function(*args, **kwargs)

    @property
    def local_calls(self) -> int:
        return LOCAL_CALLS.get(self.token, 0)


def actor_calls(client: Any, since: float = 0.0, actor_ids: Sequence[str] | None = None,
                method: str | None = None) -> list[dict[str, Any]]:
    """Actor calls logged on ``clusterkit-actors`` after ``since``, only of ``actor_ids`` if given."""
    calls = []
    for stamp, message in client.get_events("clusterkit-actors"):
        if not isinstance(message, dict) or stamp < since:
            continue
        if actor_ids is not None and message.get("actor_id") not in actor_ids:
            continue
        if method is not None and message.get("method") != method:
            continue
        calls.append(message)
    return calls


def known_actor_ids(client: Any) -> set[str]:
    """Every actor id the call log has seen so far (to tell actors made later from earlier ones)."""
    return {str(m.get("actor_id")) for _, m in client.get_events("clusterkit-actors") if isinstance(m, dict)}


@contextlib.contextmanager
def elapsed() -> Iterator[list[float]]:
    """``with elapsed() as t:`` ... ``t[0]`` is the block's wall time in seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start
