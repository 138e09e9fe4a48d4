"""``/clusterkit/dashboard/<id>/<path>``: a registered cluster's Dask dashboard, HTTP and WebSocket.

Built on jupyter-server-proxy's ``ProxyHandler``, but the target never comes
from the URL: the id picks a *registered* cluster and the proxy connects to that
cluster's dashboard port on loopback, nothing else. ``<path>`` is only ever
the path of the request sent there, so payloads such as ``localhost@evil``,
``user:pass@host:123/foo`` or another port cannot change where it goes.

What Dask's pages can do is limited too (README, "Dashboards and the proxy"):

* ``<path>`` must be one of Dask's dashboard pages
  (:func:`clusterkit.links.check_dashboard_path`), else 404 before any connection;
* the dashboard port must be a listening socket of the record's owner process
  (or its children), so a planted record cannot aim the proxy at another
  loopback service (403);
* authorization per method: ``read`` for GET and HEAD, ``write`` for every
  other method and for WebSockets (a Bokeh socket runs callbacks);
* the Jupyter token, cookies, ``Authorization``, ``Referer`` and ``Origin`` never
  reach the dashboard; cookies, CORS and CSP headers from the dashboard never
  reach the browser;
* every response, errors included, carries :data:`DASHBOARD_CSP`, which puts
  the page in a sandbox (an opaque origin: it cannot read or script Jupyter)
  and lets only Jupyter frame it.

Examples (relative to the server's base URL)::

    clusterkit/dashboard/3fa2c1d04e9b/status
    clusterkit/dashboard/3fa2c1d04e9b/individual-task-stream
    clusterkit/dashboard/3fa2c1d04e9b/individual-plots.json
"""

from __future__ import annotations

import dataclasses
import inspect
import ipaddress
import json
import os
import secrets
import time
import urllib.parse
from typing import Any, ClassVar

import psutil
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.call_context import CallContext
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from jupyter_server_proxy.handlers import ProxyHandler
from tornado import web

from clusterkit import links, registry
from clusterkit.errors import ClusterkitError, RegistryError
from clusterkit.server.handlers import safe_json

__all__ = ["DASHBOARD_CSP", "DashboardProxyHandler", "dashboard_target", "routes"]

