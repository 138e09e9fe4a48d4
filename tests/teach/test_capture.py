"""Capture: only the tasks the captured call submitted, with the scheduler's own dependencies."""

from __future__ import annotations

import time

import pytest
from distributed import Client

from clusterkit.teach import shared
from clusterkit.teach.capture import Capture


def _inc(x: float) -> float:
    time.sleep(0.05)
    return x + 1


def _add(a: float, b: float) -> float:
    return a + b


@pytest.fixture
def session():
    session = shared.cluster()
    try:
        yield session
    finally:
        session.stop()


def test_capture_sees_only_tasks_made_inside_and_their_graph(session) -> None:
    client = session.client
    before = client.submit(_inc, 1.5, pure=False)
    before.result()
    with Capture(client) as capture:
        a = client.submit(_inc, before, pure=False)
        b = client.submit(_inc, 2.25, pure=False)
        total = client.submit(_add, a, b, pure=False)
        assert total.result() == 2.5 + 1 + 3.25
    keys = {t.key for t in capture.tasks}
    assert keys == {str(a.key), str(b.key), str(total.key)}
    assert str(before.key) in capture.ancestors(str(total.key))
    assert capture.depth(str(total.key)) == 2  # the earlier task is an input, not part of the call
    assert len(capture.ran()) == 3 and capture.busy_seconds() >= 0.1
    assert capture.seconds > 0


def test_capture_ignores_another_client_on_the_same_cluster(session) -> None:
    address, security = session.client.scheduler.address, session.client.security
    with Client(address, security=security) as other, Capture(session.client) as capture:
        theirs = other.submit(_inc, 10.5, pure=False)
        mine = session.client.submit(_inc, 20.5, pure=False)
        assert theirs.result() == 11.5 and mine.result() == 21.5
    assert [t.key for t in capture.tasks] == [str(mine.key)]
