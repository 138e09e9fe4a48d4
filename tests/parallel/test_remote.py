"""@ck.remote tasks, get / wait / as_completed / cancel, with Ray's semantics."""

from __future__ import annotations

import time

import pytest
from distributed import Future

import clusterkit as ck
from tests.conftest import wait_until
from tests.parallel import helpers

pytestmark = pytest.mark.allow_leaks  # the module's shared_cluster fixture stops the session

square = ck.remote(helpers.square)
slow = ck.remote(helpers.slow_identity)
fail = ck.remote(helpers.fail_on)


def test_remote_returns_dask_futures_and_every_call_is_a_task(shared_cluster):
    a, b = square.remote(3), square.remote(3)
    assert isinstance(a, Future)
    assert a.key != b.key  # pure=False: identical calls are two tasks
    assert a.key.startswith("square-")
    assert ck.get(a) == 9
    assert shared_cluster.client.gather([a, b]) == [9, 9]  # usable by Dask directly


def test_decorator_forms_and_options(shared_cluster):
    @ck.remote
    def plain(x):
        return x + 1

    @ck.remote(max_retries=0, name="named")
    def configured(x):
        return x + 2

    assert ck.get(plain.remote(1)) == 2
    ref = configured.options(name="renamed").remote(1)
    assert ref.key.startswith("renamed-")
    assert ck.get(ref) == 3
    with pytest.raises(TypeError, match=r"\.remote"):
        plain(1)
    with pytest.raises(TypeError, match="Unknown option"):
        ck.remote(bogus=1)(helpers.square)


def test_num_cpus_becomes_a_worker_resource(shared_cluster):
    ref = square.options(num_cpus=1).remote(4)
    assert ck.get(ref) == 16
    restrictions = shared_cluster.client.run_on_scheduler(
        lambda dask_scheduler, key=ref.key: dict(dask_scheduler.tasks[key].resource_restrictions or {})
    )
    assert restrictions == {"CPU": 1.0}


def test_retry_exceptions_follow_ray(shared_cluster, tmp_path):
    flaky = ck.remote(helpers.fail_times)
    (tmp_path / "a").mkdir()
    assert ck.get(flaky.options(max_retries=2, retry_exceptions=True).remote(str(tmp_path / "a"), 2)) == "ok"
    (tmp_path / "b").mkdir()
    with pytest.raises(ConnectionError):  # application errors are not retried by default
        ck.get(flaky.options(max_retries=2).remote(str(tmp_path / "b"), 1))
    (tmp_path / "c").mkdir()
    retry_listed = flaky.options(max_retries=1, retry_exceptions=[ConnectionError])
    assert ck.get(retry_listed.remote(str(tmp_path / "c"), 1)) == "ok"


def test_errors_carry_the_remote_traceback(shared_cluster):
    with pytest.raises(ck.RemoteError) as info:
        ck.get(fail.remote(7))
    assert isinstance(info.value, ValueError)
    assert "item 7 is bad" in info.value.remote_traceback


def _never(i):
    """A future that stays pending without using a worker: it needs a resource nobody has."""
    return square.options(resources={"UNOBTAINIUM": 1}).remote(i)


def _done(i):
    ref = square.remote(i)
    ck.get(ref)
    return ref


def test_get_lists_keep_order_and_timeout_raises(shared_cluster):
    refs = [square.remote(i) for i in range(10)]
    assert ck.get(refs) == [i * i for i in range(10)]
    never = _never(1)
    with pytest.raises(TimeoutError, match="still running"):
        ck.get(never, timeout=0.05)
    with pytest.raises(TimeoutError):
        ck.get([refs[0], never], timeout=0.05)
    ck.cancel(never)
    with pytest.raises(TypeError):
        ck.get(42)


# (description, futures: "done" / "never" / "error", num_returns, timeout, expected ready indices)
WAIT_TABLE = [
    ("first ready only", ["done", "never", "never"], 1, None, [0]),
    ("input order kept", ["never", "done", "done"], 2, None, [1, 2]),
    ("partial on timeout, no exception", ["done", "never", "never"], 3, 0.2, [0]),
    ("timeout 0 only looks", ["never", "done"], 1, 0, [1]),
    ("nothing ready on timeout", ["never", "never"], 1, 0.1, []),
    ("no more than num_returns", ["done", "done", "done"], 2, None, [0, 1]),
    ("failures count as ready", ["never", "error"], 1, None, [1]),
]


@pytest.mark.parametrize(("kinds", "num_returns", "timeout", "expected"),
                         [row[1:] for row in WAIT_TABLE], ids=[row[0] for row in WAIT_TABLE])
