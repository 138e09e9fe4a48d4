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


def test_owner_reaches_its_local_scheduler_in_memory_and_everyone_else_over_tls(cluster):
    """The kernel that started a local cluster talks to its scheduler over inproc://; the record says tls://."""
    import subprocess
    import sys

    import clusterkit as ck
    from clusterkit import registry

    client = cluster.client
    assert client.scheduler.address.startswith("inproc://")
    assert client.cluster is cluster.cluster  # Client(cluster) behaviour: dashboard link, closing with it
    assert client.dashboard_link == cluster.cluster.dashboard_link
    assert cluster.address.startswith("tls://127.0.0.1:")
    assert registry.find(cluster.record.id).scheduler_address == cluster.address
    # The scheduler keeps its TLS listener first (what workers and Dask report), inproc second.
    assert client.scheduler_info()["address"] == cluster.address
    assert local.in_process_address(cluster.cluster) == client.scheduler.address  # idempotent
    # Nothing new on the network: the scheduler listens on its TLS address and, in memory only, inproc.
    listeners = [listener.contact_address for listener in cluster.cluster.scheduler.listeners]
    assert listeners == [cluster.address, client.scheduler.address]
    # clusterkit's lighter Dask defaults reach the worker processes (their idle cost, benchmarks/README.md).
    def idle_settings():
        return dask.config.get("distributed.admin.tick.interval"), dask.config.get("distributed.worker.profile.interval")

    assert set(client.run(idle_settings).values()) == {("200ms", "20ms")}
    # Work runs, and another process still connects over TLS with the recorded address.
    assert ck.get(ck.remote(lambda x: x * 2).remote(21)) == 42
    code = (
        f"import clusterkit as ck; s = ck.connect({cluster.name!r}); "
        "print(s.client.scheduler.address, ck.get(ck.remote(lambda: 7).remote()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [cluster.address, "7"]


def test_in_process_client_can_be_turned_off(registry_dir):
    import clusterkit as ck

    with dask.config.set({"clusterkit.local.in-process-client": False}):
        session = ck.start(n_workers=1, threads_per_worker=1, memory_limit="1GiB")
    try:
        assert session.client.scheduler.address == session.address
        assert session.address.startswith("tls://")
        assert local.in_process_address(object()) is None  # no scheduler in this process
    finally:
        session.stop()
