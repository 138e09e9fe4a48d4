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
    bad = grading.run("01.launch-then-get", lambda xs: [ck.get(slow_inc.remote(x)) for x in xs])
    assert good.passed, good.message
    assert not bad.passed and "one at a time" in bad.message


def test_distinct_rolls_catches_the_pure_trap(curriculum) -> None:
    import random

    client = curriculum.client

    def roll():
        return random.random()

    assert grading.run("01.distinct-rolls", [client.submit(roll, pure=False) for _ in range(5)]).passed
    trap = grading.run("01.distinct-rolls", [client.submit(roll) for _ in range(5)])
    assert not trap.passed and "pure" in trap.message
