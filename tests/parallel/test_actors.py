"""Actors: ordering, handles in tasks, placement, restart, loss, call log."""

from __future__ import annotations

import pytest

import clusterkit as ck
from tests.conftest import wait_until
from tests.parallel import helpers

Counter = ck.remote(helpers.Counter)
Checkpointed = ck.remote(helpers.CheckpointedCounter)
use_actor = ck.remote(helpers.use_actor)

pytestmark = pytest.mark.allow_leaks  # the module's shared_cluster fixture stops the session


def test_calls_run_in_call_order_and_compose_with_get_wait(shared_cluster):
    counter = Counter.remote()
    refs = [counter.append.remote(i) for i in range(200)]
    assert ck.get(counter.items.remote()) == list(range(200))
    ready, pending = ck.wait(refs, num_returns=200, timeout=30)
    assert len(ready) == 200 and not pending
    assert sorted(ck.get(r) for r in ck.as_completed(refs[:5])) == [1, 2, 3, 4, 5]
    with pytest.raises(KeyError) as info:
        ck.get(counter.fail.remote())
    assert isinstance(info.value, ck.RemoteError)
    assert ck.get(counter.get.remote()) == 0  # the actor survives its method's exception


def test_handles_pass_into_tasks(shared_cluster):
    counter = Counter.remote(100)
    results = ck.get([use_actor.remote(counter, 1) for _ in range(5)])
    assert sorted(results) == [101, 102, 103, 104, 105]
    assert ck.get(counter.get.remote()) == 105


def test_two_actors_get_their_own_workers(shared_cluster):
    first, second = Counter.remote(), Counter.remote()
    assert first.worker != second.worker
    # Busy actors do not starve each other: each has its own thread.
    slow = first.slow.remote(1.0)
    assert ck.get(second.add.remote(1), timeout=30) == 1
    ck.get(slow)


def test_every_call_is_logged_as_a_dask_event(shared_cluster):
    counter = Counter.options(name="logged").remote()
    ck.get([counter.add.remote(1), counter.fail.remote()][:1])
    with pytest.raises(KeyError):
        ck.get(counter.fail.remote())
    client = shared_cluster.client

    def events():
        return [msg for _, msg in client.get_events("clusterkit-actors") if msg["actor"] == "logged"]

    assert wait_until(lambda: len(events()) >= 3, timeout=10)
    logged = events()
    assert [e["method"] for e in logged][:1] == ["__init__"]
    assert {"add", "fail"} <= {e["method"] for e in logged}
    assert {e["status"] for e in logged if e["method"] == "fail"} == {"error"}
    for event in logged:
        assert set(event) == {"actor", "actor_id", "method", "worker", "start", "stop", "status"}
        assert event["worker"] == counter.worker
        assert event["stop"] >= event["start"]
