"""Build the curriculum notebooks from their sources in ``source/``.

Each ``source/NN-name.py`` is a Python file split into cells by lines starting
with ``# %%``. A marker may carry a kind and tags::

    # %% [markdown]        a text cell (each line's leading "# " is dropped)
    # %%                   a code cell
    # %% exercise          the TODO stub a learner edits      (tag "exercise")
    # %% solution          the reference solution: written to solutions/<exercise id>.py;
    #                      the notebook gets a cell that loads it on demand (tag "solution")
    # %% grader            the teach.check(...) call           (tag "grader")
    # %% demo              a demonstration no grader needs     (tag "demo"; the stub test run skips it)

Solutions stay outside Run All: the notebook's solution cell is ``%load
solutions/<id>.py``, which puts the solution's text into the cell when run and
executes nothing (as dask-tutorial does), so running every cell never replaces
a learner's answer. The id is the one in the grader cell that follows.

Run ``python notebooks/build.py`` after editing a source; the ``.ipynb`` files and
``solutions/*.py`` are written with outputs cleared. ``python notebooks/build.py --check`` fails if any
notebook differs from its source (the tests run it).
"""

from __future__ import annotations

import pathlib
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
KNOWN_TAGS = {"exercise", "solution", "grader", "demo"}


LOAD_LINE = "%load solutions/{}.py"
SOLUTION_INTRO = "# Stuck? Run this cell: it replaces itself with a reference solution (and runs nothing).\n"


def exercise_id(grader_source: str) -> str:
    """The exercise id in a grader cell: ``teach.check("01.launch-then-get", ...)``."""
    return grader_source.split('"')[1]


def solutions_of(cells: list[nbformat.NotebookNode]) -> dict[str, str]:
    """Replace each solution cell by its ``%load`` cell; return {exercise id: solution source}."""
    found = {}
    for index, cell in enumerate(cells):
        if "solution" in cell.get("metadata", {}).get("tags", []):
            ident = exercise_id(cells[index + 1].source)
            found[ident] = cell.source + "\n"
            cell.source = SOLUTION_INTRO + LOAD_LINE.format(ident)
    return found


def cells_of(text: str) -> list[nbformat.NotebookNode]:
    cells: list[nbformat.NotebookNode] = []
    header: str | None = None
    lines: list[str] = []

    def flush() -> None:
        if header is None:
            return
        body = "\n".join(lines).strip("\n")
        words = header.split()
        if words and words[0] == "[markdown]":
            source = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(source))
            return
        unknown = set(words) - KNOWN_TAGS
        if unknown:
            raise ValueError(f"unknown cell marker words {sorted(unknown)} in {header!r}")
        cell = nbformat.v4.new_code_cell(body)
        if words:
            cell.metadata["tags"] = list(words)
        cells.append(cell)

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            header = line[4:].strip()
            lines = []
        else:
            lines.append(line)
    flush()
    for cell in cells:  # stable ids keep the files diff-friendly
        cell.pop("id", None)
    return cells


def build(source: pathlib.Path) -> tuple[nbformat.NotebookNode, dict[str, str]]:
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = 4  # no cell ids: notebooks stay diff-friendly
    nb.cells = cells_of(source.read_text())
    solutions = solutions_of(nb.cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb, solutions


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    (HERE / "solutions").mkdir(exist_ok=True)
    for source in sorted((HERE / "source").glob("[0-9][0-9]-*.py")):
        nb, solutions = build(source)
        outputs = {HERE / f"{source.stem}.ipynb": render(nb)}
        outputs.update({HERE / "solutions" / f"{ident}.py": text for ident, text in solutions.items()})
        for target, text in outputs.items():
            if check:
                if not target.exists() or target.read_text() != text:
                    stale.append(target.name)
            else:
                target.write_text(text)
    if stale:
        print(f"out of date (run python notebooks/build.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
