# %% [markdown]
# # 05 · Actors and state
#
# **Learning goals**
#
# 1. Keep state on the cluster with an *actor*: an object that lives on a worker.
# 2. Build a parameter server: many tasks compute updates, one actor holds the model.
# 3. See where actors are placed, and read the actor-call log.
#
# Tasks are stateless: a function gets inputs and returns outputs. Some things are not like
# that: a model being trained, a simulator, a connection pool, a cache. In Ray, and here,
# those become actors.

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
# ## A first actor
#
# `@ck.remote` on a class makes an *actor class*. `Cls.remote(...)` creates one instance on
# a worker and returns a **handle**; `handle.method.remote(...)` calls a method there and
# returns a future. Calls to one actor run one at a time, in the order you made them, so the
# state needs no locks.

# %%
@ck.remote
class Greeter:
    def __init__(self, greeting):
        self.greeting = greeting
        self.count = 0

    def greet(self, name):
        self.count += 1
        return f"{self.greeting}, {name} (#{self.count})"


greeter = Greeter.remote("Hello")
print(ck.get([greeter.greet.remote(n) for n in ["Ada", "Grace", "Barbara"]]))
print("lives on worker", greeter.worker)

# %% [markdown]
# ## The actor-call log
#
# Dask's own actors are invisible to its dashboard. clusterkit logs every actor call as a
# Dask event on the topic `clusterkit-actors`: which actor, which method, on which worker,
# when it started and stopped, and whether it succeeded. The task-stream widget above draws
# them too.

# %%
for _, call in client.get_events("clusterkit-actors")[-4:]:
    print(call["actor"], call["method"], call["worker"], f"{call['stop'] - call['start']:.4f} s", call["status"])

# %% [markdown]
# ### Exercise 1: a counter
#
# Make `Counter` an actor with `add(n)` (adds `n` to a running total and returns the new
# total) and `value()` (returns the total). The grader creates one, sends ten `add` calls
# at once, and checks the total and the call log.

# %% exercise
class Counter:  # TODO: make this an actor class
    def __init__(self):
        self.total = 0

    def add(self, n):
        return None  # TODO

    def value(self):
        return self.total


# %% solution
@ck.remote
class Counter:
    def __init__(self):
        self.total = 0

    def add(self, n):
        self.total += n
        return self.total

    def value(self):
        return self.total


# %% grader
teach.check("05.counter", Counter)

# %% [markdown]
# ## A parameter server
#
# A classic use of an actor: **data-parallel training**. Each worker computes a gradient on
# its own shard of data; one actor (the parameter server) holds the weights, adds up the
# gradients and hands out the new weights. Here we fit a linear model `y = X @ w` whose true
# weights we know, on data each task generates from a seed (nothing is downloaded). Reading a
# shard is simulated with a short sleep, so the gradient tasks overlap even on one CPU.

# %%
DIM = 5
TRUE_W = np.arange(1.0, DIM + 1)


@ck.remote
class ParameterServer:
    def __init__(self, dim, learning_rate=0.1):
        self.weights = np.zeros(dim)
        self.learning_rate = learning_rate

    def pull(self):
        return self.weights

    def push(self, gradient):
        self.weights = self.weights - self.learning_rate * gradient
        return self.weights


@ck.remote
def gradient(weights, shard):
    time.sleep(0.1)  # simulated I/O: reading the shard
    rng = np.random.default_rng(shard)
    X = rng.normal(size=(200, DIM))
    y = X @ TRUE_W + rng.normal(scale=0.1, size=200)
    return 2 * X.T @ (X @ weights - y) / len(y)


def loss(weights):
    return float(np.sum((np.asarray(weights) - TRUE_W) ** 2))


ps = ParameterServer.remote(DIM)
print("parameter server on", ps.worker, "| loss at start:", loss(ck.get(ps.pull.remote())))

# %% [markdown]
# ### Exercise 2: train with the parameter server
#
# Write `run_training(ps, gradient, steps)`: for each step, pull the weights, compute **two**
# gradients in parallel with `gradient.remote(weights, shard)` on different shards (any
# shard numbers), and push them (both, or their average once: synchronous SGD). The grader
# passes its own parameter server and its own `gradient` (for a model with random true
# weights), and checks the final loss, the `push` calls in the actor log, and that the
# gradient tasks of each step overlapped.

# %% exercise
def run_training(ps, gradient, steps):
    pass  # TODO: pull, two gradients in parallel, push; `steps` times


# %% solution
def run_training(ps, gradient, steps):
    for step in range(steps):
        weights = ck.get(ps.pull.remote())
        grads = ck.get([gradient.remote(weights, 2 * step + i) for i in range(2)])
        ck.get([ps.push.remote(g) for g in grads])


# %% grader
teach.check("05.parameter-server", run_training)

# %% demo
ps = ParameterServer.remote(DIM)
run_training(ps, gradient, 15)
print("loss after 15 steps with our own server:", loss(ck.get(ps.pull.remote())))

# %% [markdown]
# ## Where do actors live?
#
# clusterkit places each new actor on the worker that hosts the fewest of this kernel's
# actors, and gives each actor its own thread there (Dask's own actors share a single
# thread per worker, so one busy actor would stall the others on its worker).

# %%
servers = [ParameterServer.remote(DIM) for _ in range(4)]
for handle in servers:
    print(handle)

# %% [markdown]
# ## What you saw
#
# * An actor is state on a worker; its calls run in order, one at a time.
# * A parameter server combines stateless parallel tasks with one stateful actor.
# * Every actor call is logged (`clusterkit-actors`), so actors are not invisible.
#
# Next: **06 · RL-style simulation**, where many actors simulate and one learner learns.
