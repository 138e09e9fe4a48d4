"""``ck.map``'s progress bar in JupyterLab, in headless Chromium: in the running cell, then finished.

The notebook's cells run the way a user runs them (JupyterLab's run-cell command on
the notebook), so every output lands where JupyterLab places it. The bar must appear
in the output area of the cell that runs ``ck.map`` while that cell still runs, and
stay there, full and showing the item count, after the cell has printed its result.

Every item of the map first waits for a gate file that the test writes only once it
has seen the bar in the still-running cell: "while it runs" is a DOM state the test
waits for, never a guess about how long anything takes.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from clusterkit import registry
from tests.browser.conftest import ARTIFACTS, Lab
from tests.browser.notebooks import put_notebook

pytestmark = [pytest.mark.allow_leaks, pytest.mark.slow, pytest.mark.timeout(300)]

NOTEBOOK = "progress.ipynb"
NAME = "progress-cluster"
ITEMS = 3000

_PANEL = (
    "const nb = [...window.jupyterapp.shell.widgets('main')]"
    f".find(w => w.context && w.context.path === '{NOTEBOOK}');"
)
# Starts one cell as Run > Run Selected Cell does, without waiting for it to finish.
_RUN_CELL = "(index) => {" + _PANEL + """
  window.jupyterapp.shell.activateById(nb.id);
  nb.content.activeCellIndex = index;
  void window.jupyterapp.commands.execute('notebook:run-cell');
}"""


def cells(gate: pathlib.Path) -> list[str]:
    return [
        "import os, time\nimport clusterkit as ck\n"
        f"s = ck.start(n_workers=2, threads_per_worker=1, memory_limit='1GiB', name={NAME!r})\n"
        "print('STARTED', s.name)",
        f"GATE = {str(gate)!r}\n\n"
        "def slow(x):\n"
        "    while not os.path.exists(GATE):  # the test opens the gate once it saw the running bar\n"
        "        time.sleep(0.01)\n"
        "    time.sleep(0.001)\n"
        "    return x\n\n"
        f"results = ck.map(slow, range({ITEMS}))\n"
        "print('RESULT', len(results), sum(results))",
        "s.stop()\nprint('STOPPED')",
    ]


@pytest.fixture(scope="module")
def notebook(browser: Any, lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, pathlib.Path]]:
    """JupyterLab on ``progress.ipynb`` with its kernel ready; yields the page and the gate file's path."""
    gate = tmp_path_factory.mktemp("progress") / "gate"
    put_notebook(lab, NOTEBOOK, cells(gate))
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(f"{lab.url}lab/tree/{NOTEBOOK}?token={lab.token}")
    page.wait_for_function(
        "() => { if (!window.jupyterapp) return false; " + _PANEL + " if (!nb || !nb.sessionContext.isReady) return false;"
        " const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;"
        " return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle'; }",
        timeout=120_000,
    )
    try:
        yield page, gate
    finally:
        gate.touch()  # never leave the kernel's map waiting
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "progress-last.png"), full_page=True)
        context.close()
        for session in lab.api("api/sessions"):
            if session["path"] == NOTEBOOK:
                lab.api(f"api/sessions/{session['id']}", method="DELETE")


def cell(page: Any, index: int) -> Any:
    return page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").nth(index)


def run_cell(page: Any, index: int) -> None:
    page.evaluate(_RUN_CELL, index)


def test_map_progress_bar_shows_while_the_cell_runs_and_stays_finished(notebook: Any, lab: Lab) -> None:
    page, gate = notebook
    run_cell(page, 0)
    cell(page, 0).locator(".jp-OutputArea-output", has_text=f"STARTED {NAME}").wait_for(timeout=120_000)

    run_cell(page, 1)
    mapping = cell(page, 1)
    bar = mapping.locator(".jp-OutputArea-output .ck-progress")
    bar.wait_for(state="visible")
    # Still running: no item can finish before the gate opens, the result is not printed yet.
    assert mapping.locator(".jp-InputArea-prompt").inner_text().strip() == "[*]:"
    assert mapping.locator(".jp-OutputArea-output", has_text="RESULT").count() == 0
    assert bar.locator(".ck-progress-name").inner_text() == "ck.map(slow)"
    assert bar.locator(".ck-progress-count").inner_text() == f"0 / {ITEMS}"
    assert "ETA" in bar.locator(".ck-progress-info").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "progress-running.png"))

    gate.touch()
    mapping.locator(".jp-OutputArea-output", has_text=f"RESULT {ITEMS} {sum(range(ITEMS))}").wait_for(
        timeout=120_000
    )
    # After the cell: the same bar, in the same cell, finished and full.
    bar.locator(".ck-progress-info", has_text="done in").wait_for()
    assert page.locator(".ck-progress").count() == 1  # one bar on the page, the one in this cell
    assert bar.locator(".ck-progress-count").inner_text() == f"{ITEMS} / {ITEMS}"
    assert bar.get_attribute("data-done") == str(ITEMS)
    assert bar.locator(".ck-progress-fill").evaluate("el => el.style.width") == "100%"
    outputs = mapping.locator(".jp-OutputArea-output")
    assert outputs.first.locator(".ck-progress").count() == 1  # the bar first, then the printed result
    assert "RESULT" in outputs.last.inner_text()
    page.wait_for_function(
        "(cell) => !cell.querySelector('.jp-InputArea-prompt').textContent.includes('*')",
        arg=mapping.element_handle(),
    )
    page.screenshot(path=str(ARTIFACTS / "progress-finished.png"))

    # Clean up: stopping the cluster removes its record.
    run_cell(page, 2)
    cell(page, 2).locator(".jp-OutputArea-output", has_text="STOPPED").wait_for(timeout=120_000)
    assert not [r for r in registry.list_records(lab.registry) if r.name == NAME]
