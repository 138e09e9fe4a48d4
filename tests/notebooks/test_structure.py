"""The shipped notebooks: built from their sources, outputs cleared, exercises well formed."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from tests.notebooks import harness

NOTEBOOKS = harness.notebooks()


def test_notebooks_match_their_sources() -> None:
    result = subprocess.run([sys.executable, str(harness.NOTEBOOK_DIR / "build.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_structure(path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    cells = nb.cells
    assert cells[0].cell_type == "markdown" and "Learning goals" in cells[0].source
    assert "teach.cluster()" in "".join(c.source for c in cells if c.cell_type == "code")
    exercises = 0
    for index, cell in enumerate(cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"cell {index} has outputs"
        tags = harness.tags(cell)
        if "exercise" in tags:
            exercises += 1
            assert "TODO" in cell.source, f"exercise cell {index} has no TODO"
            following = cells[index + 1], cells[index + 2]
            assert "solution" in harness.tags(following[0]), f"exercise cell {index} is not followed by a solution"
            assert "grader" in harness.tags(following[1]) and "teach.check(" in following[1].source
            # The solution loads on demand (%load puts text in the cell and runs nothing): Run All keeps answers.
            ident = harness.exercise_of(following[1])
            assert following[0].source.splitlines()[-1] == f"%load solutions/{ident}.py"
            assert (harness.SOLUTION_DIR / f"{ident}.py").is_file()
    assert exercises >= 1


def test_variants() -> None:
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    stubs = harness.variant(nb, "stubs")  # keeps the %load cells: the stubs run shows they run nothing
    assert not any("demo" in harness.tags(c) for c in stubs.cells)
    assert [c.source for c in stubs.cells if "exercise" in harness.tags(c)] == [
        c.source for c in nb.cells if "exercise" in harness.tags(c)]
    solutions = harness.variant(nb, "solutions")
    for index, cell in enumerate(solutions.cells):
        if "exercise" in harness.tags(cell):
            ident = harness.exercise_of(solutions.cells[index + 2])
            assert cell.source == (harness.SOLUTION_DIR / f"{ident}.py").read_text()
    nb.metadata["clusterkit_answers"] = harness.answers("00")
    answers = harness.variant(nb, "answers")
    expected = [c.metadata["expect"] for c in answers.cells if "grader" in harness.tags(c)]
    blocks = harness.answers("00")
    graders = [harness.exercise_of(c) for c in nb.cells if "grader" in harness.tags(c)]
    assert expected == [status for ident in graders for status in ["NOT YET"] + [  # the stub, then each answer
        "NOT YET" if kind == "wrong" else "PASSED" for kind, exercise, _ in blocks if exercise == ident]]
    assert sum("solution" in harness.tags(c) for c in answers.cells) == len(graders)  # %load cells kept


def test_every_grader_meets_at_least_two_wrong_answers() -> None:
    from clusterkit.teach import exercises  # noqa: F401  (registers the graders)
    from clusterkit.teach.grading import GRADERS

    wrong: dict[str, int] = {}
    for path in NOTEBOOKS:
        for kind, ident, _ in harness.answers(path.name[:2]):
            assert ident in GRADERS, f"answers/{path.name[:2]}.py names an unknown exercise {ident}"
            assert ident.startswith(path.name[:2])
            wrong[ident] = wrong.get(ident, 0) + (kind == "wrong")
    assert {ident: wrong.get(ident, 0) for ident in GRADERS if wrong.get(ident, 0) < 2} == {}

