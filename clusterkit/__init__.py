"""clusterkit: interactive Dask clusters from Jupyter, and the lessons to use them.

>>> import clusterkit as ck
>>> session = ck.start(n_workers=2)        # doctest: +SKIP
>>> ck.current() is session                 # doctest: +SKIP
True

In IPython or Jupyter, ``%load_ext clusterkit`` adds the ``%cluster`` magics.

Names are imported on first use, so processes that need one small part (the
Jupyter server reading the registry, a worker unpickling a batch function) do
not pay for Dask's client, the widgets and IPython.

The package also wires the one thing a lower layer cannot reach itself:
``Session.widget()`` returns the widgets' status widget through
:mod:`clusterkit.display`, plugged in here (sessions never import the widgets).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from clusterkit import display as _display  # standard library only: cheap to import
from clusterkit import errors as _errors  # standard library only: cheap to import

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    **dict.fromkeys(_errors.__all__, "clusterkit.errors"),
    **dict.fromkeys(["as_completed", "cancel", "get", "imap", "map", "remote", "wait"], "clusterkit.parallel"),
    **dict.fromkeys(
        ["Session", "connect", "current", "gateway", "sessions", "ssh", "stop_cluster", "use"],
        "clusterkit.session",
    ),
    "start": "clusterkit.launch",  # above the session and the daemon: it may detach
    "progress": "clusterkit.widgets",
}

__all__ = [
    "ActorError",
    "ActorLostError",
    "ActorRestartedError",
    "BackendError",
    "ClusterNotFoundError",
    "ClusterkitError",
    "ConfigError",
    "NoClusterError",
    "OptionError",
    "RegistryError",
    "RemoteError",
    "SSHError",
    "Session",
    "__version__",
    "as_completed",
    "cancel",
    "connect",
    "current",
    "gateway",
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

if TYPE_CHECKING:
    from clusterkit.errors import (
        ActorError,
        ActorLostError,
        ActorRestartedError,
        BackendError,
        ClusterkitError,
        ClusterNotFoundError,
        ConfigError,
        NoClusterError,
        OptionError,
        RegistryError,
        RemoteError,
        SSHError,
    )
    from clusterkit.launch import start
    from clusterkit.parallel.map import imap, map
    from clusterkit.parallel.remote import as_completed, cancel, get, remote, wait
    from clusterkit.session import Session, connect, current, gateway, sessions, ssh, stop_cluster, use
    from clusterkit.widgets.progress import progress


def _status_widget(session: Session) -> Any:
    """What ``Session.widget()`` returns: the widgets' status widget, imported on first use.

    Sessions sit below the widgets and never import them; the package, above both and
    run before any of its submodules, plugs this into :mod:`clusterkit.display`.
    """
    from clusterkit.widgets import status_widget

    return status_widget(session)


_display.use_status_widget(_status_widget)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'clusterkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext clusterkit``: register the ``%cluster`` magics."""
    from clusterkit.magics import ClusterMagics

    ipython.register_magics(ClusterMagics)
