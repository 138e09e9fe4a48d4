"""clusterkit in Notebook 7 (the ``notebook`` package's classic-style UI), in headless Chromium.

The same Jupyter server as the Lab tests (Notebook 7 is a server extension beside
JupyterLab) serves ``/notebooks/nb7.ipynb``. The notebook runs the magics, shows
the status widget, the native task stream (opened after a map: it must show that
map's history) and one of Dask's plots through the server's proxy, all from Run >
Run All Cells as a user would. Notebook 7 has side panels: the clusters sidebar is
there too, under View.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, Lab
from tests.browser.notebooks import put_notebook

pytestmark = [pytest.mark.allow_leaks, pytest.mark.slow, pytest.mark.timeout(300)]

DOCS = ARTIFACTS.parent / "docs"
NAME = "nb7-cluster"
CELLS = [
    f"%load_ext clusterkit\n%cluster start -n 2 --threads 1 --memory 1GiB --name {NAME}",
    "import clusterkit as ck\nprint('SUM', sum(ck.map(lambda x: x * x, range(100))))",
    "%cluster status",
    "%cluster dashboard",
    "%cluster list",
    "%cluster dashboard task-stream",  # last: Run All stops at an error
]


def _menu(page: Any, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


@pytest.fixture(scope="module")
def notebook7(browser: Any, lab: Lab) -> Any:
    """Notebook 7 on ``nb7.ipynb``, every cell run once."""
    put_notebook(lab, "nb7.ipynb", CELLS)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(f"{lab.url}notebooks/nb7.ipynb?token={lab.token}")
    # Notebook 7 may still ask which kernel to use, whenever it gets to it: accept the default.
    page.add_locator_handler(page.locator(".jp-Dialog", has_text="Select Kernel"),
                             lambda dialog: dialog.locator("button.jp-mod-accept").click(), no_wait_after=True)
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    _menu(page, "Run", "Run All Cells")
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "notebook7-last.png"), full_page=True)
        context.close()


def test_magics_and_widgets_render_in_notebook7(notebook7: Any, lab: Lab) -> None:
    page = notebook7
    page.locator(".jp-OutputArea-output", has_text="SUM 328350").wait_for(timeout=180_000)
    page.locator(".ck-status-root").wait_for()
    page.locator(".jp-OutputArea-output", has_text=NAME).last.wait_for()  # %cluster list
    # The task stream opened after the map: it shows that history, one lane per thread.
    stream = page.locator(".ck-taskstream")
    stream.wait_for()
    # ck.map batches its 100 items into a few tasks: any event at all is history.
    page.wait_for_function("() => Number(document.querySelector('.ck-taskstream')?.dataset.events || 0) > 0")
    header = stream.locator(".ck-ts-header").inner_text()
    assert "· 2 lanes" in header and "0 events" not in header, header
    page.wait_for_function("() => Number(document.querySelector('.ck-taskstream')?.dataset.barsDrawn || 0) > 0")
    stream.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notebook7.png"), full_page=True)
    # One of Dask's plots, in an iframe, through the Jupyter server's proxy.
    iframe = page.locator(".ck-frame-iframe, .jp-OutputArea-output:has-text('UsageError')").last
    iframe.wait_for()
    assert "UsageError" not in iframe.inner_text(), iframe.inner_text()
    assert (iframe.get_attribute("src") or "").startswith("/clusterkit/dashboard/"), iframe.get_attribute("src")
    page.frame_locator(".ck-frame-iframe").locator(".bk-Canvas, .bk-root, canvas").first.wait_for(
        state="attached", timeout=60_000)


def test_clusters_sidebar_in_notebook7_side_panel(notebook7: Any) -> None:
    """Notebook 7 lists side panels under View > Left Sidebar; ours is "Show Clusters"."""
    page = notebook7
    page.locator(".lm-MenuBar-itemLabel", has_text="View").first.click()
    page.locator(".lm-Menu-item", has_text="Left Sidebar").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text="Show Clusters").first.click()
    entry = page.locator(f"#clusterkit-sidebar li.ck-Cluster[data-cluster-name='{NAME}']")
    entry.wait_for(state="visible", timeout=30_000)
    assert entry.locator(".ck-Cluster-owner").inner_text() == "nb7.ipynb"
    page.screenshot(path=str(ARTIFACTS / "notebook7-sidebar.png"))
    DOCS.mkdir(exist_ok=True)
    for name in ("notebook7", "notebook7-sidebar"):
        shutil.copy(ARTIFACTS / f"{name}.png", DOCS / f"{name}.png")
