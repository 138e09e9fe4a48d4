"""The graders of every exercise in the curriculum, one section per notebook.

Exercise ids are ``"<notebook number>.<name>"``. Every grader judges the work that
produced the answer, not just the answer:

* inputs are random on every run (sizes, values with fractional parts, where the
  fast and slow tasks sit, ``k``), so a remembered answer does not pass;
* the tasks are those the learner's call submitted (:class:`~clusterkit.teach.capture.Capture`,
  read from the scheduler), and the actor calls those made on the actors the grader
  created; overlap, counts and graph shape are measured over those only;
* functions and objects the grader hands over count the calls made here in the
  kernel (:class:`~clusterkit.teach.grading.Probe`), so the right value computed
  serially in the kernel is caught;
* where speed is the lesson, the call must finish well below the serial time
  (:func:`speed_limit`, stretched on one CPU).

Hints name the idea to use, not the code.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import numbers
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from clusterkit.teach import environment, shared
from clusterkit.teach.capture import Capture, max_overlap
from clusterkit.teach.grading import NotYet, Probe, actor_calls, call_with_timeout, expect, grader, known_actor_ids

__all__ = ["speed_limit"]


def _client() -> Any:
    return shared.cluster().client


def _wait_idle(timeout: float = 15.0) -> Any:
    """Wait until no task is running (Dask cannot stop cancelled ones); return the client.

    A grader that measures overlap or deadlines must not share the workers with
    leftovers of an earlier cell, such as a cancelled task still sleeping.
    """
    client = _client()
    deadline = time.monotonic() + environment.time_window(timeout)
    while time.monotonic() < deadline:
        try:
            busy = sum(client.run(_running_tasks).values())
        except Exception:  # a worker restarting: ask again
            busy = 1
        if not busy:
            break
        time.sleep(0.1)
    return client


def _running_tasks(dask_worker: Any = None) -> int:
    """Tasks occupying a worker thread, cancelled ones included (the scheduler forgets those)."""
    return len(getattr(dask_worker, "active_threads", {}) or {})


def _threads() -> int:
    return max(1, sum(_client().nthreads().values()))


def speed_limit(serial: float, parallel_units: int) -> float:
    """Wall-time bound for work that waits: halfway between the ideal and the serial time.

    ``serial`` seconds of waiting work spread over ``parallel_units`` worker threads
    ideally take ``serial / units``. The bound sits halfway to ``serial`` plus a
    scheduling allowance of 0.25 s (0.5 s on one CPU), but never reaches ``serial``:
    an answer that ran the work one item after another cannot pass.
    """
    units = max(1, parallel_units)
    ideal = serial / units
    allowance = 0.25 * max(1.0, 2.0 / environment.cpus())
    return min(ideal + 0.5 * (serial - ideal) + allowance, 0.9 * serial)


def _rng() -> random.Random:
    return random.Random(uuid.uuid4().int)


def _same_number(a: Any, b: float, tolerance: float = 1e-9) -> bool:
    return isinstance(a, numbers.Real) and math.isclose(float(a), b, rel_tol=tolerance, abs_tol=tolerance)


# -- 00 Why distributed --------------------------------------------------------------------
@grader("00.growth", hint="Doubling once every d months means t / d doublings in t months; "
        "each doubling multiplies by 2.")
def _growth(growth: Callable[[float, float], float]) -> str:
    rng = _rng()
    cases = [(round(rng.uniform(1.5, 30), 2), round(rng.uniform(1, 96), 1)) for _ in range(4)] + [(3.4, 18)]
    for doubling, months in cases:
        value = growth(doubling, months)
        expect(value is not None, "growth(...) returned None: return the growth factor.")
        expected = 2 ** (months / doubling)
        expect(_same_number(value, expected, 1e-6), f"growth({doubling}, {months}) should be about "
               f"{expected:.4g}, got {value!r}: in {months} months there are {months / doubling:.3g} doublings.")
    return f"demand doubling every 3.4 months grows {2 ** (18 / 3.4):.0f}x in 18 months; chips gave 2x at best."


@grader("00.parallel-squares", hint="Hand all the calls to the cluster at once and let its workers run them "
        "side by side.")
def _parallel_squares(parallel_squares: Callable[[list[int]], list[int]]) -> str:
    rng = _rng()
    xs = [rng.randint(-50, 50) for _ in range(rng.randint(8, 12))]
    serial = 0.25 * len(xs)
    limit = speed_limit(serial, _threads())
    with Capture(_wait_idle()) as capture:
        result = call_with_timeout(parallel_squares, xs, timeout=environment.time_window(3 * serial))
    expect(result is not None, "parallel_squares returned None: return the list of squares.")
    expected = [x * x for x in xs]
    expect(list(result) == expected, f"for xs={xs} expected {expected}, got {result!r}.")
    expect(capture.ran(), "the squares are right, but nothing ran on the cluster: the loop ran here, in the "
           "kernel, one call after another.")
    busy = capture.busy_seconds()
    expect(busy >= 0.8 * serial, f"the squares are right, but only {busy:.1f} s of the {serial:.1f} s of work ran "
           "on the cluster: the rest ran here, in the kernel.")
    expect(capture.overlap() >= 2, "the calls ran on the cluster, but one at a time. Submit them all before "
           "waiting so several workers sleep at the same moment.")
    expect(capture.seconds <= limit, f"your call took {capture.seconds:.1f} s; one by one takes {serial:.1f} s and "
           f"{_threads()} worker threads should need at most {limit:.1f} s (halfway to serial, with room for "
           "scheduling; more on one CPU). Does part of the work wait for the rest?")
    return (f"{len(xs)} squares in {capture.seconds:.1f} s (serial {serial:.1f} s), up to {capture.overlap()} "
            "calls at the same moment.")


# -- 01 Tasks and futures ------------------------------------------------------------------
@grader("01.launch-then-get", hint="Launch every task first and keep the futures; only then wait for the results.")
def _launch_then_get(launch_then_get: Callable[[list[int]], list[int]]) -> str:
    rng = _rng()
    xs = [rng.randint(-100, 100) for _ in range(rng.randint(6, 9))]
    serial = 0.3 * len(xs)
    limit = speed_limit(serial, _threads())
    with Capture(_wait_idle()) as capture:
        result = call_with_timeout(launch_then_get, xs, timeout=environment.time_window(3 * serial))
    expect(result is not None, "launch_then_get returned None: return the list of results.")
    expected = [x + 1 for x in xs]
    expect(list(result) == expected, f"for xs={xs} expected {expected}, got {result!r}.")
    busy = capture.busy_seconds()
    expect(capture.ran(), "the results are right, but no task ran on the cluster during your call.")
    expect(busy >= 0.8 * serial, f"only {busy:.1f} s of the {serial:.1f} s of slow_inc work ran on the cluster "
           "during your call: the rest ran here in the kernel.")
    expect(capture.overlap() >= 2, "the answer is right, but the slow_inc tasks ran one at a time: waiting "
           "inside the loop holds back the next launch.")
    expect(capture.seconds <= limit, f"your call took {capture.seconds:.1f} s; one at a time takes {serial:.1f} s, "
           f"and with {_threads()} worker threads it should take at most {limit:.1f} s.")
    return f"{len(xs)} tasks in {capture.seconds:.1f} s (serial {serial:.1f} s), up to {capture.overlap()} at once."


def _scheduler_task_facts(keys: list[str], dask_scheduler: Any = None) -> dict[str, tuple[bool, str]]:
    facts = {}
    for key in keys:
        ts = dask_scheduler.tasks.get(key)
        facts[str(key)] = (ts is not None and ts.run_spec is not None, "" if ts is None else str(ts.prefix.name))
    return facts


@grader("01.distinct-rolls", hint="Dask names a task after its function and arguments unless told the function "
        "is not pure.")
def _distinct_rolls(rolls: Any) -> str:
    from distributed import Future

    rolls = list(rolls)
    expect(len(rolls) == 5, f"expected a list of five futures, got {len(rolls)} item(s).")
    expect(all(isinstance(f, Future) for f in rolls), "every item should be a future from client.submit.")
    keys = {f.key for f in rolls}
    expect(len(keys) == 5, f"the five futures have only {len(keys)} distinct key(s): Dask assumed the function "
           "is pure and merged identical calls into one task. Tell submit the function is not pure.")
    values = _client().gather(rolls)  # the scheduler knows every task once its result exists
    facts = _client().run_on_scheduler(_scheduler_task_facts, [f.key for f in rolls])
    expect(all(computed for computed, _ in facts.values()), "some futures hold data sent from the kernel "
           "(scatter), not tasks: the measurements must be taken on the cluster.")
    prefixes = {prefix for _, prefix in facts.values()}
    expect(prefixes == {"noisy_measurement"}, f"the tasks ran {sorted(prefixes)}, not noisy_measurement.")
    expect(len(set(values)) == 5, f"five tasks, but only {len(set(values))} distinct values: {values}.")
    return "five noisy_measurement tasks, five different values."


# -- 02 Task graphs and data movement -----------------------------------------------------
def _add(a: float, b: float) -> float:
    time.sleep(0.05)
    return a + b


@grader("02.tree-sum", hint="Combine neighbours side by side, round after round, so each round halves the "
        "number of futures.")
def _tree_sum(tree_sum: Callable[..., Any]) -> str:
    import clusterkit as ck

    rng = _rng()
    n = rng.randint(9, 14)
    values = [round(rng.uniform(-10, 10), 3) for _ in range(n)]
    leaves = [ck.remote(lambda v: v).remote(v) for v in values]
    add = ck.remote(_add)
    ck.get(leaves)
    leaf_keys = {str(leaf.key) for leaf in leaves}
    with Capture(_wait_idle()) as capture:
        ref = call_with_timeout(tree_sum, leaves, add, timeout=environment.time_window(10))
        expect(ref is not None, "tree_sum returned None: return the final future.")
        expect(hasattr(ref, "key"), f"tree_sum should return a future, not {type(ref).__name__}.")
        total = ck.get(ref, timeout=environment.time_window(10))
    expect(_same_number(total, sum(values), 1e-6), f"the sum of these {n} leaves is {sum(values):.3f}; "
           f"your future holds {total!r}.")
    adds = capture.select(prefix="_add")
    expect(str(ref.key) in {t.key for t in adds}, "the future you returned was not made by add during your call.")
    reached = capture.ancestors(str(ref.key)) & leaf_keys
    expect(reached == leaf_keys, f"the sum is right, but the graph behind your future reaches only "
           f"{len(reached)} of the {n} leaves: part of the sum was done elsewhere (in the kernel?).")
    expect(len(adds) == n - 1, f"{n} leaves need exactly {n - 1} additions; your graph has {len(adds)}.")
    depth = capture.depth(str(ref.key))
    best = math.ceil(math.log2(n))
    expect(depth <= best, f"the sum is right, but the graph is {depth} additions deep; a tree of {n} leaves needs "
           f"only {best}. Add pairs side by side instead of one after another.")
    return f"{n} leaves, {n - 1} additions, {depth} deep (a chain would be {n - 1} deep)."


#: Counts kept by the graders' probe objects, in whichever process they run: "<token>" counts
#: unpacking on a worker, "kernel-<token>" use in the grading kernel.
_COUNTS: dict[str, int] = {}


def _count(token: str, home: int, unpacked: bool = False) -> None:
    """Count one use: unpacking away from ``home`` (a worker), or use at ``home`` (the kernel)."""
    here = os.getpid() == home
    if unpacked and not here:
        _COUNTS[token] = _COUNTS.get(token, 0) + 1
    elif here and not unpacked:
        _COUNTS[f"kernel-{token}"] = _COUNTS.get(f"kernel-{token}", 0) + 1


def _take_count(token: str) -> int:
    """Read and forget a count (runs in the kernel, or on each worker through ``client.run``)."""
    return _COUNTS.pop(token, 0)


class CountedModel:
    """Model weights that count unpacking on workers and products computed in the kernel."""

    def __init__(self, weights: Any, token: str, home: int | None = None) -> None:
        self.weights = weights
        self.token = token
        self.home = os.getpid() if home is None else home

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpack_model, (self.weights, self.token, self.home))

    def _count(self) -> None:
        _count(self.token, self.home)

    def __matmul__(self, other: Any) -> Any:
        self._count()
        return self.weights @ other

    def __rmatmul__(self, other: Any) -> Any:
        self._count()
        return other @ self.weights

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        self._count()
        return self.weights if dtype is None else self.weights.astype(dtype)


def _unpack_model(weights: Any, token: str, home: int) -> CountedModel:
    _count(token, home, unpacked=True)
    return CountedModel(weights, token, home)


@grader("02.pass-by-reference", hint="Put the model on the cluster once and pass the reference you get back "
        "to every task.")
def _pass_by_reference(score_all: Callable[..., Any]) -> str:
    import numpy as np

    rng = np.random.default_rng(uuid.uuid4().int)
    token = uuid.uuid4().hex
    size = int(rng.integers(150_000, 250_000))
    model = CountedModel(rng.normal(size=size), token)
    chunks = [rng.normal(size=size) for _ in range(int(rng.integers(6, 11)))]
    with Capture(_wait_idle()) as capture:
        scores = call_with_timeout(score_all, model, chunks, timeout=environment.time_window(30))
    expect(scores is not None, "score_all returned None: return the list of scores.")
    expected = [float(model.weights @ c) for c in chunks]
    expect(len(scores) == len(chunks) and np.allclose(scores, expected), "the scores are not right (or not in "
           "the order of chunks).")
    here = _take_count(f"kernel-{token}")
    expect(here == 0, f"the scores are right, but {here} of them were computed here, in the kernel: score every "
           "chunk on the cluster.")
    client = _client()
    loads = sum(client.run(_take_count, token).values())
    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    expect(loads > 0, "the scores are right, but no worker ever received the model.")
    expect(len(capture.ran()) >= 1, "no task ran during your call.")
    expect(loads <= workers, f"the scores are right, but workers unpacked the model {loads} times for "
           f"{len(chunks)} chunks: it travelled with every task (or was sent more than once).")
    return f"the model was unpacked {loads} time(s) on {workers} workers for {len(chunks)} chunks."


# -- 03 Waiting, streaming and stragglers ----------------------------------------------------
def _sleep_then(seconds: float, value: Any) -> Any:
    time.sleep(seconds)
    return value


def _racers(slow: float, fast_count: int, slow_within: int = 0) -> tuple[list[Any], list[bool], list[float]]:
    """``fast_count`` fast tasks and (threads - 1) slow ones, all started at once, in random positions.

    The fast ones are submitted first, so there is always a free thread for them
    however the scheduler orders the rest. Values are random numbers with fractions.
    With ``slow_within=k``, one slow task sits among the first ``k`` positions, so
    "the first k in the list" is never "the first k to finish".
    """
    import clusterkit as ck

    rng = _rng()
    slow_count = max(1, _threads() - 1)
    kinds = [True] * fast_count + [False] * slow_count
    values = [round(rng.uniform(0, 1000), 3) for _ in kinds]
    task = ck.remote(_sleep_then)
    _wait_idle()
    futures = [task.remote(0.05 if fast else slow, value) for fast, value in zip(kinds, values, strict=True)]
    order = list(range(len(kinds)))
    rng.shuffle(order)
    if slow_within:
        first_slow = next(p for p, i in enumerate(order) if not kinds[i])
        target = rng.randrange(min(slow_within, len(order)))
        order[first_slow], order[target] = order[target], order[first_slow]
    return [futures[i] for i in order], [kinds[i] for i in order], [values[i] for i in order]


@grader("03.first-k", hint="Wait only until k futures are ready (Ray's wait has a parameter for that), then "
        "fetch just those.")
def _first_k(first_k: Callable[..., Any]) -> str:
    import clusterkit as ck

    rng = _rng()
    k = rng.randint(2, 3)
    slow = 3.0
    refs, fast, values = _racers(slow, k + rng.randint(0, 1), slow_within=k)
    try:
        start = time.perf_counter()
        got = call_with_timeout(first_k, refs, k, timeout=environment.time_window(2 * slow))
        took = time.perf_counter() - start
        slow_done = any(ref.done() for ref, is_fast in zip(refs, fast, strict=True) if not is_fast)
    finally:
        ck.cancel(refs)
    expect(got is not None, "first_k returned None: return the list of values.")
    got = list(got)
    expect(len(got) == k, f"first_k(refs, {k}) should return {k} values, got {len(got)}.")
    expect(not slow_done and took < slow, f"you returned after {took:.1f} s, once slow tasks had finished too: "
           "stop waiting as soon as k tasks are done.")
    fast_values = {v for v, is_fast in zip(values, fast, strict=True) if is_fast}
    expect(set(got) <= fast_values and len(set(got)) == k, f"the first {k} tasks to finish return {k} of "
           f"{sorted(fast_values)}; you returned {got}.")
    return f"returned the first {k} results after {took:.2f} s, while the slow tasks were still running."


@grader("03.deadline", hint="Wait with a timeout for everything, keep what is ready, and tell the cluster you "
        "no longer want the rest.")
def _deadline(within_deadline: Callable[..., Any]) -> str:
    import clusterkit as ck

    rng = _rng()
    slow, deadline = 4.0, round(rng.uniform(0.7, 1.3), 2)
    refs, fast, values = _racers(slow, rng.randint(1, 2))
    start = time.perf_counter()
    try:
        got = call_with_timeout(within_deadline, refs, deadline, timeout=environment.time_window(2 * slow))
        took = time.perf_counter() - start
        statuses = [ref.status for ref in refs]
    finally:
        ck.cancel(refs)
    expect(got is not None, "within_deadline returned None: return the list of values.")
    window = environment.time_window(deadline)
    expect(took <= window, f"you returned after {took:.1f} s; the deadline was {deadline} s "
           "(the grader allows a little more). Wait with a timeout.")
    expect(took >= 0.9 * deadline or len(got) == len(refs), f"you returned after {took:.2f} s, before the "
           f"deadline of {deadline} s: wait until the deadline for whatever can still finish.")
    expected = [v for v, is_fast in zip(values, fast, strict=True) if is_fast]
    expect(list(got) == expected, f"the tasks that finish in time return {expected} (in the order of refs); "
           f"you returned {list(got)}.")
    slow_statuses = {status for status, is_fast in zip(statuses, fast, strict=True) if not is_fast}
    expect(slow_statuses == {"cancelled"}, f"the values are right, but the stragglers were not cancelled "
           f"(their status: {', '.join(sorted(slow_statuses))}).")
    return f"returned {len(expected)} value(s) after {took:.1f} s and cancelled {fast.count(False)} straggler(s)."


# -- 04 Hyperparameter search --------------------------------------------------------------
def _curve(config: dict[str, float], epochs: int) -> float:
    """A learning curve: fast learners plateau high, slow ones keep improving (curves cross)."""
    time.sleep(0.004 * epochs)
    rate, floor = config["rate"], config["floor"]
    return floor + (1.0 - floor) * math.exp(-rate * epochs) + config["wobble"] / (epochs + 1)


class CountingTrainer:
    """``trainer.remote(config, epochs)``: a remote training run that records every request."""

    def __init__(self) -> None:
        import clusterkit as ck

        self._remote = ck.remote(_curve)
        self.calls: list[tuple[int, int, Any]] = []  # (config index, epochs, future)
        self.index: dict[tuple[float, ...], int] = {}

    def bind(self, configs: list[dict[str, float]]) -> None:
        self.index = {_identity(c): i for i, c in enumerate(configs)}

    @property
    def epochs(self) -> int:
        return sum(e for _, e, _ in self.calls)

    def remote(self, config: dict[str, float], epochs: int) -> Any:
        index = self.index.get(_identity(config))
        if index is None:
            raise NotYet("train the configurations you were given (trainer.remote(config, epochs)).")
        epochs = int(epochs)
        future = self._remote.remote(config, epochs)
        self.calls.append((index, epochs, future))
        return future


def _identity(config: Any) -> tuple[float, ...]:
    try:
        return (float(config["rate"]), float(config["floor"]), float(config["wobble"]))
    except (TypeError, KeyError, ValueError):
        return ()


def _search_space(n: int, rng: random.Random) -> list[dict[str, float]]:
    configs = []
    for _ in range(n):
        rate = 10 ** rng.uniform(-1.6, 0.3)
        # Fast learners (large rate) tend to plateau higher: early rankings can mislead.
        floor = 0.05 + 0.25 * rate / (1 + rate) + rng.uniform(0, 0.15)
        configs.append({"rate": rate, "floor": floor, "wobble": rng.uniform(0, 0.05)})
    return configs


@grader("04.successive-halving", hint="Train everyone briefly, keep the best fraction, train the survivors "
        "longer, and repeat; launch each round at once.")
def _successive_halving(successive_halving: Callable[..., Any]) -> str:
    import clusterkit as ck

    rng = _rng()
    configs = _search_space(27, rng)
    trainer = CountingTrainer()
    trainer.bind(configs)
    with Capture(_wait_idle()) as capture:
        best = call_with_timeout(successive_halving, configs, trainer, timeout=environment.time_window(40))
    expect(best is not None, "successive_halving returned None: return the best configuration.")
    expect(_identity(best) in trainer.index, "return one of the configurations you were given.")
    full = 27 * len(configs)
    expect(trainer.calls, "nothing was trained with trainer.remote.")
    expect(trainer.epochs <= full // 3, f"you spent {trainer.epochs} epochs; random search spends {full}. "
           f"Stay within {full // 3} by training most configurations for a few epochs only.")
    losses: dict[tuple[int, int], float] = {}
    for index, epochs, future in trainer.calls:
        losses[(index, epochs)] = ck.get(future, timeout=environment.time_window(10))
    levels = sorted({e for _, e, _ in trainer.calls})
    expect(len(levels) >= 3, f"you trained at {len(levels)} budget level(s) ({levels} epochs): successive "
           "halving needs several rounds, each with fewer configurations trained longer.")
    for low, high in itertools.pairwise(levels):
        tried = sorted((losses[(i, e)], i) for (i, e) in losses if e == low)
        promoted = {i for (i, e) in losses if e == high}
        top = {i for _, i in tried[: math.ceil(len(tried) / 2)]}
        expect(len(promoted) < len(tried), f"{len(promoted)} configurations went on from {low} to {high} epochs "
               f"out of {len(tried)}: each round should keep only the best few.")
        expect(promoted <= top, f"some configurations trained for {high} epochs were not among the best half at "
               f"{low} epochs: rank each round by the losses it returned.")
    final = [(losses[(i, e)], i) for (i, e) in losses if e == levels[-1]]
    winner = trainer.index[_identity(best)]
    expect(winner == min(final)[1], "you did not return the configuration with the lowest loss in the last round.")
    first = [str(f.key) for i, e, f in trainer.calls if e == levels[0]]
    expect(capture.overlap(keys=first) >= 2, "the search is right, but the first round's trials ran one at a "
           "time: launch a whole round, then wait for it.")
    return (f"{len(levels)} rounds ({' -> '.join(map(str, levels))} epochs), {trainer.epochs} epochs spent "
            f"(random search: {full}).")


# -- 05 Actors and state ---------------------------------------------------------------------
def _new_actor_calls(before: set[str], name: str | None, method: str, expected: int,
                     timeout: float = 5.0, actor: Any = None) -> list[dict[str, Any]]:
    """Calls of ``method`` on actors the log had not seen before; waits for ``expected`` of them.

    With ``actor`` (a handle the grader holds), only that actor's calls count: calls of an
    earlier answer's actors may still reach the log after ``before`` was taken.
    """
    own_id = getattr(actor, "actor_id", None)
    deadline = time.monotonic() + environment.time_window(timeout)
    while True:
        calls = [c for c in actor_calls(_client(), method=method) if str(c.get("actor_id")) not in before
                 and (name is None or c.get("actor") == name)
                 and (own_id is None or c.get("actor_id") == own_id)]
        if len(calls) >= expected or time.monotonic() > deadline:
            return calls
        time.sleep(0.1)


@grader("05.counter", hint="An actor class keeps its attributes between method calls; make add change the "
        "running total and hand it back.")
def _counter(counter_class: Any) -> str:
    import clusterkit as ck

    expect(hasattr(counter_class, "remote"), "Counter has no .remote: it is still a plain class, not an actor.")
    rng = _rng()
    amounts = [round(rng.uniform(-5, 20), 2) for _ in range(rng.randint(8, 12))]
    before = known_actor_ids(_client())
    counter = counter_class.remote()
    window = environment.time_window(10)
    totals = ck.get([counter.add.remote(n) for n in amounts], timeout=window)
    expected = [sum(amounts[: i + 1]) for i in range(len(amounts))]
    expect(totals is not None and len(totals) == len(amounts) and all(
        _same_number(t, e, 1e-6) for t, e in zip(totals, expected, strict=True)),
        f"adding {amounts} one by one should give running totals {[round(e, 2) for e in expected]}; got {totals}.")
    value = ck.get(counter.value.remote(), timeout=window)
    expect(_same_number(value, expected[-1], 1e-6), f"value() should return {expected[-1]:.2f}, got {value!r}.")
    calls = _new_actor_calls(before, None, "add", len(amounts), actor=counter)
    expect(len({c.get('actor_id') for c in calls}) == 1 and len(calls) == len(amounts),
           f"the actor log shows {len(calls)} add calls on the new actor; expected {len(amounts)}.")
    return f"{len(amounts)} adds, total {expected[-1]:.2f}, logged on {calls[0]['worker']}."


class _GraderParameterServer:
    """The grader's own parameter server: pull the weights, push a gradient (one SGD step)."""

    def __init__(self, dim: int, learning_rate: float = 0.1) -> None:
        import numpy as np

        self.weights = np.zeros(dim)
        self.learning_rate = learning_rate

    def pull(self) -> Any:
        return self.weights

    def push(self, gradient: Any) -> Any:
        import numpy as np

        self.weights = self.weights - self.learning_rate * np.asarray(gradient, dtype=float)
        return self.weights


