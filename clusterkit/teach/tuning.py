"""A synthetic model to tune, for notebook 04: cheap, deterministic, and honest about budget.

``train(config, epochs)`` "trains" for ``epochs`` epochs and returns a validation
loss. Each epoch sleeps briefly (simulated training time that needs no CPU, so
trials overlap even on Binder's single CPU). The loss falls with more epochs,
levels off at a floor set by the configuration, and carries a little noise, like
a real learning curve: early losses predict final ones, but not perfectly.

>>> config = {"learning_rate": 0.01, "dropout": 0.3}
>>> round(floor(config), 3)
0.0
>>> train(config, 27, sleep=0.0) < train(config, 1, sleep=0.0)
True
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

__all__ = ["SECONDS_PER_EPOCH", "floor", "sample_configs", "train"]

#: Simulated training time per epoch.
SECONDS_PER_EPOCH = 0.002


def floor(config: dict[str, float]) -> float:
    """The loss this configuration reaches with unlimited training (0 is best)."""
    lr_error = math.log10(config["learning_rate"]) + 2.0  # best at 0.01
    dropout_error = config["dropout"] - 0.3
    return 0.5 * lr_error**2 + 2.0 * dropout_error**2


def train(config: dict[str, float], epochs: int, sleep: float = SECONDS_PER_EPOCH) -> float:
    """Validation loss after ``epochs`` epochs (deterministic noise per config and epochs)."""
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    time.sleep(sleep * epochs)
    noise = random.Random(hash((round(config["learning_rate"], 12), round(config["dropout"], 12), epochs)))
    return floor(config) + 1.5 / math.sqrt(epochs) + noise.gauss(0.0, 0.03)


def sample_configs(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` random configurations: learning rate log-uniform in [1e-4, 1], dropout in [0, 0.8]."""
    rng = random.Random(seed)
    return [
        {"learning_rate": 10 ** rng.uniform(-4, 0), "dropout": round(rng.uniform(0.0, 0.8), 3)}
        for _ in range(n)
    ]
