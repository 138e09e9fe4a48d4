"""Dask Gateway clusters against a real ``dask-gateway-server`` (see ``tests/gateway_server.py``).

Every cluster here is started by the gateway's process backend: a real scheduler
and real workers behind the gateway's TLS proxy. The faults are real too: a port
nobody listens on, an HTTP server that is not a gateway, a socket that never
answers, a wrong password, options the gateway refuses, a name it does not know.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import dask
import nbformat
import pytest
from IPython.core.error import UsageError

import clusterkit as ck
from clusterkit import registry
from clusterkit.backends import gateway as gateway_backend
from clusterkit.magics import list_clusters
from tests import gateway_server as gateway_fixtures
from tests.conftest import wait_until
from tests.gateway_server import GatewayServer, free_port, start_gateway

gateway_server = gateway_fixtures.gateway_server  # the module-scoped fixture

pytestmark = pytest.mark.slow


@pytest.fixture
def gateway_config(gateway_server: GatewayServer) -> Iterator[GatewayServer]:
    """dask-gateway's own config points at the test gateway, as a hub's deployment config would."""
    import dask_gateway  # noqa: F401 - loads dask-gateway's config defaults before we override them

    with dask.config.set(gateway_server.dask_config()):
        yield gateway_server
    gone = wait_until(lambda: not _gateway_clusters(gateway_server), timeout=20)
    assert gone, f"clusters left on the gateway: {_gateway_clusters(gateway_server)}"


def run(shell, line: str) -> tuple[str, BaseException | None]:
    """Run a line magic as a user would and return what they see."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        result = shell.run_cell(f"%cluster {line}")
    return out.getvalue(), result.error_in_exec


def _gateway_clusters(server: GatewayServer, auth: object = None) -> list[str]:
    return [report.name for report in gateway_backend.list_clusters(server.address, auth=auth or server.auth())]


def _stop_on_gateway(server: GatewayServer, name: str) -> None:
    """What the gateway's admin (or its idle culler) does."""
    gateway_backend.stop_cluster(name, server.address, auth=server.auth())


@contextlib.contextmanager
def _dask_gateway_client(server: GatewayServer, auth: object = None) -> Iterator[Any]:
    """dask-gateway's own client, as a user would use it outside clusterkit."""
    from dask_gateway import Gateway

    with Gateway(server.address, auth=auth or server.auth()) as gateway:
        yield gateway
    gateway_backend.quiet_after_close(gateway)


# -- the life of a gateway cluster ------------------------------------------------------------
def test_start_scale_map_dashboard_and_stop(gateway_config: GatewayServer):
    session = ck.gateway(n_workers=1, name="gw-life", worker_memory=0.5)
    try:
        assert session.kind == "gateway" and session.address.startswith(f"gateway://127.0.0.1:{gateway_config.proxy_port}/")
        assert ck.current() is session
        assert ck.map(lambda x: x * x, range(50)) == [x * x for x in range(50)]

        session.scale(2)
        assert session.info()["workers"] == 2
        record = registry.find("gw-life")
        assert record is not None and record.kind == "gateway" and record.dashboard_port is None
        assert wait_until(lambda: (registry.find("gw-life") or record).workers == 2)

        # The dashboard comes from the gateway's own proxy (the browser reaches it there too).
        assert session.dashboard_url == f"{gateway_config.address}/clusters/{session.cluster.name}/status"
        assert record.dashboard_url == session.dashboard_url
        with urllib.request.urlopen(session.dashboard_url, timeout=10) as response:
            assert response.status == 200 and b"Dask" in response.read()
        from clusterkit.widgets.dashboard import available_plots, dashboard

        assert "task-stream" in available_plots(session)
        frame = dashboard(session, "task-stream")
        assert frame.url.startswith(f"{gateway_config.address}/clusters/{session.cluster.name}/")
        with urllib.request.urlopen(frame.url, timeout=10) as response:
            assert response.status == 200

        # The live views work on the session's client: status (with its scale control) and task stream.
        status = session.widget()
        assert status is not None
        stream = dashboard(session)
        assert type(stream).__name__ == "TaskStreamWidget"
        for view in (status, stream):
            with contextlib.suppress(AttributeError):
                view.close()

        session.adapt(1, 2)
        session.scale(1)
        assert session.info()["workers"] == 1
        session.restart()
        assert ck.get(ck.remote(lambda: 42).remote()) == 42
        name = session.cluster.name
        assert name in _gateway_clusters(gateway_config)
    finally:
        session.stop()
    assert registry.find("gw-life") is None
    assert wait_until(lambda: name not in _gateway_clusters(gateway_config), timeout=20)