def _shard_gradient(true_weights: Any, weights: Any, shard: int) -> Any:
    import numpy as np

    time.sleep(0.1)  # simulated I/O: reading the shard
    rng = np.random.default_rng(int(shard) % 2**32)
    X = rng.normal(size=(200, len(true_weights)))
    y = X @ true_weights + rng.normal(scale=0.1, size=200)
    return 2 * X.T @ (X @ np.asarray(weights, dtype=float) - y) / len(y)


class _Gradient:
    """``gradient(weights, shard)`` for one run: random true weights, counted when called in the kernel."""

    def __init__(self, true_weights: Any) -> None:
        self.true_weights = true_weights

    def __call__(self, weights: Any, shard: int) -> Any:
        return _shard_gradient(self.true_weights, weights, shard)


@grader("05.parameter-server", hint="Each step: read the weights from the server, compute the gradients at the "
        "same time as separate tasks, then update the server.")
def _parameter_server(run_training: Callable[..., Any]) -> str:
    import numpy as np

    import clusterkit as ck

    rng = _rng()
    dim, steps = rng.randint(4, 6), rng.randint(12, 16)
    true_weights = np.array([round(rng.uniform(-3, 3), 2) for _ in range(dim)])
    probe = Probe(_Gradient(true_weights))
    probe.__name__ = "gradient"
    gradient = ck.remote(probe)
    server = ck.remote(_GraderParameterServer)
    before = known_actor_ids(_client())
    ps = server.remote(dim)

    def loss(weights: Any) -> float:
        return float(np.sum((np.asarray(weights) - true_weights) ** 2))

    start_loss = loss(np.zeros(dim))
    with Capture(_wait_idle()) as capture:
        call_with_timeout(run_training, ps, gradient, steps, timeout=environment.time_window(steps * 2.0))
    final = loss(ck.get(ps.pull.remote(), timeout=environment.time_window(10)))
    expect(probe.local_calls == 0, f"gradient ran {probe.local_calls} time(s) here in the kernel: compute the "
           "gradients on the cluster.")
    expect(final < start_loss * 0.05, f"the loss went from {start_loss:.1f} to {final:.2f} in {steps} steps; it "
           "should fall below 5% of the start. Does every step update the server?")
    pushes = _new_actor_calls(before, None, "push", steps, actor=ps)
    expect(steps <= len(pushes) <= 2 * steps, f"the log shows {len(pushes)} push calls for {steps} steps; expected "
           "one or two per step.")
    tasks = capture.ran(prefix="gradient")
    expect(len(tasks) >= 2 * steps, f"{len(tasks)} gradient tasks ran for {steps} steps; expected two per step.")
    overlapped = sum(any(o is not t and o.start < t.stop and t.start < o.stop for o in tasks)  # type: ignore[operator]
                     for t in tasks)
    expect(overlapped >= 0.6 * len(tasks), f"the model trains, but only {overlapped} of {len(tasks)} gradient "
           "tasks overlapped another: launch both of a step's gradients before waiting for either.")
    return f"loss {start_loss:.1f} -> {final:.3f} in {steps} steps, {len(pushes)} pushes, gradients side by side."


