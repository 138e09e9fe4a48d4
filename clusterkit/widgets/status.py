"""The status widget: workers, threads, memory and tasks, and a scale control.

Shown by ``%cluster status``, :meth:`Session.widget` and :func:`clusterkit.widgets.status_widget`.
It asks the scheduler once a second while a view of it is visible (see
:mod:`clusterkit.widgets._live`) and sends only what changed.

The scale control sends ``{"type": "scale", "n": N}`` or
``{"type": "adapt", "minimum": A, "maximum": B}`` through the widget's comm; the
kernel calls :meth:`Session.scale` / :meth:`Session.adapt`, so a cluster owned by
another kernel or the daemon is scaled by its owner, as everywhere else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import traitlets

from clusterkit import config
from clusterkit.errors import ClusterkitError
from clusterkit.widgets._live import STATIC, LiveWidget, LoopPoller

if TYPE_CHECKING:
    from clusterkit.session import Session

__all__ = ["StatusWidget", "collect_status"]

logger = logging.getLogger(__name__)

POLL_INTERVAL = 1.0  # seconds; the issue asks for at least one update a second


def _scheduler_counts(dask_scheduler: Any) -> dict[str, Any]:
    """Runs on the scheduler: tasks each worker is processing, and tasks held back."""
    return {
        "processing": {addr: len(ws.processing) for addr, ws in dask_scheduler.workers.items()},
        "queued": len(dask_scheduler.queued) + len(dask_scheduler.unrunnable),
    }


def _worker_row(address: str, info: dict[str, Any], processing: int | None) -> dict[str, Any]:
    metrics = info.get("metrics") or {}
    counts = metrics.get("task_counts") or {}
    executing = int(counts.get("executing", 0))
    waiting_here = sum(int(counts.get(state, 0)) for state in ("ready", "constrained"))
    return {
        "address": address,
        "name": str(info.get("name", address)),
        "threads": int(info.get("nthreads") or 0),
        "memory": int(metrics.get("memory") or 0),
        "memory_limit": int(info.get("memory_limit") or 0),
        "cpu": float(metrics.get("cpu") or 0.0),
        "executing": executing,
        "processing": processing if processing is not None else executing + waiting_here,
    }


def collect_status(identity: dict[str, Any], counts: dict[str, Any] | None) -> dict[str, Any]:
    """Turn the scheduler's ``identity()`` (and optional counts) into the widget's traits."""
    processing = (counts or {}).get("processing", {})
    rows = [
        _worker_row(address, info, processing.get(address) if counts else None)
        for address, info in sorted(identity.get("workers", {}).items(), key=lambda kv: str(kv[1].get("name")))
    ]
    return {
        "workers": rows,
        "n_workers": len(rows),
        "threads": sum(r["threads"] for r in rows),
        "memory": sum(r["memory"] for r in rows),
        "memory_limit": sum(r["memory_limit"] for r in rows),
        "processing": sum(r["processing"] for r in rows),
        "queued": int(counts["queued"]) if counts else -1,
    }


class StatusWidget(LiveWidget):
    """Live status of one session's cluster, with a control that scales it."""

    _esm = STATIC / "status.js"
    _css = STATIC / "status.css"

    name = traitlets.Unicode("").tag(sync=True)
    address = traitlets.Unicode("").tag(sync=True)
    dashboard_url = traitlets.Unicode("").tag(sync=True)
    owned = traitlets.Bool(True).tag(sync=True)
    workers = traitlets.List(traitlets.Dict()).tag(sync=True)
    n_workers = traitlets.Int(0).tag(sync=True)
    threads = traitlets.Int(0).tag(sync=True)
    memory = traitlets.Int(0).tag(sync=True)
    memory_limit = traitlets.Int(0).tag(sync=True)
    processing = traitlets.Int(0).tag(sync=True)
    #: Tasks the scheduler holds back (queued or unrunnable); -1 when it cannot say.
    queued = traitlets.Int(-1).tag(sync=True)
    #: Requested worker count after a scale (None: not asked through this widget).
    target = traitlets.Int(None, allow_none=True).tag(sync=True)
    #: [minimum, maximum] while adaptive scaling is on, else [].
    adaptive = traitlets.List(traitlets.Int()).tag(sync=True)
    max_workers = traitlets.Int(256).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    updated = traitlets.Float(0.0).tag(sync=True)
    #: How many times the kernel has refreshed this widget (tests and the "live" dot use it).
    updates = traitlets.Int(0).tag(sync=True)

    def __init__(self, session: Session, *, interval: float = POLL_INTERVAL) -> None:
        super().__init__(
            name=session.name,
            address=session.address,
            dashboard_url=session.dashboard_url or "",
            owned=session.cluster is not None,
            max_workers=int(config.get("local.max-workers") or 256),
        )
        self.session = session
        self._counts_supported = True
        self._poller = LoopPoller(session.client.loop, interval, self._poll)
        self.refresh()
        self._update_polling()

    # -- refreshing ---------------------------------------------------------------------
    def refresh(self) -> None:
        """Ask the scheduler now, from the calling thread (not the event loop's)."""
        client = self.session.client
        self._apply(client.sync(self._gather))

    async def _poll(self) -> bool:
        if self.session.closed or self._closed:
            self.state = "closed"
            return False
        self._apply(await self._gather())
        return True

    async def _gather(self) -> dict[str, Any]:
        client = self.session.client
        scheduler: Any = client.scheduler
        if not self._counts_supported:
            return collect_status(await scheduler.identity(n_workers=-1), None)
        # Both questions at once: one wait for the scheduler per update, not two in a row.
        identity: Any
        counts: Any
        identity, counts = await asyncio.gather(
            scheduler.identity(n_workers=-1),
            client.run_on_scheduler(_scheduler_counts, asynchronous=True),
            return_exceptions=True,
        )
        if isinstance(identity, BaseException):
            raise identity
        if isinstance(counts, BaseException):  # a remote scheduler without clusterkit installed
            self._counts_supported = False
            counts = None
        return collect_status(identity, counts)

    def _apply(self, status: dict[str, Any]) -> None:
        adaptive = getattr(self.session.cluster, "_adaptive", None)
        bounds = [int(adaptive.minimum), int(adaptive.maximum)] if adaptive is not None else []
        with self.hold_sync():
            for key, value in status.items():
                setattr(self, key, value)
            self.adaptive = bounds
            if self.target is not None and self.target == self.n_workers:
                self.target = None
            self.updated = time.time()
            self.updates += 1

    # -- scaling from the front end --------------------------------------------------------
    def _on_message(self, content: dict[str, Any], buffers: list[Any]) -> None:
        try:
            if content.get("type") == "scale":
                self.scale(int(content["n"]))
            elif content.get("type") == "adapt":
                self.adapt(int(content["minimum"]), int(content["maximum"]))
        except (ClusterkitError, KeyError, TypeError, ValueError) as exc:
            self.error = str(exc)

    def scale(self, n: int) -> None:
        """Ask for ``n`` workers (what the widget's Scale button does); returns at once."""
        if not 0 <= n <= self.max_workers:
            raise ClusterkitError(f"Cannot scale to {n} workers: choose between 0 and {self.max_workers}.")
        self.error = ""
        self.session.scale(n, wait=False)
        self.target = n
        self.adaptive = []

    def adapt(self, minimum: int, maximum: int) -> None:
        """Let the cluster adapt between ``minimum`` and ``maximum`` workers."""
        if not 0 <= minimum <= maximum <= self.max_workers:
            raise ClusterkitError(
                f"Cannot adapt between {minimum} and {maximum} workers: need 0 <= minimum <= maximum "
                f"<= {self.max_workers}."
            )
        self.error = ""
        self.session.adapt(minimum, maximum)
        self.target = None
        self.adaptive = [minimum, maximum]
