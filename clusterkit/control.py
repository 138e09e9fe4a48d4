"""Ask a cluster's owner to scale or stop it, from any process.

Only the owner of a cluster (the kernel or daemon that started it) may change
it. Everyone else sends a request through the cluster's own scheduler: the
request is logged as a Dask event on the ``clusterkit-control`` topic, and the
owner's client, subscribed to that topic, acts on it and rewrites the record.
This works for every backend (local, SSH, factory) because it needs nothing but
the scheduler, and it needs no extra port or secret.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from clusterkit import config, registry
from clusterkit.errors import BackendError

__all__ = ["TOPIC", "send", "send_async", "wait_until_subscribed"]

TOPIC = "clusterkit-control"
OPERATIONS = ("scale", "adapt", "stop")


async def send_async(record: registry.ClusterRecord, op: str, **arguments: Any) -> None:
    """Deliver one request to the owner of ``record`` (asyncio version)."""
    import dask.utils
    from distributed.core import rpc

    if op not in OPERATIONS:
        raise ValueError(f"unknown operation {op!r}; expected one of {OPERATIONS}")
    timeout = dask.utils.parse_timedelta(config.get("control.timeout"))
    message = {"op": op, "id": record.id, **arguments}
    try:
        async with rpc(record.scheduler_address, timeout=timeout) as scheduler:
            await asyncio.wait_for(scheduler.log_event(topic=TOPIC, msg=message), timeout)
    except (TimeoutError, OSError) as exc:
        raise BackendError(
            f"Could not reach the scheduler of cluster {record.name!r} at {record.scheduler_address}: "
            f"{exc or type(exc).__name__}. If it is gone, its record is removed once its owner exits."
        ) from exc


def send(record: registry.ClusterRecord, op: str, **arguments: Any) -> None:
    """Deliver one request; safe to call from a thread that runs an event loop (a kernel)."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="clusterkit-control") as pool:
        pool.submit(asyncio.run, send_async(record, op, **arguments)).result()


def wait_until_subscribed(client: Any, topic: str, timeout: float = 10) -> bool:
    """Block until ``client``'s subscription to ``topic`` has reached its scheduler.

    ``Client.subscribe_topic`` returns before its message travels on the batched
    stream; an event logged meanwhile is not delivered. Whoever must not miss one
    (the owner's control requests, a task stream's actor calls) confirms first.
    Returns ``False`` if the scheduler has not confirmed within ``timeout`` seconds.
    """
    import time

    def subscribed(dask_scheduler: Any, topic: str, client_id: str) -> bool:
        topics = dask_scheduler._broker._topics
        return topic in topics and client_id in topics[topic].subscribers

    deadline = time.monotonic() + timeout
    while not client.run_on_scheduler(subscribed, topic=topic, client_id=client.id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