# -- 06 RL-style simulation -------------------------------------------------------------------
@grader("06.es-update", hint="Compare each reward with the average reward, weight each perturbation by that "
        "difference, and scale the sum by alpha / (n * sigma).")
def _es_update(es_update: Callable[..., Any]) -> str:
    import numpy as np

    rng = np.random.default_rng(uuid.uuid4().int)
    for _ in range(3):
        n, dim = int(rng.integers(4, 12)), int(rng.integers(3, 10))
        weights, noises, rewards = rng.normal(size=dim), rng.normal(size=(n, dim)), rng.normal(size=n) - 3
        sigma, alpha = round(float(rng.uniform(0.05, 0.5)), 3), round(float(rng.uniform(0.01, 0.3)), 3)
        expected = weights + alpha / (n * sigma) * (noises.T @ (rewards - rewards.mean()))
        got = es_update(weights.copy(), noises.copy(), rewards.copy(), sigma, alpha)
        expect(got is not None, "es_update returned None: return the new weights.")
        got = np.asarray(got, dtype=float)
        expect(got.shape == weights.shape, f"the new weights should have shape {weights.shape}, not {got.shape}.")
        expect(not np.allclose(got, weights), "the weights did not change.")
        expect(np.allclose(got, expected), f"the update is not right for n={n}, sigma={sigma}, alpha={alpha}: "
               "subtract the mean reward, and divide by n * sigma.")
    return "the ES update matches the formula."


