"""Widget logic without a cluster: bounded buffers, progress counting, URL scheme (clusterkit.links), plot names."""

from __future__ import annotations

import importlib
import io
import threading
import tracemalloc

import pytest

from clusterkit import links
from clusterkit.errors import ClusterkitError
from clusterkit.widgets.taskstream import KINDS, MAX_LANES, MAX_PREFIXES, TaskStreamBuffer

# The submodules share names with functions of clusterkit.widgets: reach them by module name.
dashboard_plots = importlib.import_module("clusterkit.widgets.dashboard")
progress_impl = importlib.import_module("clusterkit.widgets.progress")


def _record(i: int, worker: str = "tcp://127.0.0.1:1", thread: int = 7, prefix: str = "inc") -> dict:
    return {
        "key": f"{prefix}-{i:032x}",
        "worker": worker,
        "thread": thread,
        "status": "OK",
        "startstops": ({"action": "compute", "start": 1000.0 + i, "stop": 1000.5 + i},),
    }


def test_buffer_turns_records_into_rows_with_lanes_and_prefixes():
    buffer = TaskStreamBuffer(max_events=100)
    records = [_record(0), _record(1, thread=8), _record(2, worker="tcp://127.0.0.1:2", prefix="square")]
    records[2]["startstops"] = (
        {"action": "transfer", "start": 1.0, "stop": 1.5, "source": "tcp://127.0.0.1:1"},
        {"action": "compute", "start": 1.5, "stop": 2.0},
    )
    assert buffer.add_tasks(records) == 3
    assert buffer.lanes == ["127.0.0.1:1 #0", "127.0.0.1:1 #1", "127.0.0.1:2 #0"]
    assert buffer.prefixes == ["inc", "square"]
    rows = buffer.take_pending()
    assert rows[0] == [0, 0, 1000.0, 1000.5, KINDS.index("compute")]
    assert [r[4] for r in rows[2:]] == [KINDS.index("transfer"), KINDS.index("compute")]
    assert buffer.total == 4 and buffer.tasks == 3
    assert buffer.take_pending() == []  # taken once


def test_erred_tasks_and_actor_calls():
    buffer = TaskStreamBuffer()
    failed = _record(0)
    failed["status"] = "error"
    buffer.add_tasks([failed])
    assert buffer.add_actor_call(
        {"actor": "Counter", "actor_id": "a1", "method": "add", "worker": "tcp://127.0.0.1:1",
         "start": 5.0, "stop": 5.1, "status": "ok"}
    )
    assert not buffer.add_actor_call({"actor": "Counter"})  # no times: ignored
    rows = buffer.take_pending()
    assert rows[0][4] == KINDS.index("erred")
    assert rows[1][4] == KINDS.index("actor")
    assert buffer.lanes[rows[1][0]] == "127.0.0.1:1 actor"
    assert buffer.prefixes[rows[1][1]] == "Counter.add"
    assert buffer.actor_calls == 1


def test_buffer_memory_is_bounded_after_100k_events():
    buffer = TaskStreamBuffer(max_events=5000)
    tracemalloc.start()
    try:
        for batch in range(10):
            buffer.add_tasks(_record(batch * 1000 + i, thread=i % 4) for i in range(1000))
            buffer.take_pending()
        after_10k, _ = tracemalloc.get_traced_memory()
        for batch in range(10, 100):
            buffer.add_tasks(_record(batch * 1000 + i, thread=i % 4) for i in range(1000))
            buffer.take_pending()
        after_100k, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert buffer.total == 100_000
    assert len(buffer.events) == 5000
    # Ten times the events, the same memory (allow 256 KiB of allocator noise).
    assert after_100k - after_10k < 256 * 1024, (after_10k, after_100k)


def test_pending_rows_are_bounded_when_nobody_reads_them():
    buffer = TaskStreamBuffer(max_events=50)
    buffer.add_tasks(_record(i) for i in range(500))
    assert len(buffer.take_pending()) == 50


def test_lanes_and_prefixes_are_capped():
    buffer = TaskStreamBuffer(max_events=10)
    buffer.add_tasks(_record(i, thread=i, prefix=f"fn{i}") for i in range(MAX_LANES + MAX_PREFIXES + 10))
    assert len(buffer.lanes) == MAX_LANES
    assert len(buffer.prefixes) <= MAX_PREFIXES + 1
    assert "other" in buffer.prefixes


# -- progress -------------------------------------------------------------------------------
def test_text_progress_shows_nothing_for_quick_work():
    out = io.StringIO()
    bar = progress_impl.TextProgress(10, "quick", file=out)
    bar.update(10)
    bar.close()
    assert out.getvalue() == ""


def test_text_progress_final_line_has_count_rate_and_time():
    out = io.StringIO()
    bar = progress_impl.TextProgress(4, "square", file=out, delay=0.0)
    bar.update(1)
    bar.set_total(5)
    bar.update(4)
    bar.close()
    line = out.getvalue().strip()
    assert line.startswith("square [")
    assert "5/5" in line and "/s" in line and "in " in line


def test_text_progress_unknown_total_counts_items():
    bar = progress_impl.TextProgress(None, "lazy", file=io.StringIO())
    bar.update(3)
    assert " 3 " in bar.line() and "[" not in bar.line()


