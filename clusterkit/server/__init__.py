"""clusterkit's Jupyter server extension: REST API, dashboard proxy and reaper.

The server never holds a cluster. It reads the registry that cluster owners
write, asks owners to scale or stop through :mod:`clusterkit.control`, starts
detached clusters through :mod:`clusterkit.daemon`, proxies each registered
cluster's Dask dashboard and removes the records (and leftover processes) of
clusters whose owning kernel died.

Enabled at install by ``etc/jupyter/jupyter_server_config.d/clusterkit.json``;
configured with ``c.ClusterkitServer.*`` (see :class:`ClusterkitServer`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ClusterkitServer"]

from clusterkit.server.app import ClusterkitServer, load


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "clusterkit.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    load(serverapp)
