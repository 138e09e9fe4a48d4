def run_training(ps, gradient, steps):
    for step in range(steps):
        weights = ck.get(ps.pull.remote())
        grads = ck.get([gradient.remote(weights, 2 * step + i) for i in range(2)])
        ck.get([ps.push.remote(g) for g in grads])