def test_progress_widget_counts_groups_rate_and_eta():
    bar = progress_impl.ProgressWidget(100, "inc")
    bar.update(25)
    bar.set_total(50)  # forces a sync
    assert bar.done == 25 and bar.total == 50
    assert bar.rate > 0 and bar.eta is not None
    bar.add_group("square", 10)
    bar.advance("square", 10)
    bar.update(25)
    bar.close()
    assert bar.finished
    assert bar.done == 60 and bar.total == 60
    assert {g["name"]: g["done"] for g in bar.groups} == {"inc": 50, "square": 10}
    assert not bar.shown  # nobody displayed it


def test_map_progress_widget_is_displayed_by_the_counting_thread_after_the_delay(monkeypatch):
    parallel_progress = importlib.import_module("clusterkit.parallel.progress")
    shown = []
    monkeypatch.setattr(parallel_progress, "in_jupyter_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append((obj, threading.current_thread())))
    quick = parallel_progress.make_progress(10, "quick", delay=3600)
    quick.update(10)
    quick.close()
    assert shown == []  # work that ends within the delay shows nothing
    slow = parallel_progress.make_progress(10, "slow", delay=0)
    slow.update(4)
    slow.update(6)
    slow.close()
    assert len(shown) == 1
    bundle, thread = shown[0]
    assert thread is threading.current_thread()  # no timer thread: the cell's own
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_one_progress_implementation():
    parallel_progress = importlib.import_module("clusterkit.parallel.progress")
    assert not hasattr(parallel_progress, "TextProgress") and not hasattr(parallel_progress, "Tally")
    assert not hasattr(progress_impl, "progress_bar")


# -- URLs and plot names ---------------------------------------------------------------------
def _links(cluster_id: str | None = "abc123", port: int | None = 9999) -> links.DashboardLinks:
    """What ``Session.dashboard_links()`` gives for a local cluster (URL rules need no session)."""
    dask_link = f"http://127.0.0.1:{port}/status" if port else ""
    return links.DashboardLinks("local", "tcp://127.0.0.1:8786", port, dask_link, cluster_id=cluster_id)


@pytest.fixture
def no_server(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.delenv("CLUSTERKIT_JUPYTER_BASE_URL", raising=False)
    monkeypatch.setattr(links, "parent_server", lambda: None)


def test_dashboard_url_is_direct_without_a_jupyter_server(no_server):
    assert _links().url() == "http://127.0.0.1:9999/status"
    assert _links(port=None).url() is None
    # No link from Dask: the scheduler's host and the dashboard's port.
    assert links.DashboardLinks("local", "tls://10.0.0.5:8786", 8787).url() == "http://10.0.0.5:8787/status"


def test_dashboard_url_on_jupyterhub_uses_the_service_prefix_and_cluster_route(no_server, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada")
    url = _links().proxied_url("/individual-task-stream")
    assert url == "/user/ada/clusterkit/dashboard/abc123/individual-task-stream"


def test_dashboard_url_from_the_parent_server(no_server, monkeypatch):
    server = {"pid": 1, "base_url": "/lab-base/", "url": "http://127.0.0.1:1/lab-base/"}
    monkeypatch.setattr(links, "parent_server", lambda: server)
    monkeypatch.setattr(links, "_server_has_clusterkit_route", lambda url: True)
    assert _links().url() == "/lab-base/clusterkit/dashboard/abc123/status"
    # Without clusterkit's server extension: Dask's direct link, never jupyter-server-proxy's /proxy/<port>.
    monkeypatch.setattr(links, "_server_has_clusterkit_route", lambda url: False)
    assert _links().url() == "http://127.0.0.1:9999/status"


def test_bare_address_sessions_never_use_the_generic_proxy_route(no_server, monkeypatch):
    monkeypatch.setenv("CLUSTERKIT_JUPYTER_BASE_URL", "/")
    assert _links(cluster_id=None).proxied_url("status") is None
    assert _links(cluster_id=None).url() == "http://127.0.0.1:9999/status"
    with pytest.raises(ClusterkitError, match="Refusing dashboard path"):
        _links().proxied_url("../../../files/x.html")


def test_gateway_dashboards_are_the_gateways_own(no_server, monkeypatch):
    monkeypatch.setenv("CLUSTERKIT_JUPYTER_BASE_URL", "/")
    gateway = links.DashboardLinks(
        "gateway", "gateway://gw:8786/abc", None, "https://gw.example/clusters/abc/status", cluster_id="r1"
    )
    assert gateway.proxied_url("status") is None
    assert gateway.url() == "https://gw.example/clusters/abc/status"
    assert gateway.direct_root() == "https://gw.example/clusters/abc/"


def test_plot_names_come_from_paths():
    assert dashboard_plots._plot_name("/individual-task-stream") == "task-stream"
    assert dashboard_plots._plot_name("/statics/individual-cluster-map.html") == "cluster-map"


def test_package_functions_are_not_shadowed_by_submodules():
    import clusterkit
    import clusterkit.widgets

    assert callable(clusterkit.widgets.dashboard) and callable(clusterkit.widgets.progress)
    assert clusterkit.progress is clusterkit.widgets.progress


def test_es_modules_css_and_templates_ship_in_the_wheel():
    wheel = pytest.importorskip("hatchling.builders.wheel")
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    shipped = {f.distribution_path for f in wheel.WheelBuilder(str(root)).recurse_included_files()}
    for name in ("static/status.js", "static/taskstream.js", "static/progress.js", "static/frame.js",
                 "static/status.css"):
        assert f"clusterkit/widgets/{name}" in shipped
    assert "clusterkit/templates/session.html.j2" in shipped  # the session's HTML repr (clusterkit.display)
