# %% [markdown]
# # 03 · Waiting, streaming and stragglers
#
# **Learning goals**
#
# 1. Use `ck.wait(refs, num_returns=k, timeout=t)` to act on the first results, not all of them.
# 2. Stream results in completion order with `ck.as_completed`.
# 3. Cut off stragglers with a deadline, and cancel work you no longer need.
# 4. Know the limits: Dask cannot interrupt a task that is already running.

# %%
import random
import time

import clusterkit as ck
from clusterkit import teach

print(teach.describe())
session = teach.cluster()
client = session.client
teach.show(session)

# %% [markdown]
# ## Tasks do not finish in order
#
# Real tasks vary: one input is bigger, one disk is slower, one machine is busy. The slowest
# task, the **straggler**, decides when `ck.get(all)` returns. Here each task sleeps for a
# random time (simulated I/O) and returns how long it took.

# %%
@ck.remote
def fetch(seconds):
    time.sleep(seconds)  # simulated I/O of varying length
    return seconds


rng = random.Random(7)
durations = [round(rng.uniform(0.05, 0.4), 2) for _ in range(7)] + [1.5]  # one straggler
refs = [fetch.remote(d) for d in durations]

ready, pending = ck.wait(refs, num_returns=3)
print("first three ready:", ck.get(ready), "| still pending:", len(pending))

# %% [markdown]
# `ck.wait` follows Ray: it returns two lists, `ready` and `pending`, each in the order the
# futures were given. `num_returns` says how many must be ready; `timeout` (seconds) returns
# early with whatever is ready by then, possibly fewer.

# %%
ready, pending = ck.wait(refs, num_returns=len(refs), timeout=0.5)
print(f"after at most 0.5 s: {len(ready)} ready, {len(pending)} pending")

# %% [markdown]
# ## Streaming with `as_completed`
#
# To process each result as soon as it exists, iterate over `ck.as_completed(refs)`. Below,
# results arrive in completion order (shortest first), not in submission order.

# %%
refs = [fetch.remote(d) for d in durations]
arrival = [ck.get(ref) for ref in ck.as_completed(refs)]
print("submitted:", durations)
print("arrived:  ", arrival)

# %% [markdown]
# ### Exercise 1: the first to finish
#
# `first_k(refs, k)` should return the **values** of the first `k` tasks to finish, as soon
# as they finish, without waiting for the rest. The grader gives you one slow task and some
# fast ones, and checks what had finished at the moment your function returned.

# %% exercise
def first_k(refs, k):
    return ck.get(refs)[:k]  # TODO: stop waiting once k are done


# %% solution
def first_k(refs, k):
    ready, _ = ck.wait(refs, num_returns=k)
    return ck.get(ready)


# %% grader
teach.check("03.first-k", first_k)

# %% [markdown]
# ## Deadlines and cancellation
#
# Sometimes a good-enough answer now beats the full answer later: a search that returns
# the hits found within 200 ms, a simulation that drops its slowest run. `ck.wait` with a
# `timeout` gives you what is ready; `ck.cancel(pending)` tells the cluster you no longer
# want the rest, so queued tasks never start.
#
# **What cancellation does not do.** Dask cannot stop Python code that is already running on
# a worker: a cancelled task that has started keeps its worker thread busy until it returns,
# and its result is thrown away. Ray can interrupt some tasks; Dask cannot. Design long tasks
# to work in small steps (notebook 08), so that nothing big is left to cancel.

# %% demo
refs = [fetch.remote(2.0) for _ in range(4)]
time.sleep(0.3)
ck.cancel(refs)
print("statuses after cancel:", {ref.status for ref in refs})
time.sleep(0.2)
print("tasks still computing on workers:", sum(len(v) for v in client.processing().values()),
      "(the two that had started run to the end; the queued ones never start)")

# %% [markdown]
# ### Exercise 2: a deadline
#
# `within_deadline(refs, seconds)` should return the values of the tasks that finish within
# `seconds`, in the order of `refs`, and cancel the others. The grader checks the values,
# that you returned on time, and that the stragglers were cancelled.

# %% exercise
def within_deadline(refs, seconds):
    return ck.get(refs)  # TODO: keep only what is ready in time; cancel the rest


# %% solution
def within_deadline(refs, seconds):
    ready, pending = ck.wait(refs, num_returns=len(refs), timeout=seconds)
    ck.cancel(pending)
    return ck.get(ready)


# %% grader
teach.check("03.deadline", within_deadline)

# %% [markdown]
# ## What you saw
#
# * `ck.wait(refs, num_returns, timeout)` returns `(ready, pending)` in input order: act on
#   the first results, or on whatever a deadline allows.
# * `ck.as_completed` streams results in the order they finish.
# * Cancelling drops queued work; running work finishes anyway, because Dask cannot
#   interrupt it.
#
# Next: **04 · Hyperparameter search**, where waiting for the first results saves real budget.
