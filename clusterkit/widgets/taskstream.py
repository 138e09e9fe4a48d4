"""The live task stream: one lane per worker thread, one bar per task, in the notebook.

Dask's dashboard draws this with Bokeh behind an HTTP server the browser must reach.
This widget needs no proxy: the kernel reads the scheduler's task-stream record
(Dask's ``TaskStreamPlugin``, which the dashboard uses too) with a cursor, four times
a second while the widget is visible, turns each finished task into a compact row
and sends the new rows through the widget's comm. So it works wherever widgets
work: JupyterLab, Notebook 7, VS Code.

Like Dask's own task-stream plot, it opens with the recent history the scheduler
keeps (the last ``max_events`` records; sessions that own their cluster install
the record at start, see :mod:`clusterkit.task_history`), and it draws one lane
per worker thread from the start, idle or not: the worker list (address and thread
count) is read when the widget opens and about once a second while it polls, and
each thread seen in a record takes the next free lane of its worker.

Actor calls appear too: clusterkit's actors log each call as a Dask event on the
``clusterkit-actors`` topic, and the widget subscribes to it; each worker gets an
extra "actor" lane (Dask runs a worker's actor calls on one thread).

Memory is bounded on both sides: the kernel keeps the last ``max_events`` rows
(default 5,000) and so does the front end; at most ``MAX_LANES`` lanes and
``MAX_PREFIXES`` colours are tracked, the rest fold into "other".

A row is ``[lane, prefix, start, stop, kind]`` with times in seconds since the epoch
and ``kind`` one of :data:`KINDS`.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import traitlets
from dask.utils import key_split

from clusterkit import control
from clusterkit.task_history import keep_history
from clusterkit.widgets._live import STATIC, LiveWidget, LoopPoller

if TYPE_CHECKING:
    from distributed import Client

    from clusterkit.session import Session

__all__ = ["ACTOR_TOPIC", "KINDS", "TaskStreamBuffer", "TaskStreamWidget"]

logger = logging.getLogger(__name__)

ACTOR_TOPIC = "clusterkit-actors"
KINDS = ("compute", "transfer", "disk-read", "disk-write", "actor", "erred")
_KIND_INDEX = {name: i for i, name in enumerate(KINDS)}
MAX_LANES = 512
MAX_PREFIXES = 256
POLL_INTERVAL = 0.25  # seconds: at most four batches a second
WORKERS_EVERY = 4  # polls: the worker list is read about once a second

# Dask's key_split keeps an LRU cache of 100,000 keys: a stream of unique keys would
# fill it (about 15 MB). The prefix is cheap to compute, so skip the cache.
_key_prefix = getattr(key_split, "__wrapped__", key_split)


class TaskStreamBuffer:
    """Turns scheduler task-stream records and actor events into bounded compact rows.

    Pure bookkeeping, no I/O: the widget feeds it and sends what it returns.
    Thread-safe (fed on the client's event loop, read on the kernel's thread).
    """

    def __init__(self, max_events: int = 5000) -> None:
        self.max_events = max_events
        self.events: collections.deque[list[Any]] = collections.deque(maxlen=max_events)
        self.pending: collections.deque[list[Any]] = collections.deque(maxlen=max_events)
        self.lanes: list[str] = []
        self._lane_index: dict[tuple[str, Any], int] = {}
        self._slots: dict[str, list[int]] = {}  # worker -> its thread lanes, in order
        self._bound: set[int] = set()  # thread lanes a real thread id has taken
        self.prefixes: list[str] = []
        self._prefix_index: dict[str, int] = {}
        self.total = 0  # rows ever recorded
        self.tasks = 0  # tasks ever recorded (a task with a transfer makes two rows)
        self.actor_calls = 0
        self._lock = threading.Lock()

    # -- naming lanes and colours ---------------------------------------------------------
    def _new_lane(self, label: str) -> int | None:
        if len(self.lanes) >= MAX_LANES:
            return None
        self.lanes.append(label)
        return len(self.lanes) - 1

    def _thread_slot(self, worker: str) -> int | None:
        """A new, unbound thread lane for ``worker`` (``None`` once lanes are capped)."""
        slots = self._slots.setdefault(worker, [])
        index = self._new_lane(f"{worker.split('://', 1)[-1]} #{len(slots)}")
        if index is not None:
            slots.append(index)
        return index

    def _lane(self, worker: str, thread: Any) -> int:
        key = (worker, thread)
        index = self._lane_index.get(key)
        if index is None:
            if thread == "actor":
                index = self._new_lane(f"{worker.split('://', 1)[-1]} actor")
            else:
                free = [slot for slot in self._slots.get(worker, ()) if slot not in self._bound]
                index = free[0] if free else self._thread_slot(worker)
            if index is None:
                return MAX_LANES - 1
            self._lane_index[key] = index
            self._bound.add(index)
        return index

    def set_workers(self, nthreads: dict[str, int]) -> bool:
        """Make sure every worker has a lane per thread, before any task ran; ``True`` if lanes were added.

        Lanes of workers that left are kept: the rows drawn on them stay meaningful.
        """
        before = len(self.lanes)
        with self._lock:
            for worker, count in sorted(nthreads.items()):
                slots = self._slots.get(worker, [])
                for _ in range(max(0, int(count) - len(slots))):
                    if self._thread_slot(worker) is None:
                        break
        return len(self.lanes) != before

    def _prefix(self, name: str) -> int:
        index = self._prefix_index.get(name)
        if index is None:
            if len(self.prefixes) >= MAX_PREFIXES:
                name = "other"
                index = self._prefix_index.get(name)
                if index is not None:
                    return index
            index = len(self.prefixes)
            self._prefix_index[name] = index
            self.prefixes.append(name)
        return index

    def _add(self, row: list[Any]) -> None:
        self.events.append(row)
        self.pending.append(row)
        self.total += 1

    # -- feeding ----------------------------------------------------------------------------
    def add_tasks(self, records: Iterable[dict[str, Any]]) -> int:
        """Add records from the scheduler's task stream; returns how many tasks were added."""
        added = 0
        with self._lock:
            for record in records:
                worker = str(record.get("worker", "?"))
                lane = self._lane(worker, record.get("thread"))
                prefix = self._prefix(_key_prefix(record.get("key", "?")))
                erred = record.get("status") == "error"
                for startstop in record.get("startstops") or ():
                    action = startstop.get("action", "compute")
                    kind = "erred" if erred and action == "compute" else action
                    self._add([lane, prefix, round(float(startstop["start"]), 4),
                               round(float(startstop["stop"]), 4), _KIND_INDEX.get(kind, 0)])
                added += 1
            self.tasks += added
        return added

    def add_actor_call(self, event: dict[str, Any]) -> bool:
        """Add one actor call logged on :data:`ACTOR_TOPIC`; ``False`` if it is malformed."""
        try:
            worker = str(event.get("worker") or "?")
            start, stop = float(event["start"]), float(event["stop"])
            name = f"{event.get('actor', 'actor')}.{event.get('method', '?')}"
        except (KeyError, TypeError, ValueError, AttributeError):
            return False
        with self._lock:
            kind = "erred" if event.get("status") not in (None, "ok", "OK") else "actor"
            self._add([self._lane(worker, "actor"), self._prefix(name), round(start, 4), round(stop, 4),
                       _KIND_INDEX[kind]])
            self.actor_calls += 1
        return True

    def take_pending(self) -> list[list[Any]]:
        """Rows added since the last call (at most ``max_events``)."""
        with self._lock:
            rows = list(self.pending)
            self.pending.clear()
        return rows

    def snapshot(self) -> list[list[Any]]:
        with self._lock:
            return list(self.events)


