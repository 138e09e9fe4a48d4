"""Widgets against a real local cluster, in this process (no front end)."""

from __future__ import annotations

import importlib
import io

import pytest

import clusterkit as ck
from clusterkit import widgets
from clusterkit.errors import ClusterkitError
from clusterkit.widgets.taskstream import ACTOR_TOPIC
from tests.conftest import wait_until

progress_impl = importlib.import_module("clusterkit.widgets.progress")


def _inc(x: int) -> int:
    return x + 1


def _frontend_message(widget, content: dict) -> None:
    """Deliver ``content`` as a front end's ``model.send(content)`` arrives: through the comm."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def _workers(session) -> int:
    return len(session.client.scheduler_info(n_workers=-1)["workers"])


def test_status_widget_shows_workers_memory_and_updates(cluster):
    status = cluster.widget()
    try:
        assert status.n_workers == 2 and status.threads == 2
        assert status.memory_limit == 2 * 1024**3
        assert status.memory > 0
        assert {row["threads"] for row in status.workers} == {1}
        assert status.queued >= 0  # the scheduler-side counts work for local clusters
        assert status.dashboard_url.endswith("/status")
        before = status.updates
        assert wait_until(lambda: status.updates >= before + 2, timeout=20), "no updates while polling"
    finally:
        status.close()
    assert not status.polling and status.state == "closed"


def test_scaling_through_the_widget_model_changes_the_real_worker_count(cluster):
    status = widgets.status_widget(cluster)
    try:
        _frontend_message(status, {"type": "scale", "n": 3})
        assert status.target == 3
        assert wait_until(lambda: _workers(cluster) == 3, timeout=60)
        assert wait_until(lambda: status.n_workers == 3 and status.target is None, timeout=20)
        _frontend_message(status, {"type": "scale", "n": 10**6})
        assert "between 0 and" in status.error
        assert _workers(cluster) == 3
        _frontend_message(status, {"type": "adapt", "minimum": 1, "maximum": 2})
        assert status.error == ""
        assert wait_until(lambda: status.adaptive == [1, 2], timeout=20)
        _frontend_message(status, {"type": "scale", "n": 1})
        assert wait_until(lambda: _workers(cluster) == 1, timeout=60)
        assert wait_until(lambda: status.adaptive == [] and status.n_workers == 1, timeout=20)
    finally:
        status.close()


def test_polling_pauses_while_no_view_is_visible(cluster):
    status = widgets.status_widget(cluster)
    try:
        assert status.polling  # no front end has spoken: keep polling
        _frontend_message(status, {"type": "visibility", "view": "a", "visible": True})
        _frontend_message(status, {"type": "visibility", "view": "b", "visible": False})
        assert status.polling
        _frontend_message(status, {"type": "view-closed", "view": "a"})
        assert not status.polling and status.state == "paused"
        _frontend_message(status, {"type": "visibility", "view": "b", "visible": True})
        assert status.polling and status.state == "live"
    finally:
        status.close()
    assert not status.polling


def test_task_stream_records_every_task_of_a_map(cluster):
    stream = widgets.dashboard(cluster)  # no plot: the native task stream
    sent: list[dict] = []
    stream.send = lambda content, buffers=None: sent.append(content)  # what the front end would get
    try:
        futures = cluster.client.map(_inc, range(1000))
        assert cluster.client.gather(futures) == list(range(1, 1001))
        assert wait_until(lambda: stream.task_count >= 1000, timeout=30)
        assert stream.event_count >= 1000
        assert len(stream.lanes) == 2  # two workers, one thread each
        assert stream.prefixes == ["inc"]  # key_split drops the underscore
        rows = [row for message in sent if message["type"] == "events" for row in message["rows"]]
        assert len(rows) == stream.event_count
        assert all(start <= stop for _, _, start, stop, _ in rows)
        _frontend_message(stream, {"type": "snapshot"})
        assert sent[-1]["type"] == "snapshot" and len(sent[-1]["rows"]) == min(stream.event_count, 5000)
    finally:
        stream.close()
    assert not stream.polling


def test_task_stream_includes_actor_calls_logged_on_the_topic(cluster):
    stream = widgets.task_stream(cluster)
    try:
        worker = next(iter(cluster.client.scheduler_info()["workers"]))
        event = {"actor": "Counter", "actor_id": "c-1", "method": "add", "worker": worker,
                 "start": 100.0, "stop": 100.2, "status": "ok"}
        cluster.client.log_event(ACTOR_TOPIC, event)
        assert wait_until(lambda: stream.actor_call_count == 1, timeout=20)
        assert "Counter.add" in stream.prefixes
        assert any(lane.endswith(" actor") for lane in stream.lanes)
    finally:
        stream.close()


def test_two_streams_share_the_actor_subscription(cluster):
    first, second = widgets.task_stream(cluster), widgets.task_stream(cluster)
    try:
        second.close()
        cluster.client.log_event(ACTOR_TOPIC, {"actor": "A", "method": "m", "worker": "w", "start": 1, "stop": 2})
        assert wait_until(lambda: first.actor_call_count == 1, timeout=20)
    finally:
        first.close()


def test_dashboard_plots_are_discovered_and_unknown_names_list_them(cluster):
    plots = widgets.available_plots(cluster)
    assert {"task-stream", "progress", "workers-memory"} <= set(plots)
    frame = widgets.dashboard(cluster, "progress")
    try:
        assert frame.url.endswith("/individual-progress")
        assert not frame.proxied  # no Jupyter server in a test process: the direct link
    finally:
        frame.close()
    with pytest.raises(ClusterkitError, match=r"Available plots: .*task-stream"):
        widgets.dashboard(cluster, "no-such-plot")


def test_session_html_repr_from_template(cluster):
    html = cluster._repr_html_()
    assert f"clusterkit session {cluster.name}" in html
    assert "<th>Workers</th><td>2</td>" in html
    assert 'data-commandlinker-command="clusterkit:show-sidebar"' in html
    assert cluster.record.id in html
    assert cluster.dashboard_url in html


def test_progress_of_futures_outside_jupyter_blocks_and_groups(cluster):
    futures = [*cluster.client.map(_inc, range(20)), cluster.client.submit(sum, [1, 2])]
    bar = ck.progress(futures)
    assert isinstance(bar, progress_impl.TextProgress)
    assert "inc" in bar.line() and "sum" in bar.line() and "21/21" in bar.line()


def test_progress_widget_follows_futures_on_the_client_loop(cluster, monkeypatch):
    monkeypatch.setattr(progress_impl, "in_jupyter_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)
    futures = cluster.client.map(_inc, range(50))
    bar = ck.progress(futures)
    assert isinstance(bar, progress_impl.ProgressWidget)
    assert wait_until(lambda: bar.finished, timeout=30)
    assert bar.done == 50 and bar.total == 50
    assert [g["name"] for g in bar.groups] == ["inc"]
    bar.close()


def test_text_progress_draws_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    bar = progress_impl.TextProgress(3, "work", file=out, delay=0.0)
    bar.update(1)
    bar.close()
    assert out.getvalue().startswith("\rwork [")
