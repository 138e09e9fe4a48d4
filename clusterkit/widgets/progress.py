"""Progress bars, the one implementation: counting, a text bar, a widget, ``ck.progress``.

:class:`Tally` counts items per group (the function that made them) with rate and
time left; :class:`TextProgress` draws it as one line on a terminal;
:class:`ProgressWidget` draws it in Jupyter. ``ck.map`` / ``ck.imap`` get theirs
through :mod:`clusterkit.parallel.progress` (which adds the delay and imports this
module only when a bar is wanted); :func:`progress` (``ck.progress``) follows
futures, grouped by the function that made them.

A widget is displayed by the thread that calls :meth:`ProgressWidget.show` (or
:func:`show_progress_widget`), so it lands in the cell that thread runs for. What is
shown refreshes at most ten times a second; counting is cheap and thread-safe.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import IO, Any, Protocol

import anywidget
import traitlets
from dask.utils import key_split

from clusterkit.widgets._live import STATIC, LoopPoller

__all__ = ["DELAY", "Progress", "ProgressWidget", "Tally", "TextProgress", "format_seconds", "in_jupyter_kernel",
           "progress", "show_progress_widget"]

_SYNC_INTERVAL = 0.1


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


class ProgressWidget(anywidget.AnyWidget):
    """A progress bar widget: items done per function, rate and time left.

    ``update(n)`` adds ``n`` finished items (like tqdm); ``set_total`` changes the
    expected count (``None``: unknown, for lazy input); ``close()`` marks the work as
    finished and keeps the final state on screen if the bar was shown.
    """

    _esm = STATIC / "progress.js"
    _css = STATIC / "progress.css"

    label = traitlets.Unicode("").tag(sync=True)
    groups = traitlets.List(traitlets.Dict()).tag(sync=True)
    done = traitlets.Int(0).tag(sync=True)
    total = traitlets.Int(None, allow_none=True).tag(sync=True)
    rate = traitlets.Float(0.0).tag(sync=True)
    eta = traitlets.Float(None, allow_none=True).tag(sync=True)
    elapsed = traitlets.Float(0.0).tag(sync=True)
    finished = traitlets.Bool(False).tag(sync=True)
    erred = traitlets.Int(0).tag(sync=True)

    def __init__(self, total: int | None = None, label: str = "") -> None:
        super().__init__(label=label, total=total)
        self._tally = Tally(label, total)
        self._last_sync = 0.0
        self._shown = False
        self._finished = False
        self._sync_lock = threading.Lock()

    # -- the interface ck.map uses -------------------------------------------------------------
    def update(self, n_items: int = 1) -> None:
        """Add ``n_items`` finished items to the count."""
        self._tally.advance(None, n_items)
        self._sync()

    def set_total(self, total: int | None) -> None:
        """Change how many items are expected (``None``: not known yet)."""
        self._tally.set_total(None, total)
        self._sync(force=True)

    def close(self) -> None:
        """The work is over: show the final counts (if the bar is on screen; it stays there).

        A bar that never appeared releases its comm at once.
        """
        if self._finished:
            return
        self._finished = True
        self._tally.finished_at = time.monotonic()
        self._sync(force=True)
        if not self._shown:
            super().close()

    # -- grouped counting (ck.progress) ----------------------------------------------------------
    def add_group(self, name: str, total: int | None) -> None:
        self._tally.add_group(name, total)
        self._sync(force=True)

    def advance(self, name: str, n_items: int = 1, erred: int = 0) -> None:
        self._tally.advance(name, n_items, erred)
        self._sync()

    # -- display ---------------------------------------------------------------------------
    @property
    def shown(self) -> bool:
        return self._shown

    def show(self) -> None:
        """Display the bar now, in the cell the calling thread runs for (once)."""
        if self._shown:
            return
        self._shown = True
        self._sync(force=True)
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        display(data, metadata=metadata, raw=True)

    def _ipython_display_(self) -> None:
        # Returned as a cell's value: appear unless already on screen.
        self.show()

    def _sync(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_sync < _SYNC_INTERVAL:
            return
        with self._sync_lock:
            self._last_sync = now
            summary = self._tally.summary()
            with self.hold_sync():
                self.groups = summary["groups"]
                self.done = summary["done"]
                self.total = summary["total"]
                self.rate = round(summary["rate"], 3)
                self.eta = None if summary["eta"] is None else round(summary["eta"], 1)
                self.elapsed = round(summary["elapsed"], 2)
                self.erred = sum(g["erred"] for g in summary["groups"])
                self.finished = self._finished


def show_progress_widget(total: int | None, label: str) -> ProgressWidget:
    """A :class:`ProgressWidget`, displayed at once by the calling thread."""
    bar = ProgressWidget(total, label)
    bar.show()
    return bar


class _FutureTracker:
    """Counts futures as they finish, by checking their status on the client's loop.

    No callbacks: ``Future.add_done_callback`` starts a thread that lives forever.
    """

    def __init__(self, futures: list[Any], bar: ProgressWidget | TextProgress) -> None:
        self.pending = list(futures)
        self.bar = bar

    def check(self) -> bool:
        """Count what finished since the last check; ``True`` while some are pending."""
        still = []
        for future in self.pending:
            status = future.status
            if status == "pending":
                still.append(future)
            else:
                self.bar.advance(key_split(future.key), 1, erred=int(status != "finished"))
        self.pending = still
        if not still:
            self.bar.close()
        return bool(still)

    async def tick(self) -> bool:
        return self.check()


def progress(futures: Any, *, label: str = "") -> ProgressWidget | TextProgress:
    """Show progress of futures (or a Dask collection), grouped by the function that made them.

    In Jupyter this displays a :class:`ProgressWidget` in the running cell and returns
    it at once; it fills in as the futures finish. Elsewhere it blocks until
    they are all done, drawing a text bar on stderr, as ``distributed.progress`` does.

    >>> import clusterkit as ck
    >>> futures = ck.current().client.map(slow_square, range(100))   # doctest: +SKIP
    >>> ck.progress(futures)                                         # doctest: +SKIP
    """
    from distributed.client import futures_of

    found = futures_of(futures)
    counts: Counter[str] = Counter(key_split(f.key) for f in found)
    jupyter = in_jupyter_kernel()
    bar: ProgressWidget | TextProgress = ProgressWidget(None, label) if jupyter else TextProgress(None, label)
    bar.set_total(0 if counts else len(found))
    for name, count in counts.items():
        bar.add_group(name, count)
    tracker = _FutureTracker(found, bar)
    if not tracker.check():
        return bar
    if isinstance(bar, ProgressWidget):
        bar.show()
        client = found[0].client
        LoopPoller(client.loop, 0.1, tracker.tick).start()
    else:
        while tracker.check():
            time.sleep(0.1)
    return bar

