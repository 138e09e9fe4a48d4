# %% [markdown]
# # 04 · Hyperparameter search
#
# **Learning goals**
#
# 1. Run many training trials in parallel and count what they cost (the **budget**, in epochs).
# 2. Compare random search with *successive halving*, which stops bad trials early, and see
#    when stopping early picks the wrong winner.
# 3. Make halving asynchronous with `ck.wait`, and measure wall clock and speed-up against
#    training one configuration after another.
#
# Tuning multiplies the cost of machine learning. Ion Stoica's essay *The Future of Computing
# is Distributed* (2020) notes that RoBERTa has 17 hyperparameters: trying just two values of
# each gives over 130,000 configurations, each one a full training run. Searching cleverly,
# and in parallel, is not optional.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import clusterkit as ck
from clusterkit import teach
from clusterkit.teach.tuning import best_possible, sample_configs, train

print(teach.describe())
session = teach.cluster()
teach.show(session)
THREADS = session.info()["threads"]

# %% [markdown]
# ## The model we tune
#
# `train(config, epochs)` trains a real (small) model: linear regression on 6,000 generated
# examples with 50 features, by minibatch stochastic gradient descent in numpy, and returns
# the validation loss after every epoch. Nothing is simulated and nothing is downloaded:
# each epoch is a few milliseconds of real CPU work. Two hyperparameters: the
# `learning_rate` and the `batch_size`.
#
# They pull against each other. A large learning rate (or a small batch) drops fast in the
# first epoch and then jitters on a higher plateau; a small one starts slowly and ends lower.
# So the **learning curves cross**. Look at a few:

# %%
configs = sample_configs(27, seed=4)
start = time.perf_counter()
curve = train(configs[0], 27)
epoch_ms = (time.perf_counter() - start) / 27 * 1e3
print(f"one epoch of {configs[0]}: {epoch_ms:.1f} ms of CPU in this kernel")

fig, ax = plt.subplots(figsize=(6, 3))
for config in [{"learning_rate": 0.05, "batch_size": 8}, {"learning_rate": 0.002, "batch_size": 16},
               {"learning_rate": 0.0005, "batch_size": 8}, {"learning_rate": 0.02, "batch_size": 64}]:
    ax.plot(range(1, 28), train(config, 27), label=f"lr {config['learning_rate']}, batch {config['batch_size']}")
ax.axhline(best_possible(), ls=":", color="gray", label="exact least squares")
ax.set_yscale("log")
ax.set_xlabel("epochs")
ax.set_ylabel("validation loss")
ax.legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Random search
#
# Train every configuration for the full 27 epochs, in parallel, and keep the best. The
# budget is 27 configurations x 27 epochs = 729 epochs.

# %%
remote_train = ck.remote(train)
start = time.perf_counter()
curves = ck.get([remote_train.remote(c, 27) for c in configs])
random_seconds = time.perf_counter() - start
final = [c[-1] for c in curves]
truly_best = int(np.argmin(final))
print(f"random search: best loss {final[truly_best]:.4f} ({configs[truly_best]}), "
      f"729 epochs, {random_seconds:.1f} s on {THREADS} worker threads")

# %% [markdown]
# ## Successive halving
#
# Most configurations look bad after a single epoch. Successive halving trains all of them
# briefly, keeps the best third, trains those three times longer, and repeats:
#
# | round | configurations | epochs each | epochs spent |
# |------:|---------------:|------------:|-------------:|
# | 1 | 27 | 1 | 27 |
# | 2 | 9 | 3 | 27 |
# | 3 | 3 | 9 | 27 |
# | 4 | 1 | 27 | 27 |
#
# 108 epochs instead of 729. Within a round, every trial is independent: launch them all,
# then wait for the round. (Between rounds we must wait: the next round needs the ranking.)
#
# ### Exercise: successive halving
#
# Write `successive_halving(configs, trainer)`: it returns the best configuration. Train
# with `trainer.remote(config, epochs)`, which returns a future of the final loss. Start at 1
# epoch, keep the best third each round, multiply the epochs by 3. The grader counts every
# epoch you ask for (at most a third of random search's budget), checks from its own record
# of your requests that each round kept only the best of the round before, that you return
# the best of the last round, and that the first round's trials overlapped. Its own learning
# curves can cross, and the 27 configurations change on every run.

