"""Ray-style tasks on Dask: ``@ck.remote``, ``.remote()``, ``get``, ``wait``, ``as_completed``, ``cancel``.

>>> import clusterkit as ck
>>> @ck.remote                                  # doctest: +SKIP
... def square(x):
...     return x * x
>>> ref = square.remote(4)                       # a distributed.Future
>>> ck.get(ref)                                  # doctest: +SKIP
16
>>> ready, pending = ck.wait([square.remote(i) for i in range(4)], num_returns=2)  # doctest: +SKIP

``@ck.remote`` on a class makes an actor class (see :mod:`clusterkit.parallel.actors`).

Where this differs from Ray, because Dask works differently
-----------------------------------------------------------
* **Futures are Dask futures.** ``f.remote()`` returns a ``distributed.Future``:
  ``client.gather``, ``distributed.wait`` and Dask collections accept it.
* **Every call is a new task** (``pure=False``). Dask's own ``submit`` merges
  identical calls by default; Ray never does, and neither do we.
* **Nested futures are resolved.** Futures inside lists, tuples or dicts passed
  as arguments arrive as their values; Ray passes nested refs through unresolved.
* **Running tasks cannot be interrupted.** ``ck.cancel`` releases the future and
  stops queued work, but a task already running finishes (Ray's ``force=True``
  kills the worker process; Dask has no equivalent).
* **Worker-loss retries are cluster-wide.** ``max_retries`` governs application
  errors when ``retry_exceptions`` allows them. A task whose worker dies is re-run
  by the scheduler up to ``distributed.scheduler.allowed-failures`` times
  (default 3, Ray's default ``max_retries``), whatever the task asked for.
* **``num_cpus`` needs declared resources.** It maps to the worker resource
  ``CPU`` (clusterkit's local workers declare one per thread). Work submitted
  without resources (``ck.map`` batches, plain Dask tasks) ignores it.
* **Errors** are raised as :class:`~clusterkit.errors.RemoteError`, which is also
  an instance of the original exception type (like Ray's ``RayTaskError``) and
  carries ``.remote_traceback``. ``get`` times out with ``TimeoutError``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import pickle
import queue
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError
from typing import Any

import cloudpickle
from distributed import Future
from distributed import as_completed as dask_as_completed
from distributed import wait as dask_wait

from clusterkit.parallel import _common, _results, _runtime

__all__ = ["RemoteFunction", "as_completed", "cancel", "get", "remote", "run_packed_task", "run_task", "wait"]



# ----------------------------------------------------------------------------------------------
# Worker side
# ----------------------------------------------------------------------------------------------
def _should_retry(exc: BaseException, retry_exceptions: bool | tuple[type, ...]) -> bool:
    if retry_exceptions is True:
        return True
    if not retry_exceptions:
        return False
    return isinstance(exc, retry_exceptions)


def run_task(
    function: bytes, max_retries: int, retry_exceptions: bool | tuple[type, ...],
    args: tuple[Any, ...], kwargs: dict[str, Any], reply: tuple[str, int, int] | None = None,
) -> Any:
    """Call the user's function on a worker with Ray's application-error retries.

    A small value is also sent to the client with the completion (``reply``, see :mod:`._results`).
    """
    fn = _common.load_function(function)
    attempt = 0
    while True:
        try:
            result = fn(*args, **kwargs)
            _results.offer(result, reply)
            return result
        except Exception as exc:
            if (max_retries < 0 or attempt < max_retries) and _should_retry(exc, retry_exceptions):
                attempt += 1
                continue
            tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
            text = "".join(traceback.format_exception(type(exc), exc, tb))
            with contextlib.suppress(Exception):
                exc.__clusterkit_traceback__ = text  # type: ignore[attr-defined]
            raise


def run_packed_task(
    function: bytes, max_retries: int, retry_exceptions: bool | tuple[type, ...], payload: bytes,
    reply: tuple[str, int, int] | None = None,
) -> Any:
    """:func:`run_task` for arguments that travel pickled in one blob (see ``_common.pack_arguments``)."""
    args, kwargs = pickle.loads(payload)
    return run_task(function, max_retries, retry_exceptions, args, kwargs, reply)


# ----------------------------------------------------------------------------------------------
# Client side
# ----------------------------------------------------------------------------------------------
def resources_for(client: Any, num_cpus: float | None, resources: dict[str, float] | None) -> dict[str, float] | None:
    """Dask worker resources for Ray-style ``num_cpus`` / ``resources`` (None: no restriction)."""
    wanted = dict(resources or {})
    if num_cpus is not None and num_cpus > 0 and _runtime.workers_declare_cpu(client):
        wanted["CPU"] = float(num_cpus)
    return wanted or None


class RemoteFunction:
    """A function made remote with ``@ck.remote``; call ``.remote(...)`` to run it as a task."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any]) -> None:
        _common.check_options(options, _common.TASK_OPTIONS, "a remote function")
        self._function = fn
        self._options = options
        self._blob: bytes | None = None
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = getattr(self._function, "__name__", "function")
        raise TypeError(
            f"Remote function {name!r} cannot be called directly. Use {name}.remote(...) to run it on "
            "the cluster, or call the original function as "
            f"{name}.__wrapped__(...) to run it here."
        )

    def options(self, **overrides: Any) -> RemoteFunction:
        """A copy with some options changed: ``f.options(num_cpus=2).remote(x)``."""
        return RemoteFunction(self._function, {**self._options, **overrides})

    def remote(self, *args: Any, **kwargs: Any) -> Future:
        """Submit one call as a Dask task; return its ``distributed.Future`` at once."""
        client = _runtime.client()
        if self._blob is None:
            self._blob = cloudpickle.dumps(self._function, protocol=5)
        options = self._options
        retry = options.get("retry_exceptions", False)
        if isinstance(retry, list):
            retry = tuple(retry)
        name = options.get("name") or _common.label(self._function)
        packed = _common.pack_arguments(args, kwargs)
        retries = options.get("max_retries", 3)
        reply = _runtime.reply_to(client, "task")
        call: tuple[Any, ...] = (
            (run_packed_task, self._blob, retries, retry, packed, reply) if packed is not None
            else (run_task, self._blob, retries, retry, args, kwargs, reply)
        )
        try:
            # Dask pickles the task here, in the calling thread (and pack_arguments did above): a later
            # change to an argument object never changes the task (Ray's semantics; tested).
            return _common.submit(
                client, *call, key=f"{name}-{uuid.uuid4().hex}",
                resources=resources_for(client, options.get("num_cpus"), options.get("resources")),
            )
        except TypeError as exc:
            try:
                _common.dumps((args, kwargs))
            except Exception as cause:  # the arguments are what does not pickle: say so
                raise TypeError(
                    f"The arguments of {name}.remote(...) cannot be sent to the cluster: {cause}. Pass values "
                    "that pickle (create locks, files and connections inside the task instead)."
                ) from exc
            raise


