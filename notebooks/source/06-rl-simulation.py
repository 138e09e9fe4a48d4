# %% [markdown]
# # 06 · RL-style simulation
#
# **Learning goals**
#
# 1. Run many simulations at once with *simulator actors*, and learn from them in one place.
# 2. Implement evolution strategies (ES), a simple, embarrassingly parallel learning method.
# 3. Measure rollouts per second against the number of workers, with speed-up and efficiency.
#
# Reinforcement learning spends most of its time *simulating*. Ion Stoica's essay *The
# Future of Computing is Distributed* (2020) gives an example: OpenAI's Dota 2 agent used
# 128,000 CPU cores for simulation and 256 GPUs for learning, 500 times more CPUs than GPUs.
# Simulation is where the parallelism is.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import clusterkit as ck
from clusterkit import teach

print(teach.describe())
session = teach.cluster()
client = session.client
teach.show(session)

# %% [markdown]
# ## The task: steer a point to a target
#
# A point starts at rest at a random position and must come to rest at the origin within 300
# steps. The policy is linear: the force is `tanh(W @ [position, velocity])`, so it has
# `2 x 4 = 8` parameters. The reward is minus the final distance to the target (0 is
# perfect). Everything is numpy; there is nothing to download and no gym.
#
# A rollout is real CPU work: 4 episodes of 300 physics steps in numpy, some 20-60 ms
# (nothing sleeps). That is the essay's point about reinforcement learning: simulation
# wants many general-purpose CPUs. It also means that on one CPU the simulators cannot go
# faster together; they can only take turns.

# %%
def episode(weights, start):
    W = np.asarray(weights).reshape(2, 4)
    pos, vel = np.array(start, dtype=float), np.zeros(2)
    for _ in range(300):
        force = np.tanh(W @ np.concatenate([pos, vel]))
        vel = 0.985 * vel + 0.015 * force
        pos = pos + 0.015 * vel
    return -float(np.linalg.norm(pos) + np.linalg.norm(vel))


@ck.remote
class Simulator:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.episodes = 0

    def rollout(self, weights, noise_seed, sigma):
        """Reward of the policy weights + sigma * noise, averaged over 4 fixed starts."""
        noise = np.random.default_rng(noise_seed).normal(size=len(weights))
        perturbed = np.asarray(weights) + sigma * noise
        self.episodes += 1
        return float(np.mean([episode(perturbed, s) for s in [(1, 1), (-1, 0.5), (0.5, -1), (-0.8, -0.8)]]))


WORKERS = session.info()["workers"]
sims = [Simulator.remote(i) for i in range(2 * WORKERS)]  # more simulators than workers
for sim in sims:
    print(sim)
print("reward of the zero policy:", ck.get(sims[0].rollout.remote(np.zeros(8), 0, 0.0)))

# %% [markdown]
# ## Evolution strategies
#
# ES treats the whole episode as a black box. Each iteration it tries `n` random
# perturbations `ε_i` of the weights, measures their rewards `r_i`, and moves the weights
# towards the perturbations that did better than average:
#
# $$ w \leftarrow w + \frac{\alpha}{n\,\sigma} \sum_i (r_i - \bar r)\,\varepsilon_i $$
#
# The `n` rollouts are independent: that is the parallel part. The update is cheap: that is
# the learner, here in the kernel.
#
# ### Exercise 1: the ES update
#
# Write `es_update(weights, noises, rewards, sigma, alpha)` with numpy: `noises` has one row
# per perturbation, `rewards` one entry per row. Return the new weights.

# %% exercise
def es_update(weights, noises, rewards, sigma, alpha):
    return weights  # TODO: the formula above


# %% solution
def es_update(weights, noises, rewards, sigma, alpha):
    rewards = np.asarray(rewards, dtype=float)
    advantage = rewards - rewards.mean()
    return weights + alpha / (len(rewards) * sigma) * (np.asarray(noises).T @ advantage)


# %% grader
teach.check("06.es-update", es_update)

# %% [markdown]
# ## Collecting rollouts in parallel
#
# Hand the perturbations out to the simulators round-robin, launch every rollout, then wait
# for all of them. Each actor runs its calls one at a time, so the parallelism comes from
# having several actors, which clusterkit spreads over the workers.
#
# ### Exercise 2: parallel rollouts
#
# Write `collect(simulators, weights, seeds, sigma)`: the reward for each noise seed, in the
# order of `seeds`, computed by `rollout(weights, seed, sigma)` on the simulators. The grader
# hands you its own simulators (two to four) and random seeds, and checks the rewards and,
# from the actor-call log of those simulators, that every one of them worked and that the
# rollouts overlapped in time.

