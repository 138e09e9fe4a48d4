def successive_halving(configs, trainer):
    survivors, epochs = list(configs), 1
    while True:
        losses = ck.get([trainer.remote(c, epochs) for c in survivors])
        ranked = [i for _, i in sorted(zip(losses, range(len(survivors))))]
        if len(survivors) == 1:
            return survivors[0]
        survivors = [survivors[i] for i in ranked[: max(1, len(survivors) // 3)]]
        epochs *= 3
