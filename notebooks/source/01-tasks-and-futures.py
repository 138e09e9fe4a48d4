# %% [markdown]
# # 01 · Tasks and futures
#
# **Learning goals**
#
# 1. Turn a function call into a *task* on the cluster with `@ck.remote` and `.remote(...)`.
# 2. Hold a *future* (a reference to a result that may not exist yet) and fetch it with `ck.get`.
# 3. Launch many tasks before waiting for any, so that they overlap.
# 4. Recognise Dask's `pure=True` trap: identical calls that silently merge into one.

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
# ## Remote functions
#
# `@ck.remote` turns a function into a *remote function*. Calling it directly is an error (its
# original is `slow_inc.__wrapped__`); `.remote(...)` sends it to a worker and returns at once with a **future**.
# `ck.get(future)` waits for the value. This is Ray's vocabulary; underneath it is a Dask
# future, so everything in Dask that accepts futures accepts ours.
#
# `slow_inc` sleeps to simulate waiting on I/O, so the overlap below shows even on one CPU.

# %%
@ck.remote
def slow_inc(x):
    time.sleep(0.3)  # simulated I/O
    return x + 1


future = slow_inc.remote(41)
print(future)  # pending or finished: a future is a receipt, not the value
print(ck.get(future))

# %% [markdown]
# Futures can be passed to other remote calls without fetching them first: the cluster
# feeds the result of one task into the next, and the data need not come back to the kernel.

# %%
a = slow_inc.remote(1)
b = slow_inc.remote(a)  # depends on a: runs when a is done
print(ck.get([a, b]))   # ck.get on a list returns a list

# %% [markdown]
# ## Launch first, wait later
#
# The most common mistake with futures is to wait for each one right after creating it.
# Then the cluster only ever has one task to work on. Compare the two loops in the task
# stream, and in the plot: speed-up is serial time over parallel time; efficiency divides
# that by the number of worker threads.

# %% demo
import matplotlib.pyplot as plt

start = time.perf_counter()
one_at_a_time = [ck.get(slow_inc.remote(i)) for i in range(6)]
waited_each = time.perf_counter() - start

start = time.perf_counter()
futures = [slow_inc.remote(i) for i in range(6)]
all_at_once = ck.get(futures)
launched_first = time.perf_counter() - start
assert one_at_a_time == all_at_once

threads = session.info()["threads"]
speedup = waited_each / launched_first
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.barh(["get inside the loop", "launch all, then get"], [waited_each, launched_first])
ax.set_xlabel("seconds for 6 tasks of 0.3 s")
ax.set_title(f"speed-up {speedup:.1f}x, efficiency {speedup / threads:.0%} on {threads} threads")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 1: launch, then get
#
# Rewrite `launch_then_get(xs)` so that every task is launched before the first result is
# fetched. The grader runs it on `range(6)` and checks the answer and the task stream: the
# `slow_inc` tasks must overlap.

# %% exercise
def launch_then_get(xs):
    return [ck.get(slow_inc.remote(x)) for x in xs]  # TODO: launch all tasks first


# %% solution
def launch_then_get(xs):
    futures = [slow_inc.remote(x) for x in xs]
    return ck.get(futures)


# %% grader
teach.check("01.launch-then-get", launch_then_get)

# %% [markdown]
# ## The `pure=True` trap in plain Dask
#
# Dask's own `client.submit(f, *args)` assumes `f` is a *pure* function: same arguments,
# same result. It names the task after a hash of the function and arguments, and two
# submits with the same name become **one** task. For `random.random`, a clock, or a
# function that writes somewhere, that is wrong, and nothing warns you.
#
# (`ck.remote` does not do this: every `.remote(...)` call is a new task, as in Ray.)

# %%
def roll_die():
    return random.randint(1, 6)


first = client.submit(roll_die)
second = client.submit(roll_die)
print("same key:", first.key == second.key)
print("values:", first.result(), second.result())

@ck.remote
def roll_die_remote():
    return random.randint(1, 6)

print("ck.remote keys differ:", roll_die_remote.remote().key != roll_die_remote.remote().key)

# %% [markdown]
# ### Exercise 2: five real measurements
#
# `noisy_measurement()` returns a different number on every call. Using **plain Dask**
# (`client.submit`), make `rolls` a list of five futures that give five different values.
# Look up the keyword that tells Dask the function is not pure.

# %%
def noisy_measurement():
    return random.random()


# %% exercise
rolls = [client.submit(noisy_measurement) for _ in range(5)]  # TODO: five different values


# %% solution
rolls = [client.submit(noisy_measurement, pure=False) for _ in range(5)]


# %% grader
teach.check("01.distinct-rolls", rolls)

# %% [markdown]
# ## What you saw
#
# * `.remote(...)` returns a future at once; `ck.get` waits. Futures can feed other tasks.
# * Launch everything, then wait: otherwise the cluster works on one task at a time.
# * Dask's `submit` merges identical calls (`pure=True`); pass `pure=False` for anything
#   random or with side effects. `ck.remote` never merges calls.
#
# Next: **02 · Task graphs and data movement**.
