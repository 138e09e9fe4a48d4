# %% wrong 06.es-update
# forgets to subtract the mean reward
def es_update(weights, noises, rewards, sigma, alpha):
    return weights + alpha / (len(rewards) * sigma) * (np.asarray(noises).T @ np.asarray(rewards))
# %% wrong 06.es-update
# divides by n only
def es_update(weights, noises, rewards, sigma, alpha):
    r = np.asarray(rewards)
    return weights + alpha / len(r) * (np.asarray(noises).T @ (r - r.mean()))
# %% right 06.es-update
# the sum written as a loop
def es_update(weights, noises, rewards, sigma, alpha):
    adv = np.asarray(rewards, dtype=float) - np.mean(rewards)
    step = sum(a * e for a, e in zip(adv, noises))
    return weights + alpha * step / (len(rewards) * sigma)
# %% wrong 06.parallel-rollouts
# one simulator, one rollout at a time
def collect(simulators, weights, seeds, sigma):
    return [ck.get(simulators[0].rollout.remote(weights, s, sigma)) for s in seeds]
# %% wrong 06.parallel-rollouts
# every simulator, but waiting for each rollout
def collect(simulators, weights, seeds, sigma):
    return [ck.get(simulators[i % len(simulators)].rollout.remote(weights, s, sigma)) for i, s in enumerate(seeds)]
# %% wrong 06.parallel-rollouts
# decoy: two overlapping rollouts, then the rewards from the notebook's own simulator
def collect(simulators, weights, seeds, sigma):
    ck.get([sim.rollout.remote(weights, seeds[0], sigma) for sim in simulators[:2]])
    return [ck.get(sims[0].rollout.remote(weights, s, sigma)) for s in seeds]
# %% right 06.parallel-rollouts
# futures stored by position, fetched one by one
def collect(simulators, weights, seeds, sigma):
    futures = [None] * len(seeds)
    for i, s in enumerate(seeds):
        futures[i] = simulators[i % len(simulators)].rollout.remote(weights, s, sigma)
    return [ck.get(f) for f in futures]
