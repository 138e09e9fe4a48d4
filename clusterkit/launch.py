"""``ck.start``: start a cluster and choose its owner, this process or a detached daemon.

Whoever starts a cluster owns it. ``ck.start()`` makes this process the owner
(:func:`clusterkit.session.start_owned`); ``ck.start(detach=True)`` hands the new
cluster to a ``clusterkit`` daemon (:func:`clusterkit.daemon.spawn`), so it outlives
this process, and attaches to it (:func:`clusterkit.session.connect`).

This module sits above both :mod:`clusterkit.session` and :mod:`clusterkit.daemon`:
the daemon owns its cluster through a session, so sessions never call the daemon;
callers that detach do (this module for ``ck.start`` and ``%cluster start --detach``,
``clusterkit up``, the server's "New cluster").

>>> import clusterkit as ck
>>> session = ck.start(n_workers=2, detach=True)   # doctest: +SKIP
>>> session.record.owner                           # doctest: +SKIP
'daemon'
"""

from __future__ import annotations

from clusterkit import daemon
from clusterkit import session as sessions
from clusterkit.options import WorkerOptions
from clusterkit.session import Session

__all__ = ["start"]


def start(
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    memory_limit: str | int | None = None,
    name: str | None = None,
    *,
    adapt: tuple[int, int] | None = None,
    detach: bool = False,
    factory: str | None = None,
    insecure: bool = False,
    tls_ca_file: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> Session:
    """Start a cluster, connect to it and make it current.

    By default a local cluster of worker processes sized for this machine, with
    mutual TLS on credentials made for it (see :mod:`clusterkit.security`);
    ``insecure=True`` uses plain TCP that any local user can reach (a warning says so);
    ``tls_ca_file``, ``tls_cert`` (and ``tls_key``) use your own CA and certificate instead.
    ``factory=NAME`` uses a cluster manager configured as ``clusterkit.factories.NAME``
    (its own security settings apply); ``detach=True`` hands the cluster to a
    ``clusterkit`` daemon so it outlives this process (stop it with ``clusterkit down NAME``).
    Options are checked by :class:`clusterkit.options.WorkerOptions` (``OptionError``).
    """
    options = WorkerOptions.parse(n_workers, threads_per_worker, memory_limit, adapt, name, insecure)
    if not detach:
        return sessions.start_owned(
            options, factory=factory, tls_ca_file=tls_ca_file, tls_cert=tls_cert, tls_key=tls_key
        )
    if options.name is not None:
        sessions.check_name(options.name)  # here, in one line, rather than in the daemon's log
    session = sessions.connect(daemon.spawn(options=options).id)
    if options.adapt is not None:
        session.adapt(*options.adapt)
    return session
