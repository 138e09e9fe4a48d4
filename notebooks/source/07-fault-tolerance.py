# %% [markdown]
# # 07 · Fault tolerance
#
# **Learning goals**
#
# 1. Kill a worker in the middle of a pipeline and watch the cluster recover the lost work.
# 2. Retry tasks that fail for transient reasons, and only those.
# 3. Restart an actor from a checkpoint after its worker dies.
# 4. Know exactly what is promised and what is not.
#
# With enough machines, something is always failing. A distributed system is useful only if
# failures are routine events rather than disasters.

# %%
import os
import signal
import time

import clusterkit as ck
from clusterkit import teach

print(teach.describe())
session = teach.cluster()
client = session.client
teach.show(session)


def kill_worker(address):
    """Kill a worker process outright (as if its machine lost power); its nanny starts a new one."""
    pid = client.run(os.getpid, workers=[address])[address]
    os.kill(pid, signal.SIGKILL)

# %% [markdown]
# ## Killing a worker mid-pipeline
#
# Twelve tasks, each waiting 0.5 s (simulated I/O), then a second stage that uses their
# results. Half-way through the first stage we kill one worker. Watch the status widget: the
# worker disappears and a fresh one takes its place. The scheduler knows which results were
# lost with the dead worker and runs those tasks again; the answer is the same.

# %%
@ck.remote
def stage_one(i):
    time.sleep(0.5)  # simulated I/O
    return i * i


@ck.remote
def stage_two(values):
    return sum(values)


first = [stage_one.remote(i) for i in range(12)]
total = stage_two.remote(first)  # a list of futures as an argument: Dask resolves them
time.sleep(1.0)
victim = teach.worker_addresses(session)[0]
kill_worker(victim)
print("killed", victim)
print("total:", ck.get(total, timeout=120), "expected:", sum(i * i for i in range(12)))
print("workers now:", teach.worker_addresses(session))

# %% [markdown]
# ## Retries
#
# A worker dying is a *system* failure: the task itself did nothing wrong, so the scheduler
# simply runs it again elsewhere (up to `distributed.scheduler.allowed-failures` times, 3 by
# default). An exception raised *by your code* is different: by default it is reported to
# you, not retried, because running a buggy function again gives the same error.
#
# Some exceptions are transient: a dropped connection, a busy service. For those, ask for
# retries explicitly, as in Ray: `@ck.remote(max_retries=3, retry_exceptions=True)` retries
# any exception up to three times; `retry_exceptions=[ConnectionError]` only those types.
#
# ### Exercise 1: make a flaky task reliable
#
# `make_reliable(fn)` should return a remote version of `fn` that retries failures up to 3
# times. The grader gives it a function that fails three times with `ConnectionError`, then
# succeeds (and returns a token that changes on every run).

# %% exercise
def make_reliable(fn):
    return ck.remote(fn)  # TODO: retry exceptions up to 3 times


# %% solution
def make_reliable(fn):
    return ck.remote(max_retries=3, retry_exceptions=[ConnectionError])(fn)


# %% grader
teach.check("07.retries", make_reliable)

# %% [markdown]
# ## Actors: restart from a checkpoint
#
# A task can be run again because it has no state. An actor has state, and that state lives
# in the memory of one worker process: when the worker dies, the state is gone. Dask's own
# actors are simply lost. clusterkit supervises them: with `@ck.remote(max_restarts=N)`,
# an actor whose worker dies is re-created on a live worker, from its constructor
# arguments. If the class defines `__checkpoint__()` (returning picklable state; called
# after every method call) and `__restore__(state)`, the new actor resumes from the last
# checkpoint instead of from scratch. A call that was running when the worker died fails
# with `ActorRestartedError`; calls made afterwards go to the new actor.
#
# ### Exercise 2: an accumulator that survives
#
# Make `Accumulator` a restartable actor (one restart is enough) whose total survives the
# death of its worker. The grader adds 1 to 5, kills the actor's worker, adds 6, and expects 21.

# %% exercise
@ck.remote(max_restarts=1)
class Accumulator:
    def __init__(self):
        self.total = 0

    def add(self, x):
        self.total += x
        return self.total

    # TODO: save and restore self.total


# %% solution
@ck.remote(max_restarts=1)
class Accumulator:
    def __init__(self):
        self.total = 0

    def add(self, x):
        self.total += x
        return self.total

    def __checkpoint__(self):
        return self.total

    def __restore__(self, state):
        self.total = state


# %% grader
teach.check("07.checkpoint", Accumulator)

# %% [markdown]
# ## What is promised, and what is not
#
# **Promised**
#
# * A task's result is computed, even if workers holding its inputs or running it die, as
#   long as the scheduler and at least one worker survive and the task is not lost more than
#   `allowed-failures` times (then it fails with `KilledWorker`).
# * Exceptions from your code are retried only when you ask, only as often as you ask.
# * A restartable actor comes back, with the state of its last checkpoint.
#
# **Not promised**
#
# * **Exactly-once side effects.** A task may run more than once (a worker died after
#   running it, or a retry). Make side effects idempotent: write to a file named after the
#   input, not append to a shared one.
# * **Actor state after the last checkpoint.** Work done since the checkpoint is lost; a
#   checkpoint after every call costs time, and a call in flight when the worker died fails.
# * **The scheduler.** It is a single process. If it dies, the cluster and every future die
#   with it; clusterkit cannot bring them back. (Ray keeps more state in a replicated store;
#   it is a real difference.)
# * **Your kernel.** Futures live in the client. If the kernel restarts, the results it was
#   waiting for are released.
#
# Next: **08 · Resources and granularity**.
