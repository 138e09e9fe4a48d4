"""Sessions against real local clusters: records, scaling, control from outside, stop."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

import clusterkit as ck
from clusterkit import control, registry
from tests.conftest import wait_until


def test_start_registers_scales_and_stops(cluster):
    [record] = registry.list_records()
    assert record.name == cluster.name
    assert record.kind == "local"
    assert record.workers == 2
    assert record.scheduler_address == cluster.address
    assert record.scheduler_address.startswith("tls://127.0.0.1:")
    assert ck.current() is cluster

    cluster.scale(3)
    assert len(cluster.client.scheduler_info(n_workers=-1)["workers"]) == 3
    assert wait_until(lambda: registry.list_records()[0].workers == 3)

    cluster.scale(1)
    assert wait_until(lambda: registry.list_records()[0].workers == 1)


def test_stop_removes_the_record_and_twice_is_fine():
    session = ck.start(n_workers=1)
    record_id = session.record.id
    session.stop()
    session.stop()
    assert registry.find(record_id) is None
    with pytest.raises(ck.NoClusterError, match="%cluster start"):
        ck.current()


def test_several_named_sessions_one_current():
    first = ck.start(n_workers=1, name="first")
    second = ck.start(n_workers=1, name="second")
    try:
        assert ck.current() is second
        assert ck.use("first") is first
        assert ck.current() is first
        with pytest.raises(ck.ClusterNotFoundError, match="has no cluster named 'third'"):
            ck.use("third")
        with pytest.raises(ck.ClusterkitError, match="already"):
            ck.start(n_workers=1, name="first")
        assert {r.name for r in registry.list_records()} == {"first", "second"}
    finally:
        second.stop()
        assert ck.current() is first  # the remaining session becomes current
        first.stop()


def test_other_processes_scale_and_stop_through_control(cluster):
    record = registry.find(cluster.name)
    control.send(record, "scale", n=3)
    assert wait_until(lambda: len(cluster.client.scheduler_info(n_workers=-1)["workers"]) == 3, timeout=30)
    assert wait_until(lambda: registry.find(cluster.name).workers == 3)
    control.send(record, "stop")
    assert wait_until(lambda: cluster.closed and registry.find(cluster.name) is None, timeout=30)


def test_connect_by_name_and_by_address(cluster):
    by_address = ck.connect(cluster.address)
    try:
        assert by_address.owned is False and by_address.record.id == cluster.record.id
        assert by_address.client.submit(sum, [1, 2]).result() == 3
    finally:
        by_address.stop()
    assert registry.find(cluster.name) is not None  # disconnecting does not stop the owner's cluster
    by_name = ck.connect(cluster.name)
    try:
        assert by_name.address == cluster.address
    finally:
        by_name.stop()


def test_connect_to_unknown_names_says_what_exists():
    with pytest.raises(ck.ClusterNotFoundError, match="No cluster named 'nope'"):
        ck.connect("nope")


def test_run_cell_groups_output_per_worker_and_keeps_state(cluster):
    first = cluster.run_cell("import os\nmine = os.getpid()\nprint('pid', mine)")
    assert len(first) == 2
    pids = {text.split()[1] for text in first.values()}
    assert len(pids) == 2  # separate processes
    again = cluster.run_cell("print('still', mine)")
    assert all(text.startswith("still ") for text in again.values())
    failing = cluster.run_cell("print('before')\n1/0")
    for text in failing.values():
        assert text.startswith("before\n") and "ZeroDivisionError" in text
        assert "_run_source" not in text  # only the user's own frames


def test_restart_keeps_the_cluster(cluster):
    cluster.run_cell("flag = 1")
    cluster.restart()
    outputs = cluster.run_cell("print('flag' in globals())")
    assert set(outputs.values()) == {"False\n"}
    assert len(outputs) == 2


def test_adapt_is_accepted(cluster):
    cluster.adapt(1, 3)
    assert cluster.cluster._adaptive is not None
    cluster.scale(2)  # explicit scaling stops adapting
    assert cluster.cluster._adaptive is None


def test_the_owner_subscribes_at_once_and_confirms_in_one_round_trip(cluster):
    """The owner's stream sends without Dask's 10 ms batching; a confirmed subscription gets the very next event."""
    import dask

    assert cluster.client.scheduler_comm.interval == 0
    received = []
    cluster.client.subscribe_topic("coldstart-probe", received.append)
    assert control.wait_until_subscribed(cluster.client, "coldstart-probe")
    cluster.client.log_event("coldstart-probe", {"n": 1})
    assert wait_until(lambda: [event for _, event in received] == [{"n": 1}])
    with dask.config.set({"clusterkit.parallel.batched-send-interval": None}):
        session = ck.start(n_workers=1, name="dask-batching")
        try:
            assert session.client.scheduler_comm.interval == 0.01  # Dask's own, kept on request
        finally:
            session.stop()


def test_start_detached_hands_the_cluster_to_a_daemon():
    """``ck.start(detach=True)``: a daemon owns the cluster, this process attaches and may leave."""
    session = ck.start(n_workers=1, memory_limit="1GiB", name="layers-detached", adapt=(1, 2), detach=True)
    record = session.record
    daemon = psutil.Process(record.owner_pid)
    try:
        assert record.owner == "daemon" and record.name == "layers-detached"
        assert session.owned is False and session.cluster is None and ck.current() is session
        assert session.client.submit(sum, [20, 22]).result() == 42
        session.stop()
        assert registry.find(record.id) is not None  # disconnecting leaves the daemon's cluster running
    finally:
        session.stop()
        ck.stop_cluster(record.id)  # asks the daemon, through the cluster's scheduler
    assert wait_until(lambda: registry.find(record.id) is None, timeout=60)
    assert wait_until(lambda: not daemon.is_running() or daemon.status() == psutil.STATUS_ZOMBIE, timeout=30)


def test_a_session_shows_itself_with_import_clusterkit_alone():
    """The HTML repr needs no widgets; ``Session.widget()`` loads them itself (sessions never import them)."""
    code = (
        "import sys\n"
        "import clusterkit as ck\n"
        "s = ck.start(n_workers=1, threads_per_worker=1, memory_limit='1GiB', name='layers-repr')\n"
        "try:\n"
        "    html = s._repr_html_()\n"
        "    print('WIDGETS', 'clusterkit.widgets' in sys.modules)\n"
        "    print('REPR', 'clusterkit session layers-repr' in html, s.dashboard_url in html, s.record.id in html)\n"
        "    w = s.widget()\n"
        "    print('WIDGET', type(w).__module__, type(w).__name__, w.n_workers)\n"
        "    w.close()\n"
        "finally:\n"
        "    s.stop()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "WIDGETS False" in lines  # the repr rendered before anything imported the widgets
    assert "REPR True True True" in lines
    assert "WIDGET clusterkit.widgets.status StatusWidget 1" in lines