class _TopicFanOut:
    """One Dask event-topic subscription per client, shared by every listener.

    ``Client.subscribe_topic`` keeps one handler per topic; two widgets (or a widget
    and other clusterkit code) subscribing separately would replace each other. A
    handler that was already installed is kept and called first.
    """

    _instances: dict[tuple[int, str], _TopicFanOut] = {}
    _lock = threading.Lock()

    def __init__(self, client: Client, topic: str) -> None:
        self.client = client
        self.topic = topic
        self.listeners: list[Any] = []
        self.previous = getattr(client, "_event_handlers", {}).get(topic)

    def __call__(self, event: Any) -> None:
        if self.previous is not None:
            try:
                self.previous(event)
            except Exception:
                logger.debug("previous %s handler failed", self.topic, exc_info=True)
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                logger.debug("%s listener failed", self.topic, exc_info=True)

    @classmethod
    def add(cls, client: Client, topic: str, listener: Any) -> None:
        with cls._lock:
            fan = cls._instances.get((id(client), topic))
            if fan is None or fan.client is not client:
                fan = cls._instances[(id(client), topic)] = cls(client, topic)
                client.subscribe_topic(topic, fan)
                # Ready only once the scheduler knows: events logged before would be lost.
                if not control.wait_until_subscribed(client, topic):
                    logger.warning("clusterkit: the scheduler did not confirm the %s subscription", topic)
            fan.listeners.append(listener)

    @classmethod
    def remove(cls, client: Client, topic: str, listener: Any) -> None:
        with cls._lock:
            fan = cls._instances.get((id(client), topic))
            if fan is None or listener not in fan.listeners:
                return
            fan.listeners.remove(listener)
            if not fan.listeners:
                del cls._instances[(id(client), topic)]
                try:
                    if fan.previous is not None:
                        client.subscribe_topic(topic, fan.previous)
                    else:
                        client.unsubscribe_topic(topic)
                except Exception:  # the client is closing
                    logger.debug("unsubscribe from %s failed", topic, exc_info=True)


