"""The graders of every exercise in the curriculum, one section per notebook.

Exercise ids are ``"<notebook number>.<name>"``. Graders check results *and*
behaviour: what ran on the cluster, whether it overlapped, how many tasks or
actor calls there were. Deadlines come from :func:`environment.time_window`, so
they are as fair on one CPU as on many.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from clusterkit.teach import environment, shared
from clusterkit.teach.grading import NotYet, TaskStream, call_with_timeout, expect, grader

__all__: list[str] = []


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


# -- 00 Why distributed --------------------------------------------------------------------
@grader("00.growth", hint="Something that doubles every d months grows 2 ** (t / d) times in t months.")
def _growth(growth: Callable[[float, float], float]) -> str:
    value = growth(3.4, 18)
    expect(value is not None, "growth(...) returned None: replace the TODO with the formula 2 ** (months / doubling).")
    expect(math.isclose(growth(18, 18), 2.0, rel_tol=1e-6), "growth(18, 18) should be 2: one doubling in 18 months.")
    expect(math.isclose(growth(12, 36), 8.0, rel_tol=1e-6), "growth(12, 36) should be 8: three doublings.")
    expect(math.isclose(value, 2 ** (18 / 3.4), rel_tol=1e-6), "growth(3.4, 18) should be about 39.")
    return f"demand doubling every 3.4 months grows {value:.0f}x in 18 months; chips gave 2x at best."


def _slow_square_reference(xs: list[int]) -> list[int]:
    return [x * x for x in xs]


@grader("00.parallel-squares", hint="Return ck.map(slow_square, xs): it runs the calls on the cluster's workers.")
def _parallel_squares(parallel_squares: Callable[[list[int]], list[int]]) -> str:
    xs = list(range(8))
    serial_time = 8 * 0.25
    with TaskStream(_wait_idle()) as stream:
        result = call_with_timeout(parallel_squares, xs, timeout=environment.time_window(2 * serial_time))
    expect(result is not None, "parallel_squares returned None: return the list of squares.")
    expect(list(result) == _slow_square_reference(xs), f"expected {_slow_square_reference(xs)}, got {result!r}.")
    tasks = stream.tasks()
    expect(tasks, "the squares are right, but nothing ran on the cluster: your loop ran here, in the kernel, "
           "one call after another. Use ck.map(slow_square, xs).")
    expect(stream.overlap() >= 2, "tasks ran on the cluster, but one at a time. Submit them all at once "
           "(ck.map does) so several workers sleep at the same moment.")
    return f"{len(tasks)} task(s) on {len(stream.workers())} worker(s), up to {stream.overlap()} at the same moment."


# -- 01 Tasks and futures ------------------------------------------------------------------
@grader("01.launch-then-get", hint="Build the whole list of futures first, then call ck.get on the list.")
def _launch_then_get(launch_then_get: Callable[[list[int]], list[int]]) -> str:
    xs = list(range(6))
    with TaskStream(_wait_idle()) as stream:
        result = call_with_timeout(launch_then_get, xs, timeout=environment.time_window(2 * 6 * 0.3))
    expect(result is not None, "launch_then_get returned None: return the list of results.")
    expect(list(result) == [x + 1 for x in xs], f"expected {[x + 1 for x in xs]}, got {result!r}.")
    tasks = stream.tasks("slow_inc")
    expect(len(tasks) >= len(xs), f"only {len(tasks)} slow_inc task(s) ran on the cluster; expected one per item.")
    expect(stream.overlap("slow_inc") >= 2, "the answer is right, but the slow_inc tasks ran one at a time: "
           "ck.get inside the loop waits for each task before the next one is launched.")
    return f"{len(tasks)} tasks, up to {stream.overlap('slow_inc')} running at the same moment."


@grader("01.distinct-rolls", hint="client.submit(noisy_measurement, pure=False) makes each call its own task.")
def _distinct_rolls(rolls: Any) -> str:
    from distributed import Future

    rolls = list(rolls)
    expect(len(rolls) == 5, f"expected a list of five futures, got {len(rolls)} item(s).")
    expect(all(isinstance(f, Future) for f in rolls), "every item should be a future from client.submit.")
    keys = {f.key for f in rolls}
    expect(len(keys) == 5, f"the five futures have only {len(keys)} distinct key(s): Dask assumed the function "
           "is pure and merged identical calls into one task. Tell submit the function is not pure.")
    values = _client().gather(rolls)
    expect(len(set(values)) == 5, f"five tasks, but only {len(set(values))} distinct values: {values}.")
    return "five tasks, five different values."


# -- 02 Task graphs and data movement -----------------------------------------------------
class Partial:
    """A partial sum that remembers how deep in the graph it was made (for 02.tree-sum)."""

    def __init__(self, value: int, depth: int) -> None:
        self.value = value
        self.depth = depth

    def __repr__(self) -> str:
        return f"Partial(value={self.value}, depth={self.depth})"


def _leaf(i: int) -> Partial:
    return Partial(i, 0)


def _depth_add(a: Partial, b: Partial) -> Partial:
    time.sleep(0.05)
    return Partial(a.value + b.value, max(a.depth, b.depth) + 1)


@grader("02.tree-sum", hint="Pair neighbours: [add.remote(refs[i], refs[i+1]) ...], carry an odd one over, repeat.")
def _tree_sum(tree_sum: Callable[..., Any]) -> str:
    import clusterkit as ck

    n = 8
    leaves = [ck.remote(_leaf).remote(i) for i in range(n)]
    add = ck.remote(_depth_add)
    ref = call_with_timeout(tree_sum, leaves, add, timeout=environment.time_window(5))
    expect(ref is not None, "tree_sum returned None: return the final future.")
    result = ck.get(ref, timeout=environment.time_window(5)) if not isinstance(ref, Partial) else ref
    expect(isinstance(result, Partial), f"the final future should hold what add returns, not {result!r}.")
    expect(result.value == sum(range(n)), f"the sum should be {sum(range(n))}, got {result.value}.")
    best = math.ceil(math.log2(n))
    expect(result.depth <= best, f"the sum is right, but the graph is {result.depth} additions deep; a tree of "
           f"{n} leaves needs only {best}. Add pairs side by side instead of one after another.")
    return f"sum {result.value} at depth {result.depth} (a chain would be {n - 1} deep)."


_MODEL_LOADS: dict[str, int] = {}


class CountedModel:
    """Model weights that count how often a worker unpacks them (for 02.pass-by-reference)."""

    def __init__(self, weights: Any, token: str) -> None:
        self.weights = weights
        self.token = token

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpack_model, (self.weights, self.token))

    def __matmul__(self, other: Any) -> Any:
        return self.weights @ other

    def __rmatmul__(self, other: Any) -> Any:
        return other @ self.weights

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        return self.weights if dtype is None else self.weights.astype(dtype)


def _unpack_model(weights: Any, token: str) -> CountedModel:
    _MODEL_LOADS[token] = _MODEL_LOADS.get(token, 0) + 1
    return CountedModel(weights, token)


def _model_loads(token: str) -> int:
    return _MODEL_LOADS.get(token, 0)


@grader("02.pass-by-reference", hint="Scatter the model once (client.scatter(model, broadcast=True)) and pass "
        "the future it returns to every task.")
def _pass_by_reference(score_all: Callable[..., Any]) -> str:
    import uuid

    import numpy as np

    token = uuid.uuid4().hex
    rng = np.random.default_rng(1)
    model = CountedModel(rng.normal(size=200_000), token)
    chunks = [rng.normal(size=200_000) for _ in range(8)]
    scores = call_with_timeout(score_all, model, chunks, timeout=environment.time_window(20))
    expect(scores is not None, "score_all returned None: return the list of scores.")
    expected = [float(model.weights @ c) for c in chunks]
    expect(len(scores) == len(chunks) and np.allclose(scores, expected), "the scores are not right.")
    client = _client()
    loads = sum(client.run(_model_loads, token).values())
    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    expect(loads > 0, "the scores are right, but no worker ever received the model: run score on the cluster.")
    expect(loads <= workers, f"the scores are right, but workers unpacked the model {loads} times for "
           f"{len(chunks)} tasks: it travelled by value with every task.")
    return f"the model was unpacked {loads} time(s) on {workers} workers for {len(chunks)} tasks."


# -- 03 Waiting, streaming and stragglers ----------------------------------------------------
def _sleep_then(seconds: float, value: Any) -> Any:
    time.sleep(seconds)
    return value


def _racers(slow: float) -> tuple[list[Any], list[str]]:
    """One fast task and (worker threads - 1) slow ones, so that all of them start at once."""
    import clusterkit as ck

    threads = max(2, sum(_wait_idle().nthreads().values()))
    names = [f"slow-{i}" for i in range(threads - 1)] + ["fast"]
    names = names[-2:] + names[:-2]  # the fast one is neither first nor last
    task = ck.remote(_sleep_then)
    refs = [task.remote(0.05 if name == "fast" else slow, name) for name in names]
    return refs, names


@grader("03.first-k", hint="ready, pending = ck.wait(refs, num_returns=k) returns once k are done; "
        "then ck.get(ready).")
def _first_k(first_k: Callable[..., Any]) -> str:
    import clusterkit as ck

    slow = 3.0
    refs, _ = _racers(slow)
    try:
        values = call_with_timeout(first_k, refs, 1, timeout=environment.time_window(2 * slow))
        finished = [ref.done() for ref in refs]
    finally:
        ck.cancel(refs)
    expect(values is not None, "first_k returned None: return the list of values.")
    values = list(values)
    expect(len(values) == 1, f"first_k(refs, 1) should return one value, got {len(values)}.")
    expect(not all(finished), "you returned only after every task had finished: the slow ones were "
           "waited for too. Stop waiting once k tasks are done.")
    expect(values == ["fast"], f"the first task to finish returns 'fast', but you returned {values}.")
    return "returned the fastest result while the slow tasks were still running."


@grader("03.deadline", hint="ready, pending = ck.wait(refs, num_returns=len(refs), timeout=seconds); "
        "ck.cancel(pending); return ck.get(ready).")
def _deadline(within_deadline: Callable[..., Any]) -> str:
    import clusterkit as ck

    slow, deadline = 4.0, 1.0
    refs, names = _racers(slow)
    start = time.perf_counter()
    try:
        values = call_with_timeout(within_deadline, refs, deadline, timeout=environment.time_window(2 * slow))
        took = time.perf_counter() - start
        statuses = [ref.status for ref in refs]
    finally:
        ck.cancel(refs)
    expect(values is not None, "within_deadline returned None: return the list of values.")
    window = environment.time_window(deadline)
    expect(took <= window, f"you returned after {took:.1f} s; the deadline was {deadline:.0f} s "
           "(the grader allows a little more). Wait with a timeout.")
    expect(list(values) == ["fast"], f"only the fast task finishes in time; you returned {list(values)}.")
    slow_statuses = {status for name, status in zip(names, statuses, strict=True) if name != "fast"}
    expect(slow_statuses == {"cancelled"}, f"the values are right, but the stragglers were not cancelled "
           f"(their status: {', '.join(sorted(slow_statuses))}). Cancel the pending futures.")
    return f"returned {values} after {took:.1f} s and cancelled {len(refs) - 1} straggler(s)."


# -- 04 Hyperparameter search --------------------------------------------------------------
class CountingTrainer:
    """``trainer.remote(config, epochs)``: a remote ``train`` that counts the epochs asked for."""

    def __init__(self) -> None:
        import clusterkit as ck
        from clusterkit.teach.tuning import train

        self._remote = ck.remote(train)
        self.epochs = 0
        self.trials = 0

    def remote(self, config: dict[str, float], epochs: int) -> Any:
        self.epochs += int(epochs)
        self.trials += 1
        return self._remote.remote(config, epochs)


@grader("04.successive-halving", hint="Each round: losses = ck.get([trainer.remote(c, epochs) for c in survivors]); "
        "keep the best third; epochs *= 3; stop when one is left.")
def _successive_halving(successive_halving: Callable[..., Any]) -> str:
    from clusterkit.teach.tuning import floor, sample_configs

    configs = sample_configs(27, seed=11)
    trainer = CountingTrainer()
    with TaskStream(_wait_idle()) as stream:
        best = call_with_timeout(successive_halving, configs, trainer, timeout=environment.time_window(30))
    expect(best is not None, "successive_halving returned None: return the best configuration.")
    expect(best in configs, "return one of the configurations you were given.")
    rank = sorted(configs, key=floor).index(best) + 1
    full = 27 * len(configs)
    expect(trainer.epochs <= full // 4, f"you spent {trainer.epochs} epochs; random search spends {full}. "
           f"Stay within {full // 4} by training most configurations for a few epochs only.")
    expect(trainer.epochs >= 27 * 2, f"you spent only {trainer.epochs} epochs: train the finalists longer.")
    expect(rank <= 3, f"your winner is only number {rank} of 27; successive halving should find one of the top 3.")
    expect(stream.overlap("train") >= 2, "the answer is good, but the trials ran one at a time: launch a "
           "whole round, then wait for it.")
    return f"found the number {rank} configuration of 27 for {trainer.epochs} epochs ({full} for random search)."


# -- 08 Resources and granularity ---------------------------------------------------------
@grader("08.batched", hint="Cut xs into chunks of about 1,000 items, one remote call per chunk, and add "
        "up the partial sums.")
def _batched(sum_of_squares: Callable[[list[int]], int]) -> str:
    xs = list(range(20_000))
    with TaskStream(_wait_idle()) as stream:
        total = call_with_timeout(sum_of_squares, xs, timeout=environment.time_window(60))
    expect(total is not None, "sum_of_squares returned None: return the sum.")
    expect(total == sum(x * x for x in xs), f"the sum should be {sum(x * x for x in xs)}, got {total!r}.")
    tasks = len(stream.tasks())
    expect(tasks > 0, "the sum is right, but nothing ran on the cluster: it was computed here, in the kernel.")
    expect(tasks <= 100, f"the sum is right, but it took {tasks} tasks; batch the items into at most 100.")
    return f"20,000 items in {tasks} task(s)."


@grader("08.batch-size", hint="overhead / (overhead + b * per_item) <= max_share; solve for b and round up.")
def _batch_size(batch_size: Callable[[float, float, float], int]) -> str:
    cases = [(1e-6, 1e-3, 0.1), (1e-3, 1e-3, 0.5), (2e-4, 2e-3, 0.05), (1.0, 1e-3, 0.1)]
    for per_item, overhead, share in cases:
        b = batch_size(per_item, overhead, share)
        expect(isinstance(b, int) and b >= 1, f"batch_size{(per_item, overhead, share)} should be a positive "
               f"integer, got {b!r}.")
        fits = overhead / (overhead + b * per_item) <= share + 1e-9  # float rounding at the boundary
        smaller_fits = b > 1 and overhead / (overhead + (b - 1) * per_item) < share - 1e-9
        expect(fits, f"batch_size{(per_item, overhead, share)} = {b}: the overhead is still more than "
               f"{share:.0%} of the batch.")
        expect(not smaller_fits, f"batch_size{(per_item, overhead, share)} = {b}: {b - 1} would do; "
               "return the smallest batch that fits.")
    return f"for 1 µs items and 1 ms tasks, batches of {batch_size(1e-6, 1e-3, 0.1):,} keep overhead under 10%."


# -- 09 Capstone: a mini-Ray ------------------------------------------------------------------
def _random_token() -> str:
    import uuid

    return uuid.uuid4().hex


def _plus(a: int, b: int) -> int:
    return a + b


def _result(ref: Any, timeout: float) -> Any:
    from distributed import Future

    if isinstance(ref, Future):
        return ref.result(timeout=timeout)
    return ref.result()


@grader("09.remote", hint="client.submit(fn, *args, pure=False, **kwargs) makes every call its own task.")
def _mini_remote(remote_function: Callable[[Callable[..., Any]], Any]) -> str:
    from distributed import Future

    token = remote_function(_random_token)
    first, second = token.remote(), token.remote()
    expect(isinstance(first, Future), f".remote(...) should return a Dask future, not {type(first).__name__}.")
    expect(first.key != second.key, "two calls of .remote() with the same arguments became one task (same key): "
           "Dask assumed the function is pure.")
    window = environment.time_window(10)
    expect(_result(first, window) != _result(second, window), "two calls returned the same random value.")
    plus = remote_function(_plus)
    expect(plus(1, 2) == 3, "calling the remote function directly should still run it here.")
    expect(_result(plus.remote(plus.remote(1, 2), 3), window) == 6, "a future passed as an argument should be "
           "replaced by its value.")
    return "every call is its own task, and futures compose."


@grader("09.wait", hint="Loop: stop when num_returns are done or the deadline passed; otherwise "
        "distributed.wait(not_done, timeout=left, return_when='FIRST_COMPLETED'). Keep input order.")
def _mini_wait(wait: Callable[..., Any]) -> str:
    client = _wait_idle()
    slow, fast = 3.0, 0.05
    refs = [client.submit(_sleep_then, slow, "slow", pure=False), client.submit(_sleep_then, fast, "fast", pure=False)]
    try:
        start = time.perf_counter()
        outcome = call_with_timeout(wait, refs, 1, timeout=environment.time_window(2 * slow))
        took = time.perf_counter() - start
        expect(isinstance(outcome, tuple) and len(outcome) == 2, "wait should return a pair (ready, pending).")
        ready, pending = map(list, outcome)
        expect(len(ready) + len(pending) == len(refs), "every future must be in ready or in pending.")
        expect(ready == [refs[1]] and pending == [refs[0]], "wait(refs, num_returns=1) with one slow and one fast "
               f"task should return ([fast], [slow]); it returned ({len(ready)} ready, {len(pending)} pending), "
               f"after {took:.1f} s.")
        start = time.perf_counter()
        ready, pending = map(list, call_with_timeout(wait, refs, 2, 0.3, timeout=environment.time_window(2 * slow)))
        took = time.perf_counter() - start
        expect(took <= environment.time_window(0.3), f"wait(refs, 2, timeout=0.3) returned after {took:.1f} s: "
               "respect the timeout.")
        expect(ready == [refs[1]] and pending == [refs[0]], "on timeout, wait should return what is ready so far "
               "(here: [fast], [slow]).")
        ready, pending = map(list, call_with_timeout(wait, [refs[1], refs[0]], 2, timeout=environment.time_window(2 * slow)))
        expect(ready == [refs[1], refs[0]] and pending == [], "with num_returns=2, ready should hold both futures, "
               "in the order you were given them.")
    finally:
        client.cancel(refs)
    return "num_returns, timeout and input order all behave as in Ray."


class _Tally:
    def __init__(self, start: int = 0) -> None:
        self.count = start

    def incr(self) -> int:
        self.count += 1
        return self.count

    def value(self) -> int:
        return self.count

    def pid(self) -> int:
        import os

        return os.getpid()


@grader("09.actor", hint="In ActorHandle.__init__: self._proxy = client.submit(cls, *args, actor=True).result(); "
        "a method's .remote(...) calls getattr(self._proxy, name)(...).")
def _mini_actor(actor_class: Callable[[type], Any]) -> str:
    import os

    window = environment.time_window(10)
    tally = actor_class(_Tally).remote(10)
    futures = [tally.incr.remote() for _ in range(5)]
    values = [f.result() for f in futures]
    expect(values == [11, 12, 13, 14, 15], f"five incr calls from 10 should return 11..15, got {values}.")
    expect(call_with_timeout(lambda: tally.value.remote().result(), timeout=window) == 15, "the state was lost.")
    pid = tally.pid.remote().result()
    expect(pid != os.getpid(), "the answers are right, but the object lives here in the kernel, not on a worker.")
    return f"the actor keeps its state on a worker (pid {pid})."


# -- 05 Actors and state ---------------------------------------------------------------------
def _actor_calls_since(since: float, method: str | None = None, expected: int = 0,
                       timeout: float = 5.0) -> list[dict[str, Any]]:
    """Calls logged on ``clusterkit-actors`` that started after ``since``; waits for ``expected``."""
    from clusterkit.teach.grading import actor_calls

    deadline = time.monotonic() + timeout
    while True:
        calls = [c for c in actor_calls(_client()) if c.get("start", 0) >= since
                 and (method is None or c.get("method") == method)]
        if len(calls) >= expected or time.monotonic() > deadline:
            return calls
        time.sleep(0.1)


@grader("05.counter", hint="Put @ck.remote above the class; add must update self.total and return it.")
def _counter(counter_class: Any) -> str:
    import clusterkit as ck

    expect(hasattr(counter_class, "remote"), "Counter has no .remote: decorate the class with @ck.remote.")
    since = time.time() - 0.5
    counter = counter_class.remote()
    window = environment.time_window(10)
    totals = ck.get([counter.add.remote(n) for n in range(1, 11)], timeout=window)
    expect(totals == [sum(range(1, n + 1)) for n in range(1, 11)], f"running totals should be 1, 3, 6, ... 55; "
           f"got {totals}.")
    expect(ck.get(counter.value.remote(), timeout=window) == 55, "value() should return 55 after adding 1..10.")
    calls = _actor_calls_since(since, "add", expected=10)
    expect(len(calls) >= 10, f"the actor log shows {len(calls)} add calls; expected 10.")
    return f"total 55; the log shows {len(calls)} add calls on {calls[0]['worker']}."


@grader("05.parameter-server", hint="Each step: w = ck.get(ps.pull.remote()); grads = ck.get([gradient.remote(w, s) "
        "for s in two shards]); ck.get([ps.push.remote(g) for g in grads]).")
def _parameter_server(run_training: Callable[..., Any], server_class: Any, loss: Callable[[Any], float]) -> str:
    import clusterkit as ck

    steps = 15
    since = time.time() - 0.5
    ps = server_class.remote(5)
    start_loss = loss(ck.get(ps.pull.remote(), timeout=environment.time_window(10)))
    with TaskStream(_wait_idle()) as stream:
        call_with_timeout(run_training, ps, steps, timeout=environment.time_window(steps * 2.0))
    final = loss(ck.get(ps.pull.remote(), timeout=environment.time_window(10)))
    expect(final < start_loss * 0.05, f"the loss went from {start_loss:.1f} to {final:.2f}; after {steps} steps "
           "it should be below 5% of the start. Are you pushing the gradients?")
    pushes = _actor_calls_since(since, "push", expected=2 * steps)
    expect(len(pushes) >= 2 * steps, f"the log shows {len(pushes)} push calls; expected two per step "
           f"({2 * steps}).")
    expect(stream.overlap("gradient") >= 2, "the model trains, but the gradient tasks ran one at a time: launch "
           "both before waiting for either.")
    return f"loss {start_loss:.1f} -> {final:.3f} with {len(pushes)} pushes; gradients computed in parallel."


# -- 06 RL-style simulation -------------------------------------------------------------------
@grader("06.es-update", hint="advantage = rewards - rewards.mean(); return weights + alpha / (n * sigma) * "
        "(noises.T @ advantage).")
def _es_update(es_update: Callable[..., Any]) -> str:
    import numpy as np

    rng = np.random.default_rng(3)
    for n, dim in [(8, 8), (5, 3)]:
        weights, noises, rewards = rng.normal(size=dim), rng.normal(size=(n, dim)), rng.normal(size=n)
        sigma, alpha = 0.2, 0.05
        expected = weights + alpha / (n * sigma) * (noises.T @ (rewards - rewards.mean()))
        got = es_update(weights.copy(), noises, rewards, sigma, alpha)
        expect(got is not None, "es_update returned None: return the new weights.")
        got = np.asarray(got, dtype=float)
        expect(got.shape == weights.shape, f"the new weights should have shape {weights.shape}, not {got.shape}.")
        expect(not np.allclose(got, weights), "the weights did not change.")
        expect(np.allclose(got, expected), "the update is not right; did you subtract the mean reward and divide "
               "by n * sigma?")
    return "the ES update matches the formula."


@grader("06.parallel-rollouts", hint="Launch every rollout first, simulators[i % len(simulators)] for seed i, "
        "then ck.get the whole list.")
def _parallel_rollouts(collect: Callable[..., Any], simulator_class: Any) -> str:
    import numpy as np

    import clusterkit as ck

    window = environment.time_window(20)
    simulators = [simulator_class.remote(100 + i) for i in range(2)]
    weights, seeds, sigma = np.full(8, 0.1), list(range(8)), 0.2
    reference = ck.get([simulators[0].rollout.remote(weights, s, sigma) for s in seeds], timeout=window)
    since = time.time()
    rewards = call_with_timeout(collect, simulators, weights, seeds, sigma, timeout=window)
    expect(rewards is not None, "collect returned None: return the list of rewards.")
    expect(len(rewards) == len(seeds), f"expected {len(seeds)} rewards, got {len(rewards)}.")
    expect(np.allclose(rewards, reference), "the rewards are not right (or not in the order of seeds).")
    calls = _actor_calls_since(since, "rollout", expected=len(seeds))
    actors = {c.get("actor_id") for c in calls}
    from clusterkit.teach.grading import max_overlap

    overlap = max_overlap([(c["start"], c["stop"]) for c in calls])
    expect(len(actors) >= 2, "the rewards are right, but only one simulator did the rollouts: spread them over "
           "all simulators.")
    expect(overlap >= 2, "the rewards are right, but the rollouts ran one after another: launch all of them "
           "before waiting.")
    return f"{len(calls)} rollouts on {len(actors)} simulators, up to {overlap} at the same moment."


# -- 07 Fault tolerance ------------------------------------------------------------------------
def _flaky(path: str) -> str:
    """Fail with ConnectionError on the first two calls (counted in a file), then succeed."""
    import pathlib

    counter = pathlib.Path(path)
    attempts = int(counter.read_text() or "0") + 1 if counter.exists() else 1
    counter.write_text(str(attempts))
    if attempts < 3:
        raise ConnectionError(f"simulated dropped connection (attempt {attempts})")
    return f"succeeded on attempt {attempts}"


@grader("07.retries", hint="ck.remote(max_retries=3, retry_exceptions=True)(fn) (or retry_exceptions="
        "[ConnectionError]).")
def _retries(make_reliable: Callable[[Callable[..., Any]], Any]) -> str:
    import pathlib
    import tempfile

    import clusterkit as ck

    with tempfile.TemporaryDirectory() as folder:
        path = str(pathlib.Path(folder) / "attempts")
        reliable = make_reliable(_flaky)
        expect(hasattr(reliable, "remote"), "make_reliable should return a remote function (use ck.remote).")
        try:
            value = ck.get(reliable.remote(path), timeout=environment.time_window(20))
        except ConnectionError:
            attempts = pathlib.Path(path).read_text() if pathlib.Path(path).exists() else "0"
            raise NotYet(f"the task failed after {attempts} attempt(s): exceptions from your code are not retried "
                         "unless you ask (retry_exceptions).") from None
    expect(value == "succeeded on attempt 3", f"unexpected result {value!r}.")
    return "failed twice, succeeded on the third attempt."


@grader("07.checkpoint", hint="Define __checkpoint__(self) returning self.total and __restore__(self, state) "
        "setting it; keep @ck.remote(max_restarts=1).")
def _checkpoint(accumulator_class: Any) -> str:
    import os
    import signal

    import clusterkit as ck
    from clusterkit.errors import ActorLostError, ActorRestartedError

    expect(hasattr(accumulator_class, "remote"), "Accumulator needs @ck.remote(max_restarts=1).")
    window = environment.time_window(30)
    acc = accumulator_class.remote()
    totals = ck.get([acc.add.remote(i) for i in range(1, 6)], timeout=window)
    expect(totals[-1] == 15, f"adding 1..5 should give 15, got {totals[-1]}.")
    client = _client()
    victim = acc.worker
    pid = client.run(os.getpid, workers=[victim])[victim]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + window
    while True:
        try:
            total = ck.get(acc.add.remote(6), timeout=window)
            break
        except ActorRestartedError:  # the call raced the restart: it may be made again
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        except ActorLostError:
            raise NotYet("the actor was lost with its worker: allow a restart with "
                         "@ck.remote(max_restarts=1).") from None
    expect(total == 21, f"after the restart, adding 6 gave {total}: the actor came back, but started from "
           f"{total - 6} instead of 15. Save the total in __checkpoint__ and put it back in __restore__.")
    return f"the actor moved from {victim} to {acc.worker} and kept its total (21)."
