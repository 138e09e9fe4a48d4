"""The widgets in a real JupyterLab in headless Chromium (Playwright).

Starts ``jupyter lab`` on a free loopback port with its own runtime folder, opens a
notebook that starts a cluster, shows the live task stream, one of Dask's plots in
an iframe and the status widget, then runs a map. Checks that the task-stream
canvas draws bars (DOM counter and pixels) and that the proxied dashboard iframe
loads through the Jupyter server. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import stop_process_tree

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"

NOTEBOOK_CELLS = [
    "import clusterkit as ck\nimport clusterkit.widgets\ns = ck.start(n_workers=2, threads_per_worker=1, memory_limit='1GiB')",
    # Once the cluster is idle the stream holds its last activity on screen, so the
    # bars stay visible however slowly the test machine runs.
    "stream = ck.widgets.dashboard(s)\nstream",
    "frame = ck.widgets.dashboard(s, 'task-stream')\nprint('FRAME-URL', frame.url)\nframe",
    "s.widget()",
    "import time\ndef slow_inc(x):\n    time.sleep(0.02)\n    return x + 1\n"
    "total = sum(s.client.gather(s.client.map(slow_inc, range(300))))",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def lab(tmp_path: pathlib.Path) -> Iterator[tuple[str, str, pathlib.Path]]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs /usr/bin/chromium (apt-get install -y --no-install-recommends chromium)")
    root = tmp_path / "root"
    runtime = tmp_path / "runtime"
    root.mkdir()
    runtime.mkdir()
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
                    for s in NOTEBOOK_CELLS],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (root / "widgets.ipynb").write_text(json.dumps(nb))
    port, token = _free_port(), secrets.token_hex(16)
    log = open(tmp_path / "lab.log", "wb")  # noqa: SIM115 - closed in teardown
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip", "127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--allow-root",
         "--LabApp.expose_app_in_browser=True",
         f"--ServerApp.root_dir={root}"],
        # Own workspaces and settings: a layout saved by another test (or a user) must not be
        # restored here, or it reopens stale notebooks and their kernel dialogs.
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime),
             "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
             "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")},
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}api/status?token={token}", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError((tmp_path / "lab.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        yield url, token, tmp_path
    finally:
        stop_process_tree(process.pid)
        log.close()


def _canvas_ink(page) -> int:
    """Pixels of the task-stream canvas that differ from its background colour."""
    return int(page.evaluate("""() => {
        const canvas = document.querySelector('.ck-taskstream canvas');
        const ctx = canvas.getContext('2d');
        const {data} = ctx.getImageData(0, 0, canvas.width, canvas.height);
        const bg = [data[0], data[1], data[2]];
        const palette = new Set(['31,119,180', '44,160,44', '148,103,189', '23,190,207']);
        let ink = 0;
        for (let i = 0; i < data.length; i += 4) {
            if (palette.has(`${data[i]},${data[i+1]},${data[i+2]}`)) ink++;
        }
        return ink;
    }"""))


def test_task_stream_draws_bars_and_dashboard_iframe_loads(lab):
    from playwright.sync_api import sync_playwright

    url, token, _ = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            console: list[str] = []
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            _start_kernel_session(url, token)  # so no "Select Kernel" dialog interrupts
            page.goto(f"{url}lab/tree/widgets.ipynb?token={token}", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            _wait_for_idle_kernel(url, token)
            page.wait_for_function("() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel",
                                   timeout=120_000)

            def run_all() -> None:
                # The command itself, not menu clicks: menus move and popups cover them.
                page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

            run_all()
            # A late "Select Kernel" dialog can swallow the first Run All: run again if nothing started.
            stream = _wait_dismissing_dialogs(page, ".ck-taskstream", rerun=run_all)
            # Views report whether they are on screen; the kernel polls only for visible ones.
            stream.scroll_into_view_if_needed()
            page.wait_for_function(
                "() => Number(document.querySelector('.ck-taskstream')?.dataset.events || 0) >= 300",
                timeout=180_000,
            )
            page.wait_for_function(
                "() => Number(document.querySelector('.ck-taskstream')?.dataset.barsDrawn || 0) > 0",
                timeout=60_000,
            )
            page.wait_for_timeout(500)  # one more draw after the last batch
            bars = int(stream.get_attribute("data-bars-drawn") or 0)
            assert bars > 0
            assert _canvas_ink(page) > 100, "the canvas holds no coloured bars"
            stream.screenshot(path=str(ARTIFACTS / "taskstream.png"))

            frame = page.wait_for_selector(".ck-frame", timeout=60_000)
            printed = page.locator(".jp-OutputArea-output", has_text="FRAME-URL").first.inner_text()
            frame_url = printed.split()[-1]
            assert frame_url.startswith("/"), f"not served through the Jupyter server: {frame_url}"
            page.wait_for_function("() => document.querySelector('.ck-frame')?.dataset.loaded === 'true'",
                                   timeout=120_000)
            iframe = frame.query_selector("iframe").content_frame()
            iframe.wait_for_function("() => typeof window.Bokeh === 'object'", timeout=120_000)
            frame.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            frame.screenshot(path=str(ARTIFACTS / "dashboard-iframe.png"))
            status = page.wait_for_selector(".ck-status-root", timeout=60_000)
            status.scroll_into_view_if_needed()
            status.screenshot(path=str(ARTIFACTS / "status.png"))
            (ARTIFACTS / "dashboard-iframe-url.txt").write_text(frame_url + "\n")
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "widgets-failure.png"))
            (ARTIFACTS / "widgets-failure-console.txt").write_text("\n".join(console))
            raise
        finally:
            try:
                _shutdown_kernels(url, token)
            finally:
                browser.close()


def _wait_dismissing_dialogs(page, selector: str, timeout: float = 240, rerun=None):
    """Wait for ``selector``; accept JupyterLab dialogs ("Select Kernel") that pop up meanwhile.

    ``rerun`` is called again every 30 s while no cell has started executing.
    """
    deadline = time.monotonic() + timeout
    next_rerun = time.monotonic() + 30
    while True:
        found = page.query_selector(selector)
        if found is not None:
            return found
        accept = page.query_selector(".jp-Dialog .jp-mod-accept")
        if accept is not None:
            accept.click()
        if rerun is not None and time.monotonic() > next_rerun:
            prompts = " ".join(page.locator(".jp-InputPrompt").all_inner_texts())
            if "[*]" not in prompts and not any(c.isdigit() for c in prompts):
                rerun()
            next_rerun = time.monotonic() + 30
        if time.monotonic() > deadline:
            raise TimeoutError(f"{selector} did not appear within {timeout} s")
        page.wait_for_timeout(500)


def _wait_for_idle_kernel(url: str, token: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kernels = json.loads(urllib.request.urlopen(f"{url}api/kernels?token={token}", timeout=30).read())
        if kernels and all(k["execution_state"] == "idle" for k in kernels):
            return
        time.sleep(0.5)
    raise TimeoutError(f"no idle kernel within {timeout} s")


def _start_kernel_session(url: str, token: str) -> None:
    body = json.dumps({"path": "widgets.ipynb", "type": "notebook", "name": "widgets.ipynb",
                       "kernel": {"name": "python3"}}).encode()
    request = urllib.request.Request(f"{url}api/sessions?token={token}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=120).read()


def _shutdown_kernels(url: str, token: str) -> None:
    """Shut kernels down through the server so they stop their clusters before the server goes."""
    request = urllib.request.Request(f"{url}api/kernels?token={token}")
    for kernel in json.loads(urllib.request.urlopen(request, timeout=30).read()):
        delete = urllib.request.Request(f"{url}api/kernels/{kernel['id']}?token={token}", method="DELETE")
        try:
            urllib.request.urlopen(delete, timeout=60).read()
        except OSError:
            pass
