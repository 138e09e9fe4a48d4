"""Browser fixtures: a real ``jupyter lab`` on a free loopback port and headless Chromium.

Both are module-scoped (they take seconds to start), so the tests here are
marked ``allow_leaks``: the fixtures stop everything they started, by PID, when
the module ends. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psutil
import pytest

from tests.conftest import stop_process_tree

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"


_THREAD_TIMEOUT = pytest.StashKey[bool]()


def use_thread_timeouts(items: list[pytest.Item], folder: pathlib.Path) -> None:
    """Give the tests under ``folder`` pytest-timeout's ``thread`` method, keeping their time limits.

    The default ``signal`` method raises from a SIGALRM handler wherever the main thread
    is. While a Playwright sync-API call waits, that thread runs Playwright's event loop
    (in a greenlet), so the exception can land in one of the loop's callbacks, where
    asyncio catches it: the wait goes on (a browser wait once hung for more than 10
    minutes) or Playwright's connection breaks instead of the test failing. The thread
    method ends the run at the limit with every stack dumped (fixture teardown does not
    run then; CI's machine is thrown away). Called from ``pytest_collection_modifyitems``,
    which sees the items of the whole session, so only ``folder``'s are changed.
    """
    for item in items:
        if folder not in item.path.parents:
            continue
        marker = item.get_closest_marker("timeout")
        settings: dict[str, Any] = {"timeout": None}  # None: the ini/--timeout value
        if marker is not None:
            settings.update(zip(("timeout", "method"), marker.args, strict=False))
            settings.update(marker.kwargs)
        settings["method"] = "thread"
        item.add_marker(pytest.mark.timeout(**settings), append=False)  # the closest marker wins
        item.stash[_THREAD_TIMEOUT] = True


def _dump_test_and_exit(item: pytest.Item, settings: Any) -> None:
    """At the limit: which test, the greenlets' stacks (the test's own), then pytest-timeout's dump and exit."""
    import gc
    import traceback

    import greenlet
    import pytest_timeout

    terminal = item.config.get_terminal_writer()
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(item)
    terminal.line("")
    terminal.sep("+", f"Timeout (>{settings.timeout:g} s) in {item.nodeid}")
    for suspended in gc.get_objects():
        if isinstance(suspended, greenlet.greenlet) and suspended.gr_frame is not None:
            terminal.sep("~", "Stack of a suspended greenlet (a Playwright wait: where the test is)")
            terminal.write("".join(traceback.format_stack(suspended.gr_frame)))
    pytest_timeout.timeout_timer(item, settings)  # every thread's stack, then os._exit(1)


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """pytest-timeout's thread timer for :func:`use_thread_timeouts`' tests, with a dump that shows the test.

    A thread dump alone shows Playwright's event loop: the test's own frames wait in a
    suspended greenlet, and the timer names no test. pytest-timeout's cancel hook stops it.
    """
    if not item.stash.get(_THREAD_TIMEOUT, False) or settings.method != "thread":
        return None
    timer = threading.Timer(settings.timeout, _dump_test_and_exit, (item, settings))
    timer.name = f"timeout {item.nodeid}"

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # what pytest-timeout's cancel hook calls
    timer.start()
    return True


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    use_thread_timeouts(items, pathlib.Path(__file__).parent)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    process: subprocess.Popen[bytes]
    url: str  # ends with "/"
    token: str
    root: pathlib.Path
    registry: pathlib.Path
    log: pathlib.Path

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def env(self) -> dict[str, str]:
        return {**os.environ, "CLUSTERKIT_REGISTRY_DIR": str(self.registry)}


def _stop_tree(process: psutil.Process | subprocess.Popen[bytes], timeout: float = 15) -> None:
    stop_process_tree(process.pid, timeout)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """``jupyter lab`` with clusterkit, its own registry, settings and workspaces."""
    if shutil.which("jupyter", path=os.path.dirname(sys.executable)) is None:
        pytest.fail("jupyter is not installed next to this Python; run scripts/setup.sh --test")
    base = tmp_path_factory.mktemp("lab")
    root, registry, config = base / "root", base / "registry", base / "config"
    for folder in (root, registry, config):
        folder.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"clusterkit.server": True}}})
    )
    # No "get notified about Jupyter news?" toast over the screenshots.
    notification = base / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    token = secrets.token_hex(16)
    port = _free_port()
    log = base / "lab.log"
    env = {
        **os.environ,
        "CLUSTERKIT_REGISTRY_DIR": str(registry),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        os.path.join(os.path.dirname(sys.executable), "jupyter"), "lab",
        "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_unauthenticated_access=False",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
        f"--ClusterkitServer.registry_dir={registry}",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    lab = Lab(process, f"http://127.0.0.1:{port}/", token, root, registry, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                lab.api("api/status")
                lab.api("clusterkit/api/clusters")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not start; its log:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield lab
    finally:
        try:
            for kernel in lab.api("api/kernels"):
                lab.api(f"api/kernels/{kernel['id']}", method="DELETE")
        except Exception:
            pass
        _stop_tree(process)
        if ARTIFACTS.is_dir():
            shutil.copy(log, ARTIFACTS / "lab.log")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="module")
def page(browser: Any, lab: Lab) -> Iterator[Any]:
    """One Lab page for the module, its notebook ``demo.ipynb`` open and its kernel started."""
    ARTIFACTS.mkdir(exist_ok=True)
    notebook = {
        "cells": [],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    lab.api("api/contents/demo.ipynb", method="PUT", body={"type": "notebook", "content": notebook})
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{lab.url}lab/tree/demo.ipynb?token={lab.token}")
    page.wait_for_selector("#clusterkit-sidebar", state="attached", timeout=120_000)
    page.wait_for_function(
        "() => window.jupyterapp && [...window.jupyterapp.shell.widgets('main')]"
        ".some(w => w.context && w.context.path === 'demo.ipynb')",
        timeout=120_000,
    )
    try:
        yield page
    finally:
        context.close()
