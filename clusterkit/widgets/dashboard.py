"""Dask's own dashboard plots, inline, served through the Jupyter server.

URL scheme (path-absolute, so it works behind JupyterHub and Binder):

* a cluster with a registry record: ``<base_url>clusterkit/dashboard/<record id>/<path>``,
  the route of clusterkit's server extension (it proxies HTTP and WebSocket to
  registered clusters only);
* a bare scheduler address on this machine, or a server without clusterkit's
  extension: ``<base_url>proxy/<port>/<path>`` through jupyter-server-proxy;
* no Jupyter server known (a script, VS Code): Dask's direct link.

``<base_url>`` is ``$JUPYTERHUB_SERVICE_PREFIX`` on JupyterHub and Binder, else the
``base_url`` of the Jupyter server that started this kernel (found among
the runtime folder's ``jpserver-<pid>.json`` by our parent's process id).

Plot names are discovered from the scheduler's ``individual-plots.json``, never
hard-coded: ``/individual-task-stream`` is offered as ``task-stream``.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import os
import pathlib
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from clusterkit.errors import ClusterkitError
from clusterkit.widgets._live import STATIC

if TYPE_CHECKING:
    from clusterkit.session import Session

__all__ = [
    "DashboardFrame",
    "available_plots",
    "dashboard",
    "dashboard_url",
    "jupyter_base_url",
    "plot_paths",
    "proxied_url",
]

logger = logging.getLogger(__name__)


# -- which Jupyter server are we behind? ------------------------------------------------------
def _parent_server() -> dict[str, Any] | None:
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

    ``CLUSTERKIT_JUPYTER_BASE_URL`` overrides it (for setups this cannot detect).
    """
    for variable in ("CLUSTERKIT_JUPYTER_BASE_URL", "JUPYTERHUB_SERVICE_PREFIX"):
        value = os.environ.get(variable)
        if value:
            return value if value.endswith("/") else value + "/"
    server = _parent_server()
    if server is None:
        return None
    base = str(server.get("base_url") or "/")
    return base if base.endswith("/") else base + "/"


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


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _scheduler_host(session: Session) -> str | None:
    return urllib.parse.urlparse(session.address).hostname


def _dashboard_port(session: Session) -> int | None:
    port = session._dashboard_port()
    if port is None and session.record is not None:
        port = session.record.dashboard_port
    return port


def _gateway_root(session: Session) -> str | None:
    """``http://gateway/clusters/<name>/``: a Dask Gateway serves its clusters' dashboards itself."""
    link = str(session.client.dashboard_link or "") if session.kind == "gateway" else ""
    return link.rsplit("/", 1)[0] + "/" if link.startswith(("http://", "https://")) else None


def direct_root(session: Session) -> str | None:
    """``http://host:port/`` of the scheduler's dashboard as this kernel reaches it."""
    if session.kind == "gateway":
        return _gateway_root(session)
    port = _dashboard_port(session)
    if port is None:
        return None
    link = str(session.client.dashboard_link or "")
    parsed = urllib.parse.urlparse(link)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return f"{parsed.scheme}://{parsed.netloc}/"
    host = _scheduler_host(session) or "127.0.0.1"
    return f"http://{host}:{port}/"


def proxied_url(session: Session, path: str) -> str | None:
    """The dashboard ``path`` through the Jupyter server, or ``None`` if no server is known."""
    base = jupyter_base_url()
    if base is None or session.kind == "gateway":  # the gateway's own proxy serves browsers
        return None
    path = path.lstrip("/")
    server = _parent_server()
    clusterkit_route = server is None or _server_has_clusterkit_route(str(server.get("url")))
    if session.record is not None and clusterkit_route:
        return f"{base}clusterkit/dashboard/{session.record.id}/{path}"
    port = _dashboard_port(session)
    if port is not None and _loopback(_scheduler_host(session)):
        return f"{base}proxy/{port}/{path}"
    return None


def dashboard_url(session: Session, path: str = "status") -> str | None:
    """What :attr:`Session.dashboard_url` returns: proxied when a Jupyter server is known."""
    if session.kind == "gateway":
        root = _gateway_root(session)
        return None if root is None else root + path.lstrip("/")
    if _dashboard_port(session) is None:
        return None
    proxied = proxied_url(session, path)
    if proxied is not None:
        return proxied
    root = direct_root(session)
    return None if root is None else root + path.lstrip("/")


# -- plots ------------------------------------------------------------------------------------
def _plot_name(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    name = name.removesuffix(".html")
    return name.removeprefix("individual-")


def plot_paths(session: Session) -> dict[str, str]:
    """Plot name -> dashboard path, read from the scheduler's ``individual-plots.json``."""
    root = direct_root(session)
    if root is None:
        raise ClusterkitError(
            f"Cluster {session.name!r} has no dashboard: its scheduler runs without one "
            "(Dask's dashboard needs bokeh>=3.1 installed where the scheduler runs)."
        )
    try:
        with urllib.request.urlopen(root + "individual-plots.json", timeout=10) as response:
            listing = json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise ClusterkitError(
            f"Could not read the list of dashboard plots from {root}individual-plots.json: {exc}. "
            "Check that the cluster is running (`%cluster status`)."
        ) from exc
    return {_plot_name(path): str(path) for path in listing.values()}


def available_plots(session: Session) -> list[str]:
    """Names accepted by ``%cluster dashboard PLOT``, e.g. ``task-stream``, ``progress``."""
    return sorted(plot_paths(session))


class DashboardFrame(anywidget.AnyWidget):
    """One of Dask's dashboard plots in an iframe, with a link to open it in a tab."""

    _esm = STATIC / "frame.js"
    _css = STATIC / "frame.css"
    url = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    height = traitlets.Int(420).tag(sync=True)
    #: True when the URL goes through the Jupyter server (it then works on JupyterHub too).
    proxied = traitlets.Bool(False).tag(sync=True)


def dashboard(session: Session, plot: str | None = None) -> Any:
    """``%cluster dashboard [PLOT]``: the native task stream, or a Dask plot in an iframe."""
    if plot is None:
        from clusterkit.widgets.taskstream import TaskStreamWidget

        return TaskStreamWidget(session)
    paths = plot_paths(session)
    wanted = plot.strip().lower().removeprefix("/").removeprefix("individual-")
    if wanted not in paths:
        raise ClusterkitError(
            f"Dask's dashboard has no plot named {plot!r}. Available plots: {', '.join(sorted(paths))}."
        )
    path = paths[wanted]
    proxied = proxied_url(session, path)
    url = proxied if proxied is not None else (direct_root(session) or "") + path.lstrip("/")
    return DashboardFrame(url=url, title=f"{session.name} · {wanted}", proxied=proxied is not None)