def _reward(weights: Any, seed: int, sigma: float) -> float:
    import numpy as np

    noise = np.random.default_rng(int(seed)).normal(size=len(weights))
    perturbed = np.asarray(weights, dtype=float) + sigma * noise
    return -float(np.sum((perturbed - 0.5) ** 2))


class _GraderSimulator:
    """The grader's simulator: a rollout is a short wait plus a reward that depends only on its inputs."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def rollout(self, weights: Any, noise_seed: int, sigma: float) -> float:
        time.sleep(0.06)  # simulated physics time
        return _reward(weights, noise_seed, sigma)


@grader("06.parallel-rollouts", hint="Spread the rollouts over all simulators and launch every one of them "
        "before waiting for any.")
def _parallel_rollouts(collect: Callable[..., Any]) -> str:
    import numpy as np

    import clusterkit as ck

    rng = _rng()
    window = environment.time_window(20)
    simulator = ck.remote(_GraderSimulator)
    ids = known_actor_ids(_client())  # before creating ours: their creation is logged too
    simulators = [simulator.remote(i) for i in range(rng.randint(2, 4))]
    weights = np.array([round(rng.uniform(-1, 1), 3) for _ in range(8)])
    seeds = rng.sample(range(10_000), rng.randint(8, 12))
    sigma = round(rng.uniform(0.05, 0.4), 3)
    reference = [_reward(weights, s, sigma) for s in seeds]
    since = time.time()
    rewards = call_with_timeout(collect, simulators, weights, seeds, sigma, timeout=window)
    expect(rewards is not None, "collect returned None: return the list of rewards.")
    expect(len(rewards) == len(seeds), f"expected {len(seeds)} rewards, got {len(rewards)}.")
    expect(np.allclose(rewards, reference), "the rewards are not right (or not in the order of seeds).")
    deadline = time.monotonic() + environment.time_window(5)
    calls: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        calls = [c for c in actor_calls(_client(), since=since - 1, method="rollout")
                 if str(c.get("actor_id")) not in ids and c.get("actor") == "_GraderSimulator"
                 and c.get("start", 0) >= since]
        if len(calls) >= len(seeds):
            break
        time.sleep(0.1)
    expect(len(calls) >= len(seeds), f"the simulators logged {len(calls)} rollouts for {len(seeds)} seeds: "
           "the rewards must come from the simulators.")
    actors = {c.get("actor_id") for c in calls}
    expect(len(actors) == len(simulators), f"the rewards are right, but only {len(actors)} of the "
           f"{len(simulators)} simulators did rollouts: spread them over all simulators.")
    overlap = max_overlap([(c["start"], c["stop"]) for c in calls])
    overlapped = sum(any(o is not c and o["start"] < c["stop"] and c["start"] < o["stop"] for o in calls)
                     for c in calls)
    expect(overlap >= 2 and overlapped >= 0.6 * len(calls), f"the rewards are right, but only {overlapped} of "
           f"{len(calls)} rollouts overlapped another: launch all of them before waiting.")
    return f"{len(calls)} rollouts on {len(actors)} simulators, up to {overlap} at the same moment."


# -- 07 Fault tolerance ------------------------------------------------------------------------
def _flaky(path: str, failures: int, token: str, home: int) -> str:
    """Fail with ConnectionError ``failures`` times (counted in a file), then succeed."""
    import pathlib

    counter = pathlib.Path(path)
    lines = counter.read_text().split() if counter.exists() else []
    lines.append("kernel" if os.getpid() == home else "worker")
    counter.write_text("\n".join(lines))
    if len(lines) <= failures:
        raise ConnectionError(f"simulated dropped connection (attempt {len(lines)})")
    return f"{token} on attempt {len(lines)}"


@grader("07.retries", hint="Exceptions raised by your own code are retried only when you ask for it, for as many "
        "attempts as you allow.")
def _retries(make_reliable: Callable[[Callable[..., Any]], Any]) -> str:
    import pathlib
    import tempfile

    import clusterkit as ck

    failures, token = 3, uuid.uuid4().hex[:8]  # "up to 3 retries": the last attempt must be allowed
    with tempfile.TemporaryDirectory() as folder:
        path = str(pathlib.Path(folder) / "attempts")
        reliable = make_reliable(_flaky)
        expect(hasattr(reliable, "remote"), "make_reliable should return a remote function.")
        try:
            value = ck.get(reliable.remote(path, failures, token, os.getpid()), timeout=environment.time_window(20))
        except ConnectionError:
            attempts = pathlib.Path(path).read_text().split() if pathlib.Path(path).exists() else []
            raise NotYet(f"the task failed after {len(attempts)} attempt(s) (it needed {failures + 1}): exceptions "
                         "from your code are not retried unless you ask, and only as often as you allow.") from None
        attempts = pathlib.Path(path).read_text().split()
    expect("kernel" not in attempts, "some attempts ran here in the kernel: the retries belong on the cluster.")
    expect(value == f"{token} on attempt {failures + 1}", f"unexpected result {value!r}.")
    return f"failed {failures} time(s), succeeded on attempt {failures + 1}."


@grader("07.checkpoint", hint="A restarted actor starts from its constructor unless it can hand its state to the "
        "new instance: save the state after each call and put it back on restart.")
def _checkpoint(accumulator_class: Any) -> str:
    import signal

    import clusterkit as ck
    from clusterkit.errors import ActorLostError, ActorRestartedError

    expect(hasattr(accumulator_class, "remote"), "Accumulator must be an actor class that may restart.")
    rng = _rng()
    before_kill = [round(rng.uniform(-10, 10), 2) for _ in range(rng.randint(3, 6))]
    after_kill = [round(rng.uniform(-10, 10), 2) for _ in range(rng.randint(1, 3))]
    window = environment.time_window(30)
    acc = accumulator_class.remote()
    totals = ck.get([acc.add.remote(x) for x in before_kill], timeout=window)
    expect(_same_number(totals[-1], sum(before_kill), 1e-6), f"adding {before_kill} should give "
           f"{sum(before_kill):.2f}, got {totals[-1]!r}.")
    client = _client()
    victim = acc.worker
    pid = client.run(os.getpid, workers=[victim])[victim]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + window
    while True:
        try:
            total = ck.get(acc.add.remote(after_kill[0]), timeout=window)
            break
        except ActorRestartedError:  # the call raced the restart: it may be made again
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        except ActorLostError:
            raise NotYet("the actor was lost with its worker: allow it to restart.") from None
    for x in after_kill[1:]:
        total = ck.get(acc.add.remote(x), timeout=window)
    expected = sum(before_kill) + sum(after_kill)
    expect(_same_number(total, expected, 1e-6), f"after the restart the total is {total!r}, but should be "
           f"{expected:.2f}: the actor came back without the state it had before its worker died.")
    return f"the actor moved from {victim} to {acc.worker} and kept its total ({expected:.2f})."


# -- 08 Resources and granularity ---------------------------------------------------------
class Item(int):
    """An integer that counts where it is unpacked and where it is multiplied (for 08.batched)."""

    token: str = ""
    home: int = 0

    def __new__(cls, value: int, token: str, home: int) -> Item:
        item = super().__new__(cls, value)
        item.token, item.home = token, home
        return item

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpack_item, (int(self), self.token, self.home))

    def _count(self) -> None:
        _count(self.token, self.home)

    def __mul__(self, other: Any) -> Any:
        self._count()
        return _times(int(self), other)

    def __rmul__(self, other: Any) -> Any:
        self._count()
        return _times(int(self), other)

    def __pow__(self, other: Any, modulo: Any = None) -> Any:
        self._count()
        return pow(int(self), other, modulo)


def _times(value: int, other: Any) -> Any:
    """``value * other`` without asking ``Item.__rmul__`` again (which would count twice)."""
    product = value.__mul__(int(other)) if isinstance(other, Item) else NotImplemented
    return value * other if product is NotImplemented else product


def _unpack_item(value: int, token: str, home: int) -> Item:
    _count(token, home, unpacked=True)
    return Item(value, token, home)


@grader("08.batched", hint="Give each task a whole slice of the items, so the fixed cost of a task is paid once "
        "per slice, and combine the slices' partial results.")
def _batched(sum_of_squares: Callable[[list[int]], int]) -> str:
    rng = _rng()
    token, home = uuid.uuid4().hex, os.getpid()
    xs = [Item(rng.randint(-2000, 2000), token, home) for _ in range(rng.randint(15_000, 25_000))]
    expected = sum(int(x) * int(x) for x in xs)
    with Capture(_wait_idle()) as capture:
        total = call_with_timeout(sum_of_squares, xs, timeout=environment.time_window(60))
    expect(total is not None, "sum_of_squares returned None: return the sum.")
    expect(_same_number(total, expected, 0) or (isinstance(total, numbers.Integral) and int(total) == expected),
           f"the sum should be {expected}, got {total!r}.")
    here = _take_count(f"kernel-{token}")
    expect(here == 0, f"the sum is right, but {here} multiplications were done here, in the kernel: square the "
           "items on the cluster.")
    unpacked = sum(_client().run(_take_count, token).values())
    tasks = capture.ran()
    expect(tasks and unpacked >= len(xs), f"the sum is right, but only {unpacked} of the {len(xs)} items reached a "
           "worker during your call.")
    expect(len(tasks) <= 100, f"the sum is right, but it took {len(tasks)} tasks; batch the items into at most 100.")
    expect(len(tasks) >= 2, "all items went into a single task: split them into several batches so that the "
           "workers share the work.")
    return f"{len(xs):,} items in {len(tasks)} task(s)."


@grader("08.batch-size", hint="Write the overhead's share of a batch as a function of b, set it at most the "
        "allowed share, solve for b, and take the smallest whole number that satisfies it.")
def _batch_size(batch_size: Callable[[float, float, float], int]) -> str:
    rng = _rng()
    # Random cases whose exact answer is fractional, three with a fraction below one half (rounding to the
    # nearest goes down, ceil up) and three above (rounding goes up, floor down): every wrong rounding
    # meets a case that tells it apart, whatever the draw.
    below: list[tuple[float, float, float]] = []
    above: list[tuple[float, float, float]] = []
    while len(below) < 3 or len(above) < 3:
        per_item = round(10 ** rng.uniform(-6, -2), 9)
        overhead = round(10 ** rng.uniform(-4, -1.5), 6)
        share = round(rng.uniform(0.02, 0.5), 3)
        exact = overhead * (1 - share) / (share * per_item)
        fraction = exact - math.floor(exact)
        if exact > 1.5 and 0.05 < fraction < 0.45 and len(below) < 3:
            below.append((per_item, overhead, share))
        elif exact > 1.5 and 0.55 < fraction < 0.95 and len(above) < 3:
            above.append((per_item, overhead, share))
    cases = [(1e-6, 1e-3, 0.1), (1.0, 1e-3, 0.1), *below, *above]
    for per_item, overhead, share in cases:
        b = batch_size(per_item, overhead, share)
        expect(isinstance(b, numbers.Real) and not isinstance(b, bool) and float(b).is_integer() and b >= 1,
               f"batch_size{(per_item, overhead, share)} should be a positive whole number, got {b!r}.")
        b = int(b)
        fits = overhead / (overhead + b * per_item) <= share + 1e-9  # float rounding at the boundary
        smaller_fits = b > 1 and overhead / (overhead + (b - 1) * per_item) <= share - 1e-9
        expect(fits, f"batch_size{(per_item, overhead, share)} = {b}: the overhead is still more than "
               f"{share:.1%} of the batch. Round up, not to the nearest.")
        expect(not smaller_fits, f"batch_size{(per_item, overhead, share)} = {b}: {b - 1} would do; "
               "return the smallest batch that fits.")
    return f"for 1 µs items and 1 ms tasks, batches of {int(batch_size(1e-6, 1e-3, 0.1)):,} keep overhead under 10%."


# -- 09 Capstone: a mini-Ray ------------------------------------------------------------------
def _blocked(*args: Any, **kwargs: Any) -> Any:
    raise NotYet("the capstone builds this on session.client (plain Dask); clusterkit's own primitive "
                 "(ck.remote, ck.get, ck.wait, ck.map, ...) is switched off while it is graded.")


@contextlib.contextmanager
def _primitives_unavailable() -> Iterator[None]:
    """Switch clusterkit's own task and actor primitives off, however they were imported."""
    import importlib

    # The package re-exports functions named like these modules: import the modules themselves.
    remote = importlib.import_module("clusterkit.parallel.remote")
    actors = importlib.import_module("clusterkit.parallel.actors")
    map_module = importlib.import_module("clusterkit.parallel.map")
    targets = [remote.remote, remote.get, remote.wait, remote.as_completed, remote.cancel,
               remote.RemoteFunction.remote, actors.ActorClass.remote, map_module.map, map_module.imap]
    saved = []
    for function in targets:
        code = function.__code__
        if code.co_freevars:
            continue
        saved.append((function, code))
        function.__code__ = _blocked.__code__
    try:
        yield
    finally:
        for function, code in saved:
            function.__code__ = code


