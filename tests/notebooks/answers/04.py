# %% wrong 04.successive-halving
# random search: full budget for everyone
def successive_halving(configs, trainer):
    losses = ck.get([trainer.remote(c, 27) for c in configs])
    return configs[losses.index(min(losses))]
# %% wrong 04.successive-halving
# one flat round of short training, no halving
def successive_halving(configs, trainer):
    losses = ck.get([trainer.remote(c, 3) for c in configs])
    return configs[losses.index(min(losses))]
# %% wrong 04.successive-halving
# halving that keeps the worst third (sorted the wrong way)
def successive_halving(configs, trainer):
    survivors, epochs = list(configs), 1
    while len(survivors) > 1:
        losses = ck.get([trainer.remote(c, epochs) for c in survivors])
        order = sorted(range(len(survivors)), key=losses.__getitem__, reverse=True)
        survivors = [survivors[i] for i in order[: max(1, len(survivors) // 3)]]
        epochs *= 3
    return survivors[0]
# %% wrong 04.successive-halving
# rounds run one trial at a time
def successive_halving(configs, trainer):
    survivors, epochs = list(configs), 1
    while len(survivors) > 1:
        losses = [ck.get(trainer.remote(c, epochs)) for c in survivors]
        order = sorted(range(len(survivors)), key=losses.__getitem__)
        survivors = [survivors[i] for i in order[: max(1, len(survivors) // 3)]]
        epochs *= 3
    ck.get(trainer.remote(survivors[0], epochs))
    return survivors[0]
# %% right 04.successive-halving
# halving by two (eta = 2), rounding up
import math
def successive_halving(configs, trainer):
    survivors, epochs = list(configs), 1
    while True:
        losses = ck.get([trainer.remote(c, epochs) for c in survivors])
        order = sorted(range(len(survivors)), key=losses.__getitem__)
        if len(survivors) == 1:
            return survivors[0]
        survivors = [survivors[i] for i in order[: math.ceil(len(survivors) / 3)]]
        epochs *= 3
