"""A real JupyterHub on loopback with two unix users, for the multi-user tests.

The hub (``jupyterhub`` with npm's ``configurable-http-proxy`` from
``scripts/setup.sh --test``) runs as root and spawns each user's single-user
server as that unix user with ``LocalProcessSpawner``. The users (``hub-alice``,
``hub-bob``) are created here and removed at teardown; every process the hub, its
proxy and the users started is stopped by PID.

Single-user servers must run an interpreter their user can read. The test venv's
own interpreter often lives in root's home (pyenv, mode 0700), so the users get a
small overlay venv in a 0755 temporary folder, made from a same-version system
Python, that adds the test venv's (world-readable) site-packages. Jupyter finds
the venv's extensions, configuration and JupyterLab assets through ``JUPYTER_PATH``,
``JUPYTER_CONFIG_PATH`` and ``JUPYTERLAB_DIR``.
"""

from __future__ import annotations

import json
import os
import pathlib
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil
import pytest

from tests.browser.conftest import ARTIFACTS, _free_port, use_thread_timeouts
from tests.browser.conftest import browser as browser  # the same headless Chromium fixture
from tests.browser.conftest import (
    pytest_timeout_set_timer as pytest_timeout_set_timer,  # the test's stack at a timeout
)
from tests.conftest import stop_process_tree
from tests.gateway_server import GatewayServer, start_gateway


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Hub tests wait in Playwright too: pytest-timeout's thread method (see ``use_thread_timeouts``)."""
    use_thread_timeouts(items, pathlib.Path(__file__).parent)


USERS = ("hub-alice", "hub-bob")
ROOT = pathlib.Path(__file__).resolve().parents[2]
PROXY = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"


@dataclass
class HubUser:
    name: str
    uid: int
    gid: int
    home: pathlib.Path
    token: str = ""


