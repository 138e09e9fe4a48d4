"""The HTML repr of a :class:`~clusterkit.session.Session`, rendered from a Jinja template."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import dask.utils
import jinja2

if TYPE_CHECKING:
    from clusterkit.session import Session

__all__ = ["SIDEBAR_COMMAND", "session_html"]

#: The JupyterLab command the sidebar extension registers to show one cluster (args: {"id": ...}).
SIDEBAR_COMMAND = "clusterkit:show-sidebar"  # registered by the labextension (index.ts)


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("clusterkit.widgets", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def session_html(session: Session) -> str:
    """HTML for notebooks: name, scheduler, workers, dashboard link, "Open in sidebar"."""
    info: dict[str, Any] | None = None
    dashboard: str | None = None
    if not session.closed:
        try:
            raw = session.info()
            info = {
                "workers": raw["workers"],
                "threads": raw["threads"],
                "memory": dask.utils.format_bytes(raw["memory_bytes"]),
            }
            dashboard = session.dashboard_url
        except Exception:  # the scheduler is going away: show what we know
            info = None
    cluster_id = session.record.id if session.record is not None else None
    return _environment().get_template("session.html.j2").render(
        name=session.name,
        kind=session.kind,
        owned=session.owned,
        closed=session.closed,
        address=session.address if not session.closed else "",
        info=info,
        dashboard_url=dashboard,
        cluster_id=cluster_id,
        sidebar_command=SIDEBAR_COMMAND,
        sidebar_args=json.dumps({"id": cluster_id}),
    )
