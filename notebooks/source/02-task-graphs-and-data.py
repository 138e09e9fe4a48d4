# %% [markdown]
# # 02 · Task graphs and data movement
#
# **Learning goals**
#
# 1. See how futures passed to tasks form a *graph* of dependencies.
# 2. Reduce many results with a *tree* instead of a chain, and count the depth.
# 3. Move large data once with `scatter`, and pass *references* instead of values.

# %%
import time

import numpy as np

import clusterkit as ck
from clusterkit import teach

print(teach.describe())
session = teach.cluster()
client = session.client
teach.show(session)

# %% [markdown]
# ## Dependencies
#
# When a future is an argument of another task, the second task waits for the first, and
# the scheduler moves the data between workers if it must. The set of tasks and their
# dependencies is the *task graph*. The longest path through it (its **depth**) bounds how
# fast it can finish, however many workers you have.

# %%
@ck.remote
def load(i):
    time.sleep(0.2)  # simulated read from storage
    return i


@ck.remote
def add(a, b):
    time.sleep(0.2)  # simulated work per combine step
    return a + b


leaves = [load.remote(i) for i in range(8)]

# A chain: ((((0 + 1) + 2) + 3) ...): 7 additions, each waiting for the previous one.
start = time.perf_counter()
total = leaves[0]
for leaf in leaves[1:]:
    total = add.remote(total, leaf)
print("chain:", ck.get(total), f"{time.perf_counter() - start:.2f} s")

# %% [markdown]
# ## Tree reduction
#
# Addition does not care about grouping, so we can add pairs side by side, then pairs of
# pairs: 8 leaves need the same 7 additions, but in 3 rounds instead of 7. The depth falls
# from n - 1 to about log2(n). On the task stream, the chain is a staircase; the tree is
# three short, wide steps.

# %% demo
import matplotlib.pyplot as plt

def tree(refs):
    while len(refs) > 1:
        pairs = [add.remote(refs[i], refs[i + 1]) for i in range(0, len(refs) - 1, 2)]
        refs = pairs + ([refs[-1]] if len(refs) % 2 else [])
    return refs[0]

timings = {}
for name, reduce in [("chain", None), ("tree", tree)]:
    leaves = [load.remote(i) for i in range(8)]
    ck.get(leaves)
    start = time.perf_counter()
    if reduce is None:
        result = leaves[0]
        for leaf in leaves[1:]:
            result = add.remote(result, leaf)
    else:
        result = reduce(leaves)
    assert ck.get(result) == 28
    timings[name] = time.perf_counter() - start

fig, ax = plt.subplots(figsize=(5, 2.5))
ax.barh(list(timings), list(timings.values()))
ax.set_xlabel("seconds to add 8 numbers (0.2 s per addition)")
ax.set_title(f"tree vs chain: speed-up {timings['chain'] / timings['tree']:.1f}x (ideal 7/3 = 2.3x)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 1: a tree reduction
#
# Write `tree_sum(refs, add)`: combine the futures in `refs` with `add.remote(a, b)` into
# one future, using a tree. The grader gives you its own leaves (a random number of them)
# and its own `add`, then reads the graph you built from the scheduler: every leaf must
# feed the future you return, with `n - 1` additions, at depth about log2(n). Do not call
# `ck.get` inside: return the final future.

# %% exercise
def tree_sum(refs, add):
    total = refs[0]
    for ref in refs[1:]:
        total = add.remote(total, ref)  # TODO: this is a chain; pair the futures up instead
    return total


# %% solution
def tree_sum(refs, add):
    refs = list(refs)
    while len(refs) > 1:
        paired = [add.remote(refs[i], refs[i + 1]) for i in range(0, len(refs) - 1, 2)]
        if len(refs) % 2:
            paired.append(refs[-1])
        refs = paired
    return refs[0]


# %% grader
teach.check("02.tree-sum", tree_sum)

# %% [markdown]
# ## Moving data: values and references
#
# Every argument of a task travels to the worker that runs it. Pass a 4 MB array by value
# to 8 tasks and it is serialised, sent and unpacked 8 times. Put it on the cluster once
# with `client.scatter` and pass the resulting future instead: each worker gets a copy at
# most once, and the tasks share it. (Ray calls this `ray.put`.)

# %%
model = np.random.default_rng(0).normal(size=500_000)  # 4 MB of "model weights"
chunks = [np.random.default_rng(i).normal(size=500_000) for i in range(8)]


@ck.remote
def score(model, chunk):
    return float(model @ chunk)


model_ref = client.scatter(model, broadcast=True)  # one copy per worker
print(model_ref)
by_reference = ck.get([score.remote(model_ref, chunk) for chunk in chunks])
by_value = ck.get([score.remote(model, chunk) for chunk in chunks])
print(np.allclose(by_reference, by_value))

# %% [markdown]
# ### Exercise 2: pass a reference
#
# `score_all(model, chunks)` should return the scores of all chunks, computed on the
# cluster with `score`. The grader counts how many times workers unpack the model: passing
# it by value unpacks it once per task; a reference, at most once per worker.

# %% exercise
def score_all(model, chunks):
    return ck.get([score.remote(model, chunk) for chunk in chunks])  # TODO: send the model once


# %% solution
def score_all(model, chunks):
    model_ref = client.scatter(model, broadcast=True)
    return ck.get([score.remote(model_ref, chunk) for chunk in chunks])


# %% grader
teach.check("02.pass-by-reference", score_all)

# %% [markdown]
# ## What you saw
#
# * Futures passed to tasks make a graph; its depth, not its size, bounds the finish time.
# * A tree reduction does the same work as a chain at depth log2(n).
# * Large inputs used by many tasks: scatter once, pass the reference.
#
# Next: **03 · Waiting, streaming and stragglers**.
