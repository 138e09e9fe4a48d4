"""The progress bar widget, and ``ck.progress`` for futures.

:class:`ProgressWidget` is what ``ck.map`` / ``ck.imap`` show inside Jupyter (see
:mod:`clusterkit.parallel.progress`, which owns the counting, the text bar and the
delay; this module only draws). :func:`progress` (``ck.progress``) follows futures,
grouped by the function that made them.

A widget is displayed by the thread that calls :meth:`ProgressWidget.show` (or
:func:`show_progress_widget`), so it lands in the cell that thread runs for. What is
shown refreshes at most ten times a second; counting is cheap and thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import anywidget
import traitlets
from dask.utils import key_split

from clusterkit.parallel.progress import Tally, TextProgress, in_jupyter_kernel
from clusterkit.widgets._live import STATIC, LoopPoller

__all__ = ["ProgressWidget", "progress", "show_progress_widget"]

_SYNC_INTERVAL = 0.1


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

