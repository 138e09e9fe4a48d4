"""A short task never waits behind a long one while a worker thread is free.

Dask assigns a task to a worker as soon as it is submitted unless it counts as
"root-ish"; a single-thread worker then accepts a second task behind a running
one. clusterkit marks its tasks and map batches as root-ish (Dask's own queue holds
them until a thread is free) and sets ``worker-saturation`` to 1.0. These tests
check the behaviour with long tasks that run until the test releases them, so no
bound depends on speed: a short task queued behind a held task would never finish
while it is held. Dask's work stealing, which may later move such a task (on its
own timer, by its own cost estimates), is off on this module's cluster, so what is
tested is that the task is never put there.
"""

from __future__ import annotations

import pathlib
import random
from collections.abc import Iterator

import dask
import pytest

import clusterkit as ck
from tests.parallel import helpers

pytestmark = pytest.mark.allow_leaks  # the module's shared_cluster fixture stops the session

work = ck.remote(helpers.work)
#: Seconds a group of short tasks may take on a loaded machine; far beyond their ~0.1 s of work.
PATIENCE = 60


@pytest.fixture(scope="module")
def shared_cluster() -> Iterator[object]:
    """A 2-worker x 1-thread session without work stealing, for the whole module."""
    with dask.config.set({"distributed.scheduler.work-stealing": False}):
        session = ck.start(n_workers=2, threads_per_worker=1, memory_limit="1GiB")
    try:
        yield session
    finally:
        session.stop()


def test_ray_wait_example_returns_the_two_short_tasks(shared_cluster, tmp_path):
    """The README's straggler example: the 5 s task is replaced by one held until released."""
    release = tmp_path / "release"
    refs = [work.remote("a", 0.05), work.remote("long", hold=str(release)), work.remote("b", 0.1)]
    try:
        ready, pending = ck.wait(refs, num_returns=2, timeout=PATIENCE)
        assert ready == [refs[0], refs[2]]
        assert pending == [refs[1]] and not refs[1].done()
        assert ck.get([refs[0], refs[2]]) == ["a", "b"]
    finally:
        release.touch()
    assert ck.get(refs[1], timeout=PATIENCE) == "long"


@pytest.mark.parametrize("seed", range(12))
def test_random_mixes_of_short_and_held_tasks(shared_cluster, tmp_path, seed):
    """Submit shorts and one or two held tasks in a random order.

    With one held task, every short finishes while it is held. With two (both
    threads may be taken), releasing one of them is enough for every short to
    finish while the other is still held.
    """
    rng = random.Random(seed)
    n_held = rng.choice([1, 2])
    kinds = ["held"] * n_held + ["short"] * rng.randint(1, 6)
    rng.shuffle(kinds)
    markers = [tmp_path / f"release-{i}" for i in range(n_held)]
    held, shorts = [], []
    try:
        for kind in kinds:
            if kind == "held":
                held.append(work.remote(f"held-{len(held)}", hold=str(markers[len(held)])))
            else:
                shorts.append(work.remote(f"short-{len(shorts)}", rng.choice([0.0, 0.02, 0.1, 0.3])))
        still_held = list(range(n_held))
        if n_held == 2:
            first = rng.choice(still_held)
            markers[first].touch()
            still_held.remove(first)
        ready, _ = ck.wait(shorts, num_returns=len(shorts), timeout=PATIENCE)
        assert ready == shorts, f"{kinds}: a short task waited behind a held one while a thread was free"
        assert not held[still_held[0]].done()
        assert ck.get(shorts) == [f"short-{i}" for i in range(len(shorts))]
    finally:
        for marker in markers:
            marker.touch()
    assert ck.get(held, timeout=PATIENCE) == [f"held-{i}" for i in range(n_held)]


def test_map_batches_start_on_the_free_thread(shared_cluster, tmp_path):
    """ck.map runs to the end on one worker while the other is held by a long task."""
    release: pathlib.Path = tmp_path / "release"
    long_task = work.remote("long", hold=str(release))
    try:
        names = [f"item-{i}" for i in range(40)]
        assert ck.map(helpers.work, names, [0.005] * 40, progress=False) == names
        assert not long_task.done()
    finally:
        release.touch()
    assert ck.get(long_task, timeout=PATIENCE) == "long"
