"""Dashboard URLs through the Jupyter server, and which dashboard paths are allowed at all.

One place builds every link to a cluster's Dask dashboard, so sessions and the
widgets (in the kernel) and the server extension (which proxies the dashboard) agree:

* ``<base_url>clusterkit/dashboard/<record id>/<path>`` is the only route used;
  clusterkit never sends browsers to jupyter-server-proxy's generic
  ``<base_url>proxy/<port>/`` route (it would reach any loopback port).
* ``<base_url>`` is ``$CLUSTERKIT_JUPYTER_BASE_URL``, else
  ``$JUPYTERHUB_SERVICE_PREFIX`` (JupyterHub, Binder), else the ``base_url``
  of the Jupyter server that started this kernel.
* ``<path>`` must be one of Dask's own scheduler dashboard paths
  (:func:`check_dashboard_path`): no ``..``, no ``//``, nothing that resolves
  outside ``clusterkit/dashboard/<id>/``. A plot list that names
  ``../../../files/x.html`` is refused, not followed.

In a kernel, :class:`DashboardLinks` holds what a session knows of its cluster's
dashboard (``Session.dashboard_links()`` fills it in) and turns it into URLs:
through the Jupyter server when one running clusterkit's extension is known, else
Dask's direct link (a bare scheduler address, a script, VS Code); a Dask Gateway
serves its clusters' dashboards itself. ``Session.dashboard_url``, the session's
HTML repr and the widgets all take their links from it, so the rule lives here,
below them all, and needs no session.

This module needs only the standard library (and ``jupyter_core`` when it is
installed), so the server, the kernel and the CLI can all use it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from clusterkit.errors import ClusterkitError

__all__ = [
    "DASHBOARD_ROUTE",
    "DashboardLinks",
    "check_dashboard_path",
    "dashboard_url",
    "dask_plots",
    "jupyter_base_url",
    "parent_server",
    "proxied_dashboard_url",
]

#: The server extension's dashboard route, relative to the base URL.
DASHBOARD_ROUTE = "clusterkit/dashboard"

# Dask's scheduler dashboard (distributed.dashboard.scheduler and the default
# ``distributed.scheduler.http.routes``): Bokeh documents (and their ``/ws``
# sockets and ``/autoload.js``), Bokeh's and Dask's static files, the info,
# JSON and health pages. Dask's own worker proxy (``proxy/<port>/<host>/``) and
# anything else are not dashboard pages and are never proxied.
_DOCUMENT = (
    r"(?:status|workers|tasks|system|profile|profile-server|graph|groups|gpu|hardware|shuffle|stealing"
    r"|exceptions|events|counters|individual-[a-z0-9]+(?:-[a-z0-9]+)*)"
)
_DASHBOARD_PATH = re.compile(
    rf"^(?:{_DOCUMENT}(?:/|/ws|/autoload\.js)?"
    r"|static/.+|statics/.+"
    r"|info/?|info/.+\.html"
    r"|json/.+\.(?:json|html)"
    r"|individual-plots\.json|sitemap\.json|eventstream|health|metrics"
    r"|)$"
)
# Characters a dashboard path never needs; several change how browsers or
# servers resolve a path (``\`` is ``/`` to browsers, ``%2e%2e`` is ``..``).
_FORBIDDEN = re.compile(r"[\\%?#\x00-\x1f\x7f]")


def check_dashboard_path(path: str) -> str:
    """``path`` relative to a dashboard root, if it is one of Dask's dashboard paths.

    A single leading ``/`` is dropped (``/individual-task-stream`` as
    ``individual-plots.json`` lists it). Raises :class:`ClusterkitError` for
    anything else: dot segments, empty segments, backslashes, ``%``, ``?``,
    ``#``, control characters, or a path that is not a Dask dashboard page.

    >>> check_dashboard_path("/individual-task-stream")
    'individual-task-stream'
    """
    if not isinstance(path, str):
        raise ClusterkitError(f"A dashboard path must be a string, not {type(path).__name__}.")
    relative = path[1:] if path.startswith("/") else path
    segments = relative.split("/")
    bad_segment = any(s in (".", "..") for s in segments) or "" in segments[:-1]
    if bad_segment or _FORBIDDEN.search(relative) or len(relative) > 2048:
        raise ClusterkitError(
            f"Refusing dashboard path {path[:200]!r}: it could leave the cluster's dashboard "
            "(dot or empty segments, backslashes, '%', '?', '#' and control characters are not allowed)."
        )
    if not _DASHBOARD_PATH.match(relative):
        raise ClusterkitError(
            f"Refusing dashboard path {path[:200]!r}: it is not one of Dask's dashboard pages "
            "(status, individual-*, info/..., json/..., static files)."
        )
    return relative


def dask_plots() -> dict[str, str]:
    """Dask's individual plots, ``{"Individual Task Stream": "/individual-task-stream", ...}``.

    What Dask's ``individual-plots.json`` answers, computed from the installed
    ``distributed``: clusterkit turns Dask's ``info`` routes off (they serve
    worker logs and call stacks to anyone on the machine), and that file is one
    of them.
    """
    from distributed.dashboard.scheduler import applications

    return {
        path.strip("/").replace("-", " ").title(): path
        for path in applications
        if path.lstrip("/").startswith("individual-")
    }


# -- which Jupyter server are we behind? ------------------------------------------------------
def parent_server() -> dict[str, Any] | None:
    """The running Jupyter server that started this process (a kernel), if any.

    Reads the ``jpserver-<pid>.json`` files in Jupyter's runtime folder, as
    ``jupyter_server.serverapp.list_running_servers`` does, without importing the
    server (seconds on a busy machine).
    """
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return None
    path = pathlib.Path(jupyter_runtime_dir()) / f"jpserver-{os.getppid()}.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("pid") == os.getppid() else None


def jupyter_base_url() -> str | None:
    """The base URL browsers use to reach our Jupyter server, or ``None`` if there is none.

    ``CLUSTERKIT_JUPYTER_BASE_URL`` overrides it (for setups this cannot detect);
    ``JUPYTERHUB_SERVICE_PREFIX`` is the hub's (and Binder's) prefix.
    """
    for variable in ("CLUSTERKIT_JUPYTER_BASE_URL", "JUPYTERHUB_SERVICE_PREFIX"):
        value = os.environ.get(variable)
        if value:
            return value if value.endswith("/") else value + "/"
    server = parent_server()
    if server is None:
        return None
    base = str(server.get("base_url") or "/")
    return base if base.endswith("/") else base + "/"


def dashboard_url(base_url: str, cluster_id: str, path: str = "") -> str:
    """``<base_url>clusterkit/dashboard/<cluster_id>/<path>``, the path checked first.

    >>> dashboard_url("/user/ada/", "3fa2c1d04e9b", "/individual-task-stream")
    '/user/ada/clusterkit/dashboard/3fa2c1d04e9b/individual-task-stream'
    """
    relative = check_dashboard_path(path)
    base = base_url if base_url.endswith("/") else base_url + "/"
    return f"{base}{DASHBOARD_ROUTE}/{urllib.parse.quote(cluster_id, safe='')}/{relative}"


@functools.lru_cache(maxsize=8)
def _server_has_clusterkit_route(server_url: str) -> bool:
    """Does this Jupyter server run clusterkit's extension? (Any answer but 404 means yes.)"""
    request = urllib.request.Request(urllib.parse.urljoin(server_url, "clusterkit/api/clusters"), method="GET")
    try:
        with urllib.request.urlopen(request, timeout=2):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code != 404
    except (OSError, ValueError):
        return True  # cannot tell: trust the design, the extension ships with clusterkit


