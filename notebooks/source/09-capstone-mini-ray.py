# %% [markdown]
# # 09 · Capstone: a mini-Ray on Dask futures
#
# **Learning goals**
#
# 1. Build the core of a Ray-like API yourself: `remote` functions, `get`, `wait` and actors.
# 2. Use Dask's futures, `distributed.wait` and Dask actors as the engine.
# 3. Test your system in the notebook, the way you would test a library.
#
# This is roughly what `clusterkit.parallel` does, minus batching, supervision, retries and
# the call log. We use only `session.client` (plain Dask) here.

# %%
import os
import time

import distributed
from distributed import Future

from clusterkit import teach

print(teach.describe())
session = teach.cluster()
client = session.client
teach.show(session)

# %% [markdown]
# ## Part 1: remote functions
#
# `remote_function(fn)` returns an object with `.remote(*args, **kwargs)` that submits `fn`
# to the cluster and returns a Dask future. Remember notebook 01: Dask merges identical
# calls unless told otherwise, and Ray never does. Two calls of a function that returns a
# random number must be two tasks.

# %% exercise
class RemoteFunction:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def remote(self, *args, **kwargs):
        return client.submit(self.fn, *args, **kwargs)  # TODO: identical calls must not merge


def remote_function(fn):
    return RemoteFunction(fn)


# %% solution
class RemoteFunction:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def remote(self, *args, **kwargs):
        return client.submit(self.fn, *args, pure=False, **kwargs)


def remote_function(fn):
    return RemoteFunction(fn)


# %% grader
teach.check("09.remote", remote_function)

# %% [markdown]
# `get` is given: it accepts one future or a list (Dask futures, or the futures Dask actors
# return, which have a `.result()` method too).

# %%
def get(refs):
    if isinstance(refs, (list, tuple)):
        if all(isinstance(r, Future) for r in refs):
            return client.gather(list(refs))
        return [get(r) for r in refs]
    return refs.result()

# %% [markdown]
# ## Part 2: `wait`
#
# Ray's `wait(refs, num_returns=1, timeout=None)` returns `(ready, pending)`:
#
# * `ready` holds at most `num_returns` finished futures; `pending` holds all the others;
# * both lists keep the order of `refs`;
# * it returns as soon as `num_returns` are finished, or when `timeout` seconds have passed,
#   with whatever is ready by then (possibly fewer, possibly none).
#
# `distributed.wait(futures, timeout=..., return_when="FIRST_COMPLETED")` blocks until one of
# `futures` is done (it raises `TimeoutError` on timeout), and `future.done()` says whether a
# future is finished.

# %% exercise
def wait(refs, num_returns=1, timeout=None):
    refs = list(refs)
    distributed.wait(refs)  # TODO: this waits for all of them, and ignores timeout
    return refs[:num_returns], refs[num_returns:]


# %% solution
def wait(refs, num_returns=1, timeout=None):
    refs = list(refs)
    deadline = None if timeout is None else time.monotonic() + timeout
    while sum(r.done() for r in refs) < num_returns:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            break
        try:
            distributed.wait([r for r in refs if not r.done()], timeout=left, return_when="FIRST_COMPLETED")
        except TimeoutError:
            break
    ready = [r for r in refs if r.done()][:num_returns]
    chosen = {id(r) for r in ready}
    return ready, [r for r in refs if id(r) not in chosen]


# %% grader
teach.check("09.wait", wait)

# %% [markdown]
# ## Part 3: actors
#
# An actor is an object that lives on a worker and keeps its state between calls. Dask has
# them built in: `client.submit(Cls, *args, actor=True).result()` creates the object on a
# worker and returns a proxy; `proxy.method(*args)` runs the method there and returns an
# `ActorFuture` (call `.result()` on it).
#
# Write `actor_class(cls)`: an object whose `.remote(*args)` creates the actor and returns a
# handle; `handle.method.remote(*args)` returns a future of the method's result. Dask runs
# all calls to one actor on one thread, in order, like Ray.

