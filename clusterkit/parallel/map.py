"""``ck.map`` and ``ck.imap``: a function over many items, batched, on the current cluster.

>>> import clusterkit as ck
>>> ck.start(n_workers=2)                                # doctest: +SKIP
>>> ck.map(lambda x: x * x, range(5))                    # doctest: +SKIP
[0, 1, 4, 9, 16]
>>> for y in ck.imap(str.upper, iter(["a", "b"])):       # doctest: +SKIP
...     print(y)
A
B

How items become tasks
----------------------
Items travel in *batches*, one Dask task each, so a function that takes a
microsecond is not drowned in Dask's per-task cost (about 2 ms), while a function
that takes seconds still spreads over every worker:

* **Guided sizing.** With ``n`` items left and ``P`` worker threads a batch holds
  about ``n / (2 P)`` items, so batches shrink towards the end and the last ones
  balance the workers (guided self-scheduling).
* **Measured sizing.** Each batch reports how long its items took. Later batches
  hold at least ~20 ms of work (overhead stays small) and at most ~0.25 s (progress
  stays live and the tail stays short).
* **Elastic batches.** A worker stops a batch after ~0.5 s and hands back what it
  has; the rest of the batch is sent again as a new batch. So the first batches,
  sized before any measurement, cannot pin a slow function to one worker.
* **One blob each way.** A batch's items and its results each travel as one
  pickled ``bytes`` value. Dask then neither hashes the arguments nor scans them
  for futures, and does not serialise a returned list element by element (a
  5,000-item list costs it ~100 ms; one blob costs well under 1 ms).

Lazy input and memory: items are pulled from the iterable only when a batch is
formed, and at most ``max_in_flight`` batches are submitted or waiting to be
yielded, so a generator of any length runs in bounded memory.

Failures: ``retries=N`` re-runs a failing *item* up to N more times on the same
worker. An exception that remains is raised in the caller as
:class:`~clusterkit.errors.RemoteError` (also an instance of the original type)
with ``.index`` (the item's position) and ``.remote_traceback``. A batch whose
worker dies is re-run elsewhere by Dask (``distributed.scheduler.allowed-failures``
times); its results are delivered once. Ctrl-C (or leaving the loop over ``imap``)
cancels every outstanding batch; running batches stop after their current item.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import pickle
import queue
import time
import traceback
import uuid
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import CancelledError
from typing import Any

import cloudpickle
from distributed import Future
from distributed import as_completed as dask_as_completed
from distributed.scheduler import KilledWorker

from clusterkit.parallel import _common, _results, _runtime
from clusterkit.parallel.progress import make_progress

__all__ = ["imap", "map", "run_batch"]

_builtin_map = map

#: Batches hold at least this much measured work (per-task overhead is ~2 ms).
MIN_BATCH_SECONDS = 0.02
#: ... and at most this much, so progress moves and the tail stays short.
TARGET_BATCH_SECONDS = 0.25
#: A worker returns a batch early once it has worked this long on it.
BATCH_TIME_LIMIT = 0.5
#: Guided self-scheduling: a batch is remaining / (GUIDED_FACTOR * worker threads).
GUIDED_FACTOR = 2
#: Size of the first batches from an iterable of unknown length.
FIRST_UNKNOWN_BATCH = 1024
#: Upper bounds on one batch (items; pickled bytes of the items).
MAX_BATCH_ITEMS = 1 << 20
MAX_UNKNOWN_BATCH_ITEMS = 1 << 17
MAX_BATCH_BYTES = 16 << 20
#: Seconds to wait for the scheduler's count of worker threads (sizing falls back to 1 slot).
WORKER_COUNT_TIMEOUT = 3
#: Seconds a count of worker threads is reused for sizing the next ``ck.map``.
WORKER_COUNT_TTL = 1.0
#: A batch that kills every worker it runs on is split into this many pieces to find the item.
KILLER_SPLIT = 16
#: Functions pickled larger than this are scattered once instead of sent with every batch.
SCATTER_FUNCTION_BYTES = 1 << 20


# ----------------------------------------------------------------------------------------------
# Worker side
# ----------------------------------------------------------------------------------------------
def _cancel_check() -> Callable[[], bool]:
    """A cheap test for 'the scheduler cancelled the task running this batch'."""
    try:
        from distributed.worker import get_worker, thread_state

        tasks = get_worker().state.tasks
        key = thread_state.key
    except Exception:  # not on a worker (called directly in tests)
        return lambda: False

    def cancelled() -> bool:
        ts = tasks.get(key)
        return ts is None or ts.state in _STOPPED

    return cancelled


_STOPPED = ("cancelled", "released", "forgotten")


async def _heard_cancel(keys: list[str], timeout: float, dask_worker: Any = None) -> bool:
    """On a worker: wait until it has heard that ``keys`` were cancelled (runs on its event loop).

    A running batch stops before its next item once its worker knows; waiting for that here
    means no item starts after ``ck.map`` has returned or raised.
    """
    deadline = time.monotonic() + timeout
    tasks = dask_worker.state.tasks
    while time.monotonic() < deadline:
        if all(tasks.get(key) is None or tasks[key].state in _STOPPED for key in keys):
            return True
        await asyncio.sleep(0.005)
    return False


def _format_remote_traceback(exc: BaseException) -> str:
    tb = exc.__traceback__
    # Drop the batch runner's own frame: the user wants their function's lines.
    if tb is not None and tb.tb_frame.f_code is _run_batch.__code__ and tb.tb_next is not None:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def run_batch(
    function: bytes, payload: bytes, retries: int, time_limit: float = BATCH_TIME_LIMIT,
    reply: tuple[str, int, int] | None = None,
) -> bytes:
    """Run one batch on a worker; return a pickled report (runs as a Dask task).

    ``payload`` is a pickled list of argument columns. The report is
    ``("ok", results, n_done, seconds)``, ``("error", results, n_done, seconds,
    exception, type_name, text, traceback)`` or ``("cancelled",)``. ``n_done`` may
    be less than the batch when ``time_limit`` passed: the caller resubmits the rest.
    A report small enough also goes to the client with the completion (``reply``, see
    :mod:`._results`).
    """
    report = _run_batch(function, payload, retries, time_limit)
    _results.offer(None, reply, pickled=report)
    return report


def _run_batch(function: bytes, payload: bytes, retries: int, time_limit: float) -> bytes:
    started = time.perf_counter()
    fn = _common.load_function(function)
    columns = pickle.loads(payload)
    n = len(columns[0])
    single = len(columns) == 1
    out: list[Any] = []
    position = 0
    step = 1
    cancelled = _cancel_check()
    while position < n:
        end = min(n, position + step)
        chunk_started = time.perf_counter()
        try:
            if single:
                out.extend(_builtin_map(fn, columns[0][position:end]))
            else:
                out.extend(_builtin_map(fn, *[column[position:end] for column in columns]))
            position = end
        except Exception as first:
            # list.extend keeps what the iterator produced before the exception.
            failed = len(out)
            arguments = [column[failed] for column in columns]
            error: BaseException = first
            for _ in range(retries):
                try:
                    out.append(fn(*arguments))
                    break
                except Exception as again:
                    error = again
            else:
                report = (
                    "error", out, failed, time.perf_counter() - started,
                    None, type(error).__name__, str(error), _format_remote_traceback(error),
                )
                try:
                    return pickle.dumps((*report[:4], error, *report[5:]), protocol=5)
                except Exception:  # an exception that does not pickle: send its text
                    return _common.dumps(report)
            position = failed + 1
        now = time.perf_counter()
        if cancelled():
            return pickle.dumps(("cancelled",))
        if now - started >= time_limit and position < n:
            break
        if now - chunk_started < 0.01:
            step *= 2
    return _common.dumps(("ok", out, position, time.perf_counter() - started))


# ----------------------------------------------------------------------------------------------
# Client side
# ----------------------------------------------------------------------------------------------
def _sliceable(obj: Any) -> bool:
    return isinstance(obj, list | tuple | range | str) or (hasattr(obj, "shape") and hasattr(obj, "__array__"))


class _Source:
    """Hands out argument columns, slicing sequences and pulling from iterators lazily."""

    def __init__(self, iterables: tuple[Iterable[Any], ...]) -> None:
        self.total: int | None = None
        lengths = []
        for it in iterables:
            try:
                lengths.append(len(it))  # type: ignore[arg-type]
            except TypeError:
                break
        else:
            self.total = min(lengths)
        self.sequences: list[Any] | None = None
        if self.total is not None and all(_sliceable(it) for it in iterables):
            self.sequences = list(iterables)
        elif len(iterables) == 1:
            self.iterator: Iterator[Any] = iter(iterables[0])
        else:
            self.iterator = zip(*iterables, strict=False)
        self.single = len(iterables) == 1
        self.taken = 0
        self.exhausted = False

    @property
    def remaining(self) -> int | None:
        return None if self.total is None else self.total - self.taken

    def take(self, size: int) -> list[Any] | None:
        """The next ``size`` items as argument columns, or ``None`` when there are none."""
        if self.exhausted:
            return None
        if self.sequences is not None:
            assert self.total is not None
            end = min(self.total, self.taken + size)
            columns = [seq[self.taken : end] for seq in self.sequences]
            count = end - self.taken
        elif self.single:
            columns = [list(itertools.islice(self.iterator, size))]
            count = len(columns[0])
        else:
            rows = list(itertools.islice(self.iterator, size))
            columns = [list(column) for column in zip(*rows, strict=True)] if rows else []
            count = len(rows)
        if count < size:
            self.exhausted = True
        if count == 0:
            return None
        self.taken += count
        return columns


def _pieces(start: int, columns: list[Any], count: int, size: int) -> Iterator[tuple[int, list[Any], int]]:
    """``(start, columns, count)`` of consecutive pieces of at most ``size`` items of a batch's columns."""
    for offset in range(0, count, size):
        piece = [column[offset : offset + size] for column in columns]
        yield start + offset, piece, len(piece[0])