# %% exercise
def successive_halving(configs, trainer):
    losses = ck.get([trainer.remote(c, 27) for c in configs])  # TODO: this is random search
    return configs[losses.index(min(losses))]


# %% solution
def successive_halving(configs, trainer):
    survivors, epochs = list(configs), 1
    while True:
        losses = ck.get([trainer.remote(c, epochs) for c in survivors])
        ranked = [i for _, i in sorted(zip(losses, range(len(survivors))))]
        if len(survivors) == 1:
            return survivors[0]
        survivors = [survivors[i] for i in ranked[: max(1, len(survivors) // 3)]]
        epochs *= 3


# %% grader
teach.check("04.successive-halving", successive_halving)

# %% [markdown]
# ## When stopping early is wrong
#
# Halving ranks configurations by their loss *so far*. Because curves cross, the leader
# after one epoch is often not the leader after 27. Random search above already trained
# every configuration for 27 epochs, and training is deterministic, so we can replay
# halving on those curves and see exactly what it would keep.

# %% demo
def replay_halving(curves):
    survivors, epochs, dropped = list(range(len(curves))), 1, {}
    while len(survivors) > 1:
        ranked = sorted(survivors, key=lambda i: curves[i][epochs - 1])
        keep = ranked[: max(1, len(survivors) // 3)]
        dropped.update({i: epochs for i in survivors if i not in keep})
        survivors, epochs = keep, epochs * 3
    return survivors[0], dropped

winner, dropped = replay_halving(curves)
first_epoch_leader = int(np.argmin([c[0] for c in curves]))
print(f"leader after 1 epoch: {configs[first_epoch_leader]}, final loss {final[first_epoch_leader]:.4f}")
print(f"halving's winner:     {configs[winner]}, final loss {final[winner]:.4f}")
print(f"truly best (27 ep.):  {configs[truly_best]}, final loss {final[truly_best]:.4f}")
if winner == truly_best:
    print("Here halving found the true best with a seventh of the budget.")
else:
    print(f"Here halving was WRONG: the true best was dropped after {dropped[truly_best]} epoch(s), "
          f"when its loss was {curves[truly_best][dropped[truly_best] - 1]:.3f}; "
          f"it gave up {final[winner] - final[truly_best]:.4f} of loss to save 621 epochs.")
fig, ax = plt.subplots(figsize=(6, 3))
for index, label in [(first_epoch_leader, "leader after 1 epoch"), (winner, "halving's winner"),
                     (truly_best, "truly best after 27")]:
    ax.plot(range(1, 28), curves[index], label=f"{label}: {configs[index]}")
ax.set_yscale("log")
ax.set_xlabel("epochs")
ax.set_ylabel("validation loss")
ax.legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Asynchronous successive halving with `ck.wait`
#
# Synchronous halving waits for the slowest trial of each round while other workers idle.
# The asynchronous version (ASHA) keeps every worker busy: whenever a trial finishes
# (`ck.wait(..., num_returns=1)`), it promotes that configuration to the next rung if it is
# in the best third of those finished at its rung so far; otherwise it starts a new
# configuration. Decisions are made on partial information, so it can promote a little
# differently, but nothing waits.

# %%
def final_loss(config, epochs):
    return train(config, epochs)[-1]

remote_final_loss = ck.remote(final_loss)


def asha(configs, rungs=(1, 3, 9, 27), eta=3, in_flight=None):
    in_flight = in_flight or 2 * THREADS
    waiting = list(range(len(configs)))
    results = {rung: {} for rung in rungs}          # rung -> {config index: loss}
    promoted = {rung: set() for rung in rungs}
    running = {}                                    # future -> (config index, rung)
    spent = 0

    def launch(index, rung):
        nonlocal spent
        running[remote_final_loss.remote(configs[index], rung)] = (index, rung)
        spent += rung

    while waiting and len(running) < in_flight:
        launch(waiting.pop(0), rungs[0])
    while running:
        ready, _ = ck.wait(list(running), num_returns=1)
        index, rung = running.pop(ready[0])
        results[rung][index] = ck.get(ready[0])
        if rung == rungs[-1]:
            return configs[index], results, spent
        done = sorted(results[rung], key=results[rung].get)
        top = done[: len(done) // eta]
        next_rung = rungs[rungs.index(rung) + 1]
        candidates = [i for i in top if i not in promoted[rung]]
        if candidates:
            promoted[rung].add(candidates[0])
            launch(candidates[0], next_rung)
        elif waiting:
            launch(waiting.pop(0), rungs[0])
        elif not running:  # nothing left to start: promote the best unpromoted one
            rest = [i for i in done if i not in promoted[rung]]
            if rest:
                promoted[rung].add(rest[0])
                launch(rest[0], next_rung)
    return None, results, spent


best, results, spent = asha(configs)
print(f"ASHA: {best}, {spent} epochs; its final loss {final[configs.index(best)]:.4f} "
      f"(truly best {final[truly_best]:.4f})")

# %% [markdown]
# ## Wall clock and speed-up
#
# The same 27 configurations, three ways: synchronous halving run one trial after another
# here in the kernel (the serial baseline), synchronous halving on the cluster, and ASHA on
# the cluster. The speed-up is serial time divided by each method's time; the efficiency
# divides that by the worker threads.
#
# **Training is CPU-bound.** Two workers sharing one CPU (Binder) each run at half speed,
# so the cluster *cannot* be faster there: the plot then shows a speed-up of about 1 (or
# less, for the overhead), and the task stream shows the trials overlapping in time
# without finishing sooner. With more CPUs than one, the same code gets faster.

# %% demo
class LocalTrainer:
    @staticmethod
    def remote(config, epochs):
        return final_loss(config, epochs)

def local_halving(configs):
    survivors, epochs = list(configs), 1
    while len(survivors) > 1:
        losses = [LocalTrainer.remote(c, epochs) for c in survivors]
        ranked = [i for _, i in sorted(zip(losses, range(len(survivors))))]
        survivors, epochs = [survivors[i] for i in ranked[: max(1, len(survivors) // 3)]], epochs * 3
    LocalTrainer.remote(survivors[0], epochs)
    return survivors[0]

timings = {}
start = time.perf_counter()
local_halving(configs)
timings["halving, serial\nin the kernel"] = time.perf_counter() - start
with teach.Capture(session.client) as capture:
    start = time.perf_counter()
    successive_halving(configs, remote_final_loss)
    timings["halving\non the cluster"] = time.perf_counter() - start
    start = time.perf_counter()
    asha(configs)
    timings["ASHA (ck.wait)\non the cluster"] = time.perf_counter() - start
serial = timings["halving, serial\nin the kernel"]
speedups = [serial / t for t in timings.values()]
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
left.bar(list(timings), list(timings.values()))
left.set_ylabel("wall clock (s)")
right.bar(list(timings), speedups)
right.axhline(min(THREADS, teach.cpus()), ls="--", color="gray", label=f"ideal on {teach.cpus()} CPU(s)")
right.set_ylabel("speed-up vs serial")
right.legend(fontsize=8)
for axis in (left, right):
    axis.tick_params(axis="x", labelsize=7)
plt.tight_layout()
plt.show()
print("speed-ups:", [round(s, 2) for s in speedups], "| efficiency:", [round(s / THREADS, 2) for s in speedups])
print(f"trials on the cluster overlapped up to {capture.overlap()} at a time")
if teach.cpus() == 1:
    print("One CPU: CPU-bound training cannot speed up. The trials overlapped (see above and the task stream), "
          "but each ran at a fraction of the CPU, so the wall clock did not shrink.")

# %% [markdown]
# ## What you saw
#
# * A search is many independent trials: launch a round, then wait for it; or, with
#   `ck.wait`, react to each trial as it finishes and keep every worker busy.
# * Successive halving spends a seventh of random search's budget, but it bets that early
#   losses predict late ones; when learning curves cross, it can drop the best configuration.
# * CPU-bound trials speed up only with more CPUs; on one CPU they merely take turns.
#
# Next: **05 · Actors and state**.
