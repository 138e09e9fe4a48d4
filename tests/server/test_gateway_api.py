"""The REST API with a real Dask Gateway configured: list, New cluster, scale and stop through the gateway."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import dask
import pytest
from traitlets.config import Config

import clusterkit as ck
from clusterkit.backends import gateway as gateway_backend
from tests import gateway_server as gateway_fixtures
from tests.gateway_server import GatewayServer

gateway_server = gateway_fixtures.gateway_server  # the module-scoped fixture

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


@pytest.fixture
def jp_server_config(jp_server_config: Config, gateway_server: GatewayServer) -> Config:
    """The server's traitlet names the gateway; dask-gateway's own config supplies the credentials."""
    import dask_gateway  # noqa: F401 - its config defaults first, then ours on top

    jp_server_config["ClusterkitServer"]["gateway_address"] = gateway_server.address
    return jp_server_config


@pytest.fixture
def gateway_auth(gateway_server: GatewayServer) -> Iterator[GatewayServer]:
    with dask.config.set({"gateway.auth.type": "basic", "gateway.auth.kwargs": {"password": gateway_server.password}}):
        yield gateway_server


def on_gateway(server: GatewayServer) -> list[str]:
    return [r.name for r in gateway_backend.list_clusters(server.address)]


def body_of(response):
    return json.loads(response.body.decode())


async def eventually(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        await asyncio.sleep(0.2)


async def test_new_cluster_on_the_gateway_is_listed_scaled_and_stopped(raw, gateway_auth: GatewayServer):
    info = await raw("clusterkit/api/gateway")
    assert info.code == 200 and body_of(info) == {"address": gateway_auth.address}

    created = await raw("clusterkit/api/clusters", method="POST", body=json.dumps({"gateway": True, "workers": 1}).encode())
    assert created.code == 201, created.body
    cluster = body_of(created)
    name = cluster["id"]
    try:
        assert cluster["kind"] == "gateway" and cluster["owner"] == "gateway"
        assert cluster["scheduler_address"] == f"gateway://127.0.0.1:{gateway_auth.proxy_port}/{name}"
        assert cluster["dashboard_url"] == f"{gateway_auth.address}/clusters/{name}/status"

        listed = body_of(await raw("clusterkit/api/clusters"))
        assert [c["status"] for c in listed if c["id"] == name] == ["running"]

        scaled = await raw(f"clusterkit/api/clusters/{name}", method="PATCH", body=b'{"workers": 2}')
        assert scaled.code == 202, scaled.body
        with dask.config.set({"gateway.address": gateway_auth.address}):  # this test's own client
            session = await asyncio.to_thread(ck.connect, f"gateway:{name}")
        try:
            await eventually(lambda: session.info()["workers"] == 2)
        finally:
            await asyncio.to_thread(session.stop)  # attached: disconnects only

        stopped = await raw(f"clusterkit/api/clusters/{name}", method="DELETE")
        assert stopped.code == 202, stopped.body
        await eventually(lambda: name not in on_gateway(gateway_auth))
        listed = body_of(await raw("clusterkit/api/clusters"))
        assert name not in [c["id"] for c in listed]
    finally:
        if name in on_gateway(gateway_auth):
            gateway_backend.stop_cluster(name, gateway_auth.address)


async def test_gateway_faults_are_clear_http_errors(raw, gateway_auth: GatewayServer):
    refused = await raw(
        "clusterkit/api/clusters", method="POST", body=b'{"gateway": true, "gateway_options": {"worker_cores": 9}}'
    )
    assert refused.code == 502
    message = body_of(refused)["message"]
    assert f"The Dask Gateway at {gateway_auth.address} does not allow the option worker_cores=9" in message

    bad = await raw("clusterkit/api/clusters", method="POST", body=b'{"gateway": true, "name": "x"}')
    assert bad.code == 400 and "takes 'workers' and 'gateway_options'" in body_of(bad)["message"]
    # Worker counts: the one rule of clusterkit.options, as for every other cluster.
    for count in ("-1", "257", "2.5", '"two"'):
        bad = await raw("clusterkit/api/clusters", method="POST", body=f'{{"gateway": true, "workers": {count}}}'.encode())
        assert bad.code == 400 and body_of(bad)["message"].startswith("Worker count "), bad.body

    with dask.config.set({"gateway.auth.kwargs": {"password": "wrong"}}):
        denied = await raw("clusterkit/api/clusters", method="POST", body=b'{"gateway": true}')
        assert denied.code == 502 and "refused our credentials" in body_of(denied)["message"]
        # Listing still works: the registry's clusters are shown, the gateway's cannot be.
        listed = await raw("clusterkit/api/clusters")
        assert listed.code == 200 and body_of(listed) == []


async def test_a_kernel_gateway_cluster_the_gateway_stopped_is_lost(raw, gateway_auth: GatewayServer):
    """A cluster this process owns (its record in the registry) that the gateway then stops (culled, an admin)."""
    with dask.config.set({"gateway.address": gateway_auth.address}):
        session = await asyncio.to_thread(ck.gateway, name="gw-owned")
    try:
        listed = body_of(await raw("clusterkit/api/clusters"))
        assert [(c["kind"], c["status"]) for c in listed if c["name"] == "gw-owned"] == [("gateway", "running")]
        assert [c["dashboard_url"] for c in listed if c["name"] == "gw-owned"] == [session.dashboard_url]
        await asyncio.to_thread(gateway_backend.stop_cluster, session.cluster.name, gateway_auth.address)
        await eventually(lambda: session.cluster.name not in on_gateway(gateway_auth))
        listed = body_of(await raw("clusterkit/api/clusters"))
        assert [c["status"] for c in listed if c["name"] == "gw-owned"] == ["lost"]
    finally:
        await asyncio.to_thread(session.stop)