def _random_token() -> str:
    return uuid.uuid4().hex


def _plus(a: float, b: float) -> float:
    return a + b


def _result(ref: Any, timeout: float) -> Any:
    from distributed import Future

    if isinstance(ref, Future):
        return ref.result(timeout=timeout)
    return ref.result()


@grader("09.remote", hint="Every call of .remote must become its own task, and futures passed as arguments go "
        "to the cluster as they are.")
def _mini_remote(remote_function: Callable[[Callable[..., Any]], Any]) -> str:
    from distributed import Future

    rng = _rng()
    a, b, c = (round(rng.uniform(-100, 100), 3) for _ in range(3))
    window = environment.time_window(10)
    with _primitives_unavailable(), Capture(_wait_idle()) as capture:
        token = remote_function(_random_token)
        first, second = token.remote(), token.remote()
        expect(isinstance(first, Future), f".remote(...) should return a Dask future, not {type(first).__name__}.")
        expect(first.key != second.key, "two calls of .remote() with the same arguments became one task (same "
               "key): Dask assumed the function is pure.")
        expect(_result(first, window) != _result(second, window), "two calls returned the same random value.")
        plus = remote_function(_plus)
        expect(_same_number(plus(a, b), a + b, 1e-9), "calling the remote function directly should still run it "
               "here.")
        outer = plus.remote(plus.remote(a, b), c)
        value = _result(outer, window)
    expect(_same_number(value, a + b + c, 1e-9), f"plus.remote(plus.remote({a}, {b}), {c}) gave {value!r}.")
    expect(capture.depth(str(outer.key)) == 2, "the inner future was fetched here before the outer call: pass the "
           "future itself, and let the cluster feed one task into the other.")
    return "every call is its own task, and futures compose on the cluster."


