# %% [markdown]
# # 00 · Why distributed?
#
# **Learning goals**
#
# 1. Put numbers on the gap between what computing demands and what one machine delivers.
# 2. Start the cluster that every notebook of this course shares, and watch it work.
# 3. Run a first parallel `map` and see the tasks overlap in the task stream.
#
# Each notebook ends its sections with exercises. An exercise is a cell marked `# TODO`
# that you edit, then a `teach.check(...)` cell that grades it and prints one line:
# `PASSED`, or `NOT YET` with a hint. Between them sits a `%load solutions/...` cell: run it
# only if you are stuck, and it replaces itself with a reference solution (it runs nothing,
# so *Run All* never overwrites your answer). The graders give your code fresh random
# inputs every time and look at what it did on the cluster, not only at what it returned.

# %%
from clusterkit import teach

print(teach.describe())

# %% [markdown]
# ## The gap, in numbers
#
# The figures in this section come from Ion Stoica's essay *The Future of Computing is
# Distributed* (Anyscale blog, 2020); the words and the plots are ours.
#
# * For decades, processor performance doubled about every 18 months. Today the same
#   18 months bring roughly 10-20%. Specialised chips (GPUs, TPUs) buy a one-off jump, not a
#   faster trend.
# * The compute used for state-of-the-art machine-learning results has doubled about every
#   **3.4 months** since 2012 (an OpenAI analysis the essay cites): nearly 40x every 18 months.
# * Training a vision model went from ResNet-50 (2015; 58 minutes on 16 GPUs) to
#   ResNeXt-101 on Instagram images (2018; 22 days on 336 GPUs): about 11,000x more compute,
#   some 22x a year, against about 1.6x a year from Moore's law.
# * Even hardware vendors scale *out*: of the 8x between TPU v2 and v3 pods, only 2x came
#   from faster chips; the rest came from using 4x as many.
#
# Let us draw the curves over six years.

# %%
import matplotlib.pyplot as plt
import numpy as np

months = np.linspace(0, 72, 200)
curves = {
    "ML compute demand (doubles every 3.4 months)": 2 ** (months / 3.4),
    "Moore's law, classic (doubles every 18 months)": 2 ** (months / 18),
    "Single node today (+15% every 18 months)": 1.15 ** (months / 18),
}
fig, ax = plt.subplots(figsize=(7, 3.5))
for label, values in curves.items():
    ax.semilogy(months / 12, values, label=label)
ax.set_xlabel("years")
ax.set_ylabel("growth factor (log scale)")
ax.set_title("Demand vs single-node growth\n(figures: I. Stoica, 'The Future of Computing is Distributed', 2020)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# After six years (72 months, 72 / 3.4 ≈ 21 doublings) the demand curve is about
# **2.4 million** times higher (2 ** (72 / 3.4)); one machine at +15% per 18 months is about
# 1.75 times faster (1.15 ** 4). No single computer closes that gap; many computers working
# together can narrow it. That is why distributed programs are becoming the norm rather than the exception.
#
# ### Exercise 1: growth factors
#
# Write `growth(doubling_months, months)`: how many times larger something becomes in
# `months` if it doubles every `doubling_months`.

# %% exercise
def growth(doubling_months, months):
    """How many times larger after `months`, doubling every `doubling_months`."""
    return None  # TODO: one line of arithmetic


# %% solution
def growth(doubling_months, months):
    """How many times larger after `months`, doubling every `doubling_months`."""
    return 2 ** (months / doubling_months)


# %% grader
teach.check("00.growth", growth)

# %% [markdown]
# ## The shared cluster
#
# `teach.cluster()` gives every notebook the same cluster: it reuses the cluster this kernel
# already has, or one registered under the name `curriculum`, or starts one sized for this
# machine (one worker per CPU, at least two). `teach.show()` opens two live views: the
# **status** of the cluster (workers, cores, memory, tasks) and the **task stream**, where
# every task appears as a bar: one row per worker thread, time running left to right.
# Keep them in view as you run the cells below.

# %%
import time

import clusterkit as ck

session = teach.cluster()
print(session.info())
teach.show(session)

# %% [markdown]
# ## A first map
#
# `slow_square` stands in for work that mostly *waits*: a web request, a disk read, a
# database query. We simulate the waiting with `time.sleep`, which uses no CPU. That matters
# on Binder, which gives this kernel a single CPU: CPU-bound work cannot go faster there,
# however many workers we start, but waiting work overlaps.

# %%
def slow_square(x):
    time.sleep(0.25)  # simulated I/O: waiting, not computing
    return x * x


start = time.perf_counter()
serial = [slow_square(x) for x in range(8)]
serial_seconds = time.perf_counter() - start

start = time.perf_counter()
parallel = ck.map(slow_square, range(8))
parallel_seconds = time.perf_counter() - start

assert parallel == serial
print(f"in the kernel, one by one: {serial_seconds:.2f} s; on the cluster with ck.map: {parallel_seconds:.2f} s")

# %% [markdown]
# Look at the task stream: the bars sit side by side, one row per worker. Whenever we claim
# a speed-up, we plot it, together with the **efficiency**: the speed-up divided by the
# number of workers (1.0 would be perfect). The first `ck.map` also pays one-time costs
# (shipping the function, warming up), so we time a second run too.

# %% demo
start = time.perf_counter()
ck.map(slow_square, range(8))
warm_seconds = time.perf_counter() - start
workers = session.info()["threads"]
speedups = [1.0, serial_seconds / parallel_seconds, serial_seconds / warm_seconds]
labels = ["one by one", "ck.map (first)", "ck.map (again)"]
fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
left.bar(labels, speedups)
left.axhline(workers, ls="--", color="gray", label=f"ideal: {workers} worker threads")
left.set_ylabel("speed-up")
left.legend(fontsize=8)
right.bar(labels, [s / workers for s in speedups])
right.set_ylabel("efficiency (speed-up / threads)")
right.set_ylim(0, 1.1)
for axis in (left, right):
    axis.tick_params(axis="x", labelsize=8)
fig.suptitle("8 sleeping tasks of 0.25 s")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 2: your first parallel map
#
# `parallel_squares(xs)` below squares each number one by one in the kernel. Make it run on
# the cluster. The grader calls it with `range(8)` and checks the answer **and** the task
# stream: the tasks must have run on the workers, several at the same moment.

# %% exercise
def parallel_squares(xs):
    return [slow_square(x) for x in xs]  # TODO: run the calls on the cluster


# %% solution
def parallel_squares(xs):
    return ck.map(slow_square, xs)


# %% grader
teach.check("00.parallel-squares", parallel_squares)

# %% [markdown]
# ## What you saw
#
# * Demand for computation outruns single machines by orders of magnitude; distribution is
#   the only way to keep up.
# * One cluster serves the whole course; the status and task-stream views show what it does.
# * `ck.map` runs a function over many inputs on the workers. Work that waits overlaps even
#   on one CPU; work that computes needs more CPUs to go faster.
#
# Next: **01 · Tasks and futures**, where each call becomes a task you can hold on to.