class _Batch:
    __slots__ = ("columns", "count", "future", "start")

    def __init__(self, start: int, columns: list[Any], count: int, future: Future | None) -> None:
        self.start = start
        self.columns = columns
        self.count = count
        self.future = future


_thread_counts: weakref.WeakKeyDictionary[Any, tuple[float, int]] = weakref.WeakKeyDictionary()


def _worker_threads(client: Any) -> int:
    """Worker threads of the cluster: asked of the scheduler once, then refreshed in the background.

    Only batch sizing uses it, so a count a second old is fine, and a loop of small
    ``ck.map`` calls saves a scheduler round trip each.
    """
    now = time.monotonic()
    cached = _thread_counts.get(client)
    if cached is not None:
        if now - cached[0] >= WORKER_COUNT_TTL:
            _refresh_worker_threads(client, now)
        return cached[1]
    try:
        # Bounded: a scheduler that just died would hold this call for the whole
        # reconnect timeout (10 s) before ck.map could say so.
        threads = max(1, sum(client.nthreads(callback_timeout=WORKER_COUNT_TIMEOUT).values()))
    except Exception:
        _runtime.check_connected(client)
        return 1
    _thread_counts[client] = (now, threads)
    return threads


def _refresh_worker_threads(client: Any, now: float) -> None:
    """Ask the scheduler for the thread count on the client's loop; this call does not wait.

    The next ``ck.map`` sizes its batches by the answer; this one uses the count it has,
    so a loop of ``ck.map`` calls never waits on this round trip.
    """
    _thread_counts[client] = (now, _thread_counts[client][1])  # one refresh at a time

    async def refresh() -> None:
        with contextlib.suppress(Exception):
            counts = await client.scheduler.ncores()
            _thread_counts[client] = (time.monotonic(), max(1, sum(counts.values())))

    with contextlib.suppress(Exception):
        client.loop.add_callback(refresh)


