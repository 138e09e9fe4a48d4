"""The server's view of a Dask Gateway: list, scale, stop and start this user's gateway clusters.

A Dask Gateway owns its clusters (it starts, authenticates and stops them), so
the server asks the gateway directly instead of a cluster's owning kernel. The
gateway is ``ClusterkitServer.gateway_address``, else ``gateway.address`` from
Dask config (what a JupyterHub deployment puts in the user image); its auth is
``gateway.auth`` (``jupyterhub`` on a hub: the single-user server's own token).
Nothing here runs unless a gateway is configured, and every call runs in a
thread with dask-gateway's own time limit (``clusterkit.gateway.connect-timeout``),
so a slow gateway never blocks the server's event loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from clusterkit import registry
from clusterkit.errors import ClusterkitError

__all__ = ["GatewayInfoHandler", "address", "create", "find", "merged", "send"]

T = TypeVar("T")


def address(settings: Any) -> str | None:
    """The configured gateway: the server's traitlet, else dask-gateway's ``gateway.address``."""
    if getattr(settings, "gateway_address", ""):
        return str(settings.gateway_address)
    try:
        from clusterkit.backends.gateway import configured_address
    except ImportError:  # no Dask here: no gateway either
        return None
    return configured_address()


async def _in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(function, *args, **kwargs))


async def merged(records: list[registry.ClusterRecord], url: str | None, log: Any) -> list[registry.ClusterRecord]:
    """``records`` plus this user's gateway clusters; gateway clusters it stopped become ``lost``."""
    if not url:
        return records
    from clusterkit.backends.gateway import gateway_records

    result, note = await _in_thread(gateway_records, records, url)
    if note:
        log.warning("clusterkit: %s", note)
    return result


async def find(cluster_id: str, url: str | None, log: Any) -> registry.ClusterRecord | None:
    """A gateway cluster that no registry record describes, by its gateway name."""
    for record in await merged([], url, log):
        if record.id == cluster_id:
            return record
    return None


async def send(record: registry.ClusterRecord, op: str, url: str | None, **arguments: Any) -> None:
    """Scale, adapt or stop a gateway cluster through the gateway (it checks that the user may)."""
    from clusterkit.backends import gateway as backend

    name = backend.cluster_name(record.scheduler_address) or record.name
    try:
        if op == "scale":
            await _in_thread(backend.scale_cluster, name, arguments["n"], url)
        elif op == "adapt":
            await _in_thread(backend.adapt_cluster, name, arguments["minimum"], arguments["maximum"], url)
        else:
            await _in_thread(backend.stop_cluster, name, url)
    except ClusterkitError as exc:
        raise web.HTTPError(502, str(exc)) from None


async def create(url: str | None, workers: int | None, options: Any) -> registry.ClusterRecord:
    """Start a cluster on the gateway that outlives this request (a "New cluster" on the gateway)."""
    from clusterkit.backends import gateway as backend

    if not url:
        raise web.HTTPError(
            400,
            "No Dask Gateway is configured: set ClusterkitServer.gateway_address or gateway.address in Dask config.",
        )
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise web.HTTPError(400, "'gateway_options' must be an object of the gateway's cluster options.")
    try:
        return await _in_thread(backend.start_detached, url, options, workers)
    except ClusterkitError as exc:
        raise web.HTTPError(502, f"Could not start the cluster: {exc}") from None


class GatewayInfoHandler(APIHandler):
    """``GET /clusterkit/api/gateway``: ``{"address": ...}`` of the configured gateway, or ``null``."""

    auth_resource = "clusterkit"

    def initialize(self, clusterkit: Any, serverapp: Any, reaper: Any) -> None:
        self.clusterkit = clusterkit

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish({"address": address(self.clusterkit)})
