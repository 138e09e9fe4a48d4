"""Live views of a cluster in the notebook, built on anywidget.

* :func:`status_widget` - workers, threads, memory, tasks, and a scale control
  (``%cluster status``; ``Session.widget()`` through :mod:`clusterkit.display`, where the
  package plugs it in, since sessions sit below the widgets);
* :func:`task_stream` - the live task stream, drawn in the notebook from data the
  kernel reads off the scheduler (``%cluster dashboard``);
* :func:`dashboard` - the task stream, or any of Dask's own plots in an iframe served
  through the Jupyter server (``%cluster dashboard PLOT``); :func:`available_plots`
  lists the names;
* :func:`progress` (``ck.progress``) and :class:`ProgressWidget` - progress bars.

The submodules ``dashboard`` and ``progress`` share their names with functions
exported here; they are imported first so that the functions, defined afterwards,
are what ``clusterkit.widgets.dashboard`` and ``clusterkit.widgets.progress`` name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import clusterkit.widgets.dashboard as _dashboard_module
import clusterkit.widgets.progress as _progress_module
from clusterkit.widgets.progress import ProgressWidget, TextProgress

if TYPE_CHECKING:
    from clusterkit.session import Session
    from clusterkit.widgets.status import StatusWidget
    from clusterkit.widgets.taskstream import TaskStreamWidget

__all__ = ["ProgressWidget", "available_plots", "dashboard", "progress", "status_widget", "task_stream"]


def status_widget(session: Session) -> StatusWidget:
    """The live status widget of ``session``, with a scale control."""
    from clusterkit.widgets.status import StatusWidget

    return StatusWidget(session)


def task_stream(session: Session) -> TaskStreamWidget:
    """The live task stream of ``session``: one lane per worker thread."""
    from clusterkit.widgets.taskstream import TaskStreamWidget

    return TaskStreamWidget(session)


def dashboard(session: Session, plot: str | None = None) -> Any:
    """The live task stream (``plot=None``) or Dask's plot ``plot`` in an iframe.

    Raises :class:`~clusterkit.errors.ClusterkitError`, listing the available plots,
    for an unknown name.
    """
    return _dashboard_module.dashboard(session, plot)


def available_plots(session: Session) -> list[str]:
    """Names of Dask's dashboard plots, as the scheduler lists them."""
    return _dashboard_module.available_plots(session)


def progress(futures: Any, *, label: str = "") -> ProgressWidget | TextProgress:
    """Show the progress of futures, grouped by function (a widget in Jupyter, text elsewhere)."""
    return _progress_module.progress(futures, label=label)

