"""The extension's settings (``c.ClusterkitServer.*``) and how it plugs into the server."""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.utils import url_path_join
from traitlets import Bool, Float, Int, Unicode, default
from traitlets.config import Configurable

from clusterkit import options

__all__ = ["ClusterkitServer", "load"]


class ClusterkitServer(Configurable):
    """Settings of clusterkit's Jupyter server extension.

    Set them like any Jupyter server option, e.g. in ``jupyter_server_config.py``::

        c.ClusterkitServer.reaper_interval = 5
        c.ClusterkitServer.allow_create = False

    or on the command line: ``jupyter lab --ClusterkitServer.max_workers=8``.
    """

    registry_dir = Unicode(
        "",
        config=True,
        help=(
            "Folder of the cluster registry the server reads. Empty (the default) means what every "
            "other clusterkit process uses: $CLUSTERKIT_REGISTRY_DIR, else <jupyter runtime dir>/clusterkit. "
            "When set, the server also exports it as CLUSTERKIT_REGISTRY_DIR, so the kernels and "
            "daemons it starts use the same folder."
        ),
    )
    gateway_address = Unicode(
        "",
        config=True,
        help=(
            "A Dask Gateway (its public URL, e.g. http://127.0.0.1:8000) whose clusters of this user the "
            "sidebar lists, scales and stops, and where 'New cluster' can start one. Empty (the default) "
            "means gateway.address from Dask config, or no gateway when that is unset too."
        ),
    )
    allow_create = Bool(
        True,
        config=True,
        help=(
            "Allow starting detached clusters through POST /clusterkit/api/clusters (the sidebar's "
            "'New cluster'). When False that route answers 403 and kernels can still start clusters."
        ),
    )
    max_workers = Int(
        config=True,
        help=(
            "Largest worker count the REST API accepts when creating, scaling or adapting a cluster. "
            "Larger requests are refused with 400, as a typo rather than a plan. Defaults to "
            "clusterkit.local.max-workers (dask config, the bound of ck.start, the magics and the CLI); "
            "set it lower to cap this server's users. It cannot lift that bound, which the same parser "
            "(clusterkit.options) checks."
        ),
    )

    @default("max_workers")
    def _default_max_workers(self) -> int:
        return options.max_workers()

    max_starting_clusters = Int(
        2,
        config=True,
        help=(
            "Most 'New cluster' requests (POST /clusterkit/api/clusters) this server runs at once. "
            "Starting a cluster costs a daemon process and seconds of CPU; more concurrent requests "
            "are refused with 429 until one has finished."
        ),
    )
    #: Clusters this server is starting now (not configuration: counted by the REST handler).
    starting_now = Int(0)
    create_timeout = Float(
        120.0,
        config=True,
        help=(
            "Seconds a 'New cluster' request may take before the server gives up waiting for the "
            "daemon to register the cluster (the cluster may still appear later)."
        ),
    )
    reaper_interval = Float(
        2.0,
        config=True,
        help=(
            "Seconds between two checks of the owners of registered clusters. A cluster whose "
            "owner process (kernel or daemon) is gone has its record removed and any process left "
            "from it killed. 0 turns the periodic check off (kernel shutdown events still reap)."
        ),
    )
    reap_on_kernel_shutdown = Bool(
        True,
        config=True,
        help=(
            "When the server shuts a kernel down, or a kernel dies, stop the clusters that kernel "
            "owned and remove their records at once instead of at the next periodic check."
        ),
    )
    stop_grace_period = Float(
        10.0,
        config=True,
        help=(
            "Seconds the reaper gives a dead owner's worker processes to exit by themselves (they "
            "watch their parent) before it kills the ones still running."
        ),
    )
    proxy_connect_timeout = Float(
        20.0,
        config=True,
        help="Seconds the dashboard proxy waits to connect to a cluster's Dask dashboard.",
    )
    dashboard_link_lifetime = Float(
        12 * 3600.0,
        config=True,
        help=(
            "Seconds a sandboxed dashboard page keeps working. A dashboard opened in a frame or tab "
            "moves under a random '~<capability>' path that stands for the user (the sandbox sends "
            "no Jupyter cookie); after this long, or a server restart, reopen the dashboard."
        ),
    )
    proxy_request_timeout = Float(
        300.0,
        config=True,
        help="Seconds one proxied dashboard request may take in total.",
    )

    def registry_folder(self) -> str | None:
        """The registry folder to pass to :mod:`clusterkit.registry` (``None``: its default)."""
        return os.path.expanduser(self.registry_dir) if self.registry_dir else None


def load(serverapp: Any) -> None:
    """Create the settings, register the handlers and start the reaper."""
    from clusterkit.server import handlers, proxy
    from clusterkit.server.reaper import Reaper

    settings = ClusterkitServer(parent=serverapp)
    if settings.registry_dir:
        # Kernels and daemons started by this server inherit it.
        os.environ["CLUSTERKIT_REGISTRY_DIR"] = os.path.expanduser(settings.registry_dir)
    base_url = serverapp.web_app.settings["base_url"]
    reaper = Reaper(settings, serverapp)
    context = {"clusterkit": settings, "serverapp": serverapp, "reaper": reaper}
    routes = [
        (url_path_join(base_url, route), handler, {**context, **extra})
        for route, handler, extra in [*handlers.routes(), *proxy.routes()]
    ]
    serverapp.web_app.add_handlers(".*$", routes)
    serverapp.web_app.settings["clusterkit_reaper"] = reaper
    reaper.start()
    serverapp.log.info("clusterkit: server extension loaded (registry %s)",
                       settings.registry_folder() or "default")