def test_wait_semantics_table(shared_cluster, kinds, num_returns, timeout, expected):
    make = {"done": _done, "never": _never, "error": lambda i: fail.remote(7)}
    refs = [make[kind](i) for i, kind in enumerate(kinds)]
    ready, pending = ck.wait(refs, num_returns=num_returns, timeout=timeout)
    assert [refs.index(r) for r in ready] == expected
    assert [refs.index(r) for r in pending] == [i for i in range(len(refs)) if i not in expected]
    ck.cancel(refs)


def test_wait_refuses_what_ray_refuses(shared_cluster):
    ref = square.remote(1)
    with pytest.raises(ValueError, match="num_returns"):
        ck.wait([ref], num_returns=2)
    with pytest.raises(ValueError, match="twice"):
        ck.wait([ref, ref])


def test_as_completed_yields_in_completion_order(shared_cluster):
    never, quick = _never(0), square.remote(3)
    completed = ck.as_completed([never, quick], timeout=1.0)
    assert next(completed) is quick
    with pytest.raises(TimeoutError):
        next(completed)
    ck.cancel(never)


def test_cancel_stops_queued_work(shared_cluster):
    refs = [slow.remote(i, 0.3) for i in range(10)]
    ck.cancel(refs)
    assert wait_until(lambda: all(r.cancelled() for r in refs), timeout=5)
    client = shared_cluster.client
    assert wait_until(lambda: not any(client.processing().values()), timeout=5)
    assert ck.get(square.remote(5)) == 25


def test_nested_futures_are_resolved_unlike_ray(shared_cluster):
    inner = square.remote(3)
    total = ck.remote(sum)
    assert ck.get(total.remote([inner, 1])) == 10
    assert time.monotonic() > 0


def test_arguments_are_captured_at_the_call_like_ray(shared_cluster, tmp_path):
    """A task queued behind busy workers runs with its arguments as they were at .remote().

    The scheduler may hold a queued task for a long time (in the kernel's own process for a local
    cluster); changing an argument object after the call must not change what the task sees.
    """
    work = ck.remote(helpers.work)
    hold = str(tmp_path / "release")
    busy = [work.remote(f"busy-{i}", hold=hold) for i in range(2)]  # both single-thread workers
    config = {"alpha": [1, 2, 3]}
    buffer = bytearray(b"before")  # an object Dask does not walk into (it rebuilds dicts and lists)
    queued = ck.remote(helpers.identity).remote((config, buffer))
    config["alpha"].append(4)
    config["beta"] = True
    buffer[:] = b"after!"
    (tmp_path / "release").touch()
    assert ck.get(queued, timeout=30) == ({"alpha": [1, 2, 3]}, bytearray(b"before"))
    assert ck.get(busy, timeout=30) == ["busy-0", "busy-1"]


def test_arguments_that_cannot_be_sent_fail_at_the_call(shared_cluster):
    import threading

    with pytest.raises(TypeError, match=r"identity\.remote\(\.\.\.\) cannot be sent to the cluster"):
        ck.remote(helpers.identity).remote(threading.Lock())


def test_large_arguments_travel_packed_and_nested_futures_still_resolve(shared_cluster):
    """Arguments Dask would walk item by item travel as one pickle; futures inside still resolve."""
    from clusterkit.parallel import _common

    identity = ck.remote(helpers.identity)
    items = list(range(10_000))
    ref = identity.remote(items)
    items.append("later")  # pickled at the call: the task never sees this
    assert ck.get(ref, timeout=30) == list(range(10_000))
    nested = {"rows": [[i, str(i)] for i in range(2_000)], "meta": ("a", {"b": 1})}
    assert ck.get(identity.remote(nested), timeout=30) == nested
    inner = square.remote(3)
    with_future = [inner, *range(1_000)]
    assert ck.get(identity.remote(with_future), timeout=30) == [9, *range(1_000)]

    assert _common.pack_arguments((1, "two"), {"three": [3]}) is not None
    assert _common.pack_arguments((items,), {}) is not None
    assert _common.pack_arguments((with_future,), {}) is None  # Dask resolves the future
    assert _common.pack_arguments(([{"deep": [inner]}, *range(100)],), {}) is None
    assert _common.pack_arguments((bytes(1 << 20),), {}) is None  # Dask sends it zero-copy
    assert _common.pack_arguments((), {"view": memoryview(bytes(1 << 20))}) is None
    cyclic: list = list(range(100))
    cyclic.append(cyclic)
    assert _common.pack_arguments((cyclic,), {}) is not None


def test_arrays_in_arguments_keep_dasks_zero_copy_path(shared_cluster):
    import numpy

    from clusterkit.parallel import _common

    small, large = numpy.arange(10), numpy.arange(1 << 16)  # 80 B and 512 KiB
    assert _common.pack_arguments(([small] * 100,), {}) is not None
    assert _common.pack_arguments(([large, *range(100)],), {}) is None
    total = ck.remote(helpers.total)
    assert ck.get(total.remote([large, large])) == 2 * int(large.sum())
    assert ck.get(total.remote([small] * 100)) == 100 * int(small.sum())
