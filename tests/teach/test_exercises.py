"""Graders on a real cluster: right answers pass, typical wrong ones fail with a hint."""

from __future__ import annotations

import time

import pytest

import clusterkit as ck
from clusterkit.teach import grading, shared


@pytest.fixture
def curriculum():
    session = shared.cluster()
    try:
        yield session
    finally:
        session.stop()


def test_shared_cluster_is_reused_and_named(curriculum) -> None:
    assert curriculum.name == shared.CLUSTER_NAME
    assert shared.cluster() is curriculum
    assert len(shared.worker_addresses(curriculum)) >= 2


@pytest.mark.slow
def test_launch_then_get_tells_overlap_from_serial(curriculum) -> None:
    @ck.remote
    def slow_inc(x):
        time.sleep(0.3)
        return x + 1

    good = grading.run("01.launch-then-get", lambda xs: ck.get([slow_inc.remote(x) for x in xs]))
    with_map = grading.run("01.launch-then-get", lambda xs: ck.map(slow_inc.__wrapped__, xs))  # keys named map-...
    bad = grading.run("01.launch-then-get", lambda xs: [ck.get(slow_inc.remote(x)) for x in xs])
    assert good.passed, good.message
    assert with_map.passed, with_map.message
    assert not bad.passed and "one at a time" in bad.message


@pytest.mark.slow
def test_parameter_server_accepts_synchronous_sgd(curriculum) -> None:
    def averaged(ps, gradient, steps):  # two gradients in parallel, their average pushed once per step
        for step in range(steps):
            weights = ck.get(ps.pull.remote())
            first, second = ck.get([gradient.remote(weights, 2 * step), gradient.remote(weights, 2 * step + 1)])
            ck.get(ps.push.remote((first + second) / 2))

    def in_the_kernel(ps, gradient, steps):
        for step in range(steps):
            weights = ck.get(ps.pull.remote())
            ck.get(ps.push.remote(gradient.__wrapped__(weights, step)))

    result = grading.run("05.parameter-server", averaged)
    assert result.passed, result.message
    wrong = grading.run("05.parameter-server", in_the_kernel)
    assert not wrong.passed and "here in the kernel" in wrong.message


def test_batch_size_accepts_numpy_numbers_and_rejects_rounding() -> None:
    import math

    import numpy as np

    def exact(per_item, overhead, share):
        return overhead * (1 - share) / (share * per_item)

    for answer in (lambda p, o, s: np.int64(max(1, np.ceil(exact(p, o, s)))),
                   lambda p, o, s: np.float64(max(1.0, np.ceil(exact(p, o, s)))),
                   lambda p, o, s: max(1, math.ceil(exact(p, o, s)))):
        result = grading.run("08.batch-size", answer)
        assert result.passed, result.message
    for wrong, fragment in ((lambda p, o, s: max(1, round(exact(p, o, s))), "Round up"),
                            (lambda p, o, s: max(1, math.ceil(exact(p, o, s)) + 1), "would do")):
        result = grading.run("08.batch-size", wrong)
        assert not result.passed and fragment in result.message


def test_distinct_rolls_catches_the_pure_trap(curriculum) -> None:
    import random

    client = curriculum.client

    def noisy_measurement():
        return random.random()

    assert grading.run("01.distinct-rolls", [client.submit(noisy_measurement, pure=False) for _ in range(5)]).passed
    trap = grading.run("01.distinct-rolls", [client.submit(noisy_measurement) for _ in range(5)])
    assert not trap.passed and "pure" in trap.message
