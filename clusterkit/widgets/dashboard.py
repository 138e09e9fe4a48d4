"""Dask's own dashboard plots, inline, served through the Jupyter server.

URL scheme (path-absolute, so it works behind JupyterHub and Binder):

* a cluster with a registry record: ``<base_url>clusterkit/dashboard/<record id>/<path>``,
  the route of clusterkit's server extension (it proxies HTTP and WebSocket to
  registered clusters only);
* a bare scheduler address (no record), a server without clusterkit's
  extension, or no Jupyter server known (a script, VS Code): Dask's direct link.
  jupyter-server-proxy's generic ``<base_url>proxy/<port>/`` route is never used.

:mod:`clusterkit.links` builds the URLs (base URL, hub prefix, route, and a
session's own :class:`~clusterkit.links.DashboardLinks`, which
``Session.dashboard_links()`` returns) and checks every path: only Dask's own
dashboard pages, nothing that leaves the cluster's prefix. This module only
lists the plots and shows one.

Plot names are discovered from the scheduler's ``individual-plots.json``, never
hard-coded: ``/individual-task-stream`` is offered as ``task-stream``.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from clusterkit import links
from clusterkit.errors import ClusterkitError
from clusterkit.widgets._live import STATIC

if TYPE_CHECKING:
    from clusterkit.session import Session

__all__ = ["DashboardFrame", "available_plots", "dashboard", "plot_paths"]

logger = logging.getLogger(__name__)


def _plot_name(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    name = name.removesuffix(".html")
    return name.removeprefix("individual-")


def plot_paths(session: Session) -> dict[str, str]:
    """Plot name -> dashboard path, read from the scheduler's ``individual-plots.json``."""
    root = session.dashboard_links().direct_root()
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
    where = session.dashboard_links()
    proxied = where.proxied_url(path)
    url = proxied if proxied is not None else (where.direct_root() or "") + links.check_dashboard_path(path)
    return DashboardFrame(url=url, title=f"{session.name} · {wanted}", proxied=proxied is not None)