@grader("09.wait", hint="Wait in a loop for the first of the unfinished futures to complete, until enough are "
        "done or the time is up; report ready and pending in the order you were given.")
def _mini_wait(wait: Callable[..., Any]) -> str:
    rng = _rng()
    client = _wait_idle()
    slow = 3.0
    n_fast, n_slow = rng.randint(1, 2), max(1, _threads() - 1)
    kinds = [True] * n_fast + [False] * n_slow
    futures = [client.submit(_sleep_then, 0.05 if fast else slow, i, pure=False) for i, fast in enumerate(kinds)]
    order = list(range(len(kinds)))
    rng.shuffle(order)
    refs = [futures[i] for i in order]
    fast_refs = [r for r, i in zip(refs, order, strict=True) if kinds[i]]
    slow_refs = [r for r, i in zip(refs, order, strict=True) if not kinds[i]]
    try:
        with _primitives_unavailable():
            k = rng.randint(1, n_fast)
            start = time.perf_counter()
            outcome = call_with_timeout(wait, refs, k, timeout=environment.time_window(2 * slow))
            took = time.perf_counter() - start
            expect(isinstance(outcome, tuple) and len(outcome) == 2, "wait should return a pair (ready, pending).")
            ready, pending = map(list, outcome)
            expect(len(ready) + len(pending) == len(refs), "every future must be in ready or in pending.")
            expect(len(ready) == k and all(any(r is f for f in fast_refs) for r in ready) and took < slow,
                   f"wait(refs, num_returns={k}) should return {k} of the fast futures as soon as they are done; "
                   f"it returned {len(ready)} ready after {took:.1f} s.")
            expect([r.key for r in ready + pending if True] and [r.key for r in pending] ==
                   [r.key for r in refs if all(r is not x for x in ready)],
                   "pending should hold every other future, in the order you were given them.")
            timeout = round(rng.uniform(0.2, 0.5), 2)
            start = time.perf_counter()
            ready, pending = map(list, call_with_timeout(wait, refs, len(refs), timeout,
                                                         timeout=environment.time_window(2 * slow)))
            took = time.perf_counter() - start
            expect(took <= environment.time_window(timeout), f"wait(refs, {len(refs)}, timeout={timeout}) returned "
                   f"after {took:.1f} s: respect the timeout.")
            expect([r.key for r in ready] == [r.key for r in fast_refs] and
                   [r.key for r in pending] == [r.key for r in slow_refs],
                   "on timeout, wait should return what is ready so far and the rest as pending, each in input order.")
            distributed_wait = __import__("distributed").wait
            distributed_wait(slow_refs, timeout=environment.time_window(2 * slow))
            reversed_refs = refs[::-1]
            ready, pending = map(list, call_with_timeout(wait, reversed_refs, len(refs),
                                                         timeout=environment.time_window(2 * slow)))
            expect([r.key for r in ready] == [r.key for r in reversed_refs] and pending == [],
                   f"with num_returns={len(refs)} and all done, ready should hold every future in the order given.")
    finally:
        client.cancel(futures)
    return "num_returns, timeout and input order all behave as in Ray."