def remote(*args: Any, **options: Any) -> Any:
    """Make a function a remote task, or a class an actor class, as Ray's ``@ray.remote`` does.

    Forms: ``@ck.remote``, ``@ck.remote(num_cpus=1, max_retries=3, retry_exceptions=False)``
    and ``ck.remote(fn)``. Task options: ``num_cpus``, ``resources``, ``max_retries``
    (-1: unlimited), ``retry_exceptions`` (``True`` or a list of exception classes),
    ``name`` (the task name in the dashboard). Actor options: ``num_cpus``,
    ``resources``, ``max_restarts``, ``max_task_retries``, ``name``.

    >>> @ck.remote(max_retries=2, retry_exceptions=[ConnectionError])  # doctest: +SKIP
    ... def fetch(url): ...
    >>> fetch.options(name="fetch-home").remote("https://example.org")  # doctest: +SKIP
    """
    if len(args) == 1 and not options and (callable(args[0]) or inspect.isclass(args[0])):
        return _make_remote(args[0], {})
    if args:
        raise TypeError("Use @ck.remote, @ck.remote(option=value, ...) or ck.remote(function).")
    return functools.partial(_make_remote, options=options)


def _make_remote(obj: Any, options: dict[str, Any]) -> Any:
    if inspect.isclass(obj):
        from clusterkit.parallel.actors import ActorClass

        _common.check_options(options, _common.ACTOR_OPTIONS, "an actor class")
        return ActorClass(obj, options)
    if not callable(obj):
        raise TypeError(f"ck.remote needs a function or a class, not {type(obj).__name__}.")
    return RemoteFunction(obj, options)


