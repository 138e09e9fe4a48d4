# %% [markdown]
# # 08 · Resources and granularity
#
# **Learning goals**
#
# 1. Declare what a task needs (CPUs, a GPU, memory) and see how the scheduler honours it.
# 2. Measure the fixed cost of a task, and see why tiny tasks waste a cluster.
# 3. Batch 20,000 micro-tasks into a few dozen real ones.

# %%
import time

import matplotlib.pyplot as plt

import clusterkit as ck
from clusterkit import teach

print(teach.describe())
session = teach.cluster()
client = session.client
teach.show(session)

# %% [markdown]
# ## Resources
#
# A worker can declare *resources*: named quantities such as `CPU`, `GPU` or `MEMORY`.
# A task that asks for some runs only on a worker that has them free, and holds them while
# it runs. clusterkit's local workers declare `CPU` equal to their threads, so
# `@ck.remote(num_cpus=1)` means "one thread's worth", as in Ray.
#
# Nothing checks that a task *uses* only what it asked for: resources are a promise you
# make to the scheduler, not a sandbox. And a task that asks for something no worker has
# does not fail: it waits, forever, for a worker that will never come.

# %%
print("each worker offers:", {w: info.get("resources") for w, info in
                              client.scheduler_info(n_workers=-1)["workers"].items()})

@ck.remote(num_cpus=1)
def one_cpu_task(x):
    time.sleep(0.2)  # simulated I/O
    return x

print(ck.get([one_cpu_task.remote(i) for i in range(4)]))

# %%
needs_gpu = client.submit(sum, [1, 2], resources={"GPU": 1}, pure=False)
ready, pending = ck.wait([needs_gpu], timeout=1.0)
print(f"asked for a GPU on a cluster without one: {len(ready)} ready, {len(pending)} waiting")
ck.cancel([needs_gpu])

# %% [markdown]
# ## What one task costs
#
# Every task pays a fixed price: the kernel serialises it, the scheduler records it and
# picks a worker, the worker unpacks it, runs it, and reports back. That is a millisecond
# or so on a laptop, more on one shared CPU. A task that does a microsecond of work is
# almost all overhead. We measure it with a function that does nothing.

# %%
def tiny(x):
    return x * x

tiny_remote = ck.remote(tiny)
n = 200
start = time.perf_counter()
ck.get([tiny_remote.remote(i) for i in range(n)])
per_task = (time.perf_counter() - start) / n
print(f"{per_task * 1e3:.2f} ms per task for work that takes well under a microsecond")
print(f"20,000 such tasks, one each: about {20_000 * per_task:.0f} s of pure overhead")

# %% [markdown]
# ## Batching
#
# The cure is **granularity**: put many items into each task, so the fixed price is paid
# once per batch. `ck.map` does this automatically: it measures how long items take and
# sizes batches so that each task holds a few tens of milliseconds of work.
# Below, 20,000 micro-tasks become a handful of tasks (count them in the task stream).

# %%
start = time.perf_counter()
squares = ck.map(tiny, range(20_000))
print(f"ck.map over 20,000 items: {time.perf_counter() - start:.2f} s; sum {sum(squares)}")

# %% [markdown]
# The plot shows the cost per item against the batch size for our own manual batching:
# the per-task price is divided among the items of the batch until the work dominates.

# %% demo
@ck.remote
def square_batch(batch):
    return [x * x for x in batch]

sizes = [1, 10, 100, 1000]
cost = []
for size in sizes:
    items = list(range(min(50 * size, 20_000)))  # about 50 tasks per size, fewer for the largest
    start = time.perf_counter()
    ck.get([square_batch.remote(items[i:i + size]) for i in range(0, len(items), size)])
    cost.append((time.perf_counter() - start) / len(items))
fig, ax = plt.subplots(figsize=(5, 3))
ax.loglog(sizes, [c * 1e6 for c in cost], marker="o")
ax.set_xlabel("items per task")
ax.set_ylabel("microseconds per item")
ax.set_title("Batching amortises the per-task cost")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 1: batch 20,000 micro-tasks
#
# `sum_of_squares(xs)` must compute `sum(x * x for x in xs)` on the cluster, using **between
# 2 and 100 tasks** for about 20,000 items. The grader counts the tasks your call submitted,
# and its items notice whether they were squared on a worker or here in the kernel.

# %% exercise
def sum_of_squares(xs):
    return sum(x * x for x in xs)  # TODO: on the cluster, in batches


# %% solution
@ck.remote
def sum_squares_batch(batch):
    return sum(x * x for x in batch)


def sum_of_squares(xs):
    xs = list(xs)
    size = 1000
    partials = [sum_squares_batch.remote(xs[i:i + size]) for i in range(0, len(xs), size)]
    return sum(ck.get(partials))


# %% grader
teach.check("08.batched", sum_of_squares)

# %% [markdown]
# ### Exercise 2: choosing a batch size
#
# If each task costs `overhead` seconds and each item `per_item` seconds of work, a batch of
# `b` items spends `overhead` on bookkeeping and `b * per_item` on work. Write
# `batch_size(per_item, overhead, max_share)`: the smallest `b` for which the overhead is at
# most `max_share` (say 0.1 for 10%) of the batch's total time.

# %% exercise
def batch_size(per_item, overhead, max_share):
    return 1  # TODO


# %% solution
import math

def batch_size(per_item, overhead, max_share):
    # overhead / (overhead + b * per_item) <= max_share  <=>  b >= overhead * (1 - s) / (s * per_item)
    return max(1, math.ceil(overhead * (1 - max_share) / (max_share * per_item)))


# %% grader
teach.check("08.batch-size", batch_size)

# %% [markdown]
# ## What you saw
#
# * Resources are promises to the scheduler; an impossible request waits instead of failing.
# * Each task has a fixed cost of about a millisecond; micro-tasks are mostly overhead.
# * Batch items so that each task does tens of milliseconds of work: `ck.map` does it for you.
#
# Next: **09 · Capstone**: build a mini-Ray yourself.