# %% exercise
def collect(simulators, weights, seeds, sigma):
    sim = simulators[0]
    return [ck.get(sim.rollout.remote(weights, s, sigma)) for s in seeds]  # TODO: use them all, at once


# %% solution
def collect(simulators, weights, seeds, sigma):
    futures = [simulators[i % len(simulators)].rollout.remote(weights, s, sigma) for i, s in enumerate(seeds)]
    return ck.get(futures)


# %% grader
teach.check("06.parallel-rollouts", collect)

# %% [markdown]
# ## Training
#
# Twelve ES iterations of 8 rollouts each. The learner (the update) runs in the kernel; the
# simulators do the rest.

# %% demo
weights, sigma, alpha, rewards_seen = np.zeros(8), 0.3, 0.3, []
for iteration in range(12):
    seeds = [1000 * iteration + i for i in range(8)]
    rewards = collect(sims, weights, seeds, sigma)
    noises = np.array([np.random.default_rng(s).normal(size=8) for s in seeds])
    weights = es_update(weights, noises, rewards, sigma, alpha)
    rewards_seen.append(ck.get(sims[0].rollout.remote(weights, 0, 0.0)))
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.plot(rewards_seen, marker="o")
ax.set_xlabel("ES iteration")
ax.set_ylabel("reward (0 is perfect)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Rollouts per second against workers
#
# There are twice as many simulators as workers (clusterkit gives each actor its own
# thread on its worker). We time 24 rollouts using only the simulators that live on the
# first 1, 2, ... workers. The speed-up is the rate relative to one worker; the efficiency
# divides it by the number of workers.
#
# **Rollouts are CPU-bound.** With one CPU (Binder), two workers share it, and two
# simulators on one worker share the Python interpreter's lock as well: the computing
# cannot get faster with more workers. The rate may still rise a little, because a second
# worker hides the per-call overhead (messages, pickling) behind the other's computing;
# the efficiency shows how far that is from real scaling. What you can see is the
# *overlap*: the calls of different simulators interleave in time (the task stream's actor
# lanes), they just do not finish sooner. With one CPU per worker, the rate grows.

# %% demo
by_worker = {}
for sim in sims:
    by_worker.setdefault(sim.worker, []).append(sim)
addresses = sorted(by_worker)
counts = list(range(1, len(addresses) + 1))
rates = []
for k in counts:
    chosen = [sim for address in addresses[:k] for sim in by_worker[address]]
    collect(chosen, np.zeros(8), list(range(4)), 0.1)  # warm up
    start = time.perf_counter()
    collect(chosen, np.zeros(8), list(range(24)), 0.1)
    rates.append(24 / (time.perf_counter() - start))
speedup = [r / rates[0] for r in rates]
fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
left.plot(counts, rates, marker="o")
left.set_xlabel(f"workers ({len(sims) // len(addresses)} simulators each)")
left.set_ylabel("rollouts per second")
right.plot(counts, [s / k for s, k in zip(speedup, counts)], marker="o")
right.set_ylim(0, 1.1)
right.set_xlabel("workers")
right.set_ylabel("efficiency (speed-up / workers)")
plt.tight_layout()
plt.show()
print("rollouts per second:", [round(r, 1) for r in rates], "| speed-up:", [round(s, 2) for s in speedup])
since = time.time()
collect(sims, np.zeros(8), list(range(16)), 0.1)
calls = [c for _, c in client.get_events("clusterkit-actors") if c["start"] >= since and c["method"] == "rollout"]
print(f"{len(calls)} rollouts on {len({c['actor_id'] for c in calls})} simulators; up to "
      f"{teach.max_overlap([(c['start'], c['stop']) for c in calls])} running at the same moment")
if teach.cpus() == 1:
    print("One CPU: the simulators overlap in time, but CPU-bound rollouts cannot compute faster; any gain in "
          "rollouts per second is per-call overhead hidden behind another worker's computing, not scaling.")

# %% [markdown]
# ## What you saw
#
# * Simulators are actors: they keep an environment between calls.
# * ES needs only rewards; its rollouts are independent, so they parallelise perfectly
#   until the learner or the network becomes the bottleneck.
# * CPU-bound rollouts per second grow with workers only when each worker has its own CPU;
#   efficiency below 1 is the cost of coordination. On one CPU they take turns.
#
# Next: **07 · Fault tolerance**: what happens when a worker dies mid-way.
