"""Progress of ``ck.map`` / ``ck.imap``: when and where the bar appears.

:func:`make_progress` shows nothing for work that ends within
:data:`clusterkit.widgets.progress.DELAY` seconds, then a widget in a Jupyter kernel
(:class:`~clusterkit.widgets.progress.ProgressWidget`) or a text bar on stderr. The
bars themselves are :mod:`clusterkit.widgets.progress`, the one implementation,
imported only when a bar is wanted (never at this module's import).

The widget is created and displayed by the thread that counts (the one running
``ck.map``, i.e. the cell's own thread), never by a timer thread: ipykernel sends a
display with the parent message of the thread that makes it, and a display without
a parent is placed in no cell.

>>> from clusterkit.parallel.progress import make_progress
>>> bar = make_progress(1000, "ck.map(square)", enabled=False)
>>> bar.update(250)
>>> bar.close()
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

__all__ = ["in_jupyter_kernel", "make_progress", "wants_progress"]

if TYPE_CHECKING:
    from clusterkit.widgets.progress import Progress


def in_jupyter_kernel() -> bool:
    """True inside a Jupyter kernel; cheap outside one (imports no widget code there)."""
    if "ipykernel" not in sys.modules:
        return False
    from clusterkit.widgets.progress import in_jupyter_kernel as check

    return check()


def wants_progress(progress: bool | str) -> bool:
    """Resolve ``progress="auto"``: on in Jupyter and interactive terminals."""
    if progress == "auto":
        if in_jupyter_kernel():
            return True
        stream = sys.stderr
        return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
    return bool(progress)


class _Nothing:
    def update(self, n_items: int = 1) -> None:
        pass

    def set_total(self, total: int | None) -> None:
        pass

    def close(self) -> None:
        pass


class _Delayed:
    """Creates the real display, in the counting thread, once the work has lasted ``delay`` s."""

    def __init__(self, factory: Any, total: int | None, label: str, delay: float) -> None:
        self._factory = factory
        self._total = total
        self._label = label
        self._done = 0
        self._start = time.monotonic()
        self._delay = delay
        self._shown: Any = None
        self._closed = False

    def update(self, n_items: int = 1) -> None:
        if self._closed:
            return
        self._done += n_items
        if self._shown is not None:
            self._shown.update(n_items)
        elif time.monotonic() - self._start >= self._delay:
            self._shown = self._factory(self._total, self._label)
            self._shown.update(self._done)

    def set_total(self, total: int | None) -> None:
        self._total = total
        if self._shown is not None:
            self._shown.set_total(total)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._shown is not None:
            self._shown.close()


def _text(total: int | None, label: str) -> Any:
    from clusterkit.widgets.progress import TextProgress

    return TextProgress(total, label, delay=0.0)  # _Delayed already waited


def _display_factory() -> Any:
    """What :func:`make_progress` shows: a widget displayed now in a kernel, else text."""
    if in_jupyter_kernel():
        from clusterkit.widgets.progress import show_progress_widget

        return show_progress_widget
    return _text


def make_progress(total: int | None, label: str, *, enabled: bool | str = True, delay: float | None = None) -> Progress:
    """A progress display for ``total`` items (``None``: unknown), shown after ``delay`` s.

    ``enabled`` is ``True``, ``False`` or ``"auto"`` (see :func:`wants_progress`);
    ``delay`` defaults to :data:`clusterkit.widgets.progress.DELAY`. Call ``update(n)`` as items finish
    (``update(0)`` while waiting lets it appear on time), ``set_total`` when the count
    becomes known, ``close()`` at the end, all from the same thread: in Jupyter that
    thread displays the widget, so it lands in the cell that is running.
    """
    if not wants_progress(enabled):
        return _Nothing()
    if delay is None:
        from clusterkit.widgets.progress import DELAY

        delay = DELAY
    return _Delayed(_display_factory(), total, label, delay)
