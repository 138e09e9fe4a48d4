"""Results that travel with their task's completion (clusterkit.parallel._results), on real clusters."""

from __future__ import annotations

import importlib
import os
import signal

import dask
import pytest

import clusterkit as ck
from tests.conftest import wait_until
from tests.parallel import helpers

results = importlib.import_module("clusterkit.parallel._results")
runtime = importlib.import_module("clusterkit.parallel._runtime")

pytestmark = pytest.mark.allow_leaks  # the module's shared_cluster fixture stops the session


def _store(session):
    runtime.prepare(session.client)  # what the first ck.get / ck.map does
    store = results.store_for(session.client)
    assert store is not None, "the client has no result store: prepare() did not install the handler"
    return store


@ck.remote
def _value(x):
    return x


def test_a_small_value_arrives_with_the_completion(shared_cluster):
    ref = _value.remote({"answer": 42})
    assert ck.get(ref) == {"answer": 42}
    # Dask reports the future finished only after the value was received: it is in the store.
    assert results.value(ref) == {"answer": 42}
    # Lists of futures read the store too, and keep their order.
    refs = [_value.remote(i) for i in range(20)]
    assert ck.get(refs) == list(range(20))
    assert all(results.raw(r) is not None for r in refs)


def test_a_large_value_is_gathered_as_before(shared_cluster):
    big = "x" * (2 * results_limit("task"))
    ref = _value.remote(big)
    assert ck.get(ref) == big
    assert results.raw(ref) is None
    mixed = [_value.remote(big), _value.remote(1)]
    assert ck.get(mixed) == [big, 1]
    assert results.raw(mixed[0]) is None and results.raw(mixed[1]) is not None


def test_a_large_list_tuple_set_or_dict_value_arrives_with_the_completion(shared_cluster):
    """Collections get the larger ``collection`` limit: Dask's gather would send them item by item."""
    task_limit = results_limit("task")
    values = [
        list(range(50_000)),  # sizeof ~1.8 MB, 20x the task limit; pickled ~250 KB
        tuple(float(i) for i in range(20_000)),
        set(range(100_000, 140_000)),
        {f"k{i}": [i] for i in range(20_000)},
    ]
    for value in values:
        ref = _value.remote(value)
        assert ck.get(ref) == value
        blob = results.raw(ref)
        assert blob is not None and len(blob) > task_limit
    big = "x" * (2 * task_limit)  # not a collection: the task limit holds
    ref = _value.remote(big)
    assert ck.get(ref) == big and results.raw(ref) is None
    # A collection of large buffers keeps the task limit: Dask gathers those zero-copy, as before.
    for buffers in ([big], [bytes(task_limit), *range(100)]):
        ref = _value.remote(buffers)
        assert ck.get(ref) == buffers and results.raw(ref) is None


def test_a_collection_above_its_limit_is_gathered(shared_cluster):
    with dask.config.set({"clusterkit.parallel.inline-results.collection": "1KiB"}):
        ref = _value.remote(list(range(10_000)))  # pickled ~50 KB: below the task limit, the floor
        assert ck.get(ref) == list(range(10_000))
        assert results.raw(ref) is not None
        huge = list(range(100_000))  # pickled ~500 KB: above both limits
        ref = _value.remote(huge)
        assert ck.get(ref) == huge
        assert results.raw(ref) is None


def results_limit(kind: str) -> int:
    limit = runtime.inline_limit(kind)
    assert limit
    return limit


def test_errors_and_cancellation_are_reported_as_before(shared_cluster):
    with pytest.raises(ValueError, match="item 7 is bad") as info:
        ck.get(ck.remote(helpers.fail_on).remote(7))
    assert isinstance(info.value, ck.RemoteError)
    assert ck.get(ck.remote(helpers.fail_on).remote(3)) == 3


def test_a_value_read_after_its_worker_died_is_not_lost(cluster):
    client = cluster.client
    small = _value.remote(123)
    big_value = "y" * (2 * results_limit("task"))
    big = _value.remote(big_value)
    ck.wait([small, big], num_returns=2)
    holders = {addr for ws in client.who_has([small, big]).values() for addr in ws}
    pids = client.run(os.getpid, workers=list(holders))
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    # The small value came with its completion; the large one Dask computes again.
    assert ck.get(small) == 123
    assert ck.get(big, timeout=120) == big_value
    assert wait_until(lambda: len(client.scheduler_info(n_workers=-1)["workers"]) == 2, timeout=120)