def test_magics_list_gateway_clusters_including_foreign_and_lost(gateway_config: GatewayServer, shell):
    output, error = run(shell, "gateway --options worker_cores=1 --name gw-magic -n 1")
    assert error is None, output
    try:
        mine = ck.current().cluster.name
        # A cluster this user started with dask-gateway directly, outside clusterkit.
        with _dask_gateway_client(gateway_config) as gateway:
            foreign = gateway.submit()
        output, error = run(shell, "list")
        assert error is None, output
        lines = {line.split()[0].lstrip("*"): line for line in output.splitlines()[1:] if line.strip()}
        gw_line = next(line for line in output.splitlines() if "gw-magic" in line)
        assert "gateway" in gw_line and "running" in gw_line and mine in gw_line
        assert foreign in lines and "gateway" in lines[foreign].split()
        assert mine not in lines  # its record already describes it: listed once

        # The gateway stops both (an admin, or its culler): ours shows as lost.
        _stop_on_gateway(gateway_config, mine)
        _stop_on_gateway(gateway_config, foreign)
        assert wait_until(lambda: "lost" in next(row for row in list_clusters().splitlines() if "gw-magic" in row))
        assert foreign not in list_clusters()
        output, error = run(shell, "scale 2")
        assert isinstance(error, UsageError) and "Traceback" not in output
        assert f"the Dask Gateway at {gateway_config.address} no longer runs it" in str(error)
        records, note = gateway_backend.gateway_records(registry.list_records())
        assert note is None and [r.status for r in records if r.name == "gw-magic"] == ["lost"]
    finally:
        output, error = run(shell, "stop --all")
    assert error is None, output
    assert registry.find("gw-magic") is None


