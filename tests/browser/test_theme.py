"""Every clusterkit view in JupyterLab's dark theme, judged by the colours it renders.

A notebook shows the status widget, the task stream, a progress widget and one of
Dask's plots in a frame; the sidebar lists the cluster. In "JupyterLab Dark" each
view's rendered background must be dark, its text light, with WCAG contrast of at
least 4.5:1, and the task-stream canvas's own pixels must be dark too (it draws with
the theme's colours, not CSS). Dask's own dashboard page inside the frame stays
light: Dask has no dark theme.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, Lab
from tests.browser.notebooks import put_notebook

pytestmark = [pytest.mark.allow_leaks, pytest.mark.slow, pytest.mark.timeout(300)]

CELLS = [
    "%load_ext clusterkit\n%cluster start -n 1 --threads 2 --memory 1GiB --name themed",
    "import clusterkit as ck\nfrom clusterkit import widgets\nprint('SUM', sum(ck.map(lambda x: x + 1, range(40))))",
    "%cluster status",
    "%cluster dashboard",
    "widgets.progress(ck.current().client.map(lambda x: x, range(20), pure=False), label='themed')",
    "%cluster dashboard progress",
]

# The colour a user sees behind an element (the first opaque background up the tree) and its text colour.
_COLOURS = """(el) => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  let node = el, bg = null;
  while (node && node.nodeType === 1) {
    const v = parse(getComputedStyle(node).backgroundColor);
    if (v.length === 3 || (v.length === 4 && v[3] > 0.5)) { bg = v.slice(0, 3); break; }
    node = node.parentElement;
  }
  return {bg: bg || [255, 255, 255], fg: parse(getComputedStyle(el).color).slice(0, 3)};
}"""

# Pixels of the task-stream canvas: its background (top-left corner) and the share of dark pixels.
_CANVAS = """() => {
  const canvas = document.querySelector('.ck-taskstream canvas');
  const {data} = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let dark = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] < 3 * 80) dark++;
  return {corner: [data[0], data[1], data[2]], dark: dark / (data.length / 4)};
}"""


def luminance(rgb: list[float]) -> float:
    """WCAG relative luminance of an sRGB colour (0 black .. 1 white)."""
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def assert_dark(page: Any, selector: str) -> None:
    colours = page.locator(selector).first.evaluate(_COLOURS)
    bg, fg = colours["bg"], colours["fg"]
    assert luminance(bg) < 0.1, f"{selector}: background {bg} is not dark"
    assert luminance(fg) > 0.3, f"{selector}: text {fg} is not light"
    assert contrast(bg, fg) >= 4.5, f"{selector}: contrast {contrast(bg, fg):.1f} of {fg} on {bg}"


@pytest.fixture(scope="module")
def dark_notebook(page: Any, lab: Lab) -> Any:
    """``theme.ipynb`` open in the dark theme, every cell run."""
    put_notebook(lab, "theme.ipynb", CELLS)
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:open', {path: 'theme.ipynb'})")
    page.wait_for_function("() => { const w = window.jupyterapp.shell.currentWidget;"
                           " return w && w.context && w.context.path === 'theme.ipynb' && w.sessionContext.session; }")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.locator(".jp-OutputArea-output", has_text="SUM 820").wait_for(timeout=180_000)
    return page


def test_widgets_render_dark_with_light_text(dark_notebook: Any) -> None:
    page = dark_notebook
    for selector in (".ck-status-root", ".ck-taskstream", ".ck-progress", ".ck-frame-bar"):
        page.locator(selector).first.wait_for()
    page.wait_for_function("() => Number(document.querySelector('.ck-taskstream')?.dataset.events || 0) > 0")
    assert_dark(page, ".ck-status-root")
    assert_dark(page, ".ck-status-root .ck-table td")
    assert_dark(page, ".ck-taskstream .ck-ts-header")
    assert_dark(page, ".ck-progress")
    assert_dark(page, ".ck-frame-bar")
    canvas = page.evaluate(_CANVAS)
    assert luminance(canvas["corner"]) < 0.1, f"task-stream canvas background {canvas['corner']} is not dark"
    assert canvas["dark"] > 0.5, f"only {canvas['dark']:.0%} of the task-stream canvas is dark"
    page.locator(".ck-taskstream").first.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "theme-dark-widgets.png"))


def test_sidebar_renders_dark_with_light_text(dark_notebook: Any) -> None:
    page = dark_notebook
    page.evaluate("() => window.jupyterapp.commands.execute('clusterkit:show-sidebar')")
    entry = page.locator("#clusterkit-sidebar li.ck-Cluster[data-cluster-name='themed']")
    entry.wait_for(state="visible", timeout=30_000)
    assert_dark(page, "#clusterkit-sidebar")
    assert_dark(page, "#clusterkit-sidebar li.ck-Cluster[data-cluster-name='themed'] .ck-Cluster-name")
    page.screenshot(path=str(ARTIFACTS / "theme-dark-sidebar.png"))
    docs = ARTIFACTS.parent / "docs"
    docs.mkdir(exist_ok=True)
    shutil.copy(ARTIFACTS / "theme-dark-widgets.png", docs / "theme-dark-widgets.png")
