"""The clusters sidebar in a real JupyterLab, driven through headless Chromium.

One Lab, one page and one notebook (``demo.ipynb``) for the module; the tests
run in order and build on each other: the notebook's kernel starts
``nb-cluster``, the sidebar shows, scales, opens, uses and finally stops it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from typing import Any

import pytest

from clusterkit import registry
from tests.browser.conftest import ARTIFACTS, Lab

pytestmark = [pytest.mark.allow_leaks, pytest.mark.slow, pytest.mark.timeout(300)]

NAME = "nb-cluster"

# The notebook panel of demo.ipynb, found through the app (Lab runs with expose_app_in_browser).
_NOTEBOOK = (
    "const nb = [...window.jupyterapp.shell.widgets('main')]"
    ".find(w => w.context && w.context.path === 'demo.ipynb');"
)

_RUN = (
    "async (code) => {" + _NOTEBOOK + """
  await nb.sessionContext.ready;
  if (!nb.sessionContext.session || !nb.sessionContext.session.kernel) {
    await nb.sessionContext.changeKernel({name: 'python3'});
  }
  const kernel = nb.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, stop_on_error: true});
  let out = '';
  future.onIOPub = msg => {
    const type = msg.header.msg_type;
    if (type === 'stream') out += msg.content.text;
    else if (type === 'error') out += msg.content.ename + ': ' + msg.content.evalue + '\\n';
    else if (type === 'execute_result' || type === 'display_data') out += (msg.content.data['text/plain'] || '') + '\\n';
  };
  const reply = await future.done;
  return {status: reply.content.status, out};
}"""
)


def run(page: Any, code: str) -> str:
    """Run code in the notebook's kernel; return what it printed. Fails on an exception."""
    result = page.evaluate(_RUN, code)
    assert result["status"] == "ok", result["out"]
    return str(result["out"])


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"browser-{name}.png"))


