"""clusterkit: interactive Dask clusters from Jupyter, and the lessons to use them.

>>> import clusterkit as ck
>>> session = ck.start(n_workers=2)        # doctest: +SKIP
>>> ck.current() is session                 # doctest: +SKIP
True

In IPython or Jupyter, ``%load_ext clusterkit`` adds the ``%cluster`` magics.
"""

from __future__ import annotations

from typing import Any

from clusterkit import config as _config  # registers clusterkit.* defaults with dask.config
from clusterkit.errors import (
    ActorError,
    ActorLostError,
    ActorRestartedError,
    BackendError,
    ClusterkitError,
    ClusterNotFoundError,
    ConfigError,
    NoClusterError,
    RegistryError,
    RemoteError,
    SSHError,
)
from clusterkit.parallel import as_completed, cancel, get, imap, map, remote, wait
from clusterkit.session import Session, connect, current, sessions, ssh, start, stop_cluster, use
from clusterkit.widgets import progress

__version__ = "0.1.0"

__all__ = [
    "ActorError",
    "ActorLostError",
    "ActorRestartedError",
    "BackendError",
    "ClusterNotFoundError",
    "ClusterkitError",
    "ConfigError",
    "NoClusterError",
    "RegistryError",
    "RemoteError",
    "SSHError",
    "Session",
    "__version__",
    "as_completed",
    "cancel",
    "connect",
    "current",
    "get",
    "imap",
    "load_ipython_extension",
    "map",
    "progress",
    "remote",
    "sessions",
    "ssh",
    "start",
    "stop_cluster",
    "use",
    "wait",
]

del _config


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext clusterkit``: register the ``%cluster`` magics."""
    from clusterkit.magics import ClusterMagics

    ipython.register_magics(ClusterMagics)
