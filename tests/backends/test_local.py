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



def test_tls_cluster_loads_tornados_tls_defaults_while_workers_spawn(registry_dir, monkeypatch):
    """The one-time CA-store load runs in a thread during the start and is done (joined) when it returns."""
    import threading

    from distributed import Client
    from tornado import iostream

    from clusterkit import registry, security

    started = []
    original = local.load_tls_defaults_ahead

    def spy():
        thread = original()
        started.append(thread)
        return thread

    monkeypatch.setattr(local, "load_tls_defaults_ahead", spy)
    record_id = registry.new_id()
    credentials = security.create(record_id)
    cluster = local.start_local(1, 1, "1GiB", security=credentials)
    try:
        assert cluster.scheduler_address.startswith("tls://127.0.0.1:")
        assert len(started) == 1
        assert started[0] is None or not started[0].is_alive()
        assert "clusterkit-tls-defaults" not in {t.name for t in threading.enumerate()}
        assert iostream._client_ssl_defaults.cache_info().currsize == 1
        assert local.load_tls_defaults_ahead() is None  # loaded once per process
        with Client(cluster, security=credentials, set_as_default=False) as client:
            assert client.submit(abs, -3).result() == 3
    finally:
        cluster.close()
        registry.remove(record_id)


def test_plain_cluster_loads_no_tls_defaults(monkeypatch):
    calls = []
    monkeypatch.setattr(local, "load_tls_defaults_ahead", lambda: calls.append(1))
    cluster = local.start_local(1, 1, "1GiB")
    try:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert calls == []
    finally:
        cluster.close()