# -- get / wait / as_completed / cancel ---------------------------------------------------------
def _is_ref(obj: Any) -> bool:
    from clusterkit.parallel.actors import ActorCallFuture

    return isinstance(obj, Future | ActorCallFuture)


def _convert_error(ref: Any, exc: BaseException) -> BaseException:
    """A worker-side exception as RemoteError (also of the original type)."""
    from clusterkit.errors import ClusterkitError

    if isinstance(exc, ClusterkitError | TimeoutError) or not isinstance(exc, Exception):
        return exc
    if type(exc).__name__ in ("CancelledError", "FutureCancelledError"):
        return exc
    text = getattr(exc, "__clusterkit_traceback__", None)
    if text is None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    what = f"Task {ref.key}" if isinstance(ref, Future) else f"Actor call {ref}"
    return _runtime.remote_error(exc, text, what=what, fix="Fix the function, or retry with max_retries/"
                                 "retry_exceptions if the failure is transient.")


def _result(ref: Any, timeout: float | None) -> Any:
    try:
        if isinstance(ref, Future):
            if ref.status == "pending":
                started = time.monotonic()
                with contextlib.suppress(CancelledError):  # reported by ref.result() below
                    dask_wait(ref, timeout=timeout)
                if timeout is not None:
                    timeout = max(0.0, timeout - (time.monotonic() - started))
            if ref.status == "finished":
                value = _results.value(ref)
                if value is not _results.MISSING:
                    return value
        return ref.result(timeout=timeout)
    except TimeoutError:
        raise TimeoutError(
            f"ck.get timed out after {timeout} s waiting for {_describe(ref)}; it is still running. "
            "Call ck.get again, or use ck.wait to collect what is ready."
        ) from None
    except BaseException as exc:
        raise _convert_error(ref, exc) from None


def _describe(ref: Any) -> str:
    return f"task {ref.key!r}" if isinstance(ref, Future) else repr(ref)


def get(refs: Any, timeout: float | None = None) -> Any:
    """The value of a future, or a list of values for a list of futures (in order).

    Waits at most ``timeout`` seconds in total, then raises ``TimeoutError``.
    Non-future items in a list are returned unchanged. A failed task raises
    :class:`~clusterkit.errors.RemoteError` (also an instance of the original type).
    """
    if _is_ref(refs):
        return _result(refs, timeout)
    if not isinstance(refs, list | tuple):
        raise TypeError(
            f"ck.get takes a future or a list of futures, not {type(refs).__name__}. "
            "Futures come from f.remote(...) and actor.method.remote(...)."
        )
    deadline = None if timeout is None else time.monotonic() + timeout
    dask_futures = [r for r in refs if isinstance(r, Future)]
    values: dict[Any, Any] = {}
    if len(dask_futures) > 1:
        # One wait and one gather for all Dask futures instead of one round trip each.
        _, not_ready = wait(dask_futures, num_returns=len(dask_futures), timeout=timeout)
        if not_ready:
            raise TimeoutError(
                f"ck.get timed out after {timeout} s: {len(not_ready)} of {len(refs)} futures are not ready. "
                "Use ck.wait to collect what is ready."
            )
        errored = [f for f in dask_futures if f.status == "error"]
        if errored:
            _result(errored[0], 0)
        for future in dask_futures:
            value = _results.value(future)
            if value is not _results.MISSING:
                values[future.key] = value
        missing = [f for f in dask_futures if f.key not in values]
        if missing:
            values.update(zip([f.key for f in missing], missing[0].client.gather(missing), strict=True))
    out = []
    for ref in refs:
        if isinstance(ref, Future) and ref.key in values:
            out.append(values[ref.key])
        elif _is_ref(ref):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            out.append(_result(ref, remaining))
        else:
            out.append(ref)
    return out


