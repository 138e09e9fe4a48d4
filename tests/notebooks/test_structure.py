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
            assert following[0].metadata.get("jupyter", {}).get("source_hidden") is True
            assert "grader" in harness.tags(following[1]) and "teach.check(" in following[1].source
    assert exercises >= 1


def test_stub_variant_replaces_solutions_and_drops_demos() -> None:
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    stubs = harness.variant(nb, "stubs")
    assert not any("demo" in harness.tags(c) for c in stubs.cells)
    for index, cell in enumerate(stubs.cells):
        if "solution" in harness.tags(cell):
            assert cell.source == stubs.cells[index - 1].source
