"""The reaper: a kernel's clusters go when the kernel goes, however it goes."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import psutil
import pytest

from clusterkit import registry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

START = (
    "import clusterkit as ck\n"
    "session = ck.start(n_workers=1, threads_per_worker=1, memory_limit='512MiB', name='kernels-own')\n"
    "print(session.record.id)"
)


async def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)


async def _kernel_with_cluster(serverapp):
    """A kernel started by the server's kernel manager, running a 1-worker cluster."""
    manager = serverapp.kernel_manager
    kernel_id = await manager.start_kernel(kernel_name="python3")
    client = manager.get_kernel(kernel_id).client()
    client.start_channels()
    await client.wait_for_ready(timeout=120)
    reply = await client.execute_interactive(START, timeout=180)
    assert reply["content"]["status"] == "ok", reply["content"]
    (record,) = [r for r in registry.list_records() if r.owner == kernel_id]
    kernel_pid = record.owner_pid
    # The cluster's processes: everything the kernel started for Dask.
    family = [p for p in psutil.Process(kernel_pid).children(recursive=True)
              if "multiprocessing" in " ".join(p.cmdline()) or "distributed" in " ".join(p.cmdline())]
    assert family, "the kernel's cluster has no worker processes"
    reaper = serverapp.web_app.settings["clusterkit_reaper"]
    # Wait until the reaper has seen them once (it checks every 0.5 s in these tests).
    await _wait(lambda: reaper.known.get(record.id), 60, "the reaper to see the cluster's processes")
    return kernel_id, client, record, family


def _gone(record: registry.ClusterRecord, family: list[psutil.Process]) -> bool:
    alive = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    return not alive and not os.path.exists(os.path.join(os.environ["CLUSTERKIT_REGISTRY_DIR"], f"{record.id}.json"))


async def test_shutdown_kernel_reaps_its_cluster(jp_serverapp, jp_fetch):
    kernel_id, client, record, family = await _kernel_with_cluster(jp_serverapp)
    client.stop_channels()
    started = time.monotonic()
    await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id)
    await _wait(lambda: _gone(record, family), 10, "the cluster's record and processes to go")
    assert time.monotonic() - started < 10 + 1


async def test_killed_kernel_is_reaped(jp_serverapp, jp_fetch):
    kernel_id, client, record, family = await _kernel_with_cluster(jp_serverapp)
    client.stop_channels()
    started = time.monotonic()
    os.kill(record.owner_pid, signal.SIGKILL)
    try:
        await _wait(lambda: _gone(record, family), 10, "the dead kernel's record and processes to go")
        assert time.monotonic() - started < 10 + 1
    finally:
        # The server restarts a dead kernel under the same id: shut that one down.
        if kernel_id in jp_serverapp.kernel_manager:
            await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id, now=True)


async def test_periodic_check_removes_stale_records_only(jp_serverapp, jp_fetch):
    dead = psutil.Popen(["true"])
    dead.wait()
    stale = registry.ClusterRecord.new(name="stale", kind="local", scheduler_address="tcp://127.0.0.1:1",
                                       owner_pid=dead.pid)
    live = registry.ClusterRecord.new(name="live", kind="local", scheduler_address="tcp://127.0.0.1:1")
    registry.write(stale)
    registry.write(live)
    folder = os.environ["CLUSTERKIT_REGISTRY_DIR"]
    await _wait(lambda: not os.path.exists(os.path.join(folder, f"{stale.id}.json")), 30, "the stale record to go")
    assert os.path.exists(os.path.join(folder, f"{live.id}.json"))
    registry.remove(live.id)