# %% exercise
class ActorMethod:
    def __init__(self, target, name):
        self.target, self.name = target, name

    def remote(self, *args, **kwargs):
        return LocalFuture(getattr(self.target, self.name)(*args, **kwargs))


class LocalFuture:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


class ActorHandle:
    def __init__(self, cls, *args, **kwargs):
        self._target = cls(*args, **kwargs)  # TODO: this object lives here, in the kernel

    def __getattr__(self, name):
        return ActorMethod(self._target, name)


def actor_class(cls):
    class ActorClass:
        @staticmethod
        def remote(*args, **kwargs):
            return ActorHandle(cls, *args, **kwargs)
    return ActorClass


# %% solution
class ActorMethod:
    def __init__(self, proxy, name):
        self.proxy, self.name = proxy, name

    def remote(self, *args, **kwargs):
        return getattr(self.proxy, self.name)(*args, **kwargs)  # an ActorFuture


class ActorHandle:
    def __init__(self, cls, *args, **kwargs):
        self._proxy = client.submit(cls, *args, actor=True, pure=False, **kwargs).result()

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return ActorMethod(self._proxy, name)


def actor_class(cls):
    class ActorClass:
        @staticmethod
        def remote(*args, **kwargs):
            return ActorHandle(cls, *args, **kwargs)
    return ActorClass


# %% grader
teach.check("09.actor", actor_class)

# %% [markdown]
# ## Putting it together, and testing it
#
# One decorator for both, as in Ray, and a few tests: the kind you would put in a test
# suite for a library. (They run only once your parts pass.)

# %%
def remote(obj):
    return actor_class(obj) if isinstance(obj, type) else remote_function(obj)

# %% demo
@remote
def slow_double(x):
    time.sleep(0.2)  # simulated I/O
    return 2 * x


@remote
class Accumulator:
    def __init__(self):
        self.total = 0

    def add(self, x):
        self.total += x
        return self.total

    def pid(self):
        return os.getpid()


def test_tasks_run_in_parallel():
    # Overlap, read from the scheduler: the tasks this block submitted, computing at one moment.
    with teach.Capture(client) as capture:
        assert get([slow_double.remote(i) for i in range(4)]) == [0, 2, 4, 6]
    assert capture.overlap() >= 2, "the four tasks ran one at a time"


def test_futures_compose():
    assert get(slow_double.remote(slow_double.remote(1))) == 4


def test_wait_keeps_input_order():
    refs = [slow_double.remote(i) for i in range(3)]
    ready, pending = wait(refs, num_returns=3)
    assert ready == refs and pending == []


def test_actor_keeps_state_on_a_worker():
    acc = Accumulator.remote()
    get([acc.add.remote(1) for _ in range(5)])
    assert get(acc.add.remote(0)) == 5
    assert get(acc.pid.remote()) != os.getpid()


if all(teach.passed(part) for part in ("09.remote", "09.wait", "09.actor")):
    for test in [test_tasks_run_in_parallel, test_futures_compose, test_wait_keeps_input_order,
                 test_actor_keeps_state_on_a_worker]:
        test()
        print("ok", test.__name__)
else:
    print("Finish parts 1-3 first (each grader must print PASSED); then run this cell again.")

# %% [markdown]
# ## What you built, and what it lacks
#
# In about sixty lines: tasks that never merge, futures that compose, `wait` with Ray's
# semantics, and actors. A real system adds what this one does not have:
#
# * **batching** of tiny tasks (notebook 08) and bounded memory for long inputs;
# * **supervision**: Dask actors die with their worker; clusterkit restarts them from a
#   checkpoint (notebook 07);
# * **visibility**: Dask actor calls do not appear in the task stream; clusterkit logs them;
# * **cancellation** that interrupts running code, which Dask cannot do.
#
# Those are the parts `clusterkit.parallel` adds on top of Dask. Congratulations on
# finishing the course!
