"""Small results that travel with their task's completion, not on a second round trip.

Why
---
Dask returns a finished task's value only when the client asks for it: the
worker reports ``task-finished`` to the scheduler, the scheduler tells the client
``key-in-memory``, and only then does the client ask the scheduler to gather the
value, which asks the worker, and the value comes back the same way. For a
no-op ``f.remote()`` that second round trip is the largest part of the whole
trip (see ``benchmarks/README.md``). Ray sends small values inline with the
completion; this module does the same on Dask:

* **worker**: :func:`offer`, called by the task wrapper just before it returns,
  pickles a small value once; :func:`finished` (the worker plugin's transition
  hook) puts it on the worker's stream to the scheduler just *ahead of* the
  task's own ``task-finished`` message, in the same write;
* **scheduler**: :func:`install_on_scheduler` adds a stream handler that
  forwards the bytes, unread, to the client that submitted the task (and only
  if that client still wants the key); it never unpickles them;
* **client**: :class:`ResultStore` keeps the bytes until :func:`value` (used by
  ``ck.get`` and ``ck.map``) reads them. Because the scheduler forwards both
  messages on the same ordered stream, a future that Dask reports finished has
  its value in the store already.

Nothing is owned differently: the task still returns its value to Dask, which
keeps it on the worker until the future is released, so dependents, ``gather``,
``Future.result()`` and worker-loss recomputation work as before. The store is a
bounded cache: when a value is not there (too large, evicted, a scheduler
without clusterkit), the reader falls back to Dask's gather. Values are
unpickled only in the client, and only when they came on the client's own
authenticated scheduler connection (TLS on clusterkit's clusters) — the same
peer and the same trust Dask's own gather relies on.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import OrderedDict
from typing import Any

from clusterkit.parallel import _common

__all__ = [
    "MISSING", "OP", "ResultStore", "finished", "forget_pending", "install_on_scheduler", "offer", "raw", "store_for",
    "value",
]

#: The stream operation on worker -> scheduler and scheduler -> client messages.
OP = "clusterkit-result"

#: What :func:`value` returns when the store does not hold the value.
MISSING: Any = object()


# ----------------------------------------------------------------------------------------------
# Worker side
# ----------------------------------------------------------------------------------------------
def offer(result: Any, reply: tuple[str, int, int] | None, *, pickled: bytes | None = None) -> None:
    """Send ``result`` to the submitting client with the completion, if it is small.

    ``reply`` is ``(client id, size limit in bytes, limit for collections)`` chosen
    by the client, or ``None`` (the scheduler has no handler: sending would break the
    worker's stream). ``pickled`` is the value already pickled (``ck.map`` batches are).

    A list, tuple, set or dict value of small objects gets the larger collection
    limit: Dask's gather serializes such a value item by item (a 10k-item list took
    ~200 ms), where one pickle here takes well under a millisecond. ``sizeof``
    overstates such a value's pickled size several times over (a small int: 36 bytes
    against ~5), so only a value far above the limit is refused before pickling.
    A collection of large buffers (arrays) keeps the task limit: Dask sends those
    zero-copy.
    Called on the worker thread running the task; never raises.
    """
    if reply is None:
        return
    client_id, limit, collection_limit = reply
    try:
        from distributed.worker import get_worker, thread_state

        if pickled is None:
            from dask.sizeof import sizeof

            estimate_limit = limit
            if type(result) in _COLLECTIONS and _small_items(result):
                limit = max(limit, collection_limit)
                estimate_limit = 8 * limit
            if sizeof(result) > estimate_limit:
                return
            pickled = _common.dumps(result)
        if len(pickled) > limit:
            return
        get_worker()  # only on a worker
        key = thread_state.key
        # Held until the worker records the task as finished (see `finished`), so that the value and
        # Dask's `task-finished` leave in one write, and the scheduler forwards both in one.
        _pending[key] = {"op": OP, "key": key, "client": client_id, "value": pickled}
    except Exception:  # unpicklable, not on a worker, worker closing: Dask's gather still works
        return


#: Values Dask's gather would serialize item by item (``distributed.protocol.serialize``).
_COLLECTIONS = frozenset({list, tuple, set, dict})


def _small_items(value: Any) -> bool:
    """Whether a collection's first items are small objects, not large buffers (``sizeof`` overstates only those)."""
    items = value.values() if isinstance(value, dict) else value
    return not any(_common.is_large_buffer(item) for item in itertools.islice(items, 8))


#: Messages offered by tasks still running on this worker process, by key.
_pending: dict[Any, dict[str, Any]] = {}


