"""``/clusterkit/dashboard/<id>/<path>``: a registered cluster's Dask dashboard, HTTP and WebSocket.

Built on jupyter-server-proxy's ``ProxyHandler``, but the target never comes
from the URL: the id picks a *registered* cluster and the proxy connects to that
cluster's dashboard port on loopback, nothing else. ``<path>`` is only ever
the path of the request sent there, so payloads such as ``localhost@evil``,
``user:pass@host:123/foo`` or another port cannot change where it goes.

Examples (relative to the server's base URL)::

    clusterkit/dashboard/3fa2c1d04e9b/status
    clusterkit/dashboard/3fa2c1d04e9b/individual-task-stream
    clusterkit/dashboard/3fa2c1d04e9b/individual-plots.json
"""

from __future__ import annotations

import inspect
import ipaddress
import urllib.parse
from typing import Any

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from jupyter_server_proxy.handlers import ProxyHandler
from tornado import web

from clusterkit import registry
from clusterkit.errors import RegistryError
from clusterkit.server.handlers import safe_json

__all__ = ["DashboardProxyHandler", "dashboard_target", "routes"]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def dashboard_target(record: registry.ClusterRecord) -> tuple[str, int]:
    """Where a record's dashboard listens; always a loopback address.

    Local and factory clusters serve their dashboard next to the scheduler; the
    SSH backend forwards the remote dashboard to a local port. A cluster whose
    dashboard would be on another machine is refused (403), not guessed at.
    """
    if record.kind == "gateway":  # gateway://127.0.0.1/... is the gateway's proxy, not a dashboard here
        raise web.HTTPError(404, f"Cluster {record.name!r} is served by its Dask Gateway: open {record.dashboard_url}.")
    if not record.dashboard_port:
        raise web.HTTPError(404, f"Cluster {record.name!r} has no dashboard.")
    host = urllib.parse.urlsplit(record.scheduler_address).hostname or ""
    if _is_loopback(host):
        return ("127.0.0.1" if host == "localhost" else host), int(record.dashboard_port)
    if record.kind == "ssh":  # the dashboard is port-forwarded to this machine
        return "127.0.0.1", int(record.dashboard_port)
    raise web.HTTPError(
        403,
        f"The dashboard of cluster {record.name!r} is not on this machine ({host}); "
        "clusterkit proxies loopback dashboards only.",
    )


class DashboardProxyHandler(ProxyHandler):
    """Proxy one registered cluster's dashboard; every request authenticated."""

    auth_resource = "clusterkit"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Only loopback targets, whatever reaches proxy() (defence in depth).
        kwargs["host_allowlist"] = lambda handler, host: _is_loopback(host)
        super().__init__(*args, **kwargs)

    def initialize(self, clusterkit: Any, serverapp: Any, reaper: Any) -> None:
        self.clusterkit = clusterkit
        self.target: tuple[str, int] | None = None
        self.cluster_id = ""

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        # Authenticate like an API: no login redirect, a 403 for anyone unknown
        # (a WebSocket upgrade included), before anything is looked up.
        await JupyterHandler.prepare(self, _redirect_to_login=False)
        if not self.current_user:
            raise web.HTTPError(403, "Authentication is required to see cluster dashboards.")
        allowed = self.authorizer.is_authorized(self, self.current_user, "read", self.auth_resource)
        if inspect.isawaitable(allowed):
            allowed = await allowed
        if not allowed:
            raise web.HTTPError(403, "You are not allowed to see cluster dashboards.")
        self.cluster_id = self.path_kwargs.get("cluster_id", "")
        try:
            records = registry.list_records(self.clusterkit.registry_folder())
        except RegistryError as exc:
            raise web.HTTPError(503, str(exc)) from None
        record = next((r for r in records if r.id == self.cluster_id), None)
        if record is None:
            raise web.HTTPError(404, f"No running cluster has the id {self.cluster_id!r}.")
        self.target = dashboard_target(record)

    def check_xsrf_cookie(self) -> None:
        # jupyter-server-proxy leaves XSRF to the proxied app; Dask's dashboard
        # does not check it, so cookie-authenticated writes are checked here.
        JupyterHandler.check_xsrf_cookie(self)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # JSON, like the REST API: nothing from the URL is rendered as HTML.
        message = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(safe_json({"message": message}))

    def _get_context_path(self, host: str, port: int) -> str:
        return url_path_join(self.base_url, "clusterkit", "dashboard", self.cluster_id)

    def proxy_request_options(self) -> dict[str, Any]:
        return {
            "follow_redirects": False,
            "connect_timeout": self.clusterkit.proxy_connect_timeout,
            "request_timeout": self.clusterkit.proxy_request_timeout,
        }

    def proxy_request_headers(self) -> Any:
        headers = super().proxy_request_headers()
        # The Jupyter token and cookies are for this server, not for Dask.
        for name in ("Authorization", "Cookie", "X-Xsrftoken"):
            headers.pop(name, None)
        return headers

    def get_client_uri(self, protocol: str, host: str, port: int, proxied_path: str) -> str:
        uri = super().get_client_uri(protocol, host, port, proxied_path)
        # The Jupyter token must not travel on to Dask in the query either.
        parts = urllib.parse.urlsplit(uri)
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    def _go(self, proxied_path: str) -> Any:
        assert self.target is not None  # prepare() found it or raised
        host, port = self.target
        return ProxyHandler.proxy(self, host, port, proxied_path)

    # Every entry point is marked (and checked) as authenticated: a 403, never a login redirect.
    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await super().get(*args, **kwargs)

    async def http_get(self, cluster_id: str, proxied_path: str) -> Any:
        return await self._go(proxied_path)

    async def open(self, cluster_id: str, proxied_path: str) -> Any:
        assert self.target is not None
        host, port = self.target
        try:
            await self.proxy_open(host, port, proxied_path)
        except Exception as exc:  # the dashboard went away or refused the socket
            self.log.warning("clusterkit: dashboard socket of %s failed: %s", self.cluster_id, exc)
            self.close(1011, "The cluster's dashboard did not accept the connection.")

    @ws_authenticated
    def post(self, cluster_id: str, proxied_path: str) -> Any:
        return self._go(proxied_path)

    @ws_authenticated
    def put(self, cluster_id: str, proxied_path: str) -> Any:
        return self._go(proxied_path)

    @ws_authenticated
    def delete(self, cluster_id: str, proxied_path: str) -> Any:
        return self._go(proxied_path)

    @ws_authenticated
    def head(self, cluster_id: str, proxied_path: str) -> Any:
        return self._go(proxied_path)

    @ws_authenticated
    def patch(self, cluster_id: str, proxied_path: str) -> Any:
        return self._go(proxied_path)

    @ws_authenticated
    def options(self, cluster_id: str, proxied_path: str) -> Any:
        return self._go(proxied_path)


def routes() -> list[tuple[str, type, dict[str, Any]]]:
    return [(r"clusterkit/dashboard/(?P<cluster_id>[^/]+)/?(?P<proxied_path>.*)", DashboardProxyHandler, {})]
