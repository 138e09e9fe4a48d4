"""A real ``dask-gateway-server`` for tests, on loopback, stopped by PID.

Reusable by any test module (the gateway backend's tests, the server's, the JupyterHub tests)::

    from tests import gateway_server as gateway_fixtures

    gateway_server = gateway_fixtures.gateway_server  # a module-scoped fixture

    def test_something(gateway_server):
        session = ck.gateway(gateway_server.address, auth=gateway_server.auth())

or call :func:`start_gateway` yourself (``backend=`` the multi-user ``LocalBackend``, ``env=``).

The server runs the process backend (``UnsafeLocalBackend``: every cluster's
scheduler and workers are child processes of the server, as the server's own
unix user; ``backend="local"`` picks ``LocalBackend``, which runs each user's
clusters as that unix user and needs root), authenticates with
``SimpleAuthenticator`` (any user name, one shared password: ``server.auth(user)``
is the client side), listens on two free loopback ports (the private API and the
public proxy clients use) and offers two cluster options, ``worker_cores``
(1-2) and ``worker_memory`` (0.25-2 GiB), so tests can ask for one that is not
allowed. ``stop()`` terminates it by PID, waits for every process it started,
and raises if one is left.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

__all__ = ["GatewayServer", "free_port", "gateway_server", "start_gateway"]

_CONFIG = """\
c.DaskGateway.address = "127.0.0.1:{api_port}"
c.Proxy.address = "127.0.0.1:{proxy_port}"
c.DaskGateway.backend_class = "{backend}"
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.SimpleAuthenticator.password = {password!r}
c.ClusterConfig.scheduler_cmd = ["dask", "scheduler"]
c.ClusterConfig.worker_cmd = ["dask", "worker"]
c.ClusterConfig.cluster_start_timeout = 60
c.ClusterConfig.worker_start_timeout = 60
c.ClusterConfig.idle_timeout = {idle_timeout}
c.LocalBackend.clusters_directory = {clusters!r}
c.DaskGateway.log_level = "WARN"

from dask_gateway_server.options import Options, Integer, Float


def _options_handler(options):
    return {{"worker_cores": options.worker_cores, "worker_memory": int(options.worker_memory * 2**30)}}


c.Backend.cluster_options = Options(
    Integer("worker_cores", default=1, min=1, max=2, label="Worker cores"),
    Float("worker_memory", default=0.5, min=0.25, max=2, label="Worker memory (GiB)"),
    handler=_options_handler,
)
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class GatewayServer:
    """One running ``dask-gateway-server``; ``address`` is what clients use."""

    address: str
    api_port: int
    proxy_port: int
    password: str
    pid: int
    folder: pathlib.Path
    process: subprocess.Popen[bytes]

    def auth(self, user: str | None = None, password: str | None = None) -> Any:
        """A ``BasicAuth`` for ``user`` (default: this unix user) with the server's password."""
        from dask_gateway.auth import BasicAuth

        return BasicAuth(user, self.password if password is None else password)

    def dask_config(self, user: str | None = None) -> dict[str, Any]:
        """Dask config keys that point dask-gateway's client at this server, as a hub would."""
        kwargs: dict[str, Any] = {"password": self.password}
        if user is not None:
            kwargs["username"] = user
        return {"gateway.address": self.address, "gateway.auth.type": "basic", "gateway.auth.kwargs": kwargs}

    def processes(self) -> list[psutil.Process]:
        """The server and everything it started (cluster schedulers and workers)."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def log(self) -> str:
        """The server's output so far (for failure messages)."""
        path = self.folder / "gateway.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 20) -> None:
        """Terminate the server by PID (it stops its clusters first); fail if anything is left."""
        family = self.processes()
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        _, alive = psutil.wait_procs(family[1:], timeout=timeout)
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        if alive:
            raise RuntimeError(
                f"dask-gateway-server left processes running after it stopped: {[p.pid for p in alive]}"
            )


def start_gateway(
    folder: pathlib.Path,
    *,
    backend: str = "dask_gateway_server.backends.local.UnsafeLocalBackend",
    idle_timeout: float = 0,
    startup_timeout: float = 60,
    env: dict[str, str] | None = None,
) -> GatewayServer:
    """Start ``dask-gateway-server`` on two free loopback ports and wait until it answers."""
    bin_dir = pathlib.Path(sys.executable).parent
    api_port, proxy_port = free_port(), free_port()
    while proxy_port == api_port:
        proxy_port = free_port()
    password = secrets.token_urlsafe(16)
    clusters = folder / "clusters"
    clusters.mkdir(parents=True, exist_ok=True)
    config_file = folder / "dask_gateway_config.py"
    config_file.write_text(
        _CONFIG.format(
            api_port=api_port,
            proxy_port=proxy_port,
            backend=backend,
            password=password,
            idle_timeout=float(idle_timeout),
            clusters=str(clusters),
        )
    )
    # distributed has no dask-scheduler/dask-worker executables any more; the
    # backend runs `dask scheduler` / `dask worker`, found on this venv's PATH.
    environment = {**os.environ, **(env or {}), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = open(folder / "gateway.log", "wb")  # noqa: SIM115 - the child holds it
    process = subprocess.Popen(
        [str(bin_dir / "dask-gateway-server"), "-f", str(config_file)],
        cwd=folder,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    server = GatewayServer(
        address=f"http://127.0.0.1:{proxy_port}",
        api_port=api_port,
        proxy_port=proxy_port,
        password=password,
        pid=process.pid,
        folder=folder,
        process=process,
    )
    deadline = time.monotonic() + startup_timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"dask-gateway-server exited ({process.returncode}):\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.address}/api/health", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"dask-gateway-server did not answer within {startup_timeout} s:\n{server.log()}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def gateway_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    """A gateway for the tests of one module, stopped (and checked for leftovers) after them."""
    server = start_gateway(tmp_path_factory.mktemp("gateway"))
    try:
        yield server
    finally:
        server.stop()
