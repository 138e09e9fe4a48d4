"""Server-extension fixtures: a real Jupyter server (pytest-jupyter) with clusterkit enabled.

Authentication is required (``allow_unauthenticated_access=False``), as in a real
deployment. ``fake_dashboard`` and ``canary`` are loopback listeners: the first
plays a cluster's dashboard, the second must never see a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403  (fixtures and hooks of the plugin)
from tornado import web, websocket
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from traitlets.config import Config

from clusterkit import registry


@pytest.fixture
def jp_server_config() -> Config:
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"clusterkit.server": True, "jupyter_server_terminals": False},
                "allow_unauthenticated_access": False,
            },
            "ClusterkitServer": {"reaper_interval": 0.5, "stop_grace_period": 3.0},
        }
    )


class _EchoHandler(web.RequestHandler):
    """Answers every method with what it received, so tests see what reached the dashboard."""

    def _echo(self) -> None:
        self.application.settings["hits"].append((self.request.method, self.request.uri, dict(self.request.headers)))
        self.finish({"method": self.request.method, "uri": self.request.uri})

    get = post = put = patch = delete = options = _echo  # type: ignore[assignment]

    def head(self) -> None:
        self.application.settings["hits"].append(("HEAD", self.request.uri, dict(self.request.headers)))
        self.finish()


class _EchoSocket(websocket.WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(f"echo:{message!s}")


class Listener:
    """A loopback HTTP server (the fake dashboard) or a raw TCP canary."""

    def __init__(self) -> None:
        self.port = 0
        self.hits: list[tuple[str, str, dict[str, str]]] = []
        self.connections = 0


@contextlib.asynccontextmanager
async def fake_dashboard() -> AsyncIterator[Listener]:
    listener = Listener()
    app = web.Application([(r"/ws", _EchoSocket), (r"/.*", _EchoHandler)], hits=listener.hits)
    sockets = bind_sockets(0, "127.0.0.1")
    listener.port = sockets[0].getsockname()[1]
    server = HTTPServer(app)
    server.add_sockets(sockets)
    try:
        yield listener
    finally:
        server.stop()
        await server.close_all_connections()


@contextlib.asynccontextmanager
async def canary() -> AsyncIterator[Listener]:
    listener = Listener()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        listener.connections += 1
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    listener.port = server.sockets[0].getsockname()[1]
    try:
        yield listener
    finally:
        server.close()
        await server.wait_closed()


def write_record(dashboard_port: int | None, **fields: object) -> registry.ClusterRecord:
    """A record owned by this test process (alive, so it is listed)."""
    fields.setdefault("name", "fake")
    fields.setdefault("kind", "local")
    fields.setdefault("scheduler_address", "tcp://127.0.0.1:1")
    record = registry.ClusterRecord.new(dashboard_port=dashboard_port, owner_pid=os.getpid(), **fields)  # type: ignore[arg-type]
    registry.write(record)
    return record
