"""What tasks, map batches and actors share, below all of them: shipping functions,
checking Ray-style options, and submitting one task so that it starts on the first
free worker thread.

Nothing here imports another module of :mod:`clusterkit.parallel`.

Why :func:`submit` and not ``Client.submit``
--------------------------------------------
Dask's scheduler *queues* a task until a worker thread is free only when it
counts the task as "root-ish": part of a group much larger than the cluster.
A handful of ``f.remote()`` calls never is, so the scheduler assigns each one to
a worker at once, by its estimate of each worker's backlog, and with
``worker-saturation`` 1.1 a single-thread worker accepts two tasks. A short task
could then wait behind a long one while the other worker sat idle. Dask lets a
task declare itself root-ish (``Task(..., _data_producer=True)``, what its own
data-loading tasks do); :func:`submit` builds the task that way, so Dask's queue
holds it until a thread is free. The scheduler still places every task, and the
dashboard and task stream see each one as usual. :mod:`._runtime` sets the
cluster's ``worker-saturation`` to 1.0 so that a free thread means an idle one.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import cloudpickle

__all__ = [
    "ACTOR_OPTIONS",
    "TASK_OPTIONS",
    "check_options",
    "dumps",
    "is_large_buffer",
    "label",
    "load_function",
    "pack_arguments",
    "submit",
    "submit_many",
]

TASK_OPTIONS = frozenset({"num_cpus", "max_retries", "retry_exceptions", "name", "resources"})
ACTOR_OPTIONS = frozenset({"num_cpus", "max_restarts", "max_task_retries", "name", "resources"})


# -- functions and values on the wire ------------------------------------------------------
_function_cache: dict[bytes, Callable[..., Any]] = {}


def load_function(blob: bytes) -> Callable[..., Any]:
    """A function pickled with cloudpickle, unpickled once per worker process (small cache)."""
    fn = _function_cache.get(blob)
    if fn is None:
        fn = cloudpickle.loads(blob)
        if len(_function_cache) >= 16:
            _function_cache.clear()
        _function_cache[blob] = fn
    return fn


def dumps(value: Any, buffer_callback: Callable[[pickle.PickleBuffer], Any] | None = None) -> bytes:
    """Pickle ``value`` (protocol 5); cloudpickle for what plain pickle refuses (lambdas).

    ``buffer_callback`` takes buffers (arrays) out of band, as :func:`pickle.dumps` does.
    """
    try:
        return pickle.dumps(value, protocol=5, buffer_callback=buffer_callback)
    except Exception:  # lambdas, local classes, ...: cloudpickle's output loads with pickle
        return cloudpickle.dumps(value, protocol=5, buffer_callback=buffer_callback)


def label(fn: Callable[..., Any]) -> str:
    """A name for ``fn`` fit for a Dask key (the prefix the dashboard shows)."""
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "function"


def pack_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes | None:
    """``(args, kwargs)`` pickled into one blob, or ``None`` where Dask's own path is better or needed.

    Dask looks for futures inside every list, tuple, set and dict argument of a task
    (``dask._task_spec.parse_input``), a graph node per item: a 10k-item argument made
    a no-op task's round trip 7.6 ms instead of 3.4. Pickled here, once, in C, the
    arguments travel as one ``bytes`` value that the task unpickles.

    ``None`` (Dask's path) when the arguments hold a Dask future or task (Dask
    resolves nested futures to their values; their pickle names ``distributed.client``
    or ``dask._task_spec``), an array or another buffer of :data:`LARGE_BUFFER` bytes
    or more (Dask sends those zero-copy; pickling them here would copy them), a large
    str or bytes as an argument itself, or something this pickling refuses (Dask has
    more serializers; if it refuses too, the caller says so).
    """
    if any(is_large_buffer(value) for value in (*args, *kwargs.values())):
        return None
    buffers: list[pickle.PickleBuffer] = []
    try:
        blob = dumps((args, kwargs), buffer_callback=buffers.append)
    except Exception:
        return None
    if any(marker in blob for marker in _DASK_MARKERS):
        return None
    if buffers:  # arrays, out of band: small ones go in the blob, large ones to Dask
        if sum(memoryview(buffer).nbytes for buffer in buffers) >= LARGE_BUFFER:
            return None
        blob = dumps((args, kwargs))
    return blob


#: Modules a pickled Dask future or task names (a false match only means Dask's path).
_DASK_MARKERS = (b"distributed.client", b"dask._task_spec")
_BUFFERS = frozenset({str, bytes, bytearray})

#: A value of at least this many bytes (``nbytes``, or the length of a str or bytes) is a large buffer.
LARGE_BUFFER = 64 << 10


def is_large_buffer(obj: Any) -> bool:
    """Whether ``obj`` is a str or bytes, or has an ``nbytes`` (arrays, pandas), of :data:`LARGE_BUFFER` or more."""
    if type(obj) in _BUFFERS:
        return len(obj) >= LARGE_BUFFER
    try:
        size = getattr(obj, "nbytes", 0)
    except Exception:  # a property that raises
        return False
    return isinstance(size, int) and size >= LARGE_BUFFER


# -- options ---------------------------------------------------------------------------------
def check_options(options: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    """Raise ``TypeError``/``ValueError`` (one line) for unknown or malformed Ray-style options."""
    unknown = set(options) - allowed
    if unknown:
        raise TypeError(
            f"Unknown option(s) for {what}: {', '.join(sorted(unknown))}. Allowed: {', '.join(sorted(allowed))}."
        )
    num_cpus = options.get("num_cpus")
    if num_cpus is not None and (not isinstance(num_cpus, int | float) or num_cpus < 0):
        raise ValueError(f"num_cpus must be a non-negative number, not {num_cpus!r}.")
    for key in ("max_retries", "max_restarts", "max_task_retries"):
        value = options.get(key)
        if value is not None and (not isinstance(value, int) or value < -1):
            raise ValueError(f"{key} must be an integer >= -1 (-1 means unlimited), not {value!r}.")
    retry = options.get("retry_exceptions")
    if retry is not None and not isinstance(retry, bool):
        types = tuple(retry) if isinstance(retry, list | tuple) else None
        if not types or not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
            raise ValueError("retry_exceptions must be True, False or a list of exception classes.")


# -- submitting --------------------------------------------------------------------------------
_fast_path: bool | None = None


def _build(calls: list[tuple[str, Callable[..., Any], tuple[Any, ...]]]) -> tuple[Any, Any]:
    from dask._expr import LLGExpr
    from dask._task_spec import Task, parse_input
    from distributed.spans import SpanMetadata

    graph = {key: Task(key, func, *(parse_input(a) for a in args), _data_producer=True) for key, func, args in calls}
    # Keys are unique per submission: naming the expression by them spares Dask tokenizing
    # (hashing) every argument, a batch's whole payload included.
    return LLGExpr(graph, _determ_token=calls[0][0]), SpanMetadata(collections=[{"type": "Future"}])


def submit(
    client: Any,
    func: Callable[..., Any],
    *args: Any,
    key: str,
    priority: int = 0,
    resources: dict[str, float] | None = None,
) -> Any:
    """``client.submit(func, *args, key=key, pure=False, ...)`` as a queued (root-ish) task.

    Returns the ``distributed.Future``. Falls back to ``client.submit`` on a Dask
    without ``Task(..., _data_producer=...)``; tasks with ``resources`` are never
    queued by Dask (it assigns them to a worker holding the resource at once).
    """
    return submit_many(client, [(key, func, args)], priority=priority, resources=resources)[0]


def submit_many(
    client: Any,
    calls: list[tuple[str, Callable[..., Any], tuple[Any, ...]]],
    *,
    priority: int = 0,
    resources: dict[str, float] | None = None,
) -> list[Any]:
    """Several ``(key, func, args)`` tasks as :func:`submit` does each, in one message to the scheduler.

    One ``update-graph`` instead of one per task: the scheduler unpacks and places them in
    one pass (what ``ck.map``'s first round needs). Earlier calls start first.
    """
    from distributed import Future

    if not _can_build():
        return [client.submit(func, *args, key=key, pure=False, priority=priority, resources=resources)
                for key, func, args in calls]
    # As client.submit: an existing key is reused, not sent again.
    fresh = [call for call in calls if call[0] not in client.futures]
    futures: dict[str, Any] = {}
    if fresh:
        expr, span = _build(fresh)
        # Keep Dask's own futures: dropping them before others exist would release the keys.
        futures = client._graph_to_futures(
            expr, [key for key, _, _ in fresh], span_metadata=span,
            internal_priority={key: i for i, (key, _, _) in enumerate(fresh)},
            user_priority=priority, resources=resources,
        )
    return [futures[key] if key in futures else Future(key, client) for key, _, _ in calls]


def _can_build() -> bool:
    """Whether this Dask builds queued tasks as :func:`_build` does (checked once, on a dummy task).

    Checked apart from submitting, so that a submission failing for its own reasons
    (arguments that do not pickle) never turns the fast path off.
    """
    global _fast_path
    if _fast_path is None:
        try:
            _build([("clusterkit-probe", len, ((),))])
            _fast_path = True
        except (ImportError, TypeError, AttributeError):
            _fast_path = False
    return _fast_path
