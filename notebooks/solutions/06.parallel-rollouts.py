def collect(simulators, weights, seeds, sigma):
    futures = [simulators[i % len(simulators)].rollout.remote(weights, s, sigma) for i, s in enumerate(seeds)]
    return ck.get(futures)