@dataclass
class Hub:
    url: str  # the proxy's public URL, ends with "/"
    admin_token: str
    password: str
    python: str  # the interpreter the users' servers run
    process: subprocess.Popen[bytes]
    base: pathlib.Path
    log: pathlib.Path
    gateway: GatewayServer
    users: dict[str, HubUser] = field(default_factory=dict)

    def request(self, path: str, *, token: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
        """``(status, parsed JSON or text)`` of a request through the hub's proxy."""
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode(errors="replace")
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def admin(self, path: str, method: str = "GET", body: Any = None) -> Any:
        status, data = self.request(f"hub/api/{path}", token=self.admin_token, method=method, body=body)
        assert status < 300, f"hub API {method} {path}: {status} {data}"
        return data

    def as_user(self, user: HubUser, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the users' interpreter with ``args`` as ``user`` (another local user on this host)."""
        return subprocess.run(
            [self.python, *args], user=user.uid, group=user.gid, cwd=user.home, capture_output=True,
            text=True, timeout=timeout, env={"HOME": str(user.home), "PATH": "/usr/bin:/bin"},
        )


def _readable_by_others(path: str) -> bool:
    """Can a user other than root reach ``path`` (every folder on the way searchable)?"""
    real = pathlib.Path(os.path.realpath(path))
    for folder in [*reversed(real.parents)]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(real.stat().st_mode & stat.S_IROTH)


def _user_python(base: pathlib.Path) -> str:
    """An interpreter other users can run, that imports everything this venv has."""
    site_packages = sysconfig.get_paths()["purelib"]
    if not _readable_by_others(site_packages):
        pytest.fail(f"{site_packages} is not readable by other users: the hub's users cannot import "
                    "clusterkit. Put the checkout in a world-readable folder (not under /root).")
    if _readable_by_others(sys.executable):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if os.path.exists(candidate) and _readable_by_others(candidate):
            break
    else:
        pytest.fail(f"{sys.executable} is in a folder other users cannot read and there is no /usr/bin/{version}: "
                    f"install Debian's {version} (apt-get install {version}) for the hub's users.")
    overlay = base / "userenv"
    subprocess.run([candidate, "-m", "venv", "--without-pip", str(overlay)], check=True)
    overlay_site = subprocess.run(
        [str(overlay / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    # addsitedir also runs the .pth files there (the editable clusterkit install is one).
    pathlib.Path(overlay_site, "clusterkit_test_venv.pth").write_text(
        f"import site; site.addsitedir({site_packages!r})\n")
    return str(overlay / "bin" / "python")


def _remove_user(name: str) -> None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return
    for process in psutil.process_iter(["uids"]):
        try:
            if process.info["uids"] and process.info["uids"].real == entry.pw_uid:
                process.kill()
        except psutil.Error:
            pass
    subprocess.run(["userdel", "-r", "-f", name], capture_output=True)


def _quiet_lab(user: HubUser) -> None:
    """No "get notified about Jupyter news?" toast over the screenshots."""
    folder = user.home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True)
    (folder / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", str(user.home / ".jupyter")], check=True)


def _config(hub_port: int, proxy_port: int, api_port: int, python: str, admin_token: str, password: str,
            base: pathlib.Path, gateway: GatewayServer) -> str:
    prefix = sys.prefix
    environment = {
        # The users' kernels find the gateway as a hub deployment configures it: Dask config.
        "DASK_GATEWAY__ADDRESS": gateway.address,
        "DASK_GATEWAY__AUTH__TYPE": "basic",
        "DASK_GATEWAY__AUTH__KWARGS": repr({"password": gateway.password}),
        "JUPYTER_PATH": f"{prefix}/share/jupyter",
        "JUPYTER_CONFIG_PATH": f"{prefix}/etc/jupyter",
        "JUPYTERLAB_DIR": f"{prefix}/share/jupyter/lab",
        "PATH": f"{os.path.dirname(python)}:/usr/bin:/bin",
        "PYTHONUNBUFFERED": "1",
    }
    args = ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True"]
    return f"""
c = get_config()  # noqa
c.JupyterHub.bind_url = "http://127.0.0.1:{proxy_port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{base}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret = bytes.fromhex("{secrets.token_hex(32)}")
c.JupyterHub.pid_file = "{base}/jupyterhub.pid"
c.JupyterHub.cleanup_servers = True
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = ["{PROXY}"]
c.ConfigurableHTTPProxy.auth_token = "{secrets.token_hex(16)}"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "{password}"
c.Authenticator.allowed_users = {set(USERS)!r}
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = {args!r}
c.Spawner.default_url = "/lab"
c.Spawner.ip = "127.0.0.1"
c.Spawner.environment = {environment!r}
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.JupyterHub.services = [{{"name": "ck-test", "api_token": "{admin_token}"}}]
c.JupyterHub.load_roles = [{{"name": "admin", "services": ["ck-test"]}}]
"""


def _answers(hub: Hub) -> bool:
    try:
        return hub.request("hub/api/", token=hub.admin_token)[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    """A running hub with two fresh unix users, each with an API token; everything removed after."""
    if os.geteuid() != 0:
        pytest.fail("the hub tests create unix users and spawn servers as them: run them as root")
    if not PROXY.exists():
        pytest.fail(f"{PROXY} is missing: run scripts/setup.sh --test (it installs configurable-http-proxy)")
    base = pathlib.Path(tempfile.mkdtemp(prefix="ck-hub-"))
    base.chmod(0o755)  # the users' interpreter lives here
    log = base / "hub.log"
    users: dict[str, HubUser] = {}
    process: subprocess.Popen[bytes] | None = None
    gateway: GatewayServer | None = None
    try:
        for name in USERS:
            _remove_user(name)  # a leftover of an interrupted run
            subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True)
            entry = pwd.getpwnam(name)
            users[name] = HubUser(name, entry.pw_uid, entry.pw_gid, pathlib.Path(entry.pw_dir))
            _quiet_lab(users[name])
        python = _user_python(base)
        # One dask-gateway-server for both users (its process backend runs clusters as root;
        # the gateway tells users apart by the name they authenticate with).
        gateway = start_gateway(base / "gateway")
        admin_token, password = secrets.token_hex(16), secrets.token_hex(8)
        proxy_port, hub_port, api_port = _free_port(), _free_port(), _free_port()
        config = base / "jupyterhub_config.py"
        config.write_text(_config(hub_port, proxy_port, api_port, python, admin_token, password, base, gateway))
        config.chmod(0o600)
        env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}"}
        env.pop("CLUSTERKIT_REGISTRY_DIR", None)
        with open(log, "wb") as out:
            process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "jupyterhub"), "-f",
                                        str(config)], cwd=base, stdout=out, stderr=subprocess.STDOUT, env=env)
        hub = Hub(f"http://127.0.0.1:{proxy_port}/", admin_token, password, python, process, base, log, gateway,
                  users)
        deadline = time.monotonic() + 120
        while not _answers(hub):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"jupyterhub did not start; its log:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        for user in users.values():
            user.token = hub.admin(f"users/{user.name}/tokens", "POST", {"note": "clusterkit tests"})["token"]
        yield hub
    finally:
        if process is not None:
            stop_process_tree(process.pid, timeout=30)
        if gateway is not None:
            gateway.stop()
        for name in USERS:
            _remove_user(name)
        ARTIFACTS.mkdir(exist_ok=True)
        if log.exists():
            shutil.copy(log, ARTIFACTS / "hub.log")
        shutil.rmtree(base, ignore_errors=True)

