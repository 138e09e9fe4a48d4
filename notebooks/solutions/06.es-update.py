def es_update(weights, noises, rewards, sigma, alpha):
    rewards = np.asarray(rewards, dtype=float)
    advantage = rewards - rewards.mean()
    return weights + alpha / (len(rewards) * sigma) * (np.asarray(noises).T @ advantage)
