"""The graders of every exercise in the curriculum, one section per notebook.

Exercise ids are ``"<notebook number>.<name>"``. Graders check results *and*
behaviour: what ran on the cluster, whether it overlapped, how many tasks or
actor calls there were. Deadlines come from :func:`environment.time_window`, so
they are as fair on one CPU as on many.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from clusterkit.teach import environment, shared
from clusterkit.teach.grading import TaskStream, call_with_timeout, expect, grader

__all__: list[str] = []


def _client() -> Any:
    return shared.cluster().client


# -- 00 Why distributed --------------------------------------------------------------------
@grader("00.growth", hint="Something that doubles every d months grows 2 ** (t / d) times in t months.")
def _growth(growth: Callable[[float, float], float]) -> str:
    value = growth(3.4, 18)
    expect(value is not None, "growth(...) returned None: replace the TODO with the formula 2 ** (months / doubling).")
    expect(math.isclose(growth(18, 18), 2.0, rel_tol=1e-6), "growth(18, 18) should be 2: one doubling in 18 months.")
    expect(math.isclose(growth(12, 36), 8.0, rel_tol=1e-6), "growth(12, 36) should be 8: three doublings.")
    expect(math.isclose(value, 2 ** (18 / 3.4), rel_tol=1e-6), "growth(3.4, 18) should be about 39.")
    return f"demand doubling every 3.4 months grows {value:.0f}x in 18 months; chips gave 2x at best."


def _slow_square_reference(xs: list[int]) -> list[int]:
    return [x * x for x in xs]


@grader("00.parallel-squares", hint="Return ck.map(slow_square, xs): it runs the calls on the cluster's workers.")
def _parallel_squares(parallel_squares: Callable[[list[int]], list[int]]) -> str:
    xs = list(range(8))
    serial_time = 8 * 0.25
    with TaskStream(_client()) as stream:
        result = call_with_timeout(parallel_squares, xs, timeout=environment.time_window(2 * serial_time))
    expect(result is not None, "parallel_squares returned None: return the list of squares.")
    expect(list(result) == _slow_square_reference(xs), f"expected {_slow_square_reference(xs)}, got {result!r}.")
    tasks = stream.tasks()
    expect(tasks, "the squares are right, but nothing ran on the cluster: your loop ran here, in the kernel, "
           "one call after another. Use ck.map(slow_square, xs).")
    expect(stream.overlap() >= 2, "tasks ran on the cluster, but one at a time. Submit them all at once "
           "(ck.map does) so several workers sleep at the same moment.")
    return f"{len(tasks)} task(s) on {len(stream.workers())} worker(s), up to {stream.overlap()} at the same moment."
