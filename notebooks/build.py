"""Build the curriculum notebooks from their sources in ``source/``.

Each ``source/NN-name.py`` is a Python file split into cells by lines starting
with ``# %%``. A marker may carry a kind and tags::

    # %% [markdown]        a text cell (each line's leading "# " is dropped)
    # %%                   a code cell
    # %% exercise          the TODO stub a learner edits      (tag "exercise")
    # %% solution          the reference solution, collapsed  (tag "solution")
    # %% grader            the teach.check(...) call           (tag "grader")
    # %% demo              a demonstration no grader needs     (tag "demo"; the stub test run skips it)

Run ``python notebooks/build.py`` after editing a source; the ``.ipynb`` files are
written with outputs cleared. ``python notebooks/build.py --check`` fails if any
notebook differs from its source (the tests run it).
"""

from __future__ import annotations

import pathlib
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
KNOWN_TAGS = {"exercise", "solution", "grader", "demo"}


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
        if "solution" in words:
            cell.metadata["jupyter"] = {"source_hidden": True}
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


def build(source: pathlib.Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = 4  # no cell ids: notebooks stay diff-friendly
    nb.cells = cells_of(source.read_text())
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for source in sorted((HERE / "source").glob("[0-9][0-9]-*.py")):
        target = HERE / f"{source.stem}.ipynb"
        text = render(build(source))
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
