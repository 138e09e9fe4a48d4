"""What every live widget shares: a poller on the client's event loop, started and
stopped by whether anyone is looking.

Polling runs as an asyncio task on the Dask client's own event loop thread, so it
never blocks the kernel (a cell can run ``ck.map`` while the widget updates) and
never starts a thread of its own. Trait changes made there travel through the
widget's comm like any other: ipykernel sends them with the parent of the cell that
is running, so notebooks executed headless (nbclient) record them too.

Front ends tell the kernel which views are on screen (an ``IntersectionObserver``
in the ES module, plus page visibility); polling stops when every view is hidden
or closed, and on :meth:`LiveWidget.close`. A widget that no front end ever
rendered (a headless run) keeps polling until it is closed or its session stops,
because nothing tells the kernel it is not being looked at.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import pathlib
from collections.abc import Awaitable, Callable
from typing import Any

import anywidget
import traitlets

__all__ = ["STATIC", "LiveWidget", "LoopPoller"]

logger = logging.getLogger(__name__)

STATIC = pathlib.Path(__file__).with_name("static")


class LoopPoller:
    """Call ``tick`` every ``interval`` seconds as a task on ``loop`` until stopped.

    ``loop`` is a tornado IOLoop running in another thread (a Dask client's loop);
    :meth:`start` and :meth:`stop` may be called from any thread. A tick that raises
    is logged and the polling goes on; a tick that returns ``False`` ends it.
    """

    def __init__(self, loop: Any, interval: float, tick: Callable[[], Awaitable[bool | None]]) -> None:
        self.loop = loop
        self.interval = interval
        self.tick = tick
        self._task: asyncio.Task[None] | None = None
        self._wanted = False

    @property
    def running(self) -> bool:
        return self._wanted

    def start(self) -> None:
        if self._wanted:
            return
        self._wanted = True
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            self.loop.add_callback(self._start_task)

    def stop(self) -> None:
        if not self._wanted:
            return
        self._wanted = False
        with contextlib.suppress(RuntimeError):
            self.loop.add_callback(self._cancel_task)

    def _start_task(self) -> None:
        if self._wanted and (self._task is None or self._task.done()):
            # A fresh context: the task must not inherit the context of the cell that
            # started it, or ipykernel would parent every later update to that cell.
            # With none, ipykernel uses the cell running now, as for any thread.
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), context=contextvars.Context())

    def _cancel_task(self) -> None:
        if not self._wanted and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        # A fixed rate, not a fixed pause: the tick's own time and the loop's lag come out of the
        # interval, so a 4 Hz view gets 4 updates a second while the loop can keep up. Ticks
        # missed by a busy loop are skipped, never sent in a burst, and a tick slower than the
        # interval still leaves the loop a tenth of an interval to itself.
        loop = asyncio.get_running_loop()
        due = loop.time()
        while self._wanted:
            try:
                if await self.tick() is False:
                    self._wanted = False
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.debug("clusterkit widget poll failed", exc_info=True)
            due += self.interval
            now = loop.time()
            if due < now:
                due = now + 0.1 * self.interval
            await asyncio.sleep(due - now)


class LiveWidget(anywidget.AnyWidget):
    """An anywidget whose kernel side polls while at least one view is visible.

    Subclasses set ``_esm``/``_css``, create ``self._poller`` and handle their own
    messages in :meth:`_on_message`. The ES module reports visibility with
    ``{"type": "visibility", "view": ID, "visible": BOOL}`` and
    ``{"type": "view-closed", "view": ID}``.
    """

    #: "live" while updating, "paused" while no view is visible, "closed" after close().
    state = traitlets.Unicode("live").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._views: dict[str, bool] = {}
        self._heard_from_front_end = False
        self._poller: LoopPoller | None = None
        self._closed = False
        self.on_msg(self._dispatch_message)

    # -- visibility ------------------------------------------------------------------
    def _dispatch_message(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "visibility":
            self._heard_from_front_end = True
            self._views[str(content.get("view"))] = bool(content.get("visible"))
            self._update_polling()
        elif kind == "view-closed":
            self._heard_from_front_end = True
            self._views.pop(str(content.get("view")), None)
            self._update_polling()
        else:
            self._on_message(content, buffers)

    def _on_message(self, content: dict[str, Any], buffers: list[Any]) -> None:
        """Handle a message from the front end other than visibility reports."""

    @property
    def watched(self) -> bool:
        """Is any view visible (or has no front end said anything yet)?"""
        return not self._heard_from_front_end or any(self._views.values())

    def _update_polling(self) -> None:
        if self._poller is None:
            return
        if self._closed:
            self._poller.stop()
        elif self.watched:
            self._poller.start()
            self.state = "live"
        else:
            self._poller.stop()
            self.state = "paused"

    @property
    def polling(self) -> bool:
        """Is the kernel polling for this widget right now?"""
        return self._poller is not None and self._poller.running

    def close(self) -> None:
        """Stop polling and close the widget (its views disappear)."""
        self._closed = True
        if self._poller is not None:
            self._poller.stop()
        with contextlib.suppress(Exception):
            self.state = "closed"
        super().close()