class TaskStreamWidget(LiveWidget):
    """A live task stream of one session's cluster, drawn on a canvas in the notebook."""

    _esm = STATIC / "taskstream.js"
    _css = STATIC / "taskstream.css"

    name = traitlets.Unicode("").tag(sync=True)
    lanes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    prefixes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    kinds = traitlets.List(traitlets.Unicode(), default_value=list(KINDS)).tag(sync=True)
    #: Seconds of history drawn across the width of the widget.
    window = traitlets.Float(10.0).tag(sync=True)
    max_events = traitlets.Int(5000).tag(sync=True)
    #: Rows (task phases and actor calls) recorded, the history it opened with included.
    event_count = traitlets.Int(0).tag(sync=True)
    task_count = traitlets.Int(0).tag(sync=True)
    actor_call_count = traitlets.Int(0).tag(sync=True)
    #: Records the scheduler dropped before we read them (its buffer overflowed).
    dropped = traitlets.Int(0).tag(sync=True)

    def __init__(self, session: Session, *, max_events: int = 5000, window: float = 10.0,
                 interval: float = POLL_INTERVAL) -> None:
        super().__init__(name=session.name, max_events=max_events, window=window)
        self.session = session
        self.buffer = TaskStreamBuffer(max_events)
        client = session.client
        scheduler: Any = client.scheduler
        # A cluster we did not start may not record its task stream yet: start now
        # (bounded). Dask installs its own, longer, record instead if that fails.
        keep_history(client)
        index = int(client.sync(scheduler.get_task_stream_index))
        # Open with the history the scheduler still holds, as Dask's plot does.
        self._cursor = max(0, index - max_events)
        self._polls = 0
        client.sync(self._read_workers)
        client.sync(self._read_scheduler, history=True)
        self.flush()
        self._poller = LoopPoller(client.loop, interval, self._poll)
        _TopicFanOut.add(client, ACTOR_TOPIC, self._on_actor_event)
        self._update_polling()

    # -- reading the scheduler -----------------------------------------------------------
    async def _poll(self) -> bool:
        if self.session.closed or self._closed:
            return False
        self._polls += 1
        if self._polls % WORKERS_EVERY == 0:
            await self._read_workers()
        await self._read_scheduler()
        self.flush()
        return True

    def _local_scheduler(self) -> Any:
        """The scheduler itself when it runs in this process on our loop (a LocalCluster's does).

        Reading its state directly skips RPCs and serialising every record twice
        (the scheduler shares this process's CPU).
        """
        scheduler = getattr(self.session.cluster, "scheduler", None)
        plugins = getattr(scheduler, "plugins", None)
        if not isinstance(plugins, dict) or getattr(scheduler, "loop", None) is not self.session.client.loop:
            return None
        return scheduler

    def _local_plugin(self) -> Any:
        """Dask's TaskStreamPlugin of a scheduler in this process, if it is installed."""
        scheduler = self._local_scheduler()
        return None if scheduler is None else scheduler.plugins.get("task-stream")

    async def _read_workers(self) -> None:
        """Give each worker a lane per thread (scaling up shows new idle lanes)."""
        scheduler = self._local_scheduler()
        if scheduler is not None:
            nthreads = {address: state.nthreads for address, state in scheduler.workers.items()}
        else:
            rpc: Any = self.session.client.scheduler
            nthreads = await rpc.ncores()
        self.buffer.set_workers(nthreads)

    async def _read_scheduler(self, *, history: bool = False) -> None:
        """Read records past the cursor; ``history``: the first read, whatever the scheduler still holds."""
        plugin = self._local_plugin()
        if plugin is not None:
            index = int(plugin.index)
            if index == self._cursor:
                return
            records = plugin.collect(start_index=self._cursor)
        else:
            scheduler: Any = self.session.client.scheduler
            index = int(await scheduler.get_task_stream_index())
            if index == self._cursor:
                return
            records = await scheduler.get_task_stream(start_index=self._cursor)
        new = index - self._cursor
        if new <= len(records):
            records = records[:new]  # the rest arrived after we read the index: next time
        elif not history:  # history: the scheduler kept fewer records than we asked for
            self.dropped += new - len(records)
        self._cursor = index
        self.buffer.add_tasks(records)

    def _on_actor_event(self, event: Any) -> None:
        # Dask hands topic handlers (timestamp, message).
        message = event[1] if isinstance(event, tuple) and len(event) == 2 else event
        if isinstance(message, dict):
            self.buffer.add_actor_call(message)

    # -- talking to the front end ----------------------------------------------------------
    def flush(self) -> None:
        """Send rows added since the last flush to every view, and update the counters."""
        rows = self.buffer.take_pending()
        if not rows and len(self.buffer.lanes) == len(self.lanes):
            return
        with self.hold_sync():
            if len(self.buffer.lanes) != len(self.lanes):
                self.lanes = list(self.buffer.lanes)
            if len(self.buffer.prefixes) != len(self.prefixes):
                self.prefixes = list(self.buffer.prefixes)
            self.event_count = self.buffer.total
            self.task_count = self.buffer.tasks
            self.actor_call_count = self.buffer.actor_calls
        if rows:
            self.send({"type": "events", "rows": rows, "now": time.time()})

    def refresh(self) -> None:
        """Read the scheduler now, from the calling thread, and flush (tests, scripts)."""
        client = self.session.client
        client.sync(self._read_workers)
        client.sync(self._read_scheduler)
        self.flush()
        # Re-send the counters from this thread, so they travel with the running cell.
        self.send_state(["event_count", "task_count", "actor_call_count", "lanes", "prefixes", "dropped"])

    def _on_message(self, content: dict[str, Any], buffers: list[Any]) -> None:
        if content.get("type") == "snapshot":
            # A view opened (or a page reloaded): it needs everything we still hold.
            self.send({"type": "snapshot", "rows": self.buffer.snapshot(), "now": time.time()})

    def close(self) -> None:
        _TopicFanOut.remove(self.session.client, ACTOR_TOPIC, self._on_actor_event)
        super().close()
