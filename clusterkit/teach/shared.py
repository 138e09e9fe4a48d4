"""The one cluster every notebook shares, and the live views that go with it.

``teach.cluster()`` is idempotent: it returns the current session if this
kernel has one, attaches to a registered cluster named ``curriculum`` if one is
running (for example one started with ``clusterkit up --name curriculum`` so
that every notebook's kernel shares it), and otherwise starts one sized for the
machine and registers it under that name.

>>> from clusterkit import teach
>>> session = teach.cluster()        # doctest: +SKIP
>>> teach.show(session)              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from typing import Any

import clusterkit as ck
from clusterkit import registry
from clusterkit.errors import ClusterkitError, NoClusterError
from clusterkit.teach import environment

__all__ = ["CLUSTER_NAME", "cluster", "show", "worker_addresses"]

#: The name under which the curriculum cluster is registered.
CLUSTER_NAME = "curriculum"


def cluster() -> ck.Session:
    """The shared curriculum cluster: current session, registered ``curriculum``, or a new one."""
    with contextlib.suppress(NoClusterError):
        session = ck.current()
        if not session.closed:
            return session
    record = registry.find(CLUSTER_NAME)
    if record is not None:
        with contextlib.suppress(ClusterkitError, OSError):
            return ck.connect(CLUSTER_NAME)
    name: str | None = CLUSTER_NAME if record is None else None
    session = ck.start(n_workers=environment.curriculum_workers(), threads_per_worker=1, name=name)
    return session


def worker_addresses(session: ck.Session | None = None) -> list[str]:
    """Addresses of the cluster's workers, sorted."""
    session = session or cluster()
    return sorted(session.client.scheduler_info(n_workers=-1)["workers"])


def show(session: ck.Session | None = None, *plots: str) -> Any:
    """Display the live status widget and task stream (or other dashboard plots).

    ``show()`` opens status and task stream; ``show(session, "progress")`` adds
    more plots from the Dask dashboard.
    """
    from IPython.display import display

    from clusterkit import widgets

    session = session or cluster()
    views = [widgets.status_widget(session), widgets.task_stream(session)]
    views += [widgets.dashboard(session, plot) for plot in plots]
    for view in views:
        display(view)
    return None
