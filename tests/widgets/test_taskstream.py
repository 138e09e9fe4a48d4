"""The task stream opens with the scheduler's recent history and a lane per worker thread."""

from __future__ import annotations

import clusterkit as ck
from clusterkit import widgets
from clusterkit.widgets.taskstream import TaskStreamBuffer
from tests.conftest import wait_until


def _square(x: int) -> int:
    return x * x


def _threads(session) -> int:
    return sum(session.client.nthreads().values())


def test_opened_after_a_computation_it_shows_the_history_on_every_thread_lane():
    session = ck.start(n_workers=2, threads_per_worker=2, memory_limit="1GiB")
    try:
        assert session.client.gather(session.client.map(_square, range(200))) == [x * x for x in range(200)]
        stream = widgets.dashboard(session)  # what `%cluster dashboard` shows
        sent: list[dict] = []
        stream.send = lambda content, buffers=None: sent.append(content)
        try:
            # At once, before any poll: the history came with the widget.
            assert stream.task_count == 200 and stream.event_count >= 200
            assert stream.prefixes == ["square"]
            assert len(stream.lanes) == _threads(session) == 4
            stream._handle_msg({"content": {"data": {"method": "custom", "content": {"type": "snapshot"}}},
                                "buffers": []})
            assert sent[-1]["type"] == "snapshot" and len(sent[-1]["rows"]) == stream.event_count
            lanes_used = {row[0] for row in sent[-1]["rows"]}
            assert lanes_used <= set(range(4)) and len(lanes_used) >= 2
        finally:
            stream.close()
    finally:
        session.stop()


def test_idle_cluster_has_a_lane_per_thread_and_new_workers_add_lanes():
    session = ck.start(n_workers=1, threads_per_worker=3, memory_limit="1GiB")
    stream = widgets.task_stream(session)
    try:
        assert stream.event_count == 0
        assert stream.lanes == [f"{next(iter(session.client.nthreads())).split('://')[-1]} #{i}" for i in range(3)]
        session.scale(2)
        assert wait_until(lambda: len(stream.lanes) == _threads(session) == 6, timeout=30)
    finally:
        stream.close()
        session.stop()


def test_history_is_bounded_by_the_widget_length():
    session = ck.start(n_workers=1, threads_per_worker=1, memory_limit="1GiB")
    try:
        session.client.gather(session.client.map(_square, range(300)))
        from clusterkit.widgets.taskstream import TaskStreamWidget

        stream = TaskStreamWidget(session, max_events=100)
        try:
            assert stream.task_count == 100 and stream.dropped == 0
        finally:
            stream.close()
    finally:
        session.stop()


def test_threads_fill_their_worker_lanes_in_order_and_extra_threads_get_new_lanes():
    buffer = TaskStreamBuffer()
    assert buffer.set_workers({"tcp://127.0.0.1:1": 2, "tcp://127.0.0.1:2": 1})
    assert not buffer.set_workers({"tcp://127.0.0.1:1": 2})  # nothing new
    assert buffer.lanes == ["127.0.0.1:1 #0", "127.0.0.1:1 #1", "127.0.0.1:2 #0"]
    record = {"key": "f-1", "worker": "tcp://127.0.0.1:2", "thread": 99,
              "startstops": ({"action": "compute", "start": 1.0, "stop": 2.0},)}
    buffer.add_tasks([record, {**record, "worker": "tcp://127.0.0.1:1", "thread": 5},
                      {**record, "worker": "tcp://127.0.0.1:1", "thread": 6},
                      {**record, "worker": "tcp://127.0.0.1:1", "thread": 7}])  # a seceded task's thread
    assert [row[0] for row in buffer.take_pending()] == [2, 0, 1, 3]
    assert buffer.lanes[3] == "127.0.0.1:1 #2"
