"""Progress of work on the cluster, counted in items: the one implementation.

* :func:`make_progress` is what ``ck.map`` / ``ck.imap`` use: nothing for work that
  ends within :data:`DELAY` seconds, then a widget in a Jupyter kernel
  (:class:`clusterkit.widgets.progress.ProgressWidget`) or a text bar on stderr.
* :class:`Tally` counts items per group (the function that made them) with rate and
  time left; :class:`TextProgress` draws it as one line. The widget module builds
  on both, so there is one count, one text bar and one delay.

The widget is created and displayed by the thread that counts (the one running
``ck.map``, i.e. the cell's own thread), never by a timer thread: ipykernel sends a
display with the parent message of the thread that makes it, and a display without
a parent is placed in no cell. This module imports :mod:`clusterkit.widgets` only
when a widget is wanted.

>>> from clusterkit.parallel.progress import make_progress
>>> bar = make_progress(1000, "ck.map(square)", enabled=False)
>>> bar.update(250)
>>> bar.close()
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any, Protocol

__all__ = ["DELAY", "Progress", "Tally", "TextProgress", "format_seconds", "in_jupyter_kernel",
           "make_progress", "wants_progress"]

#: Seconds of work after which progress appears.
DELAY = 0.5


class Progress(Protocol):
    """What the primitives call; the text bar and the widget both provide it."""

    def update(self, n_items: int = 1) -> None: ...

    def set_total(self, total: int | None) -> None: ...

    def close(self) -> None: ...


def in_jupyter_kernel() -> bool:
    """True inside a Jupyter kernel (a notebook, JupyterLab, VS Code), not in a terminal IPython."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def wants_progress(progress: bool | str) -> bool:
    """Resolve ``progress="auto"``: on in Jupyter and interactive terminals."""
    if progress == "auto":
        if in_jupyter_kernel():
            return True
        stream = sys.stderr
        return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
    return bool(progress)


class Tally:
    """Counts per group (function name), with rate and ETA. Thread-safe."""

    def __init__(self, label: str, total: int | None) -> None:
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.finished_at: float | None = None
        self.groups: dict[str, dict[str, Any]] = {}
        self.default = label or "items"
        self.add_group(self.default, total)

    def add_group(self, name: str, total: int | None) -> None:
        with self.lock:
            group = self.groups.setdefault(name, {"name": name, "done": 0, "total": None, "erred": 0})
            group["total"] = total

    def advance(self, name: str | None, n: int = 1, erred: int = 0) -> None:
        with self.lock:
            group = self.groups.get(name or self.default)
            if group is None:
                group = self.groups[name or self.default] = {"name": name, "done": 0, "total": None, "erred": 0}
            group["done"] += n
            group["erred"] += erred

    def set_total(self, name: str | None, total: int | None) -> None:
        self.add_group(name or self.default, total)

    @property
    def elapsed(self) -> float:
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started

    def summary(self) -> dict[str, Any]:
        with self.lock:
            groups = [dict(g) for g in self.groups.values() if g["total"] or g["done"] or len(self.groups) == 1]
        done = sum(g["done"] for g in groups)
        totals = [g["total"] for g in groups]
        total = None if any(t is None for t in totals) else sum(totals)
        elapsed = self.elapsed
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if total is not None and rate > 0 and done < total else None
        return {"groups": groups, "done": done, "total": total, "rate": rate, "eta": eta, "elapsed": elapsed}


def format_seconds(seconds: float | None) -> str:
    """``4s``, ``2m05s``, ``1h02m``; ``?`` for unknown."""
    if seconds is None:
        return "?"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, whole = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{whole:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class TextProgress:
    """The bar as one line of text on ``file`` (stderr), for terminals and scripts.

    On a terminal it is redrawn in place (at most five times a second) once ``delay``
    seconds have passed; elsewhere only the final line is written, at :meth:`close`,
    and only for work that lasted ``delay`` seconds.
    """

    def __init__(self, total: int | None = None, label: str = "", *, file: IO[str] | None = None,
                 delay: float = DELAY, width: int = 30) -> None:
        self._tally = Tally(label, total)
        self.file = file if file is not None else sys.stderr
        self.delay = delay
        self.width = width
        self._last_draw = 0.0
        self._drawn = False
        self._finished = False
        self._interactive = bool(getattr(self.file, "isatty", lambda: False)())

    def update(self, n_items: int = 1) -> None:
        self._tally.advance(None, n_items)
        self._maybe_draw()

    def set_total(self, total: int | None) -> None:
        self._tally.set_total(None, total)
        self._maybe_draw()

    def add_group(self, name: str, total: int | None) -> None:
        self._tally.add_group(name, total)

    def advance(self, name: str, n_items: int = 1, erred: int = 0) -> None:
        self._tally.advance(name, n_items, erred)
        self._maybe_draw()

    def close(self) -> None:
        if self._finished:
            return
        self._finished = True
        self._tally.finished_at = time.monotonic()
        if self._drawn or self._tally.elapsed >= self.delay:
            try:
                self.file.write(("\r" if self._interactive else "") + self.line() + "\n")
                self.file.flush()
            except (OSError, ValueError):  # a closed stream
                pass

    def line(self) -> str:
        """The bar as one line, e.g. ``square [#######.......] 45/100 12.3/s ETA 4s``."""
        summary = self._tally.summary()
        done, total = summary["done"], summary["total"]
        label = ", ".join(g["name"] for g in summary["groups"]) or "items"
        if total:
            filled = int(self.width * min(done / total, 1))
            bar = "[" + "#" * filled + "." * (self.width - filled) + "]"
            count = f"{done}/{total}"
        else:
            bar, count = "", f"{done}"
        tail = f"ETA {format_seconds(summary['eta'])}" if not self._finished else \
            f"in {format_seconds(summary['elapsed'])}"
        return f"{label} {bar} {count} {summary['rate']:.1f}/s {tail}".replace("  ", " ")

    def _maybe_draw(self) -> None:
        if not self._interactive or self._tally.elapsed < self.delay:
            return
        now = time.monotonic()
        if now - self._last_draw < 0.2:
            return
        self._last_draw = now
        self._drawn = True
        try:
            self.file.write("\r" + self.line())
            self.file.flush()
        except (OSError, ValueError):
            pass

    def __repr__(self) -> str:
        return f"<clusterkit progress: {self.line()}>"


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


def _text(total: int | None, label: str) -> TextProgress:
    return TextProgress(total, label, delay=0.0)  # _Delayed already waited


def _display_factory() -> Any:
    """What :func:`make_progress` shows: a widget displayed now in a kernel, else text."""
    if in_jupyter_kernel():
        try:
            from clusterkit.widgets.progress import show_progress_widget

            return show_progress_widget
        except Exception:  # anywidget missing or broken: the text bar still works
            pass
    return _text


def make_progress(total: int | None, label: str, *, enabled: bool | str = True, delay: float | None = None) -> Progress:
    """A progress display for ``total`` items (``None``: unknown), shown after ``delay`` s.

    ``enabled`` is ``True``, ``False`` or ``"auto"`` (see :func:`wants_progress`);
    ``delay`` defaults to :data:`DELAY`. Call ``update(n)`` as items finish
    (``update(0)`` while waiting lets it appear on time), ``set_total`` when the count
    becomes known, ``close()`` at the end, all from the same thread: in Jupyter that
    thread displays the widget, so it lands in the cell that is running.
    """
    if not wants_progress(enabled):
        return _Nothing()
    return _Delayed(_display_factory(), total, label, DELAY if delay is None else delay)
