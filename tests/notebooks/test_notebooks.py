"""Every curriculum notebook, run under Binder-like limits (1 CPU, 2 GB, 3 minutes per run).

Two kernels per notebook, in parallel on two CPUs, make the three checks: the
``solutions`` run must pass every grader; the ``answers`` run grades every TODO stub
as shipped (each must fail with a hint, and the ``%load`` solution cells before them
must have run nothing), then tries the extra answers of ``tests/notebooks/answers/NN.py``
in the same kernel: every wrong one must get NOT YET with a hint, every other correct
one PASSED. Neither run may raise anywhere, leave processes
behind or take more than three minutes. Times and peak memory are printed at
the end of the pytest run and kept in pytest's cache (``clusterkit/notebooks``).
"""

from __future__ import annotations

import pathlib

import nbformat
import pytest

from tests.notebooks import harness

NOTEBOOKS = harness.notebooks()
REPORT: list[dict[str, object]] = []


def test_ten_notebooks_exist() -> None:
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(10)]


@pytest.mark.slow
@pytest.mark.timeout(2 * harness.TIME_LIMIT + 60)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(path: pathlib.Path, tmp_path: pathlib.Path, request: pytest.FixtureRequest) -> None:
    nb = nbformat.read(path, as_version=4)
    solutions = sum("solution" in harness.tags(c) for c in nb.cells)
    outcomes = harness.run_variants(path, tmp_path)
    for outcome in outcomes.values():
        REPORT.append(outcome.summary())
        cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
        if cache is not None:
            cache.set(f"clusterkit/notebooks/{path.stem}/{outcome.variant}", outcome.summary())
    problems = []
    for which, outcome in outcomes.items():
        where = f"{path.name} [{which}]"
        if outcome.timed_out:
            problems.append(f"{where}: took more than {harness.TIME_LIMIT:.0f} s")
        problems += [f"{where}: {e}" for e in outcome.errors]
        problems += [f"{where}: {b}" for b in outcome.bad_grader_cells]
        if outcome.leftover_processes:
            problems.append(f"{where}: processes left behind: {outcome.leftover_processes}")
        if which != "answers" and outcome.grader_cells != solutions:
            problems.append(f"{where}: {outcome.grader_cells} grader cells for {solutions} solution cells")
        for (status, exercise, message), expected in zip(outcome.grades, outcome.expected, strict=True):
            if status != expected:
                problems.append(f"{where}: {exercise} {status} (expected {expected}): {message}")
            if status == "NOT YET" and not message.startswith("Hint:"):
                problems.append(f"{where}: {exercise} failed without a hint: {message}")
    if problems:
        logs = "\n".join(f"--- {o.variant} log tail ---\n{o.log}" for o in outcomes.values())
        pytest.fail("\n".join(problems) + "\n" + logs, pytrace=False)