def test_detached_cluster_outlives_the_kernel_and_a_second_kernel_connects(gateway_config: GatewayServer):
    """Kernel 1 starts a detached gateway cluster and exits; kernel 2 attaches to it by name and stops it."""
    from nbclient import NotebookClient

    env = {
        "DASK_GATEWAY__ADDRESS": gateway_config.address,
        "DASK_GATEWAY__AUTH__TYPE": "basic",
        "DASK_GATEWAY__AUTH__KWARGS__PASSWORD": json.dumps(gateway_config.password),
    }

    def execute(cells: list[str]) -> list[str]:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            NotebookClient(nb, timeout=120, kernel_name="python3").execute()
        return ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]

    first = execute(
        [
            "%load_ext clusterkit",
            "%cluster gateway --detach -n 1 --name gw-detached",
            "import clusterkit as ck; print('NAME', ck.current().cluster.name)",
        ]
    )
    name = first[2].split("NAME", 1)[1].strip()
    try:
        # The first kernel is gone; the cluster still runs on the gateway and is listed.
        assert name in _gateway_clusters(gateway_config)
        assert registry.find("gw-detached") is None
        assert name in list_clusters()
        listed = subprocess.run(
            [sys.executable, "-m", "clusterkit.cli", "ls", "--json"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=True,
        )
        assert [(r["kind"], r["owner"]) for r in json.loads(listed.stdout) if r["name"] == name] == [("gateway", "gateway")]

        second = execute(
            [
                "%load_ext clusterkit",
                f"%cluster connect {name}",  # the name the sidebar shows ("Use in notebook")
                "import clusterkit as ck; print('SUM', sum(ck.map(lambda x: x + 1, range(10))))",
                "%cluster scale 2",
                "print('WORKERS', ck.current().info()['workers'])",
                "%cluster stop",
                f"%cluster stop gateway:{name}",
            ]
        )
        assert "SUM 55" in second[2]
        assert "2 workers" in second[3] and "WORKERS 2" in second[4]
        assert "Stopped" in second[5]
        assert f"Asked the Dask Gateway to stop '{name}'" in second[6]
        assert wait_until(lambda: name not in _gateway_clusters(gateway_config), timeout=20)
    finally:
        if name in _gateway_clusters(gateway_config):
            _stop_on_gateway(gateway_config, name)


def test_each_gateway_user_sees_and_controls_only_their_own(gateway_server: GatewayServer):
    """Two users of one gateway (the JupyterHub tests reuse this fixture for two hub users)."""
    alice, bob = gateway_server.auth("gateway-alice"), gateway_server.auth("gateway-bob")
    with _dask_gateway_client(gateway_server, alice) as gateway:
        name = gateway.submit()
    try:
        assert name in [r.name for r in gateway_backend.list_clusters(gateway_server.address, auth=alice)]
        assert name not in [r.name for r in gateway_backend.list_clusters(gateway_server.address, auth=bob)]
        for action in (gateway_backend.attach_cluster, gateway_backend.stop_cluster):
            with pytest.raises(ck.BackendError, match="refused this request for BasicAuth as user 'gateway-bob'"):
                action(name, gateway_server.address, auth=bob)
        assert name in [r.name for r in gateway_backend.list_clusters(gateway_server.address, auth=alice)]
    finally:
        gateway_backend.stop_cluster(name, gateway_server.address, auth=alice)
    assert wait_until(lambda: not _gateway_clusters(gateway_server, alice), timeout=20)


def test_gateway_records_never_count_as_loopback_dashboards(gateway_server: GatewayServer):
    """``gateway://127.0.0.1:...`` looks local, but its dashboard is the gateway's, not a port here."""
    from tornado import web

    from clusterkit.server.proxy import dashboard_target

    record = registry.ClusterRecord.new(
        name="gw-record",
        kind="gateway",
        scheduler_address=f"gateway://127.0.0.1:{gateway_server.proxy_port}/abc",
        dashboard_port=gateway_server.api_port,
    )
    with pytest.raises(web.HTTPError) as refused:
        dashboard_target(record)
    assert refused.value.status_code == 404 and "Dask Gateway" in str(refused.value.log_message)
    assert gateway_backend.cluster_name(record.scheduler_address) == "abc"


# -- bad input and faults: one clear line each, through the magic and the API ---------------------
class _NotAGateway(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>\n<body>\n<h1>not here</h1>\n" + b"<p>padding</p>\n" * 50 + b"</body></html>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def other_services() -> Iterator[dict[str, str]]:
    """A port nobody listens on, an HTTP server that is no gateway, a socket that never answers."""
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotAGateway)
    thread = threading.Thread(target=web.serve_forever, name="not-a-gateway", daemon=True)
    thread.start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        yield {
            "down": f"http://127.0.0.1:{free_port()}",
            "wrong": f"http://127.0.0.1:{web.server_address[1]}",
            "silent": f"http://127.0.0.1:{silent.getsockname()[1]}",
        }
    finally:
        web.shutdown()
        web.server_close()
        thread.join(5)
        silent.close()


FAULTS = {
    # fault: (magic line, API call, what the message must say); {x} are filled in per test
    "down": ("gateway {down}", lambda s, o: ck.gateway(o["down"], auth=s.auth()), ["Cannot reach the Dask Gateway at {down}", "dask-gateway-server runs there"]),
    "wrong-address": ("gateway {wrong}", lambda s, o: ck.gateway(o["wrong"], auth=s.auth()), ["{wrong} does not answer like a Dask Gateway", "Check the address"]),
    "silent": ("gateway {silent}", lambda s, o: ck.gateway(o["silent"], auth=s.auth()), ["The Dask Gateway at {silent} did not answer within 2 s", "connect-timeout"]),
    "bad-credentials": ("gateway", lambda s, o: ck.gateway(auth=s.auth(password="wrong")), ["The Dask Gateway at {address} refused our credentials", "gateway.auth"]),
    "option-out-of-range": ("gateway --options worker_cores=9", lambda s, o: ck.gateway(worker_cores=9), ["The Dask Gateway at {address} does not allow the option worker_cores=9", "worker_cores=1"]),
    "unknown-option": ("gateway --options gpus=4", lambda s, o: ck.gateway(gpus=4), ["does not allow the option gpus=4", "No option 'gpus'", "{address}"]),
    "unknown-cluster": ("connect gateway:nosuchcluster", lambda s, o: ck.connect("gateway:nosuchcluster"), ["Cluster 'nosuchcluster' does not exist on the Dask Gateway at {address}", "%cluster gateway"]),
    "no-address": ("gateway", lambda s, o: ck.gateway(), ["No Dask Gateway address", "gateway.address"]),
}


@pytest.mark.parametrize("via", ["api", "magic"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_is_one_clear_error(fault: str, via: str, gateway_config: GatewayServer, other_services, shell):
    line, call, expected = FAULTS[fault]
    names = {**other_services, "address": gateway_config.address}
    overrides: dict[str, object] = {"clusterkit.gateway.connect-timeout": "2s"}
    if fault == "bad-credentials":
        overrides["gateway.auth.kwargs"] = {"password": "wrong"}
    if fault == "no-address":
        overrides["gateway.address"] = None
    with dask.config.set(overrides):
        if via == "api":
            with pytest.raises(ck.ClusterkitError) as caught:
                call(gateway_config, other_services)
            message = str(caught.value)
        else:
            output, error = run(shell, line.format(**names))
            assert isinstance(error, UsageError), output
            assert "Traceback" not in output
            message = str(error)
    assert "\n" not in message
    for part in expected:
        assert part.format(**names) in message, message
    assert ck.sessions() == {}
    assert not registry.list_records()


BAD_LINES = {
    "gateway ftp://127.0.0.1:8000": "is not a Dask Gateway address like http://127.0.0.1:8000",
    "gateway --options worker_memory": "'worker_memory' is not KEY=VALUE",
    "gateway --options =4": "'=4' is not KEY=VALUE",
    "gateway -n 2 --adapt 1:3": "give -n N or --adapt MIN:MAX, not both",
    "gateway -n -1": "Worker count -1 is not allowed",
    "connect gateway:": "is not gateway:NAME",
    "connect gateway:a/b": "is not gateway:NAME",
}


@pytest.mark.parametrize("line", sorted(BAD_LINES))
def test_bad_gateway_command_lines_are_one_usage_error(shell, line: str):
    output, error = run(shell, line)
    assert isinstance(error, UsageError) and "Traceback" not in output
    assert BAD_LINES[line] in str(error) and "\n" not in str(error)


def test_the_gateway_fixture_stops_every_process(tmp_path):
    """The fixture module other tests reuse leaves nothing behind (clusters included)."""
    server = start_gateway(tmp_path)
    with _dask_gateway_client(server) as gateway:
        cluster = gateway.new_cluster(shutdown_on_close=False)
        cluster.scale(1)
        assert wait_until(lambda: len(server.processes()) >= 3, timeout=30)  # server, scheduler, worker
        cluster.close()
        gateway_backend.quiet_after_close(cluster.gateway)
    family = server.processes()
    server.stop()
    assert not [p for p in family if p.is_running() and p.status() != "zombie"]
    assert sys.modules.get("dask_gateway_server") is None  # the server never ran in this process