def wait_for(predicate: Any, timeout: float = 120, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(0.2)


def record_named(lab: Lab, name: str) -> registry.ClusterRecord | None:
    return next((r for r in registry.list_records(lab.registry) if r.name == name), None)


def item(page: Any, name: str) -> Any:
    return page.locator(f"#clusterkit-sidebar li.ck-Cluster[data-cluster-name='{name}']")


def open_sidebar(page: Any) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('clusterkit:show-sidebar')")
    page.locator("#clusterkit-sidebar").wait_for(state="visible")


def test_kernel_cluster_appears_in_sidebar(page: Any, lab: Lab) -> None:
    open_sidebar(page)
    run(page, f"%load_ext clusterkit\n%cluster start -n 1 --threads 1 --memory 512MiB --name {NAME}")
    record = wait_for(lambda: record_named(lab, NAME), what="the kernel's cluster record")
    # The sidebar polls every 2 s: it shows the cluster a poll or two later.
    entry = item(page, NAME)
    entry.wait_for(state="visible", timeout=10_000)
    assert entry.locator(".ck-Cluster-kind").inner_text() == "local"
    assert entry.locator(".ck-Cluster-owner").inner_text() == "demo.ipynb"
    assert entry.locator(".ck-Cluster-workers").inner_text() == "1"
    assert entry.locator(".ck-Cluster-cores").inner_text() == "1"
    assert entry.locator(".ck-Cluster-memory").inner_text() == "512 MiB"
    assert entry.locator(".ck-Cluster-status").inner_text() == "running"
    assert entry.get_attribute("data-cluster-id") == record.id
    shot(page, "kernel-cluster")


def test_names_render_as_text(page: Any, lab: Lab) -> None:
    """A record with markup in its name never reaches the sidebar (the registry skips invalid records),
    and whatever the sidebar shows is text: no element made from a name, no script run."""
    hostile = registry.ClusterRecord.new(
        name='<img src=x onerror="window.__ckxss=1">', kind="address",
        scheduler_address="tcp://127.0.0.1:1", owner_pid=lab.process.pid, owner="process",
    )
    registry.write(hostile, lab.registry)
    try:
        assert hostile.id not in [c["id"] for c in lab.api("clusterkit/api/clusters")]
        entry = item(page, NAME)
        entry.wait_for(state="visible", timeout=30_000)
        assert entry.locator(".ck-Cluster-name").inner_text() == NAME
        assert page.locator("#clusterkit-sidebar img").count() == 0
        assert page.evaluate("() => window.__ckxss") is None
    finally:
        registry.remove(hostile.id, lab.registry)


def test_task_stream_pane_renders_bars(page: Any, lab: Lab) -> None:
    entry = item(page, NAME)
    entry.locator("button[data-action='dashboard']").click()
    entry.locator("button[data-pane='individual-task-stream']").click()
    pane = page.locator(".ck-DashboardPane[data-pane='individual-task-stream']")
    pane.wait_for(state="visible")
    frame = page.frame_locator(".ck-DashboardPane[data-pane='individual-task-stream'] iframe")
    frame.locator(".bk-Canvas, .bk-root, div").first.wait_for(state="attached", timeout=60_000)
    run(
        page,
        "import time\nfrom clusterkit import current\n_c = current().client\n"
        "_futures = _c.map(lambda i: time.sleep(0.05) or i, range(300), pure=False)",
    )

    def bars() -> int:
        target = next((f for f in page.frames if "individual-task-stream" in f.url), None)
        if target is None:
            return 0
        return int(target.evaluate(
            """() => {
              const docs = (window.Bokeh && window.Bokeh.documents) || [];
              let n = 0;
              for (const doc of docs) {
                const models = doc._all_models ? [...doc._all_models.values()] : [...(doc.all_models || [])];
                for (const m of models) {
                  const data = m.data;
                  if (data && data.duration && data.duration.length) n = Math.max(n, data.duration.length);
                }
              }
              return n;
            }"""
        ))

    count = wait_for(bars, what="task-stream bars")
    assert count > 0
    shot(page, "task-stream")
    shutil.copy(ARTIFACTS / "browser-task-stream.png", ARTIFACTS / "sidebar.png")
    run(page, "_c.gather(_futures); del _futures")


def test_dashboard_pane_is_sandboxed_away_from_jupyter(page: Any, lab: Lab) -> None:
    """The Bokeh page that just rendered runs in an opaque origin: it cannot reach JupyterLab."""
    iframe = page.locator(".ck-DashboardPane[data-pane='individual-task-stream'] iframe")
    assert iframe.get_attribute("sandbox") == "allow-scripts allow-popups allow-downloads"
    target = next(f for f in page.frames if "individual-task-stream" in f.url)
    assert "/~" in target.url and "token=" not in target.url  # under a capability, no Jupyter token
    assert target.evaluate("() => window.origin") == "null"
    reach = target.evaluate(
        """async () => {
          let parent;
          try { parent = String(!!window.parent.document.body); } catch (e) { parent = e.name; }
          let api;
          try { api = String((await fetch('/api/contents', {credentials: 'include'})).status); }
          catch (e) { api = e.name; }
          return {parent, api};
        }"""
    )
    assert reach == {"parent": "SecurityError", "api": "TypeError"}, reach  # cross-origin, no CORS


def test_dashboard_pane_is_restored_on_reload(page: Any, lab: Lab) -> None:
    pane = page.locator(".ck-DashboardPane[data-pane='individual-task-stream']")
    pane.wait_for(state="attached")
    # Lab saves its layout to the workspace shortly after a change; give it every chance.
    page.wait_for_timeout(1500)
    page.reload()
    page.wait_for_selector("#clusterkit-sidebar", state="attached", timeout=120_000)
    pane.wait_for(state="attached", timeout=60_000)
    page.wait_for_function(
        "() => [...window.jupyterapp.shell.widgets('main')].some(w => w.context && w.context.path === 'demo.ipynb')",
        timeout=120_000,
    )
    shot(page, "restored")


def test_scale_from_sidebar(page: Any, lab: Lab) -> None:
    open_sidebar(page)
    entry = item(page, NAME)
    entry.locator("button[data-action='scale']").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input[name='workers']").fill("2")
    dialog.locator("button.jp-mod-accept").click()
    wait_for(lambda: (record_named(lab, NAME) or registry.ClusterRecord.new(name="", kind="local",
             scheduler_address="")).workers == 2, what="2 workers in the record")
    entry.locator(".ck-Cluster-workers").filter(has_text="2").wait_for(timeout=30_000)
    shot(page, "scaled")


def test_use_in_notebook(page: Any, lab: Lab) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:open', {path: 'demo.ipynb'})")
    entry = item(page, NAME)
    entry.locator("button[data-action='use']").click()
    expected = f"%load_ext clusterkit\n%cluster connect {NAME}"
    page.wait_for_function(
        "(expected) => {" + _NOTEBOOK + " return nb.content.model.sharedModel.cells"
        ".some(c => c.getSource() === expected); }",
        arg=expected,
    )
    page.locator(".jp-Notebook .jp-Cell .cm-content").filter(has_text="%cluster connect").first.wait_for()
    shot(page, "use-in-notebook")


def test_dashboard_widget_in_a_cell_is_sandboxed(page: Any, lab: Lab) -> None:
    """``%cluster dashboard progress`` in a notebook cell: Dask's plot renders in a sandboxed frame."""
    page.evaluate(
        "async () => {" + _NOTEBOOK + """
          const cells = nb.content.model.sharedModel;
          cells.insertCell(cells.cells.length, {cell_type: 'code', source: '%cluster dashboard progress'});
          nb.content.activeCellIndex = cells.cells.length - 1;
          await window.jupyterapp.commands.execute('notebook:run-cell');
        }"""
    )
    widget = page.locator(".ck-frame[data-loaded='true']")
    widget.wait_for(state="attached", timeout=120_000)
    frame_element = widget.locator("iframe")
    assert frame_element.get_attribute("sandbox") == "allow-scripts allow-popups allow-downloads"
    assert "/clusterkit/dashboard/" in str(frame_element.get_attribute("src"))
    target = wait_for(lambda: next((f for f in page.frames if "individual-progress" in f.url), None),
                      what="the progress plot's frame")
    assert "/~" in target.url and target.evaluate("() => window.origin") == "null"
    wait_for(lambda: target.evaluate("() => !!(window.Bokeh && window.Bokeh.documents.length)"),
             what="Bokeh's document in the sandboxed frame")
    shot(page, "dashboard-widget")


def test_new_cluster_from_sidebar(page: Any, lab: Lab) -> None:
    open_sidebar(page)
    page.locator("#clusterkit-sidebar button[data-action='new']").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input[name='name']").fill("side-1")
    dialog.locator("input[name='workers']").fill("1")
    dialog.locator("input[name='threads']").fill("1")
    dialog.locator("input[name='memory']").fill("512MiB")
    dialog.locator("button.jp-mod-accept").click()
    entry = item(page, "side-1")
    entry.wait_for(state="visible", timeout=120_000)
    assert entry.locator(".ck-Cluster-owner").inner_text().startswith("daemon")
    listing = subprocess.run(
        [sys.executable, "-m", "clusterkit.cli", "ls"], env=lab.env(), capture_output=True, text=True, timeout=120
    )
    assert listing.returncode == 0, listing.stderr
    assert "side-1" in listing.stdout
    shot(page, "new-cluster")
    # And stop it again from the sidebar.
    entry.locator("button[data-action='stop']").click()
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    entry.wait_for(state="detached", timeout=60_000)
    wait_for(lambda: record_named(lab, "side-1") is None, what="side-1's record to go")


def test_stop_from_sidebar(page: Any, lab: Lab) -> None:
    open_sidebar(page)
    entry = item(page, NAME)
    entry.locator("button[data-action='stop']").click()
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    entry.wait_for(state="detached", timeout=60_000)
    wait_for(lambda: record_named(lab, NAME) is None, what="the record to go")
    listing = run(page, "%cluster list")
    assert NAME not in listing
    # Its dashboard pane closed with it.
    page.locator(".ck-DashboardPane").first.wait_for(state="detached", timeout=30_000)
    shot(page, "stopped")


def test_dark_theme(page: Any, lab: Lab) -> None:
    sidebar = page.locator("#clusterkit-sidebar")
    open_sidebar(page)
    light = sidebar.evaluate("node => getComputedStyle(node).backgroundColor")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=60_000)
    page.wait_for_function(
        "(light) => getComputedStyle(document.getElementById('clusterkit-sidebar')).backgroundColor !== light",
        arg=light,
        timeout=60_000,
    )
    shot(page, "dark")
