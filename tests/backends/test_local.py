from __future__ import annotations

import dask

from clusterkit import machine
from clusterkit.backends import local


def test_defaults_fit_the_machine():
    assert 1 <= local.default_n_workers() <= min(machine.cpu_count(), 4)
    with dask.config.set({"clusterkit.local.n-workers": 3}):
        assert local.default_n_workers() == 3
    assert local.worker_memory("2GiB", 2) == 2 * 2**30
    assert local.worker_memory(None, 2) == machine.memory_bytes() // 2


def test_local_cluster_listens_on_loopback_with_cpu_resources():
    cluster = local.start_local(1, 2, "1GiB")
    try:
        info = cluster.scheduler_info
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        [worker] = info["workers"].values()
        assert worker["host"] == "127.0.0.1"
        assert worker["resources"] == {"CPU": 2}
        assert worker["nthreads"] == 2
        assert cluster.dashboard_link.startswith("http://127.0.0.1:")
    finally:
        cluster.close()


def test_cgroup_limits_are_respected(tmp_path, monkeypatch):
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    (tmp_path / "memory.max").write_text(str(2 * 2**30))
    monkeypatch.setattr(machine, "_CGROUP", tmp_path)
    assert machine.cpu_count() == 1
    assert machine.memory_bytes() == 2 * 2**30
    (tmp_path / "cpu.max").write_text("max 100000\n")
    (tmp_path / "memory.max").write_text("max\n")
    assert machine.cpu_count() >= 1
    assert machine.memory_bytes() > 2 * 2**30