class _Tally:
    def __init__(self, start: float = 0) -> None:
        self.count = start

    def add(self, x: float) -> float:
        self.count += x
        return self.count

    def value(self) -> float:
        return self.count

    def pid(self) -> int:
        return os.getpid()


def _one_call_after_another(start: float, amounts: list[float], totals: list[Any]) -> bool:
    """Whether ``totals`` (what each ``add(amount)`` returned) are running totals of one serial order."""
    if len(totals) != len(amounts) or not all(isinstance(t, numbers.Real) for t in totals):
        return False
    left = list(zip(amounts, totals, strict=True))
    state = start
    while left:
        step = next(((a, t) for a, t in left if _same_number(t - a, state, 1e-6)), None)
        if step is None:
            return False
        left.remove(step)
        state = step[1]
    return True


@grader("09.actor", hint="Let Dask create the object on a worker as an actor, keep the proxy it gives back, and "
        "forward each method call to it.")
def _mini_actor(actor_class: Callable[[type], Any]) -> str:
    rng = _rng()
    start = round(rng.uniform(-50, 50), 2)
    amounts = [round(rng.uniform(-10, 10), 2) for _ in range(rng.randint(4, 8))]
    window = environment.time_window(10)
    with _primitives_unavailable():
        tally = call_with_timeout(lambda: actor_class(_Tally).remote(start), timeout=window)
        futures = [tally.add.remote(x) for x in amounts]
        values = [f.result() for f in futures]
        expected = [start + sum(amounts[: i + 1]) for i in range(len(amounts))]
        # Dask's own actors may apply concurrent calls in any order: what must hold is that each
        # call saw the state the previous one left (the totals chain up from the start, one by one).
        expect(_one_call_after_another(start, amounts, values),
               f"adding {amounts} from {start} should give running totals such as "
               f"{[round(e, 2) for e in expected]} (in some order of the calls), got {values}.")
        final = call_with_timeout(lambda: tally.value.remote().result(), timeout=window)
        expect(_same_number(final, expected[-1], 1e-6), "the state was lost between calls.")
        pid = tally.pid.remote().result()
    expect(pid != os.getpid(), "the answers are right, but the object lives here in the kernel, not on a worker.")
    return f"the actor keeps its state on a worker (pid {pid})."
