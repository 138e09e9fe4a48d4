"""The sidebar with a Dask Gateway configured, in a real JupyterLab through headless Chromium.

The Lab server gets dask-gateway's config from the environment (as a hub's user
image would provide it); the sidebar then lists this user's gateway clusters,
including one started with dask-gateway directly, and **New cluster** can start one
on the gateway.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from clusterkit.backends import gateway as gateway_backend
from tests import gateway_server as gateway_fixtures
from tests.browser.conftest import ARTIFACTS, Lab
from tests.conftest import wait_until
from tests.gateway_server import GatewayServer

gateway_server = gateway_fixtures.gateway_server  # the module-scoped fixture

pytestmark = [pytest.mark.allow_leaks, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def gateway_env(gateway_server: GatewayServer) -> Iterator[GatewayServer]:
    """dask-gateway's config in the environment the Lab server inherits."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DASK_GATEWAY__ADDRESS", gateway_server.address)
        patch.setenv("DASK_GATEWAY__AUTH__TYPE", "basic")
        patch.setenv("DASK_GATEWAY__AUTH__KWARGS__PASSWORD", json.dumps(gateway_server.password))
        yield gateway_server


@pytest.fixture(scope="module")
def lab(gateway_env: GatewayServer, lab: Lab) -> Lab:
    """The browser tests' Lab, started after the gateway config is in place."""
    return lab


def on_gateway(server: GatewayServer) -> list[str]:
    return [r.name for r in gateway_backend.list_clusters(server.address, auth=server.auth())]


def test_sidebar_lists_and_starts_gateway_clusters(page: Any, lab: Lab, gateway_env: GatewayServer) -> None:
    from dask_gateway import Gateway

    with Gateway(gateway_env.address, auth=gateway_env.auth()) as client:
        foreign = client.submit()  # started outside clusterkit
    gateway_backend.quiet_after_close(client)
    started: list[str] = []
    try:
        page.evaluate("() => window.jupyterapp.commands.execute('clusterkit:show-sidebar')")
        entry = page.locator(f"#clusterkit-sidebar li.ck-Cluster[data-cluster-name='{foreign}']")
        entry.wait_for(state="visible", timeout=60_000)
        assert entry.locator(".ck-Cluster-kind").inner_text() == "gateway"
        assert entry.locator(".ck-Cluster-owner").inner_text() == "Dask Gateway"

        # New cluster: the form offers the gateway; pick it and start one worker there.
        page.evaluate("() => { window.jupyterapp.commands.execute('clusterkit:new-cluster'); }")
        where = page.locator(".jp-Dialog select[name='where']")
        where.wait_for(state="visible", timeout=30_000)
        assert gateway_env.address in where.locator("option[value='gateway']").inner_text()
        where.select_option("gateway")
        assert page.locator(".jp-Dialog input[name='ssh_hosts']").is_disabled()  # only workers apply there
        page.locator(".jp-Dialog input[name='workers']").fill("1")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-gateway-new-cluster.png"))
        page.locator(".jp-Dialog .jp-mod-accept").click()

        assert wait_until(lambda: len(on_gateway(gateway_env)) == 2, timeout=60)
        started = [name for name in on_gateway(gateway_env) if name != foreign]
        created = page.locator(f"#clusterkit-sidebar li.ck-Cluster[data-cluster-name='{started[0]}']")
        created.wait_for(state="visible", timeout=60_000)
        assert created.locator(".ck-Cluster-kind").inner_text() == "gateway"

        # The gateway lists it while it is still starting; once it runs, its dashboard is the gateway's.
        def listed() -> dict[str, Any]:
            return next(c for c in lab.api("clusterkit/api/clusters") if c["name"] == started[0])

        assert wait_until(lambda: listed()["status"] == "running", timeout=60)
        assert listed()["dashboard_url"] == f"{gateway_env.address}/clusters/{started[0]}/status"
        assert wait_until(lambda: created.locator(".ck-Cluster-status").inner_text() == "running", timeout=30)
        page.screenshot(path=str(ARTIFACTS / "browser-gateway-sidebar.png"))
    finally:
        for name in [foreign, *started]:
            gateway_backend.stop_cluster(name, gateway_env.address, auth=gateway_env.auth())
    assert wait_until(lambda: not on_gateway(gateway_env), timeout=30)
