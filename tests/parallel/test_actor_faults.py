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


def test_in_flight_calls_fail_clearly_or_replay(cluster, tmp_path):
    strict = Counter.options(max_restarts=1).remote()
    replaying = Counter.options(max_restarts=1, max_task_retries=1).remote()
    # One worker death at a time (each actor lives on its own worker), while a call runs.
    in_flight = _kill_during_call(strict, tmp_path / "strict")
    with pytest.raises(ck.ActorRestartedError, match="max_task_retries"):
        ck.get(in_flight, timeout=60)
    assert ck.get(strict.add.remote(1), timeout=30) == 1
    assert wait_until(lambda: len(cluster.client.scheduler_info(n_workers=-1)["workers"]) == 2, timeout=120)
    replayed = _kill_during_call(replaying, tmp_path / "replaying")
    assert ck.get(replayed, timeout=60) == 0  # replayed on the re-created actor


def _kill_during_call(handle, marker):
    pid = ck.get(handle.pid.remote())
    call = handle.slow_marked.remote(3.0, str(marker))
    assert wait_until(marker.exists, timeout=30)
    os.kill(pid, signal.SIGKILL)
    return call


def test_without_restarts_calls_fail_fast_with_actor_lost(cluster):
    counter = Counter.options(name="doomed").remote()
    worker = counter.worker
    _kill_actor_worker(counter)
    with pytest.raises(ck.ActorLostError) as info:
        for _ in range(100):  # calls made while the loss is noticed may still be in flight
            ck.get(counter.get.remote(), timeout=10)
    assert "doomed" in str(info.value) and worker in str(info.value)