class _Completion:
    """Futures of both kinds, delivered through one queue as they complete."""

    def __init__(self, refs: Iterable[Any]) -> None:
        self.queue: queue.Queue[Any] = queue.Queue()
        self.tracker: Any = None
        dask = []
        for ref in refs:
            if isinstance(ref, Future):
                dask.append(ref)
            else:
                ref.add_done_callback(self.queue.put)
        if dask:
            # as_completed tracks futures on the client's event loop (no extra thread)
            # and puts each finished one into its ``queue``: share ours.
            self.tracker = dask_as_completed([], with_results=False)
            self.tracker.queue = self.queue
            self.tracker.update(dask)

    def next(self, timeout: float | None) -> Any:
        """The next finished future; raises ``queue.Empty`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # Short slices keep Ctrl-C responsive.
            remaining = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if remaining <= 0:
                return self.queue.get_nowait()
            try:
                return self.queue.get(timeout=remaining)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    def close(self) -> None:
        if self.tracker is not None:
            with contextlib.suppress(Exception):
                self.tracker.clear()


def wait(
    refs: Sequence[Any], num_returns: int = 1, timeout: float | None = None, fetch_local: bool = True
) -> tuple[list[Any], list[Any]]:
    """Wait until ``num_returns`` futures are done or ``timeout`` passes: Ray's ``ray.wait``.

    Returns ``(ready, not_ready)``, both in the order of ``refs``. ``ready`` holds at
    most ``num_returns`` futures (the first ones in input order when more are done);
    on timeout it holds those done so far: no exception. Failed and cancelled
    futures count as done. ``timeout=0`` only looks. ``fetch_local`` is accepted
    for Ray compatibility; Dask keeps results on workers until fetched.
    """
    refs = list(refs)
    if not all(_is_ref(r) for r in refs):
        raise TypeError("ck.wait takes a list of futures (from .remote(...) calls).")
    if len({id(r) for r in refs}) != len(refs):
        raise ValueError("ck.wait got the same future twice; pass each future once, as ray.wait requires.")
    if not isinstance(num_returns, int) or num_returns < 1:
        raise ValueError(f"num_returns must be a positive integer, not {num_returns!r}.")
    if num_returns > len(refs):
        raise ValueError(
            f"num_returns ({num_returns}) is larger than the number of futures ({len(refs)}); "
            "ask for at most len(refs)."
        )
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be None or >= 0 seconds.")
    done_ids = {id(r) for r in refs if r.done()}
    if len(done_ids) < num_returns and timeout != 0:
        completion = _Completion([r for r in refs if id(r) not in done_ids])
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while len(done_ids) < num_returns:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    done_ids.add(id(completion.next(remaining)))
                except queue.Empty:
                    break
        finally:
            completion.close()
        done_ids |= {id(r) for r in refs if r.done()}
    ready = [r for r in refs if id(r) in done_ids][:num_returns]
    chosen = {id(r) for r in ready}
    return ready, [r for r in refs if id(r) not in chosen]


def as_completed(refs: Iterable[Any], timeout: float | None = None) -> Iterator[Any]:
    """Yield futures as they finish (tasks and actor calls alike).

    ``timeout`` bounds the whole loop: ``TimeoutError`` when it passes first.

    >>> for ref in ck.as_completed([square.remote(i) for i in range(4)]):  # doctest: +SKIP
    ...     print(ck.get(ref))
    """
    refs = list(refs)
    if not all(_is_ref(r) for r in refs):
        raise TypeError("ck.as_completed takes futures (from .remote(...) calls).")
    completion = _Completion(refs)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        for _ in range(len(refs)):
            remaining = None if deadline is None else deadline - time.monotonic()
            try:
                yield completion.next(remaining)
            except queue.Empty:
                raise TimeoutError(
                    f"ck.as_completed: not every future finished within {timeout} s."
                ) from None
    finally:
        completion.close()


def cancel(refs: Any, force: bool = False) -> None:
    """Cancel futures: queued work never starts; running work finishes (Dask cannot interrupt it).

    Actor calls that were already sent run anyway; their futures are marked
    cancelled here. ``force`` is passed to Dask (it also releases dependents).
    """
    items = list(refs) if isinstance(refs, list | tuple | set) else [refs]
    dask = [r for r in items if isinstance(r, Future)]
    if dask:
        dask[0].client.cancel(dask, force=force)
    for ref in items:
        if not isinstance(ref, Future) and _is_ref(ref):
            ref.cancel()
