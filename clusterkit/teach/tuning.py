"""A real model to tune, for notebook 04: linear regression trained by minibatch SGD in numpy.

``train(config, epochs)`` trains from scratch for ``epochs`` passes over 6,000 generated
examples and returns the validation loss after each epoch. Every epoch is real CPU work
(a few milliseconds, more for small batches), so training many configurations is a
CPU-bound workload: it runs faster on more CPUs, and not at all faster on one.

The two hyperparameters pull against each other, which makes learning curves *cross*:
a large learning rate (or a small batch) falls fast in the first epoch but settles on a
noisy, higher plateau; a small learning rate starts slowly and ends lower. Ranking
configurations after one epoch can therefore drop the eventual winner: successive
halving is a bet, and the notebook shows when it loses.

>>> config = {"learning_rate": 0.01, "batch_size": 32}
>>> curve = train(config, 3)
>>> len(curve), curve[-1] < curve[0]
(3, True)
"""

from __future__ import annotations

import functools
import random
from typing import Any

__all__ = ["EXAMPLES", "FEATURES", "best_possible", "sample_configs", "train"]

#: Training examples and features of the generated data set (plus 1,000 for validation).
EXAMPLES, FEATURES = 6000, 50


@functools.lru_cache(maxsize=2)
def _data(seed: int) -> tuple[Any, Any, Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(EXAMPLES + 1000, FEATURES))
    w = rng.normal(size=FEATURES) / np.sqrt(FEATURES)
    y = X @ w + rng.normal(scale=0.5, size=EXAMPLES + 1000)
    return X[:EXAMPLES], y[:EXAMPLES], X[EXAMPLES:], y[EXAMPLES:]


def train(config: dict[str, Any], epochs: int, data_seed: int = 0) -> list[float]:
    """Validation loss (mean squared error) after each of ``epochs`` epochs of minibatch SGD."""
    import numpy as np

    if int(epochs) < 1:
        raise ValueError("epochs must be at least 1")
    X, y, X_val, y_val = _data(data_seed)
    rate, batch = float(config["learning_rate"]), int(config["batch_size"])
    rng = np.random.default_rng(abs(hash((round(rate, 12), batch))) % 2**32)  # same curve for the same config
    w = np.zeros(FEATURES)
    curve: list[float] = []
    for _ in range(int(epochs)):
        order = rng.permutation(EXAMPLES)
        for start in range(0, EXAMPLES, batch):
            rows = order[start:start + batch]
            w -= rate * X[rows].T @ (X[rows] @ w - y[rows]) / len(rows)
        if not np.all(np.isfinite(w)):  # diverged: report a large loss instead of overflowing
            return curve + [1e3] * (int(epochs) - len(curve))
        curve.append(float(np.mean((X_val @ w - y_val) ** 2)))
    return curve


def best_possible(data_seed: int = 0) -> float:
    """The validation loss of the exact least-squares fit: no configuration can beat it (much)."""
    import numpy as np

    X, y, X_val, y_val = _data(data_seed)
    w = np.linalg.lstsq(X, y, rcond=None)[0]
    return float(np.mean((X_val @ w - y_val) ** 2))


def sample_configs(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` random configurations: learning rate log-uniform in [3e-4, 0.3], batch size 8 to 64."""
    rng = random.Random(seed)
    return [
        {"learning_rate": round(10 ** rng.uniform(-3.5, -0.5), 5), "batch_size": rng.choice([8, 16, 32, 64])}
        for _ in range(n)
    ]
