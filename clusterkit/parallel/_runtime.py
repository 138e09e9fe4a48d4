"""Plumbing shared by the parallel primitives: the client, one-time cluster set-up.

The first primitive used on a client prepares the cluster once:

* **Faster batched sends.** Dask batches the small messages that carry task
  submissions and completions on timers it hard-codes (client 10 ms, scheduler
  5 ms and 2 ms, worker 2 ms). A message waits only when another left on the
  same stream within that interval, so in an interactive round trip (submit, run,
  report, release) most hops wait. clusterkit lowers every interval to
  ``clusterkit.parallel.batched-send-interval`` (default 0 ms). An idle stream
  costs nothing either way: the sender sleeps until a message arrives. Under a
  flood of tiny tasks it writes more, smaller messages; ``ck.map`` batches items,
  so that flood does not come from us. Set the value to ``"2ms"`` to restore
  Dask's batching everywhere.
* **A worker thread free means an idle one.** The scheduler's
  ``worker-saturation`` becomes ``clusterkit.parallel.worker-saturation`` (1.0):
  Dask's queue then hands a queued task (every ``f.remote()`` call and ``ck.map``
  batch is one, see :mod:`._common`) to a worker only when one of its threads is
  free, never a second task to a busy single-thread worker.
* **Small results come with the completion.** A scheduler stream handler
  forwards the value a task offers as it finishes to the client that submitted
  it, so ``ck.get`` and ``ck.map`` read it without a second round trip (see
  :mod:`._results`; sizes in ``clusterkit.parallel.inline-results``).
* **Short message logs.** Dask keeps each stream's last 1,000 messages for
  debugging; ``ck.map`` batches carry their items in them, so clusterkit keeps
  the last :data:`MESSAGE_LOG_LENGTH` instead (memory stays flat over a long
  ``ck.imap``).
* **A worker plugin** that applies the interval on every worker, including
  workers that join later (restarts), and runs the set-up that modules above this
  one registered with :func:`on_worker` (the actor call handler).
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import logging
import threading
import weakref
from typing import Any

import dask.utils
from distributed import Client
from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin

from clusterkit import config, registry
from clusterkit.parallel import _results

__all__ = [
    "check_connected", "client", "inline_limit", "on_worker", "prepare", "reply_to",
    "worker_saturation",
]

logger = logging.getLogger(__name__)

_PLUGIN_NAME = "clusterkit-parallel"
_prepared: weakref.WeakSet[Client] = weakref.WeakSet()
_lock = threading.Lock()


#: Messages each batched stream keeps for debugging (Dask keeps ``distributed.admin.low-level-log-length``).
MESSAGE_LOG_LENGTH = 16


def _tune_stream(stream: Any, interval: float) -> None:
    """Apply the interval to one of Dask's batched streams, and keep its message log short.

    Dask's ``BatchedSend`` keeps its last 1,000 written messages under 1 MB for
    debugging. With clusterkit's 0 ms interval each message is written alone, and a
    ``ck.map`` batch's message carries its items or results: a long ``ck.imap`` kept
    hundreds of MiB of them alive in the kernel, the scheduler and the workers.
    """
    if stream is None:
        return
    if interval >= 0:
        stream.interval = interval
    log = getattr(stream, "recent_message_log", None)
    if log is not None and (log.maxlen is None or log.maxlen > MESSAGE_LOG_LENGTH):
        stream.recent_message_log = collections.deque(log, maxlen=MESSAGE_LOG_LENGTH)


def worker_saturation() -> float | None:
    """``clusterkit.parallel.worker-saturation`` (``None`` keeps the scheduler's own)."""
    value = config.get("parallel.worker-saturation", 1.0)
    return None if value is None else float(value)


def inline_limit(kind: str) -> int | None:
    """Bytes: the largest ``kind`` result (``task``, ``collection``, ``map`` or ``cache``) sent with its completion.

    ``None`` when ``clusterkit.parallel.inline-results.<kind>`` is null (off).
    """
    value = config.get(f"parallel.inline-results.{kind}", None)
    return None if value is None else int(dask.utils.parse_bytes(value))


_inline_clients: weakref.WeakSet[Client] = weakref.WeakSet()


def reply_to(c: Client, kind: str) -> tuple[str, int, int] | None:
    """What a task needs to send its ``kind`` result with its completion to ``c`` (``None``: don't).

    ``(client id, size limit, size limit for a list, tuple, set or dict value)``: see :func:`._results.offer`.
    """
    if c not in _inline_clients:
        return None
    limit = inline_limit(kind)
    if not limit:
        return None
    return (c.id, limit, max(limit, inline_limit("collection") or 0))


#: (setup, teardown) pairs run on every worker by the plugin; see :func:`on_worker`.
_worker_hooks: list[tuple[Any, Any]] = []


def on_worker(setup: Any, teardown: Any) -> None:
    """Run ``setup(worker)`` on every worker (now and when one joins), ``teardown(worker)`` at its end.

    Modules above this one register here at import, so the plugin needs no import
    of theirs; a worker imports :mod:`clusterkit.parallel` (and so registers them)
    when it unpickles the plugin.
    """
    if (setup, teardown) not in _worker_hooks:
        _worker_hooks.append((setup, teardown))


def client() -> Client:
    """The current session's client, prepared for the primitives (raises NoClusterError)."""
    from clusterkit import session

    c = session.current().client
    check_connected(c)
    if c not in _prepared:
        prepare(c)
    return c


def check_connected(c: Client) -> None:
    """Raise :class:`BackendError` at once when ``c`` has lost a scheduler that is gone.

    When its scheduler's connection drops, a Dask client keeps reconnecting for
    ``distributed.comm.timeouts.connect`` (10 s), and calls made meanwhile wait
    that long and then fail with Dask's internal errors (a cancelled future, "No
    clients found"). A scheduler that refuses new connections is not coming back
    within that time in practice (it was killed): say so in one sentence instead.
    """
    status = getattr(c, "status", "running")
    if status in ("running", "newly-created"):
        return
    scheduler = getattr(c, "scheduler", None)
    address = str(getattr(scheduler, "address", "") or "")
    if status == "connecting" and registry.address_reachable(address, timeout=1.0):
        return  # a short network blip: Dask's reconnect may still succeed
    from clusterkit.errors import BackendError

    raise BackendError(
        f"The cluster's scheduler at {address or '(unknown)'} is gone: this process lost its connection "
        f"and the scheduler no longer accepts new ones (client {status}). Its work and results are lost. "
        "`%cluster list` shows it as lost; start a new cluster with `%cluster start` "
        "(and `%cluster stop` this one)."
    )


def prepare(c: Client) -> None:
    """Set up ``c`` and its cluster once: intervals, worker plugin (idempotent)."""
    with _lock:
        if c in _prepared:
            return
        configured = config.batched_send_interval()
        interval = -1.0 if configured is None else configured  # -1: keep Dask's intervals
        _tune_stream(getattr(c, "scheduler_comm", None), interval)
        scheduler_ready = workers_ready = False
        try:
            c.run_on_scheduler(_tune_scheduler, interval, c.id, worker_saturation())
            scheduler_ready = True
        except Exception as exc:  # a scheduler without clusterkit installed
            logger.info("clusterkit: could not install its scheduler plugin: %s", exc)
        try:
            c.register_plugin(ParallelWorkerPlugin(interval), name=_PLUGIN_NAME)
            workers_ready = True
        except Exception as exc:
            logger.warning(
                "clusterkit: could not install its worker plugin (%s); actors will not work. "
                "Install clusterkit on the workers.",
                exc,
            )
        cache = inline_limit("cache")
        if scheduler_ready and workers_ready and cache:
            # Workers send small results with the completion, the scheduler forwards them: keep them.
            _results.store_for(c, cache)
            _inline_clients.add(c)
        _prepared.add(c)


def _tune_scheduler(interval: float, client_id: str, saturation: float | None = None,
                    dask_scheduler: Any = None) -> None:
    scheduler = dask_scheduler
    if saturation is not None and hasattr(scheduler, "WORKER_SATURATION"):
        scheduler.WORKER_SATURATION = saturation
    for stream in scheduler.stream_comms.values():
        _tune_stream(stream, interval)
    _tune_stream(scheduler.client_comms.get(client_id), interval)
    if _PLUGIN_NAME not in scheduler.plugins:
        scheduler.add_plugin(_IntervalSchedulerPlugin(interval), name=_PLUGIN_NAME)
    _results.install_on_scheduler(scheduler)
    _check_worker_ttl_every_second(scheduler)


def _check_worker_ttl_every_second(scheduler: Any) -> None:
    """Look for hung workers every second instead of every ``worker-ttl``.

    Dask checks heartbeats on a timer whose period *is* the ttl, so a worker that
    stops answering is noticed between one and two ttls later (8-16 s with our
    default). Checking every second makes it one ttl, plus the nanny's 4 s wait
    for a graceful exit before it kills the hung process.
    """
    from tornado.ioloop import PeriodicCallback

    callbacks = scheduler.periodic_callbacks
    current = callbacks.get("worker-ttl")
    if current is None or current.callback_time <= 1000:
        return
    current.stop()
    faster = PeriodicCallback(scheduler.check_worker_ttl, 1000)
    callbacks["worker-ttl"] = faster
    faster.start()


class _IntervalSchedulerPlugin(SchedulerPlugin):
    """Applies the interval to the scheduler's stream to each worker that joins."""

    def __init__(self, interval: float) -> None:
        self.interval = interval

    def add_worker(self, scheduler: Any, worker: str) -> None:
        _tune_stream(scheduler.stream_comms.get(worker), self.interval)

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        # Actor supervisors subscribe to this topic to restart actors at once.
        scheduler.log_event("clusterkit-workers", {"action": "remove", "worker": worker})


class ParallelWorkerPlugin(WorkerPlugin):
    """Runs on every worker, now and when it joins: interval, actor handler."""

    idempotent = True

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._worker: Any = None

    def setup(self, worker: Any) -> None:
        self._worker = worker
        _tune_stream(getattr(worker, "batched_stream", None), self.interval)
        importlib.import_module("clusterkit.parallel")  # registers the hooks of the modules above

        for setup, _ in _worker_hooks:
            setup(worker)

    def teardown(self, worker: Any) -> None:
        for _, teardown in _worker_hooks:
            teardown(worker)
        _results.forget_pending()

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        # Sends a small result offered by the task with its completion (see _results).
        _results.finished(self._worker, key, start, finish)


# -- errors raised on workers -----------------------------------------------------------------
_error_classes: dict[type, type] = {}


def _remote_error_class(cls: type) -> type:
    """``RemoteError`` that is also ``cls``, so ``except ValueError`` still catches it."""
    from clusterkit.errors import RemoteError

    if issubclass(cls, RemoteError) or not issubclass(cls, Exception):
        return RemoteError
    sub = _error_classes.get(cls)
    if sub is None:
        try:
            sub = type(f"RemoteError[{cls.__name__}]", (RemoteError, cls), {"__reduce__": _reduce_remote_error})
            sub.__module__ = "clusterkit.errors"
        except TypeError:  # incompatible layouts (some C exceptions)
            sub = RemoteError
        _error_classes[cls] = sub
    return sub


def _reduce_remote_error(self: Any) -> tuple[Any, ...]:
    from clusterkit.errors import RemoteError

    return (RemoteError, (self.args[0] if self.args else "", self.remote_traceback, self.index))


def remote_error(
    exc: BaseException | None,
    remote_traceback: str,
    *,
    what: str,
    index: int | None = None,
    fix: str = "Fix the function, or retry transient failures with retries=N.",
    type_name: str | None = None,
) -> Exception:
    """Turn an exception raised on a worker into a :class:`RemoteError` for the caller.

    The result is an instance of both ``RemoteError`` and the original type when
    Python allows it, carries ``remote_traceback`` and ``index``, and has the
    original exception as ``__cause__``.
    """
    name = type_name or (type(exc).__name__ if exc is not None else "Exception")
    detail = str(exc) if exc is not None else ""
    where = f" on item {index}" if index is not None else ""
    message = f"{what} raised {name}{where}" + (f": {detail}" if detail else "") + f". {fix}"
    if remote_traceback:
        message += "\n\nTraceback on the worker:\n" + remote_traceback.rstrip()
    cls: Any = _remote_error_class(type(exc)) if exc is not None else _remote_error_class(Exception)
    error: Any = cls.__new__(cls)
    from clusterkit.errors import RemoteError

    try:
        RemoteError.__init__(error, message, remote_traceback, index)
    except TypeError:  # the original type's __init__ wants other arguments (FutureCancelledError)
        Exception.__init__(error, message)
        error.remote_traceback, error.index = remote_traceback, index
    if exc is not None:
        with contextlib.suppress(Exception):
            for attr, value in vars(exc).items():
                error.__dict__.setdefault(attr, value)
        error.__cause__ = exc
    return error


# -- worker resources -----------------------------------------------------------------------
_cpu_declared: weakref.WeakKeyDictionary[Client, tuple[float, bool]] = weakref.WeakKeyDictionary()


def workers_declare_cpu(c: Client) -> bool:
    """Whether any worker declares the ``CPU`` resource (checked at most every 5 s)."""
    import time

    now = time.monotonic()
    cached = _cpu_declared.get(c)
    if cached is not None and now - cached[0] < 5:
        return cached[1]
    try:
        workers = c.scheduler_info(n_workers=-1).get("workers", {}).values()
        declared = any("CPU" in (w.get("resources") or {}) for w in workers)
    except Exception:
        declared = False
    _cpu_declared[c] = (now, declared)
    return declared
