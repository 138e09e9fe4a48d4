"""ck.map / ck.imap on a real 2-worker cluster."""

from __future__ import annotations

import _thread
import collections
import importlib
import itertools
import os
import signal
import threading
import time

import psutil
import pytest

import clusterkit as ck
from tests.conftest import wait_until
from tests.parallel import helpers

map_module = importlib.import_module("clusterkit.parallel.map")

pytestmark = pytest.mark.allow_leaks  # the module's shared_cluster fixture stops the session


def test_ordered_results_match_the_builtin_map(shared_cluster):
    items = list(range(5000))
    assert ck.map(helpers.square, items) == [x * x for x in items]
    assert ck.map(helpers.add, range(10), range(100, 105)) == [100, 102, 104, 106, 108]
    assert ck.map(helpers.square, []) == []
    assert ck.map(lambda x: x + 1, iter([1, 2, 3])) == [2, 3, 4]


def test_unordered_yields_every_item_once(shared_cluster):
    got = list(ck.imap(helpers.slow_identity, range(40), ordered=False))
    assert sorted(got) == list(range(40))


def test_explicit_batch_size_and_ordering_with_uneven_work(shared_cluster):
    # Later items are faster: unordered results would come back shuffled.
    delays = [0.03 if i < 8 else 0.0 for i in range(40)]
    assert ck.map(helpers.slow_identity, range(40), delays, batch_size=3) == list(range(40))


def test_long_functions_spread_over_both_workers(shared_cluster):
    pids = ck.map(lambda _: (__import__("time").sleep(0.1), __import__("os").getpid())[1], range(16))
    assert len(set(pids)) == 2


def test_batch_runner_returns_early_and_the_rest_is_resubmitted(shared_cluster, monkeypatch):
    # A worker-side time limit of ~0 forces every batch to return after one sub-chunk.
    monkeypatch.setattr(map_module, "BATCH_TIME_LIMIT", 0.0)
    assert ck.map(helpers.slow_identity, range(30), [0.001] * 30) == list(range(30))


def test_a_generator_of_ten_million_items_runs_in_bounded_memory(shared_cluster):
    process = psutil.Process()
    baseline = process.memory_info().rss
    samples = []

    def sample(i):
        samples.append(process.memory_info().rss - baseline)
        return i

    n = 10_000_000
    numbers = (sample(i) if i % 1_000_000 == 0 else i for i in range(n))
    assert sum(ck.imap(helpers.identity, numbers, progress=False)) == n * (n - 1) // 2
    assert len(samples) == 10
    # All 10^7 ints held at once would take > 350 MB; the window of batches stays far below.
    assert max(samples) < 250 * 2**20


def test_imap_pulls_lazily(shared_cluster):
    pulled = []

    def numbers():
        for i in itertools.count():
            pulled.append(i)
            yield i

    iterator = ck.imap(helpers.identity, numbers(), max_in_flight=2, progress=False)
    first = [next(iterator) for _ in range(3)]
    iterator.close()
    assert first == [0, 1, 2]
    assert len(pulled) <= 2 * map_module.FIRST_UNKNOWN_BATCH + map_module.MAX_UNKNOWN_BATCH_ITEMS * 2


def test_exception_carries_index_and_remote_traceback(shared_cluster):
    with pytest.raises(ck.RemoteError) as info:
        ck.map(helpers.fail_on, range(20))
    error = info.value
    assert isinstance(error, ValueError)  # still catchable as the original type
    assert error.index == 7
    assert "item 7 is bad" in str(error)
    assert "fail_on" in error.remote_traceback
    assert "ValueError: item 7 is bad" in error.remote_traceback


def test_ordered_imap_yields_items_before_the_failure(shared_cluster):
    got = []
    with pytest.raises(ValueError):
        for value in ck.imap(helpers.fail_on, range(20), batch_size=2):
            got.append(value)
    assert got == list(range(7))


def test_retries_rerun_failing_items(shared_cluster, tmp_path):
    folder = str(tmp_path)
    assert ck.map(helpers.flaky_once, range(10), [folder] * 10, retries=1) == list(range(10))
    for marker in tmp_path.iterdir():
        marker.unlink()
    with pytest.raises(ConnectionError) as info:
        ck.map(helpers.flaky_once, range(10), [folder] * 10, retries=0)
    assert info.value.index == 0


