"""The reaper: clusters whose owning kernel (or daemon) is gone are cleaned up.

Two triggers, one action:

* the server's kernel events (``kernel_actions``: a kernel shut down, restarted
  or was found dead) start an immediate check of that kernel's clusters;
* a periodic check (``ClusterkitServer.reaper_interval``) of every record's
  owner PID catches owners that died any other way (SIGKILL, OOM killer).

While an owner lives, the reaper remembers which of its descendant processes
belong to its clusters (Dask nannies and workers). When the owner is gone, it
gives those processes ``stop_grace_period`` to exit by themselves (they watch
their parent), kills the ones still there and removes the record. A kernel that
is shut down gracefully stops its own clusters on the way out; the reaper only
finishes what a kernel could not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import psutil

from clusterkit import registry

__all__ = ["Reaper"]

logger = logging.getLogger(__name__)

KERNEL_ACTIONS = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"
# Processes of a cluster look like one of these on their command line.
_CLUSTER_MARKERS = ("distributed", "dask", "multiprocessing")


def _process(pid: int, created: float) -> psutil.Process | None:
    """The process with this PID if it is still the one we saw (PIDs get reused)."""
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - created) > 0.5 or process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.Error:
        return None


class Reaper:
    """Watches cluster owners for the server; see the module docstring."""

    def __init__(self, settings: Any, serverapp: Any = None) -> None:
        self.settings = settings
        self.serverapp = serverapp
        # record id -> [(pid, create time)] of that owner's cluster processes
        self.known: dict[str, list[tuple[int, float]]] = {}
        self._periodic: Any = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        from tornado.ioloop import PeriodicCallback

        if self.settings.reaper_interval > 0:
            self._periodic = PeriodicCallback(self._tick, self.settings.reaper_interval * 1000)
            self._periodic.start()
        if self.settings.reap_on_kernel_shutdown and self.serverapp is not None:
            event_logger = getattr(self.serverapp, "event_logger", None)
            if event_logger is not None:
                event_logger.add_listener(schema_id=KERNEL_ACTIONS, listener=self._on_kernel_event)

    def stop(self) -> None:
        if self._periodic is not None:
            self._periodic.stop()
            self._periodic = None

    async def _tick(self) -> None:
        await self.check()

    async def _on_kernel_event(self, logger: Any, schema_id: str, data: Any) -> None:
        # jupyter_events calls listeners with these keyword arguments. A listener
        # that raises breaks the kernel action that emitted the event: never raise.
        try:
            if data.get("action") in {"shutdown", "restart"} or data.get("status") == "error":
                task = asyncio.ensure_future(self.reap_kernel(str(data.get("kernel_id", ""))))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except Exception:
            logger_ = logging.getLogger(__name__)
            logger_.warning("clusterkit reaper: cannot handle kernel event %r", data, exc_info=True)

    # -- the work ---------------------------------------------------------------------
    async def reap_kernel(self, kernel_id: str) -> list[registry.ClusterRecord]:
        """After a kernel event: clean up that kernel's clusters once its process is gone."""
        folder = self.settings.registry_folder()
        deadline = time.monotonic() + self.settings.stop_grace_period
        while time.monotonic() < deadline:
            records = [r for r in registry.list_records(folder, include_stale=True) if r.owner == kernel_id]
            if not records or not any(registry.owner_alive(r) for r in records):
                break
            await asyncio.sleep(0.2)
        return await self.check()

    async def check(self) -> list[registry.ClusterRecord]:
        """One pass over every record: remember live owners' processes, reap dead owners."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, self._check_blocking)

    def _check_blocking(self) -> list[registry.ClusterRecord]:
        folder = self.settings.registry_folder()
        try:
            records = registry.list_records(folder, include_stale=True)
        except Exception:
            logger.warning("clusterkit reaper: cannot read the registry", exc_info=True)
            return []
        reaped = []
        for record in records:
            if registry.owner_alive(record):
                self._remember(record)
                continue
            self._finish(record)
            registry.remove(record.id, folder)
            self.known.pop(record.id, None)
            reaped.append(record)
            logger.info(
                "clusterkit: removed cluster %r (%s): its owner %s (pid %s) is gone",
                record.name, record.id, record.owner, record.owner_pid,
            )
        live = {r.id for r in records}
        for stale_id in set(self.known) - live:
            self.known.pop(stale_id, None)
        return reaped

    def _remember(self, record: registry.ClusterRecord) -> None:
        if not registry.owner_verified(record):  # seccore (issue 11): a planted pid's children are not ours to kill
            return
        try:
            owner = psutil.Process(record.owner_pid)
            children = owner.children(recursive=True)
        except psutil.Error:
            return
        found = []
        for child in children:
            try:
                cmdline = " ".join(child.cmdline())
                if any(marker in cmdline for marker in _CLUSTER_MARKERS):
                    found.append((child.pid, child.create_time()))
            except psutil.Error:
                continue
        self.known[record.id] = found

    def _finish(self, record: registry.ClusterRecord) -> None:
        """Wait a little for the dead owner's cluster processes, then kill the rest."""
        processes = [p for p in (_process(pid, t) for pid, t in self.known.get(record.id, [])) if p]
        if not processes:
            return
        grace = min(self.settings.stop_grace_period, 5.0)
        _, alive = psutil.wait_procs(processes, timeout=grace)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(alive, timeout=5)