def proxied_dashboard_url(cluster_id: str, path: str = "") -> str | None:
    """:func:`dashboard_url` behind this kernel's Jupyter server.

    ``None`` when there is no Jupyter server, or it does not run clusterkit's
    extension. Raises :class:`ClusterkitError` for a path that is not one of Dask's
    dashboard pages.
    """
    base = jupyter_base_url()
    if base is None:
        return None
    server = parent_server()
    if server is not None and not _server_has_clusterkit_route(str(server.get("url"))):
        return None
    return dashboard_url(base, cluster_id, path)


# -- one cluster's dashboard, seen from a kernel ------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DashboardLinks:
    """Where one cluster's Dask dashboard is, and the URLs a browser gets for it.

    >>> links = DashboardLinks("local", "tls://127.0.0.1:8786", 8787, "", cluster_id=None)
    >>> links.url("individual-task-stream")
    'http://127.0.0.1:8787/individual-task-stream'
    """

    #: The cluster's kind (a registry record's): a ``gateway`` cluster's dashboard is the gateway's.
    kind: str
    #: The scheduler's address; its host serves the dashboard when Dask gives no link.
    scheduler_address: str
    #: The dashboard's port on the scheduler's host; ``None``: the scheduler has no dashboard.
    port: int | None
    #: Dask's own ``Client.dashboard_link`` (``""`` if none).
    dask_link: str = ""
    #: The registry record's id; the server's route needs it (``None``: a bare address).
    cluster_id: str | None = None

    def direct_root(self) -> str | None:
        """``http://host:port/`` of the dashboard as this kernel reaches it (a gateway's: its proxy)."""
        if self.kind == "gateway":
            link = self.dask_link
            return link.rsplit("/", 1)[0] + "/" if link.startswith(("http://", "https://")) else None
        if self.port is None:
            return None
        parsed = urllib.parse.urlparse(self.dask_link)
        if parsed.scheme in ("http", "https") and parsed.netloc:
            return f"{parsed.scheme}://{parsed.netloc}/"
        host = urllib.parse.urlparse(self.scheduler_address).hostname or "127.0.0.1"
        return f"http://{host}:{self.port}/"

    def proxied_url(self, path: str) -> str | None:
        """The dashboard ``path`` through clusterkit's route of the Jupyter server.

        ``None`` without a record (a bare address), for a gateway cluster (the gateway's
        own proxy serves browsers) and where :func:`proxied_dashboard_url` gives none.
        """
        if self.cluster_id is None or self.kind == "gateway":
            return None
        return proxied_dashboard_url(self.cluster_id, path)

    def url(self, path: str = "status") -> str | None:
        """The link to give a browser: proxied when a Jupyter server is known, else Dask's direct one."""
        root = self.direct_root()
        if self.kind == "gateway":
            return None if root is None else root + path.lstrip("/")
        if self.port is None:
            return None
        proxied = self.proxied_url(path)
        if proxied is not None:
            return proxied
        return None if root is None else root + check_dashboard_path(path)
