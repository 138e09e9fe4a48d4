"""Fixtures shared by every test: an isolated registry, leak checks, real clusters.

Every test runs with its own registry folder (``CLUSTERKIT_REGISTRY_DIR``, which
child processes and kernels inherit) and fails if it leaves child processes or
threads behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psutil
import pytest

# Helper processes the standard library starts once and keeps for the process's life.
_INFRASTRUCTURE = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _children() -> dict[int, str]:
    found = {}
    for child in psutil.Process().children(recursive=True):
        try:
            cmdline = " ".join(child.cmdline())
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
        except psutil.Error:
            continue
        if not any(marker in cmdline for marker in _INFRASTRUCTURE):
            found[child.pid] = cmdline
    return found


# Threads a library starts once per process and keeps (not a leak of the test that started them first):
# pycares (aiohttp's DNS resolver, used by the dask-gateway client) destroys channels on one such thread.
_SINGLETON_THREADS = ("(_run_safe_shutdown_loop)",)


def _threads() -> dict[int, str]:
    return {t.ident or 0: t.name for t in threading.enumerate()}


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return bool(value)
        time.sleep(interval)


def stop_process_tree(pid: int, timeout: float = 15) -> None:
    """Terminate a process and all its descendants by PID; kill whatever is still there after ``timeout``."""
    try:
        root = psutil.Process(pid)
        family = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for member in family:
        try:
            member.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(family, timeout=timeout)
    for member in alive:
        try:
            member.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)


@pytest.fixture(autouse=True)
def registry_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """A fresh registry folder per test, inherited by every process the test starts."""
    path = tmp_path_factory.mktemp("registry")
    monkeypatch.setenv("CLUSTERKIT_REGISTRY_DIR", str(path))
    return path


@pytest.fixture(autouse=True)
def check_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves child processes or non-daemon-pool threads running.

    Opt out with ``@pytest.mark.allow_leaks`` only where a later fixture cleans up.
    """
    before_children = set(_children())
    before_threads = set(_threads())
    yield
    if request.node.get_closest_marker("allow_leaks"):
        return
    from clusterkit import session

    leftover_sessions = list(session.sessions())
    session.stop_all()

    def leaked_children() -> dict[int, str]:
        return {pid: cmd for pid, cmd in _children().items() if pid not in before_children}

    def leaked_threads() -> dict[int, str]:
        return {
            ident: name
            for ident, name in _threads().items()
            if ident not in before_threads
            and not name.startswith(("Dask-Offload", "asyncio_", "ThreadPoolExecutor"))
            and not name.endswith(_SINGLETON_THREADS)
        }

    wait_until(lambda: not leaked_children() and not leaked_threads(), timeout=10)
    problems = []
    if leftover_sessions:
        problems.append(f"sessions left open: {leftover_sessions}")
    if leaked_children():
        problems.append(f"child processes left running: {leaked_children()}")
        for pid in leaked_children():
            try:
                psutil.Process(pid).kill()
            except psutil.Error:
                pass
    if leaked_threads():
        problems.append(f"threads left running: {leaked_threads()}")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_leaks: the test's own fixtures clean up after the leak check")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture
def cluster() -> Iterator[object]:
    """A real 2-worker local session, stopped afterwards."""
    import clusterkit as ck

    session = ck.start(n_workers=2, threads_per_worker=1, memory_limit="1GiB")
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def shell():
    """One real IPython shell with ``%load_ext clusterkit`` for every test that runs magics.

    IPython's test shell is a process-wide singleton: ``start_ipython`` returns ``None``
    when called a second time, so every test module must share this one.
    """
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()  # starts IPython's test shell the first time, reuses it after
    ip.run_line_magic("load_ext", "clusterkit")
    return ip
