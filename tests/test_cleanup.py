"""Nothing outlives its owner: kernels that exit or die, and repeated start/stop."""

from __future__ import annotations

import ipaddress
import os
import signal
import threading
import time

import psutil
import pytest

import clusterkit as ck
from clusterkit import registry
from tests.conftest import _children, wait_until
from tests.notebooks.ipc_kernel import BlockingIPCKernelManager


def _kernel_with_cluster(code: str = "import clusterkit as ck\ns = ck.start(n_workers=2, memory_limit='1GiB')"):
    km = BlockingIPCKernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    reply = kc.execute_interactive(code, timeout=120)
    assert reply["content"]["status"] == "ok", reply["content"]
    kernel = psutil.Process(km.provisioner.process.pid)
    return km, kc, kernel


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    return process.children(recursive=True)


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


def _listening_addresses(processes: list[psutil.Process]) -> set[str]:
    found = set()
    for p in processes:
        try:
            for conn in p.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    found.add(conn.laddr.ip)
        except psutil.NoSuchProcess:
            pass
    return found


def test_every_listening_socket_of_kernel_and_cluster_is_loopback():
    km, kc, kernel = _kernel_with_cluster()
    try:
        processes = [kernel, *_descendants(kernel)]
        assert len(processes) >= 3  # kernel + 2 workers
        addresses = _listening_addresses(processes)
        assert addresses, "expected the scheduler, workers and dashboard to listen"
        assert all(ipaddress.ip_address(a).is_loopback for a in addresses), addresses
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


def test_normal_kernel_shutdown_stops_the_cluster_and_removes_its_record():
    km, kc, kernel = _kernel_with_cluster()
    workers = _descendants(kernel)
    assert len(registry.list_records()) == 1
    kc.stop_channels()
    km.shutdown_kernel(now=False)
    assert wait_until(lambda: not _alive(workers), timeout=10)
    assert registry.list_records(include_stale=True) == []


def test_sigkill_of_the_kernel_leaves_no_process_after_10_seconds():
    km, kc, kernel = _kernel_with_cluster()
    workers = _descendants(kernel)
    assert len(workers) >= 2
    [record] = registry.list_records()
    kc.stop_channels()
    os.kill(kernel.pid, signal.SIGKILL)
    started = time.monotonic()
    assert wait_until(lambda: not _alive(workers), timeout=10), _alive(workers)
    print(f"orphans gone after {time.monotonic() - started:.2f} s")
    # The record stays on disk but no reader counts it, and prune removes it.
    assert registry.list_records() == []
    assert [r.id for r in registry.prune()] == [record.id]
    km.cleanup_resources()


def _cycle(times: int) -> None:
    for _ in range(times):
        session = ck.start(n_workers=1, memory_limit="512MiB")
        assert session.client.submit(abs, -1).result() == 1
        session.stop()


def test_twenty_start_stop_cycles_leak_nothing():
    """Thread pools grow lazily, so compare cycles 1-10 with cycles 11-20: no growth allowed."""
    me = psutil.Process()
    children = set(_children())
    _cycle(10)
    fds, threads, rss = me.num_fds(), threading.active_count(), me.memory_info().rss
    _cycle(10)
    assert wait_until(lambda: set(_children()) <= children, timeout=10), _children()
    assert wait_until(lambda: threading.active_count() <= threads, timeout=10), threading.enumerate()
    assert me.num_fds() <= fds, f"{me.num_fds() - fds} more file descriptors after 10 more cycles"
    growth = (me.memory_info().rss - rss) / 2**20
    print(f"RSS growth over 10 cycles: {growth:.1f} MiB")
    assert growth < 50
    assert registry.list_records(include_stale=True) == []


@pytest.mark.parametrize("via", ["owner", "other"])
def test_stopping_a_cluster_the_other_side_already_stopped_is_not_an_error(via):
    session = ck.start(n_workers=1, memory_limit="512MiB")
    attached = ck.connect(session.name, name="viewer")
    if via == "owner":
        session.stop()
        attached.stop()
    else:
        attached.stop()
        session.cluster.close()
        session.stop()
    assert registry.list_records(include_stale=True) == []
