"""The session's client: Dask's, with scatter keyed afresh so re-scattering cannot break the cluster."""

from __future__ import annotations

import distributed
import numpy as np

import clusterkit as ck
from clusterkit.client import Client


def _dot(weights, chunk):
    return float(weights @ chunk)


def test_scattering_the_same_value_once_per_task_keeps_every_result_and_the_cluster(cluster):
    # The most common first attempt at "pass a reference": scatter inside the loop.
    # With Dask's content keys this races with the release of the previous future
    # (dask/distributed#3703): tasks cancelled for "lost dependencies", or a scheduler
    # that never runs another task. Each call now gets its own key.
    client = cluster.client
    assert isinstance(client, Client) and isinstance(client, distributed.Client)
    score = ck.remote(_dot)
    rng = np.random.default_rng(0)
    for _ in range(12):
        weights = rng.normal(size=100_000)
        chunks = [rng.normal(size=100_000) for _ in range(8)]
        scores = ck.get([score.remote(client.scatter(weights), chunk) for chunk in chunks], timeout=60)
        assert np.allclose(scores, [weights @ c for c in chunks])
    assert ck.get(score.remote(np.ones(3), np.ones(3)), timeout=60) == 3.0


def test_each_scatter_gets_a_fresh_key_unless_hash_is_asked_for(cluster):
    client = cluster.client
    value = np.arange(100)
    first, second = client.scatter(value), client.scatter(value)
    assert first.key != second.key
    assert (first.result() == value).all() and (second.result() == value).all()
    assert client.scatter(value, hash=True).key == client.scatter(value, hash=True).key
    [a, b] = client.scatter([1, 2])
    assert (a.result(), b.result()) == (1, 2)
    assert client.scatter({"x": 5})["x"].result() == 5
    assert client.scatter(7, broadcast=True).result() == 7