def test_the_store_is_bounded_and_drops_released_values(shared_cluster):
    store = _store(shared_cluster)
    limit = store.max_bytes
    store.max_bytes = 50_000
    try:
        refs = [_value.remote(b"z" * 4000) for _ in range(40)]
        values = ck.get(refs)
        assert values == [b"z" * 4000] * 40
        assert store.nbytes <= 50_000
        # Evicted values are still there for the reader: gathered from the workers.
        assert sum(results.raw(r) is None for r in refs) > 0
        assert ck.get(refs) == values
    finally:
        store.max_bytes = limit


def test_values_of_released_futures_are_dropped_first(shared_cluster):
    store = _store(shared_cluster)
    limit = store.max_bytes
    store.max_bytes = 50_000
    try:
        refs = [_value.remote(b"a" * 4000) for _ in range(10)]  # ~40 KB: all kept
        ck.get(refs)
        kept, released = refs[0], [r.key for r in refs[1:]]
        del refs
        # Dask releases a dropped future on its event loop, a moment later.
        assert wait_until(lambda: not any(k in shared_cluster.client.futures for k in released), timeout=30)
        more = [_value.remote(b"b" * 4000) for _ in range(3)]  # over the limit now
        ck.get(more)
        # The oldest value stays because its future is still held; the released ones went.
        assert store.get(kept.key) is not None
        assert all(store.get(k) is None for k in released)
        assert all(store.get(r.key) is not None for r in more)
    finally:
        store.max_bytes = limit


def test_a_cluster_without_the_handler_never_gets_a_message(shared_cluster):
    # The worker sends only when the client says the scheduler has the handler (an unknown
    # stream operation would break the worker's connection to the scheduler).
    client = shared_cluster.client
    client.run_on_scheduler(_drop_handler)
    try:
        with dask.config.set({"clusterkit.parallel.inline-results.task": "1MiB"}):
            runtime._inline_clients.discard(client)
            ref = _value.remote(9)
            assert ck.get(ref) == 9
            assert results.raw(ref) is None
    finally:
        client.run_on_scheduler(_reinstall)
        runtime._inline_clients.add(client)


def _drop_handler(dask_scheduler=None):
    dask_scheduler.stream_handlers.pop("clusterkit-result", None)


def _reinstall(dask_scheduler=None):
    from clusterkit.parallel import _results

    _results.install_on_scheduler(dask_scheduler)


def test_the_scheduler_forwards_only_from_the_running_worker_to_a_client_that_wants_the_key(shared_cluster, tmp_path):
    from distributed import Client

    session = shared_cluster
    client = session.client
    hold = tmp_path / "release"
    ref = ck.remote(helpers.work).remote("real", hold=str(hold))  # runs until released
    assert wait_until(lambda: ref.key in {k for ks in client.processing().values() for k in ks}, timeout=30)
    running_on = next(w for w, keys in client.processing().items() if ref.key in keys)
    other_worker = next(w for w in client.scheduler_info(n_workers=-1)["workers"] if w != running_on)
    with Client(client.scheduler.address, security=client.security, set_as_default=False) as other:
        other_store = results.store_for(other, 1 << 20)
        assert other_store is not None
        # Naming a client that does not want the key, even from the right worker: dropped.
        client.run_on_scheduler(_forge, ref.key, other.id, running_on)
        # Naming the right client but not the worker running the task: dropped.
        client.run_on_scheduler(_forge, ref.key, client.id, other_worker)
        client.run_on_scheduler(_forge, ref.key, client.id, "")
        other.run_on_scheduler(_noop)  # one more round trip on each client's stream
        client.run_on_scheduler(_noop)
        assert len(other_store) == 0
        assert results.raw(ref) is None
    hold.write_text("go")
    assert ck.get(ref) == "real"  # and the real value still arrives with its completion
    assert results.raw(ref) is not None


def _forge(key, client_id, worker, dask_scheduler=None):
    dask_scheduler.stream_handlers["clusterkit-result"](key=key, client=client_id, value=b"forged", worker=worker)


def _noop(dask_scheduler=None):
    return None


def test_turned_off_by_config_every_value_is_gathered(shared_cluster):
    with dask.config.set({"clusterkit.parallel.inline-results.task": None, "clusterkit.parallel.inline-results.map": None}):
        ref = _value.remote(5)
        assert ck.get(ref) == 5
        assert results.raw(ref) is None
        assert ck.map(helpers.square, range(1000), progress=False) == [x * x for x in range(1000)]


def test_map_batches_arrive_with_their_completion_or_are_gathered(shared_cluster):
    store = _store(shared_cluster)
    items = list(range(20_000))
    assert ck.map(helpers.square, items, progress=False) == [x * x for x in items]
    assert not [k for k in store.held() if k.startswith("map-")]  # each report was taken, not kept
    with dask.config.set({"clusterkit.parallel.inline-results.map": "1KiB"}):  # every batch is larger
        assert ck.map(helpers.square, items, progress=False) == [x * x for x in items]
