"""Progress of a parallel call, counted in items: a text bar, or a widget in Jupyter.

Nothing is shown for work that ends within :data:`DELAY` seconds. In a Jupyter
kernel the bar is ``clusterkit.widgets.progress.ProgressWidget`` when that module
is importable; everywhere else (and as a fallback) a one-line text bar on stderr.

>>> from clusterkit.parallel.progress import make_progress
>>> bar = make_progress(1000, "ck.map(square)")
>>> bar.update(250)
>>> bar.close()
"""

from __future__ import annotations

import functools
import sys
import time
from typing import IO, Any, Protocol

__all__ = ["DELAY", "Progress", "TextProgress", "make_progress", "wants_progress"]

#: Seconds of work after which progress appears.
DELAY = 0.75


class Progress(Protocol):
    """What the primitives call; both the text bar and the widget provide it."""

    def update(self, n_items: int) -> None: ...

    def set_total(self, total: int | None) -> None: ...

    def close(self) -> None: ...


def in_jupyter_kernel() -> bool:
    """True inside a running IPython kernel (Jupyter), False in a terminal or script."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def wants_progress(progress: bool | str) -> bool:
    """Resolve ``progress="auto"``: on in Jupyter and interactive terminals."""
    if progress == "auto":
        if in_jupyter_kernel():
            return True
        stream = sys.stderr
        return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
    return bool(progress)


class _Nothing:
    def update(self, n_items: int) -> None:
        pass

    def set_total(self, total: int | None) -> None:
        pass

    def close(self) -> None:
        pass


class _Delayed:
    """Creates the real display only once the work has lasted :data:`DELAY` seconds."""

    def __init__(self, factory: Any, total: int | None, label: str, delay: float) -> None:
        self._factory = factory
        self._total = total
        self._label = label
        self._done = 0
        self._start = time.monotonic()
        self._delay = delay
        self._shown: Any = None
        self._closed = False

    def update(self, n_items: int) -> None:
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


class TextProgress:
    """``label [#####.....] 512/1024 items 3.2 s`` redrawn in place on stderr."""

    width = 30
    min_redraw = 0.1

    def __init__(self, total: int | None, label: str, stream: IO[str] | None = None) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._closed = False
        self._draw(force=True)

    def update(self, n_items: int) -> None:
        self.done += n_items
        self._draw()

    def set_total(self, total: int | None) -> None:
        self.total = total
        self._draw(force=True)

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        if self.total:
            filled = min(self.width, int(self.width * self.done / self.total))
            bar = "#" * filled + "." * (self.width - filled)
            return f"{self.label} [{bar}] {self.done}/{self.total} items {elapsed:.1f} s"
        return f"{self.label} {self.done} items {elapsed:.1f} s"

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < self.min_redraw:
            return
        self._last_draw = now
        try:
            self.stream.write("\r" + self.line())
            self.stream.flush()
        except (OSError, ValueError):  # a closed stream
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._draw(force=True)
        try:
            self.stream.write("\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass


def _display_factory() -> Any:
    if in_jupyter_kernel():
        try:
            from clusterkit.widgets.progress import ProgressWidget  # type: ignore[import-not-found,unused-ignore]

            # _Delayed already waited; the widget must not add a delay of its own.
            return functools.partial(ProgressWidget, delay=0)
        except Exception:
            pass
    return TextProgress


def make_progress(total: int | None, label: str, *, enabled: bool | str = True, delay: float = DELAY) -> Progress:
    """A progress display for ``total`` items (``None``: unknown), shown after ``delay`` s.

    ``enabled`` is ``True``, ``False`` or ``"auto"`` (see :func:`wants_progress`).
    Call ``update(n)`` as items finish (``update(0)`` lets it appear while waiting),
    ``set_total`` when the count becomes known, ``close()`` at the end.
    """
    if not wants_progress(enabled):
        return _Nothing()
    return _Delayed(_display_factory(), total, label, delay)
