"""Unit tests of the grading machinery: one line per check, hints instead of tracebacks."""

from __future__ import annotations

import time

import pytest

from clusterkit.teach import environment, grading


def test_a_right_answer_prints_one_passed_line(capsys: pytest.CaptureFixture[str]) -> None:
    grading.check("00.growth", lambda doubling, months: 2 ** (months / doubling))
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("PASSED 00.growth: ")


@pytest.mark.parametrize(
    "answer, fragment",
    [
        (lambda d, m: None, "returned None"),
        (lambda d, m: m / d, "should be"),
        (lambda d, m: 1 / 0, "your code raised ZeroDivisionError: division by zero."),
    ],
)
def test_a_wrong_answer_prints_a_hint_not_a_traceback(answer, fragment, capsys) -> None:
    grading.check("00.growth", answer)
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("NOT YET 00.growth: Hint: ")
    assert fragment in lines[0]
    assert "Traceback" not in out.out + out.err


def test_an_unknown_exercise_is_a_hint() -> None:
    result = grading.run("99.nothing")
    assert not result and "no exercise '99.nothing'" in result.message


def test_every_notebook_exercise_has_a_grader() -> None:
    import nbformat

    from clusterkit.teach import exercises  # noqa: F401
    from tests.notebooks import harness

    used = set()
    for path in harness.notebooks():
        for cell in nbformat.read(path, as_version=4).cells:
            if "grader" in harness.tags(cell):
                used.add(cell.source.split('"')[1])
    assert used and used <= set(grading.GRADERS)
    assert set(grading.GRADERS) <= used, "graders that no notebook uses"


def test_max_overlap() -> None:
    assert grading.max_overlap([]) == 0
    assert grading.max_overlap([(0, 1), (1, 2)]) == 1  # touching is not overlapping
    assert grading.max_overlap([(0, 3), (1, 2), (1.5, 4)]) == 3


def test_call_with_timeout_gives_up_with_a_hint() -> None:
    with pytest.raises(grading.NotYet, match="did not finish within 0 s"):
        grading.call_with_timeout(time.sleep, 2, timeout=0.2)
    assert grading.call_with_timeout(lambda x: x + 1, 1, timeout=5) == 2


def test_time_windows_grow_on_one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment, "cpus", lambda: 1)
    one = environment.time_window(1.0)
    monkeypatch.setattr(environment, "cpus", lambda: 8)
    assert one > environment.time_window(1.0) >= 1.0


def test_the_curriculum_cluster_has_two_workers_even_on_one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment, "cpus", lambda: 1)
    assert environment.curriculum_workers() == 2
    monkeypatch.setattr(environment, "cpus", lambda: 64)
    assert environment.curriculum_workers() == 4
