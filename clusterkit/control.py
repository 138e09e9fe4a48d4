"""Ask a cluster's owner to scale or stop it, from any process.

Only the owner of a cluster (the kernel or daemon that started it) may change
it. Everyone else sends a request through the cluster's own scheduler: the
request is logged as a Dask event on the ``clusterkit-control`` topic, and the
owner's client, subscribed to that topic, acts on it and rewrites the record.
This works for every backend (local, SSH, factory) because it needs nothing but
the scheduler.

Nothing a peer sends is unpickled here. A TLS cluster's scheduler proves who it
is with a certificate from that cluster's own CA (see :mod:`clusterkit.security`),
and we present the client certificate, so only the owner's user gets through. An
``--insecure`` cluster's address could be anyone's listener (a planted record, a
port re-bound by another user), so the request is written in Dask's wire format by
hand, msgpack only, and the reply is decoded with plain msgpack: a pickle in it
stays inert bytes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import struct
import sys
import urllib.parse
from typing import Any

from clusterkit import config, registry
from clusterkit.errors import BackendError

__all__ = ["TOPIC", "send", "send_async", "wait_until_subscribed"]

TOPIC = "clusterkit-control"
OPERATIONS = ("scale", "adapt", "stop")
_MAX_REPLY_BYTES = 1 << 20


async def send_async(
    record: registry.ClusterRecord,
    op: str,
    *,
    directory: str | os.PathLike[str] | None = None,
    **arguments: Any,
) -> None:
    """Deliver one request to the owner of ``record`` (asyncio version).

    ``directory`` is the registry folder the record came from (where a TLS cluster's
    credentials are); the default folder when ``None``.
    """
    import dask.utils

    if op not in OPERATIONS:
        raise ValueError(f"unknown operation {op!r}; expected one of {OPERATIONS}")
    timeout = dask.utils.parse_timedelta(config.get("control.timeout"))
    message = {"op": op, "id": record.id, **arguments}
    try:
        if record.scheduler_address.startswith("tls://"):
            await asyncio.wait_for(_send_tls(record, message, timeout, directory), timeout)
        else:
            await asyncio.wait_for(_send_plain(record.scheduler_address, message), timeout)
    except (TimeoutError, OSError, ValueError, EOFError) as exc:
        raise BackendError(
            f"Could not reach the scheduler of cluster {record.name!r} at {record.scheduler_address}: "
            f"{exc or type(exc).__name__}. If it is gone, its record is removed once its owner exits."
        ) from exc


async def _send_tls(
    record: registry.ClusterRecord, message: dict[str, Any], timeout: float, directory: Any
) -> None:
    """Through Dask's rpc with this cluster's client certificate (the scheduler is authenticated)."""
    from distributed.core import rpc

    from clusterkit import security

    credentials = security.for_record(record, directory)
    assert credentials is not None  # a tls:// address always has credentials or raised
    connection_args = credentials.get_connection_args("client")
    async with rpc(record.scheduler_address, timeout=timeout, connection_args=connection_args) as scheduler:
        await scheduler.log_event(topic=TOPIC, msg=message)


def _frame(message: Any) -> bytes:
    """One Dask TCP message: total length, frame count and lengths, then one msgpack frame."""
    import msgpack

    body = msgpack.packb(message, use_bin_type=True)
    prelude = struct.pack("QQ", 1, len(body))
    return struct.pack("Q", len(prelude) + len(body)) + prelude + body


async def _read_inert(reader: asyncio.StreamReader) -> Any:
    """Read one Dask message and decode its first frame with plain msgpack (no pickle, no hooks)."""
    import msgpack

    (size,) = struct.unpack("Q", await reader.readexactly(8))
    if not 16 <= size <= _MAX_REPLY_BYTES:
        raise ValueError(f"the peer sent a message of {size} bytes, which is not a Dask reply")
    data = await reader.readexactly(size)
    (count,) = struct.unpack_from("Q", data)
    if not 1 <= count <= 1024 or 8 + 8 * count > size:
        raise ValueError("the peer's reply is not a Dask message")
    lengths = struct.unpack_from(f"{count}Q", data, 8)
    start = 8 + 8 * count
    if sum(lengths) > _MAX_REPLY_BYTES:
        raise ValueError("the peer's reply is too large")
    missing = start + sum(lengths) - size
    if missing > 0:
        data += await reader.readexactly(missing)
    return msgpack.unpackb(data[start : start + lengths[0]], raw=False, strict_map_key=False)


async def _send_plain(address: str, message: dict[str, Any]) -> None:
    """Log ``message`` as an event on an insecure scheduler without deserializing anything it sends."""
    parsed = urllib.parse.urlsplit(address)
    if parsed.scheme != "tcp" or not parsed.hostname or not parsed.port:
        raise ValueError(f"{address!r} is neither tls:// nor tcp://host:port")
    reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
    try:
        handshake = {"compression": None, "python": list(sys.version_info[:3]), "pickle-protocol": 5}
        request = {"op": "log_event", "topic": TOPIC, "msg": message, "reply": True}
        writer.write(_frame(handshake) + _frame(request))
        await writer.drain()
        await _read_inert(reader)  # the scheduler's handshake
        await _read_inert(reader)  # log_event's reply: the request was handled
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


def send(
    record: registry.ClusterRecord, op: str, *, directory: str | os.PathLike[str] | None = None, **arguments: Any
) -> None:
    """Deliver one request; safe to call from a thread that runs an event loop (a kernel)."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="clusterkit-control") as pool:
        pool.submit(asyncio.run, send_async(record, op, directory=directory, **arguments)).result()


def wait_until_subscribed(client: Any, topic: str) -> bool:
    """Make sure ``client``'s subscription to ``topic`` has reached its scheduler.

    ``Client.subscribe_topic`` registers the handler and returns before its message
    travels on the batched stream (which may hold it up to 10 ms); an event logged
    meanwhile is not delivered. Whoever must not miss one (the owner's control
    requests, a task stream's actor calls) calls this right after it: the scheduler
    subscribes the client itself, in one round trip (the batched message, when it
    lands, changes nothing), with no polling. ``True`` once subscribed (the round trip
    fails like any other if the scheduler is gone).
    """

    def subscribe(dask_scheduler: Any, topic: str, client_id: str) -> bool:
        dask_scheduler.subscribe_topic(topic, client_id)
        return True

    return bool(client.run_on_scheduler(subscribe, topic=topic, client_id=client.id))