def finished(worker: Any, key: Any, start: str, finish: str) -> None:
    """A worker plugin's transition hook: send an offered value as its task reaches memory.

    Dask calls it on the worker's event loop while it records the transition, before it
    queues `task-finished`; a task that failed or was cancelled drops its offer.
    """
    if not _pending or key not in _pending:
        return
    if finish == "memory":
        message = _pending.pop(key)
        try:
            worker.batched_send(message)
        except Exception:  # the scheduler connection is closing: the client gathers (or recomputes)
            return
    elif finish not in ("executing", "long-running"):
        _pending.pop(key, None)


def forget_pending() -> None:
    """Drop every offer not yet sent (the worker is closing)."""
    _pending.clear()


# ----------------------------------------------------------------------------------------------
# Scheduler side
# ----------------------------------------------------------------------------------------------
def install_on_scheduler(scheduler: Any) -> None:
    """Add the forwarding stream handler to ``scheduler`` (idempotent)."""

    def forward(key: Any = None, client: str = "", value: bytes = b"", worker: str = "") -> None:
        ts = scheduler.tasks.get(key)
        if ts is None or not isinstance(value, bytes):
            return
        # Only from the worker running the task (a worker stream names it), only to a client that
        # wants the key. Dask's scheduler shares stream handlers between worker and client streams;
        # a peer that could fake this message holds the cluster's credentials and can already run
        # code on the workers, which Dask's own gather trusts just as much.
        if ts.processing_on is None or not worker or ts.processing_on.address != worker:
            return
        if not any(cs.client_key == client for cs in ts.who_wants or ()):
            return
        comm = scheduler.client_comms.get(client)
        if comm is not None:
            try:
                comm.send({"op": OP, "key": key, "value": value})
            except Exception:  # the client is leaving
                return

    scheduler.stream_handlers[OP] = forward


# ----------------------------------------------------------------------------------------------
# Client side
# ----------------------------------------------------------------------------------------------
#: Values of released keys are dropped when the store holds this many (or its byte limit is passed).
PURGE_AT = 1024


class ResultStore:
    """The values that arrived with their completion, for one client (a bounded cache).

    Filled on the client's event loop, read from any thread. When the bytes held
    pass ``max_bytes``, values of keys the client no longer holds go first, then
    the oldest; a reader that misses falls back to Dask's gather.
    """

    def __init__(self, client: Any, max_bytes: int) -> None:
        self._client = weakref.ref(client)
        self.max_bytes = max_bytes
        self._values: OrderedDict[Any, bytes] = OrderedDict()
        self._bytes = 0
        self._purge_at = PURGE_AT
        self._lock = threading.Lock()

    def receive(self, key: Any = None, value: bytes = b"") -> None:
        """The client's stream handler for :data:`OP` messages."""
        if not isinstance(value, bytes):
            return
        with self._lock:
            old = self._values.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._values[key] = value
            self._bytes += len(value)
            if self._bytes > self.max_bytes or len(self._values) > self._purge_at:
                self._shrink()

    def _shrink(self) -> None:
        client = self._client()
        held = client.futures if client is not None else {}
        for key in [k for k in self._values if k not in held]:
            self._bytes -= len(self._values.pop(key))
        # Purge released keys again only once the store has doubled: amortised O(1) per result.
        self._purge_at = max(PURGE_AT, 2 * len(self._values))
        while self._bytes > self.max_bytes and self._values:
            _, dropped = self._values.popitem(last=False)
            self._bytes -= len(dropped)

    def get(self, key: Any, *, remove: bool = False) -> bytes | None:
        """The pickled value of ``key``, or ``None``; ``remove`` when it will not be read again."""
        with self._lock:
            if remove:
                blob = self._values.pop(key, None)
                if blob is not None:
                    self._bytes -= len(blob)
                return blob
            return self._values.get(key)

    def held(self) -> list[Any]:
        """The keys whose values are held now."""
        with self._lock:
            return list(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return self._bytes


_stores: weakref.WeakKeyDictionary[Any, ResultStore] = weakref.WeakKeyDictionary()


def store_for(client: Any, max_bytes: int | None = None) -> ResultStore | None:
    """The client's store; created and registered as its stream handler when ``max_bytes`` is given."""
    store = _stores.get(client)
    if store is None and max_bytes is not None:
        store = ResultStore(client, max_bytes)
        client._stream_handlers[OP] = store.receive
        _stores[client] = store
    return store


def raw(future: Any, *, remove: bool = False) -> bytes | None:
    """The pickled value of a *finished* Dask future from the store, or ``None``."""
    store = _stores.get(future.client)
    return None if store is None else store.get(future.key, remove=remove)


def value(future: Any, *, remove: bool = False) -> Any:
    """The value of a *finished* Dask future from the store, or :data:`MISSING` when it is not there."""
    blob = raw(future, remove=remove)
    if blob is None:
        return MISSING
    import pickle

    return pickle.loads(blob)

