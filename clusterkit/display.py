"""A session in a notebook: its HTML repr, and the status widget ``Session.widget()`` returns.

Sessions sit below the widgets (arrows point down), so neither display makes
:mod:`clusterkit.session` reach up:

* the HTML repr (``Session._repr_html_``) is ``templates/session.html.j2``, a Jinja
  template rendered here from plain values the session hands over
  (:func:`session_html`). It needs no widget library: a session shows itself in a
  cell after ``import clusterkit`` alone.
* the status widget is the widgets layer's (:class:`clusterkit.widgets.status.StatusWidget`).
  :func:`status_widget` builds it with the factory the layer above plugged in with
  :func:`use_status_widget`: ``clusterkit/__init__.py``, which Python runs before any
  submodule of the package, plugs in one that imports :mod:`clusterkit.widgets` on
  first use, so ``import clusterkit`` stays free of anywidget.

Standard library only at import (Jinja and Dask are imported when a repr is rendered).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clusterkit.errors import ClusterkitError

if TYPE_CHECKING:
    import jinja2

__all__ = ["SIDEBAR_COMMAND", "session_html", "status_widget", "use_status_widget"]

#: The JupyterLab command the sidebar extension registers to show one cluster (args: {"id": ...}).
SIDEBAR_COMMAND = "clusterkit:show-sidebar"  # registered by the labextension (index.ts)

_status_widget: Callable[[Any], Any] | None = None


def use_status_widget(factory: Callable[[Any], Any]) -> None:
    """Make ``factory(session)`` what :func:`status_widget`, and so ``Session.widget()``, returns."""
    global _status_widget
    _status_widget = factory


def status_widget(session: Any) -> Any:
    """The live status widget of ``session``, from the factory plugged in with :func:`use_status_widget`."""
    if _status_widget is None:
        raise ClusterkitError(
            "No status widget is plugged in (clusterkit/__init__.py plugs in clusterkit.widgets'): "
            "`import clusterkit` before using sessions, or call clusterkit.widgets.status_widget(session)."
        )
    return _status_widget(session)


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("clusterkit", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def session_html(
    *,
    name: str,
    kind: str,
    owned: bool,
    closed: bool,
    address: str,
    counts: dict[str, int] | None,
    dashboard_url: str | None,
    cluster_id: str | None,
) -> str:
    """HTML for notebooks: name, scheduler, workers, dashboard link, "Open in sidebar".

    ``counts`` has ``workers``, ``threads`` and ``memory_bytes`` (``None`` when the
    scheduler could not say); ``cluster_id`` is the registry record's id, which the
    "Open in sidebar" button needs (no button without one).
    """
    import dask.utils

    info = None
    if counts is not None:
        info = {
            "workers": counts["workers"],
            "threads": counts["threads"],
            "memory": dask.utils.format_bytes(counts["memory_bytes"]),
        }
    return _environment().get_template("session.html.j2").render(
        name=name,
        kind=kind,
        owned=owned,
        closed=closed,
        address=address,
        info=info,
        dashboard_url=dashboard_url,
        cluster_id=cluster_id,
        sidebar_command=SIDEBAR_COMMAND,
        sidebar_args=json.dumps({"id": cluster_id}),
    )
