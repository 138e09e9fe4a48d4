def successive_halving(configs, trainer):
    survivors, epochs = list(configs), 1
    while True:
        losses = ck.get([trainer.remote(c, epochs) for c in survivors])
        ranked = [c for _, c in sorted(zip(losses, range(len(survivors))))]
        if len(survivors) <= 3 and epochs >= 27:
            return survivors[ranked[0]]
        survivors = [survivors[i] for i in ranked[: max(1, len(survivors) // 3)]]
        epochs *= 3
