"""Local clusters: worker processes on this machine, everything on loopback.

Defaults fit the machine as the process sees it (cgroup limits included, see
:mod:`clusterkit.machine`), so the same call is right on a laptop and on Binder.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import dask.utils
from distributed import LocalCluster
from distributed.security import Security

from clusterkit import config, machine
from clusterkit.errors import BackendError, ConfigError

__all__ = ["default_n_workers", "in_process_address", "load_tls_defaults_ahead", "start_local", "worker_memory"]

logger = logging.getLogger(__name__)


def default_n_workers() -> int:
    """``clusterkit.local.n-workers``, else one per usable CPU (at most 4)."""
    configured = config.get("local.n-workers")
    if configured is not None:
        return int(configured)
    return min(machine.cpu_count(), 4)


def worker_memory(memory_limit: str | int | None, n_workers: int) -> int | None:
    """Bytes per worker: explicit, or the granted memory split over the workers."""
    value = memory_limit if memory_limit is not None else config.get("local.memory-limit")
    if value in (None, "auto"):
        return machine.memory_bytes() // max(n_workers, 1) or None
    try:
        return dask.utils.parse_bytes(value) if isinstance(value, str) else int(value)
    except ValueError as exc:
        raise ConfigError(
            f"Memory limit {value!r} is not a size. Use a number of bytes or a string like '2GiB'."
        ) from exc


def start_local(
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    memory_limit: str | int | None = None,
    security: Security | None = None,
    **kwargs: Any,
) -> LocalCluster:
    """Start a ``LocalCluster`` of processes listening on ``clusterkit.host``.

    With ``security`` (see :mod:`clusterkit.security`) every connection is mutual
    TLS (``tls://``); without it, plain TCP that any local user can reach. Worker
    dashboards are off (only their health endpoint listens, on the same loopback
    host). Workers declare a ``CPU`` resource equal to their threads, so tasks that
    ask for ``num_cpus`` are placed as Ray users expect. Extra keyword arguments go
    to ``LocalCluster`` unchanged.
    """
    n = default_n_workers() if n_workers is None else n_workers
    threads = threads_per_worker or config.get("local.threads-per-worker") or 1
    host = config.get("host")
    options: dict[str, Any] = {
        "n_workers": n,
        "threads_per_worker": threads,
        "memory_limit": worker_memory(memory_limit, max(n, 1)),
        "processes": True,
        "host": host,
        "dashboard_address": f"{host}:{config.get('dashboard-port')}",
        "resources": {"CPU": threads},
        "silence_logs": logging.ERROR,
        "worker_dashboard_address": None,
    }
    if security is not None:
        options["security"] = security
        options["protocol"] = "tls://"
    options.update(kwargs)
    loading = load_tls_defaults_ahead() if security is not None else None
    try:
        cluster = LocalCluster(**options)
    except Exception as exc:
        raise BackendError(
            f"Could not start a local cluster of {n} workers on {host}: {str(exc).rstrip('.')}. "
            "Check free memory and that the address can be bound."
        ) from exc
    finally:
        if loading is not None:
            loading.join()
    return cluster


def load_tls_defaults_ahead() -> threading.Thread | None:
    """Load Tornado's default client TLS context in a thread now, unless this process has.

    Tornado builds that context (the system's whole CA store: 20-50 ms on OpenSSL 3)
    the first time a TLS stream is *accepted*, although an accepted stream never uses
    it. In this process that is the scheduler's first accept, when the first worker
    registers: on the start path, with the scheduler's loop blocked. Loaded while the
    worker processes spawn (some hundred ms in which this process mostly waits), it
    costs the start nothing; it is cached per process, so later clusters never pay it.
    Returns the thread to join, or ``None`` when there is nothing to load.
    """
    from tornado import iostream

    # Tornado's own cached factory (private; looked up so a Tornado without it is fine).
    defaults = getattr(iostream, "_client_ssl_defaults", None)
    cache_info = getattr(defaults, "cache_info", None)
    if defaults is None or cache_info is None or cache_info().currsize:
        return None
    thread = threading.Thread(target=defaults, name="clusterkit-tls-defaults", daemon=True)
    thread.start()
    return thread


def in_process_address(cluster: Any) -> str | None:
    """An in-memory (``inproc://``) address of ``cluster``'s scheduler when it runs in this process.

    A ``LocalCluster`` runs its scheduler in the process that started it: the
    kernel. Its own client then need not encrypt each message, write it to a
    loopback socket and read it back on the same event loop: Dask's ``inproc``
    transport hands the message over in memory. On the round trip of a remote
    task that is two of its four scheduler messages, about a quarter of its time
    (``benchmarks/README.md``). An ``inproc`` listener is reachable only from this
    process, which already holds the scheduler object, so it needs no
    credentials. Workers, other kernels, the CLI and the Jupyter server keep
    using the cluster's TLS address, which is the one the registry records.

    Returns ``None`` (connect as before) for a scheduler in another process
    (SSH, gateways, factories), or when ``clusterkit.local.in-process-client``
    is false. Adds the listener once; the scheduler closes it with the others.
    """
    from distributed import Scheduler

    scheduler = getattr(cluster, "scheduler", None)
    if not isinstance(scheduler, Scheduler) or not config.get("local.in-process-client", True):
        return None
    for listener in scheduler.listeners:
        if listener.contact_address.startswith("inproc://"):
            return str(listener.contact_address)

    async def listen() -> str:
        await scheduler.listen("inproc://")
        return str(scheduler.listeners[-1].contact_address)

    try:
        return str(cluster.sync(listen))
    except Exception as exc:  # an exotic transport set-up: the TLS address still works
        logger.warning("clusterkit: no in-process connection to the local scheduler (%s); using its address", exc)
        return None