def test_ctrl_c_cancels_everything_and_the_cluster_stays_usable(shared_cluster):
    client = shared_cluster.client
    timer = threading.Timer(0.8, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            ck.map(helpers.sleep_then, range(200), progress=False)
    finally:
        timer.cancel()

    def nothing_running():
        return sum(client.run(helpers.executing_on_worker).values()) == 0 and not any(
            client.processing().values()
        )

    # 200 x 0.2 s on 2 threads is 20 s of work: idle within 10 s means it was cancelled, not finished.
    assert wait_until(nothing_running, timeout=10, interval=0.05)
    assert ck.map(helpers.square, range(10)) == [x * x for x in range(10)]


def test_bad_arguments_are_refused_with_a_sentence(shared_cluster):
    with pytest.raises(TypeError, match="callable"):
        ck.map(3, range(3))
    with pytest.raises(ValueError, match="batch_size"):
        ck.map(helpers.square, range(3), batch_size=0)
    with pytest.raises(ValueError, match="retries"):
        ck.map(helpers.square, range(3), retries=-1)


def test_progress_counts_items(shared_cluster, monkeypatch):
    updates = []

    class Recorder:
        def __init__(self, total, label):
            updates.append(("total", total))

        def update(self, n):
            updates.append(("update", n))

        def set_total(self, total):
            updates.append(("total", total))

        def close(self):
            updates.append(("close", None))

    progress_module = importlib.import_module("clusterkit.parallel.progress")
    monkeypatch.setattr(progress_module, "_display_factory", lambda: Recorder)
    monkeypatch.setattr(map_module, "make_progress", lambda total, label, enabled: progress_module.make_progress(
        total, label, enabled=enabled, delay=0.0))
    ck.map(helpers.slow_identity, range(12), [0.01] * 12, progress=True, batch_size=5)
    assert updates[0] == ("total", 12)
    assert sum(n for kind, n in updates if kind == "update") == 12
    assert updates[-1] == ("close", None)


def test_no_cluster_raises_a_helpful_error(monkeypatch):
    from clusterkit import session

    monkeypatch.setattr(session, "_current", None)
    with pytest.raises(ck.NoClusterError, match="cluster start"):
        ck.map(helpers.square, range(3))


def test_text_progress_appears_only_after_the_delay():
    import io

    from clusterkit.widgets.progress import TextProgress

    progress_module = importlib.import_module("clusterkit.parallel.progress")
    stream = io.StringIO()
    shown = progress_module._Delayed(
        lambda total, label: TextProgress(total, label, file=stream, delay=0.0), 10, "job", 0.2
    )
    shown.update(3)
    assert stream.getvalue() == ""
    time.sleep(0.25)  # past the delay (this checks display logic, not speed)
    shown.update(2)
    shown.close()
    assert "job [" in stream.getvalue() and "5/10" in stream.getvalue()


def test_killing_a_worker_mid_map_delivers_every_result_exactly_once(cluster):
    client = cluster.client
    pids = client.run(os.getpid)
    victim = next(iter(pids.values()))
    seen = collections.Counter()
    killed = False
    for value in ck.imap(helpers.slow_identity, range(60), [0.05] * 60, ordered=False, progress=False):
        seen[value] += 1
        if not killed and sum(seen.values()) >= 10:
            os.kill(victim, signal.SIGKILL)
            killed = True
    assert killed
    assert sorted(seen) == list(range(60))
    assert set(seen.values()) == {1}
    # The same through the ordered list form, with another kill once both workers are back.
    assert wait_until(lambda: len(client.scheduler_info(n_workers=-1)["workers"]) == 2, timeout=120)
    pids = client.run(os.getpid)
    victim = next(iter(pids.values()))
    timer = threading.Timer(0.5, os.kill, (victim, signal.SIGKILL))
    timer.start()
    try:
        assert ck.map(helpers.slow_identity, range(60), [0.03] * 60) == list(range(60))
    finally:
        timer.cancel()