#: The Content-Security-Policy of every proxied response (see the README,
#: "Dashboards and the proxy", for what each part is for and how it was measured).
DASHBOARD_CSP = "; ".join(
    [
        "sandbox allow-scripts allow-popups allow-downloads",
        "default-src 'none'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'self'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)

# Request headers the dashboard may see; everything else (Cookie, Authorization,
# X-XSRFToken, Referer, Origin, X-Forwarded-*) stays in the Jupyter server.
_FORWARDED_REQUEST_HEADERS = frozenset(
    h.lower()
    for h in (
        "Host", "Accept", "Accept-Language", "Accept-Encoding", "Cache-Control", "Pragma", "Content-Type",
        "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "Range", "User-Agent",
        "X-Requested-With",
    )
)
# Response headers the browser never gets from the dashboard: they would act on
# the Jupyter origin (cookies, CORS, service workers) or replace our policy.
_DROPPED_RESPONSE_PREFIXES = (
    "set-cookie", "access-control-", "content-security-policy", "clear-site-data", "service-worker-allowed",
    "refresh", "x-frame-options", "referrer-policy", "cross-origin-",
)
# Query parameters that are the Jupyter server's, never the dashboard's.
_PRIVATE_QUERY = frozenset({"token", "_xsrf"})
# Methods a read-only user may use; the rest (and every WebSocket) need ``write``.
_READ_METHODS = frozenset({"GET", "HEAD"})
_OWNER_CHECK_TTL = 60.0
# Sec-Fetch-Dest of a page opened in a frame or a tab (moved under a capability).
_NAVIGATIONS = frozenset({"document", "iframe", "frame"})


@dataclasses.dataclass(frozen=True)
class _Grant:
    """What one ``~<capability>`` path segment allows: one cluster, one user's actions, until ``expires``."""

    cluster_id: str
    user: Any
    actions: frozenset[str]
    expires: float


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


#: ``clusterkit/dashboard/port-<N>/...`` names a registered cluster by its dashboard port: the
#: form Dask's own ``distributed.dashboard.link`` template can produce (it knows only the port).
PORT_ALIAS = "port-"


def _record_by_dashboard_port(records: list[registry.ClusterRecord], text: str) -> registry.ClusterRecord | None:
    """The one registered cluster whose dashboard port is ``text``; ``None`` if none or several."""
    if not text.isdigit():
        return None
    found = [r for r in records if r.dashboard_port == int(text)]
    return found[0] if len(found) == 1 else None


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


def verify_owner(record: registry.ClusterRecord, port: int) -> None:
    """Refuse (403) a dashboard port that the record's owner does not listen on.

    The dashboard of a local or detached cluster is served by its owner (the
    kernel or daemon that runs the scheduler); an SSH cluster's is a port
    forward the owner opened. So the port must be a listening TCP socket of the
    record's owner process, or of one of its children, running as this user.
    A record planted to aim the proxy at another loopback service (the Jupyter
    server itself, a database, another user's dashboard) fails here before any
    request is sent there. (Dask's own identity pages are among the routes
    clusterkit turns off, so the check does not ask the dashboard.)
    """
    refused = web.HTTPError(
        403,
        f"Port {port} is not the dashboard of cluster {record.name!r}: no process of that cluster "
        f"(owner pid {record.owner_pid}) listens on it; not proxying.",
    )
    try:
        owner = psutil.Process(record.owner_pid)
        family = [owner, *owner.children(recursive=True)]
    except psutil.Error:
        raise refused from None
    for process in family:
        try:
            if process.uids().real != os.getuid():
                continue
            sockets = process.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(s.status == psutil.CONN_LISTEN and s.laddr and s.laddr.port == port for s in sockets):
            return
    raise refused


class DashboardProxyHandler(ProxyHandler):
    """Proxy one registered cluster's dashboard; every request authenticated and authorized."""

    auth_resource = "clusterkit"
    #: (record id, scheduler address, host, port) -> when its owner was last seen listening there.
    _verified: ClassVar[dict[tuple[str, str, str, int], float]] = {}
    #: capability -> what it grants (in memory: a server restart revokes every link).
    _grants: ClassVar[dict[str, _Grant]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Only loopback targets, whatever reaches proxy() (defence in depth).
        kwargs["host_allowlist"] = lambda handler, host: _is_loopback(host)
        super().__init__(*args, **kwargs)
        # jupyter-server-proxy's WebSocket mixin pins ``finish`` on the instance
        # (to JupyterHandler's); pin ours over it, or the policy would be skipped.
        setattr(self, "finish", self._confined_finish)  # noqa: B010

    def initialize(self, clusterkit: Any, serverapp: Any, reaper: Any) -> None:
        self.clusterkit = clusterkit
        self.server_port = int(getattr(serverapp, "port", 0) or 0)
        self.target: tuple[str, int] | None = None
        self.cluster_id = ""
        self.capability = ""
        self.dashboard_path = ""

    @property
    def content_security_policy(self) -> str:
        """Error pages too: whatever this handler answers is confined like a dashboard page."""
        return DASHBOARD_CSP

    def is_websocket(self) -> bool:
        return self.request.method == "GET" and self.request.headers.get("Upgrade", "").lower() == "websocket"

    def is_navigation(self) -> bool:
        """A page opened in a frame or tab (browsers without ``Sec-Fetch-Dest``: a GET asking for HTML)."""
        if self.request.method != "GET" or self.is_websocket():
            return False
        destination = self.request.headers.get("Sec-Fetch-Dest")
        if destination is not None:
            return destination in _NAVIGATIONS
        return "text/html" in self.request.headers.get("Accept", "")

    def auth_action(self) -> str:
        """``read`` for GET and HEAD; ``write`` for other methods and WebSockets (they can act)."""
        return "read" if self.request.method in _READ_METHODS and not self.is_websocket() else "write"

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        self.cluster_id = self.path_kwargs.get("cluster_id", "")
        path = self.path_kwargs.get("proxied_path", "")
        first, _, rest = path.partition("/")
        self.capability = first[1:] if first.startswith("~") else ""
        self.dashboard_path = rest if self.capability else path
        if self.capability:
            await self._authorize_capability()
        else:
            await self._authorize_jupyter_user()
        try:
            links.check_dashboard_path(self.dashboard_path)
        except ClusterkitError as exc:
            raise web.HTTPError(404, str(exc)) from None
        try:
            records = registry.list_records(self.clusterkit.registry_folder())
        except RegistryError as exc:
            raise web.HTTPError(503, str(exc)) from None
        record = next((r for r in records if r.id == self.cluster_id), None)
        if record is None and self.cluster_id.startswith(PORT_ALIAS):
            record = _record_by_dashboard_port(records, self.cluster_id[len(PORT_ALIAS):])
            if record is not None:
                self.cluster_id = record.id  # grants and redirects name the cluster itself
        if record is None:
            raise web.HTTPError(404, f"No running cluster has the id {self.cluster_id!r}.")
        host, port = dashboard_target(record)
        key = (record.id, record.scheduler_address, host, port)
        if port == self.server_port:  # the Jupyter server's own port is never a dashboard
            raise web.HTTPError(403, f"Port {port} is this Jupyter server's, not the dashboard of {record.name!r}.")
        if time.monotonic() - self._verified.get(key, -_OWNER_CHECK_TTL) >= _OWNER_CHECK_TTL:
            verify_owner(record, port)
            self._verified[key] = time.monotonic()
        self.target = (host, port)
        if not self.capability and self.is_navigation():
            await self._redirect_into_sandbox()

    async def _allowed(self, user: Any, action: str) -> bool:
        allowed = self.authorizer.is_authorized(self, user, action, self.auth_resource)
        return bool(await allowed if inspect.isawaitable(allowed) else allowed)

    async def _authorize_jupyter_user(self) -> None:
        # Authenticate like an API: no login redirect, a 403 for anyone unknown
        # (a WebSocket upgrade included), before anything is looked up.
        await JupyterHandler.prepare(self, _redirect_to_login=False)
        if not self.current_user:
            raise web.HTTPError(403, "Authentication is required to see cluster dashboards.")
        action = self.auth_action()
        if not await self._allowed(self.current_user, action):
            what = (
                "see cluster dashboards" if action == "read"
                else f"send {self.request.method} requests or open sockets to cluster dashboards"
            )
            raise web.HTTPError(403, f"You are not allowed to {what} (needs '{action}' on '{self.auth_resource}').")

    @classmethod
    def _forget_expired_grants(cls) -> None:
        now = time.monotonic()
        for key in [k for k, grant in cls._grants.items() if grant.expires < now]:
            del cls._grants[key]

    async def _authorize_capability(self) -> None:
        """A ``~<capability>`` path segment stands for the user it was issued to, for one cluster only."""
        CallContext.set(CallContext.JUPYTER_HANDLER, self)
        if not self.check_host():
            raise web.HTTPError(403)
        self._forget_expired_grants()
        grant = self._grants.get(self.capability)
        if grant is None or grant.cluster_id != self.cluster_id:
            raise web.HTTPError(
                403, "This dashboard link is not valid (expired, or the server restarted); open the dashboard again."
            )
        action = self.auth_action()
        if action not in grant.actions:
            raise web.HTTPError(
                403, f"This dashboard link allows {sorted(grant.actions)} only, not {action!r} ({self.request.method})."
            )
        self.current_user = grant.user

    async def _redirect_into_sandbox(self) -> None:
        """A page opened in a frame or tab moves under a fresh ``~<capability>`` prefix.

        The page then runs in an opaque origin (the CSP ``sandbox``), where the
        browser sends it no Jupyter cookie; its scripts, styles and Bokeh socket
        are authorized by the capability in their (relative) URLs instead, which
        reaches this one cluster's dashboard and nothing else of Jupyter's.
        """
        actions = frozenset([a for a in ("read", "write") if await self._allowed(self.current_user, a)])
        self._forget_expired_grants()
        capability = secrets.token_urlsafe(24)
        lifetime = self.clusterkit.dashboard_link_lifetime
        self._grants[capability] = _Grant(self.cluster_id, self.current_user, actions, time.monotonic() + lifetime)
        query = self._public_query()
        target = url_path_join(self.base_url, links.DASHBOARD_ROUTE, self.cluster_id, "~" + capability, self.dashboard_path)
        self.redirect(target + (f"?{query}" if query else ""))

    def _public_query(self) -> str:
        pairs = urllib.parse.parse_qsl(self.request.query, keep_blank_values=True)
        return urllib.parse.urlencode([(k, v) for k, v in pairs if k.lower() not in _PRIVATE_QUERY])

    def check_origin(self, origin: str | None = None) -> bool:
        # A sandboxed page's socket says "Origin: null"; the capability in its
        # URL, not a cookie, is what authorizes it, so the origin cannot matter.
        return True if self.capability else bool(JupyterHandler.check_origin(self, origin or ""))

    def check_xsrf_cookie(self) -> None:
        # jupyter-server-proxy leaves XSRF to the proxied app; Dask's dashboard
        # does not check it, so cookie-authenticated writes are checked here.
        # (A capability request carries no cookie: nothing to forge.)
        if not self.capability:
            JupyterHandler.check_xsrf_cookie(self)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # JSON, like the REST API: nothing from the URL is rendered as HTML.
        message = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(safe_json({"message": message}))

    def _confined_finish(self, *args: Any, **kwargs: Any) -> Any:
        """``finish``: drop what the dashboard must not set on the Jupyter origin; add our policy."""
        for name in list(self._headers):
            if name.lower().startswith(_DROPPED_RESPONSE_PREFIXES):
                self.clear_header(name)
        self.set_header("Content-Security-Policy", DASHBOARD_CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        return JupyterHandler.finish(self, *args, **kwargs)

    def _get_context_path(self, host: str, port: int) -> str:
        prefix = url_path_join(self.base_url, links.DASHBOARD_ROUTE, self.cluster_id)
        return url_path_join(prefix, "~" + self.capability) if self.capability else prefix

    def proxy_request_options(self) -> dict[str, Any]:
        return {
            "follow_redirects": False,
            "connect_timeout": self.clusterkit.proxy_connect_timeout,
            "request_timeout": self.clusterkit.proxy_request_timeout,
        }

    def proxy_request_headers(self) -> Any:
        headers = super().proxy_request_headers()
        # The Jupyter token and cookies are for this server, not for Dask: only
        # the listed content-negotiation headers travel on.
        for name in list(headers):
            if name.lower() not in _FORWARDED_REQUEST_HEADERS:
                del headers[name]
        return headers

    def get_client_uri(self, protocol: str, host: str, port: int, proxied_path: str) -> str:
        uri = super().get_client_uri(protocol, host, port, proxied_path)
        # The Jupyter token must not travel on to Dask in the query either.
        parts = urllib.parse.urlsplit(uri)
        query = [
            (k, v)
            for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in _PRIVATE_QUERY
        ]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    async def _go(self, proxied_path: str) -> Any:
        assert self.target is not None  # prepare() found it or raised
        host, port = self.target
        try:
            return await ProxyHandler.proxy(self, host, port, self.dashboard_path)
        except OSError as exc:  # connection refused or reset: the dashboard is gone
            raise web.HTTPError(502, f"The dashboard of cluster {self.cluster_id} did not answer: {exc}") from None
        except web.HTTPError as exc:
            if exc.status_code not in (500, 599):  # jupyter-server-proxy's codes for "no answer"
                raise
            raise web.HTTPError(
                502, f"The dashboard of cluster {self.cluster_id} did not answer: {exc.log_message or exc.reason}"
            ) from None

    # Every entry point is marked (and checked) as authenticated: a 403, never a login redirect.
    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await super().get(*args, **kwargs)

    async def http_get(self, cluster_id: str, proxied_path: str) -> Any:
        if self.dashboard_path == "individual-plots.json":
            # Dask serves it from its info routes, which clusterkit turns off.
            self.set_header("Content-Type", "application/json")
            return self.finish(json.dumps(links.dask_plots()))
        return await self._go(proxied_path)

    async def open(self, cluster_id: str, proxied_path: str) -> Any:
        assert self.target is not None
        host, port = self.target
        try:
            await self.proxy_open(host, port, self.dashboard_path)
        except Exception as exc:  # the dashboard went away or refused the socket
            self.log.warning("clusterkit: dashboard socket of %s failed: %s", self.cluster_id, exc)
            self.close(1011, "The cluster's dashboard did not accept the connection.")

    @ws_authenticated
    async def post(self, cluster_id: str, proxied_path: str) -> Any:
        return await self._go(proxied_path)

    @ws_authenticated
    async def put(self, cluster_id: str, proxied_path: str) -> Any:
        return await self._go(proxied_path)

    @ws_authenticated
    async def delete(self, cluster_id: str, proxied_path: str) -> Any:
        return await self._go(proxied_path)

    @ws_authenticated
    async def head(self, cluster_id: str, proxied_path: str) -> Any:
        return await self._go(proxied_path)

    @ws_authenticated
    async def patch(self, cluster_id: str, proxied_path: str) -> Any:
        return await self._go(proxied_path)

    @ws_authenticated
    async def options(self, cluster_id: str, proxied_path: str) -> Any:
        return await self._go(proxied_path)


def routes() -> list[tuple[str, type, dict[str, Any]]]:
    return [(r"clusterkit/dashboard/(?P<cluster_id>[^/]+)/?(?P<proxied_path>.*)", DashboardProxyHandler, {})]
