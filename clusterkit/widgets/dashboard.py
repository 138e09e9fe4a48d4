"""Dask's own dashboard plots, inline, served through the Jupyter server.

URL scheme (path-absolute, so it works behind JupyterHub and Binder):

* a cluster with a registry record: ``<base_url>clusterkit/dashboard/<record id>/<path>``,
  the route of clusterkit's server extension (it proxies HTTP and WebSocket to
  registered clusters only);
* a bare scheduler address (no record), a server without clusterkit's
  extension, or no Jupyter server known (a script, VS Code): Dask's direct link.
  jupyter-server-proxy's generic ``<base_url>proxy/<port>/`` route is never used.

:mod:`clusterkit.links` builds the URLs (base URL, hub prefix, route) and
checks every path: only Dask's own dashboard pages, nothing that leaves the
cluster's prefix.

Plot names are discovered from the scheduler's ``individual-plots.json``, never
hard-coded: ``/individual-task-stream`` is offered as ``task-stream``.
"""

from __future__ import annotations

import functools
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from clusterkit import links
from clusterkit.errors import ClusterkitError
from clusterkit.widgets._live import STATIC

if TYPE_CHECKING:
    from clusterkit.session import Session

__all__ = [
    "DashboardFrame",
    "available_plots",
    "dashboard",
    "dashboard_url",
    "plot_paths",
    "proxied_url",
]

logger = logging.getLogger(__name__)


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
    """The dashboard ``path`` through clusterkit's route of the Jupyter server.

    ``None`` when there is no Jupyter server, no record (a bare address), or the
    server does not run clusterkit's extension. Raises :class:`ClusterkitError`
    for a path that is not one of Dask's dashboard pages.
    """
    base = links.jupyter_base_url()
    if base is None or session.record is None or session.kind == "gateway":  # the gateway's own proxy serves browsers
        return None
    server = links.parent_server()
    if server is not None and not _server_has_clusterkit_route(str(server.get("url"))):
        return None
    return links.dashboard_url(base, session.record.id, path)


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
    return None if root is None else root + links.check_dashboard_path(path)


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
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise ClusterkitError(f"{root}individual-plots.json answered {exc.code}: {exc.reason}.") from exc
        listing = links.dask_plots()  # Dask's info routes are off (clusterkit.yaml): the same list
    except (OSError, ValueError) as exc:
        raise ClusterkitError(
            f"Could not read the list of dashboard plots from {root}individual-plots.json: {exc}. "
            "Check that the cluster is running (`%cluster status`)."
        ) from exc
    if not isinstance(listing, dict):
        raise ClusterkitError(f"{root}individual-plots.json is not a JSON object; is this a Dask dashboard?")
    plots = {}
    for path in listing.values():
        try:
            plots[_plot_name(str(path))] = "/" + links.check_dashboard_path(str(path))
        except ClusterkitError as exc:  # a listing must not send the iframe elsewhere
            logger.warning("clusterkit: skipping a plot of %s: %s", root, exc)
    return plots


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
    url = proxied if proxied is not None else (direct_root(session) or "") + links.check_dashboard_path(path)
    return DashboardFrame(url=url, title=f"{session.name} · {wanted}", proxied=proxied is not None)
