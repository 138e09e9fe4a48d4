"""Parallel primitives on the current session's cluster.

* :func:`map`, :func:`imap`: a function over many items, batched automatically.
* :func:`remote`: Ray-style tasks (``f.remote(x)``) and actors (``Cls.remote()``).
* :func:`get`, :func:`wait`, :func:`as_completed`, :func:`cancel`: work with their futures.

All of them use ``clusterkit.session.current().client`` and raise
:class:`~clusterkit.errors.NoClusterError` when no cluster is running. The
module ``clusterkit.parallel.map`` is shadowed by the function of the same name
here; import it with ``importlib.import_module`` if you need its internals.
"""

from __future__ import annotations

from clusterkit.parallel.actors import ActorCallFuture, ActorClass, ActorHandle
from clusterkit.parallel.map import imap, map
from clusterkit.parallel.remote import RemoteFunction, as_completed, cancel, get, remote, wait

__all__ = [
    "ActorCallFuture",
    "ActorClass",
    "ActorHandle",
    "RemoteFunction",
    "as_completed",
    "cancel",
    "get",
    "imap",
    "map",
    "remote",
    "wait",
]
