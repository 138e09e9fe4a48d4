"""Actors under worker death: restart, replay, loss (each test has its own cluster)."""

from __future__ import annotations

import os
import signal

import pytest

import clusterkit as ck
from tests.conftest import wait_until
from tests.parallel import helpers

Counter = ck.remote(helpers.Counter)
Checkpointed = ck.remote(helpers.CheckpointedCounter)


def _kill_actor_worker(handle):
    os.kill(ck.get(handle.pid.remote()), signal.SIGKILL)


def test_restart_after_sigkill_from_constructor_and_from_checkpoint(cluster):
    plain = Counter.options(max_restarts=1).remote(10)
    saved = Checkpointed.options(max_restarts=1).remote(10)
    assert ck.get([plain.add.remote(5), saved.add.remote(5)]) == [15, 15]
    for handle, expected in ((plain, 10), (saved, 15)):
        before = handle.worker
        _kill_actor_worker(handle)
        assert wait_until(lambda h=handle, b=before: h.worker != b, timeout=60)
        # plain: from its constructor arguments; saved: from its last checkpoint.
        assert ck.get(handle.get.remote(), timeout=30) == expected


def test_in_flight_calls_fail_clearly_or_replay(cluster):
    strict = Counter.options(max_restarts=1).remote()
    replaying = Counter.options(max_restarts=1, max_task_retries=1).remote()
    strict_pid = ck.get(strict.pid.remote())
    replay_pid = ck.get(replaying.pid.remote())
    in_flight = strict.slow.remote(3.0)
    replayed = replaying.slow.remote(3.0)
    wait_until(lambda: cluster.client.get_events("clusterkit-actors") is not None, timeout=0.3)
    for pid in {strict_pid, replay_pid}:
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(ck.ActorRestartedError, match="max_task_retries"):
        ck.get(in_flight, timeout=60)
    assert ck.get(replayed, timeout=60) == 0
    assert ck.get(strict.add.remote(1), timeout=30) == 1


def test_without_restarts_calls_fail_fast_with_actor_lost(cluster):
    counter = Counter.options(name="doomed").remote()
    worker = counter.worker
    _kill_actor_worker(counter)
    with pytest.raises(ck.ActorLostError) as info:
        for _ in range(100):  # calls made while the loss is noticed may still be in flight
            ck.get(counter.get.remote(), timeout=10)
    assert "doomed" in str(info.value) and worker in str(info.value)