class _MapRun:
    """The state of one ``imap`` call: source, batches in flight, results to hand out."""

    def __init__(
        self,
        fn: Callable[..., Any],
        iterables: tuple[Iterable[Any], ...],
        *,
        ordered: bool,
        batch_size: int | str,
        max_in_flight: int | str,
        retries: int,
        progress: bool | str,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"ck.map needs a callable as its first argument, not {type(fn).__name__}.")
        if not iterables:
            raise TypeError("ck.map needs at least one iterable of items, e.g. ck.map(f, range(10)).")
        if batch_size != "auto" and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be 'auto' or a positive integer, not {batch_size!r}.")
        if max_in_flight != "auto" and (not isinstance(max_in_flight, int) or max_in_flight < 1):
            raise ValueError(f"max_in_flight must be 'auto' or a positive integer, not {max_in_flight!r}.")
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a non-negative integer, not {retries!r}.")
        self.client = _runtime.client()
        self.fn_name = _common.label(fn)
        self.ordered = ordered
        self.batch_size = batch_size
        self.retries = retries
        self.source = _Source(iterables)
        self.slots = _worker_threads(self.client)
        self.window = 2 * self.slots + 1 if max_in_flight == "auto" else int(max_in_flight)
        self.token = uuid.uuid4().hex[:12]
        blob = cloudpickle.dumps(fn, protocol=5)
        self.function: Any = blob
        if len(blob) > SCATTER_FUNCTION_BYTES:
            self.function = self.client.scatter(blob, hash=False)
        self.seconds_per_item: float | None = None
        self.in_flight: dict[Any, _Batch] = {}
        self.outbox: dict[int, list[tuple[str, Callable[..., Any], tuple[Any, ...]]]] = {}
        self.done: dict[int, tuple[list[Any], BaseException | None]] = {}
        self.retry_queue: list[tuple[int, list[Any], int]] = []
        self.next_index = 0
        self.submitted = 0
        self.failed = False
        self.reply = _runtime.reply_to(self.client, "map")
        # Reports arrive with their completion (see _results); only the rest is gathered.
        self.tracker = dask_as_completed([], with_results=False)
        self.progress = make_progress(self.source.total, f"ck.map({self.fn_name})", enabled=progress)

    # -- sizing -------------------------------------------------------------------------------
    def _next_size(self) -> int:
        if isinstance(self.batch_size, int):
            return self.batch_size
        remaining = self.source.remaining
        per_item = self.seconds_per_item
        if remaining is None:
            if per_item is None:
                return FIRST_UNKNOWN_BATCH
            size = int(TARGET_BATCH_SECONDS / max(per_item, 1e-9))
            return max(1, min(size, MAX_UNKNOWN_BATCH_ITEMS))
        if per_item is None:
            # First round: every item, split evenly over the free threads (what one would do by hand).
            # Fast functions finish in this one round trip; slow ones return early (BATCH_TIME_LIMIT)
            # and their rest is sized by measurement.
            free = max(1, self.slots - len(self.in_flight))
            return max(1, min(math.ceil(remaining / free), MAX_BATCH_ITEMS))
        guided = math.ceil(remaining / (GUIDED_FACTOR * self.slots))
        if per_item is not None:
            per_item = max(per_item, 1e-9)
            if remaining * per_item < MIN_BATCH_SECONDS * self.slots:
                # Little work left: share it among the threads that are free now.
                free = max(1, self.slots - len(self.in_flight))
                return max(1, min(math.ceil(remaining / free), MAX_BATCH_ITEMS))
            floor = math.ceil(MIN_BATCH_SECONDS / per_item)
            ceiling = max(1, int(TARGET_BATCH_SECONDS / per_item))
            guided = min(max(guided, floor), ceiling)
        return max(1, min(guided, MAX_BATCH_ITEMS))

    # -- submitting ----------------------------------------------------------------------------
    def _occupied(self) -> int:
        return len(self.in_flight) + len(self.done)

    def _submit(self, start: int, columns: list[Any], count: int, priority: int = 0) -> None:
        payload = _common.dumps(columns)
        if len(payload) > MAX_BATCH_BYTES and self.batch_size == "auto":
            self.seconds_per_item = max(self.seconds_per_item or 0.0, TARGET_BATCH_SECONDS / max(1, count // 2))
        # Unique per submission: a batch sent again (split, cancelled) must not meet its old key.
        self.submitted += 1
        key = f"map-{self.fn_name}-{self.token}-{start}-{self.submitted}"
        self.in_flight[key] = _Batch(start, columns, count, None)
        self.outbox.setdefault(priority, []).append(
            (key, run_batch, (self.function, payload, self.retries, BATCH_TIME_LIMIT, self.reply))
        )

    def _flush(self) -> None:
        """Send the batches :meth:`_submit` queued: one message to the scheduler per priority."""
        outbox, self.outbox = self.outbox, {}
        for priority, calls in sorted(outbox.items(), reverse=True):
            for (key, _, _), future in zip(
                calls, _common.submit_many(self.client, calls, priority=priority), strict=True
            ):
                self.in_flight[key].future = future
                self.tracker.add(future)

    def fill(self) -> None:
        """Submit batches until ``max_in_flight`` are out (fewer before the first measurement)."""
        try:
            self._fill()
        finally:
            self._flush()

    def _fill(self) -> None:
        while self.retry_queue:  # even after a failure: earlier items must still arrive
            start, rest, count = self.retry_queue.pop(0)
            self._submit(start, rest, count, priority=1)
        limit = self.window if self.seconds_per_item is not None else min(self.window, self.slots)
        while not self.failed and self._occupied() < limit:
            start = self.source.taken
            columns = self.source.take(self._next_size())
            if columns is None:
                if self.source.total is None:
                    self.source.total = self.source.taken
                    self.progress.set_total(self.source.total)
                return
            count = len(columns[0])
            free = self.slots - len(self.in_flight)
            if self.source.exhausted and self.batch_size == "auto" and free > 1 and count > 1:
                # The last items of an iterable of unknown length: share them among the free threads.
                size = math.ceil(count / free)
                for piece in _pieces(start, columns, count, size):
                    self._submit(*piece)
                continue
            self._submit(start, columns, count)

    # -- receiving -----------------------------------------------------------------------------
    def _outcome(self, future: Future) -> Any:
        """A done batch's pickled report (from the store, else gathered), or the exception it ended with."""
        if future.key not in self.in_flight:
            return None
        if future.status == "finished":
            report = _results.raw(future, remove=True)
            if report is not None:
                return report
        try:
            return future.result()
        except (Exception, asyncio.CancelledError) as exc:  # KilledWorker, cancelled, lost scheduler
            return exc

    def _receive(self, future: Future, result: Any) -> None:
        batch = self.in_flight.pop(future.key, None)
        if batch is None:
            return
        if isinstance(result, BaseException) or not isinstance(result, bytes):
            if isinstance(result, KilledWorker):
                self._worker_killer(batch, result)
                return
            if isinstance(result, CancelledError):  # not by us: the client lost its scheduler
                _runtime.check_connected(self.client)
            error = _runtime.remote_error(
                result if isinstance(result, BaseException) else None,
                "",
                what=f"ck.map({self.fn_name}): the batch starting at item {batch.start}",
                index=batch.start,
                fix="The batch itself failed (the function could not be loaded on the worker?); "
                "check that its modules are installed on the workers.",
            )
            self._store(batch.start, [], error)
            return
        report = pickle.loads(result)
        status = report[0]
        if status == "cancelled":  # someone else cancelled it: run it again
            self.retry_queue.append((batch.start, batch.columns, batch.count))
            return
        results, n_done, seconds = report[1], report[2], report[3]
        if n_done:
            measured = seconds / n_done
            previous = self.seconds_per_item
            self.seconds_per_item = measured if previous is None else 0.5 * (previous + measured)
        if status == "error":
            exc, type_name, text, remote_tb = report[4], report[5], report[6], report[7]
            index = batch.start + n_done
            error = _runtime.remote_error(
                exc if exc is not None else RuntimeError(text),
                remote_tb,
                what=f"ck.map({self.fn_name})",
                index=index,
                type_name=type_name,
                fix="Fix the function for that item, or pass retries=N if the failure is transient.",
            )
            self._store(batch.start, results, error)
            return
        if n_done < batch.count:  # returned early: send the rest again, ahead of new batches
            self._requeue(batch.start + n_done, [column[n_done:] for column in batch.columns], batch.count - n_done)
        self._store(batch.start, results, None)

    def _requeue(self, start: int, columns: list[Any], count: int) -> None:
        """Queue the rest of a batch that returned early, cut to the measured batch size.

        Uncut, a long rest would run on one thread while the others go idle at the end.
        """
        size = count
        if self.batch_size == "auto" and self.seconds_per_item:
            size = max(1, int(TARGET_BATCH_SECONDS / self.seconds_per_item))
        self.retry_queue.extend(_pieces(start, columns, count, size))

    def _worker_killer(self, batch: _Batch, killed: KilledWorker) -> None:
        """Every worker that ran ``batch`` died: find the item that kills them.

        Dask gives up on a task after its worker died ``allowed-failures + 1`` times.
        A batch of several items is split into up to ``KILLER_SPLIT`` pieces that run
        again, so the error can name the one item that kills (rather than a batch
        start), and the good items still arrive.
        """
        if batch.count > 1:
            size = math.ceil(batch.count / KILLER_SPLIT)
            self.retry_queue.extend(_pieces(batch.start, batch.columns, batch.count, size))
            return
        error = _runtime.remote_error(
            None,
            "",
            what=f"ck.map({self.fn_name})",
            index=batch.start,
            type_name="KilledWorker",
            fix=f"The worker process running it died each of the {killed.allowed_failures + 1} times it "
            "was tried: the function crashes the process on that item (os._exit, a crash in compiled "
            "code, or running out of memory).",
        )
        self._store(batch.start, [], error)

    def _store(self, start: int, results: list[Any], error: BaseException | None) -> None:
        if error is not None:
            self.failed = True
        self.done[start] = (results, error)

    def _deliverable(self) -> Iterator[list[Any]]:
        """Lists of results (a batch each) that may be handed out now, in order when ``ordered``."""
        while self.done:
            if self.ordered:
                entry = self.done.pop(self.next_index, None)
                if entry is None:
                    return
            else:
                start = next(iter(self.done))
                entry = self.done.pop(start)
            results, error = entry
            self.next_index += len(results)
            self.progress.update(len(results))
            if results:
                yield results
            if error is not None:
                raise error

    def _finished(self) -> bool:
        return not self.in_flight and not self.done and not self.retry_queue and self.source.exhausted

    def chunks(self) -> Generator[list[Any], None, None]:
        """The results, a batch's list at a time (the caller flattens them: a yield per item costs)."""
        checked = time.monotonic()
        try:
            while True:
                yield from self._deliverable()
                if self._finished():
                    break
                self.fill()
                if self._finished():
                    break
                try:
                    future = self.tracker.queue.get(timeout=0.1)
                except queue.Empty:
                    self.progress.update(0)
                    if time.monotonic() - checked > 1:  # a killed scheduler: fail now, not after 10 s
                        _runtime.check_connected(self.client)
                        checked = time.monotonic()
                    continue
                self._receive(future, self._outcome(future))
                while True:  # take whatever else has arrived, then refill once
                    try:
                        future = self.tracker.queue.get_nowait()
                    except queue.Empty:
                        break
                    self._receive(future, self._outcome(future))
        finally:
            self.close()

    def close(self) -> None:
        """Cancel whatever is still outstanding and drop all references."""
        outstanding = [batch.future for batch in self.in_flight.values() if batch.future is not None]
        self.in_flight.clear()
        self.retry_queue.clear()
        self.done.clear()
        with contextlib.suppress(Exception):
            self.tracker.clear()
        if outstanding:
            with contextlib.suppress(Exception):
                self.client.cancel(outstanding, force=True)
                # Dask cannot stop a running batch: it stops itself before its next item once its
                # worker has heard of the cancel. Return only when every worker has (bounded wait).
                self.client.run(_heard_cancel, [f.key for f in outstanding], 2.0)
        if isinstance(self.function, Future):
            with contextlib.suppress(Exception):
                self.function.release()
        self.progress.close()


def imap(
    fn: Callable[..., Any],
    *iterables: Iterable[Any],
    ordered: bool = True,
    batch_size: int | str = "auto",
    max_in_flight: int | str = "auto",
    retries: int = 0,
    progress: bool | str = "auto",
) -> Iterator[Any]:
    """Apply ``fn`` to every item on the cluster; yield results as they are ready.

    Like the built-in ``map``, several iterables are zipped (``fn(a, b)``) and the
    shortest ends the run. ``ordered=False`` yields each batch's results as soon
    as it completes. Items are pulled lazily: a generator of unknown length runs
    in bounded memory (at most ``max_in_flight`` batches; ``"auto"`` is twice the
    worker threads, plus one). Work starts when the iterator is first advanced;
    breaking out of the loop (or Ctrl-C) cancels what is still outstanding.

    >>> for square in ck.imap(lambda x: x * x, range(3)):  # doctest: +SKIP
    ...     print(square)
    0
    1
    4

    Raises :class:`~clusterkit.errors.RemoteError` (with ``.index`` and
    ``.remote_traceback``; also an instance of the original exception type) when
    ``fn`` fails on an item after ``retries`` extra attempts.
    """
    run = _MapRun(
        fn, iterables, ordered=ordered, batch_size=batch_size, max_in_flight=max_in_flight,
        retries=retries, progress=progress,
    )
    return _flatten(run.chunks())


def _flatten(chunks: Generator[list[Any], None, None]) -> Iterator[Any]:
    try:
        for chunk in chunks:
            yield from chunk
    finally:
        chunks.close()  # leaving the loop early cancels what is outstanding (see _MapRun.close)


def map(
    fn: Callable[..., Any],
    *iterables: Iterable[Any],
    batch_size: int | str = "auto",
    ordered: bool = True,
    retries: int = 0,
    progress: bool | str = "auto",
    max_in_flight: int | str = "auto",
) -> list[Any]:
    """Apply ``fn`` to every item on the cluster and return the list of results.

    >>> ck.map(pow, [2, 3], [10, 2])                     # doctest: +SKIP
    [1024, 9]

    Tiny functions are batched automatically (a million no-op items take well
    under a second on two workers); long ones are spread over every worker.
    ``progress="auto"`` shows a bar (a widget in Jupyter) for work longer than
    about a second. See :func:`imap` for the remaining arguments and errors.
    """
    run = _MapRun(
        fn, iterables, ordered=ordered, batch_size=batch_size, max_in_flight=max_in_flight,
        retries=retries, progress=progress,
    )
    out: list[Any] = []
    for chunk in run.chunks():
        out.extend(chunk)
    return out
