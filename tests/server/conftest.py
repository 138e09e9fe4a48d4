"""Server-extension fixtures: a real Jupyter server (pytest-jupyter) with clusterkit enabled.

Authentication is required (``allow_unauthenticated_access=False``), as in a real
deployment. ``fake_dashboard`` and ``canary`` are loopback listeners: the first
plays a cluster's dashboard (it records every request with its headers; it
listens in this process, the owner of :func:`write_record`'s records), the
second must never see a connection.
The server's authorizer is :class:`SwitchableAuthorizer`: everything allowed
unless a test turns on the ``read_only`` fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import urllib.parse
from collections.abc import AsyncIterator

import pytest
from jupyter_server.auth import Authorizer
from pytest_jupyter.jupyter_server import *  # noqa: F403  (fixtures and hooks of the plugin)
from tornado import web, websocket
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from traitlets.config import Config

from clusterkit import registry

FAKE_SCHEDULER = "tcp://127.0.0.1:1"


class SwitchableAuthorizer(Authorizer):
    """Jupyter's default (allow every authenticated user), or read-only when ``read_only`` is set."""

    read_only = False

    def is_authorized(self, handler: object, user: object, action: str, resource: str) -> bool:
        return action == "read" or not SwitchableAuthorizer.read_only


@pytest.fixture
def read_only() -> object:
    """The server's user may only ``read`` (a restricted authorizer) during the test."""
    SwitchableAuthorizer.read_only = True
    try:
        yield SwitchableAuthorizer
    finally:
        SwitchableAuthorizer.read_only = False


@pytest.fixture
def jp_server_config() -> Config:
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"clusterkit.server": True, "jupyter_server_terminals": False},
                "allow_unauthenticated_access": False,
                "authorizer_class": SwitchableAuthorizer,
            },
            "ClusterkitServer": {"reaper_interval": 0.5, "stop_grace_period": 3.0},
        }
    )


class _EchoHandler(web.RequestHandler):
    """Answers every method with what it received, so tests see what reached the dashboard."""

    def _echo(self) -> None:
        self.application.settings["hits"].append((self.request.method, self.request.uri, dict(self.request.headers)))
        # What a hostile dashboard might try to set on the Jupyter origin.
        self.set_header("Set-Cookie", "_xsrf=planted; Path=/")
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("Content-Security-Policy", "default-src *")
        self.finish({"method": self.request.method, "uri": self.request.uri})

    get = post = put = patch = delete = options = _echo  # type: ignore[assignment]

    def head(self) -> None:
        self.application.settings["hits"].append(("HEAD", self.request.uri, dict(self.request.headers)))
        self.finish()


class _EchoSocket(websocket.WebSocketHandler):
    def open(self) -> None:
        self.application.settings["hits"].append(("WEBSOCKET", self.request.uri, dict(self.request.headers)))

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
    app = web.Application(
        [(r"/(?:ws|status/ws)", _EchoSocket), (r"/.*", _EchoHandler)],
        hits=listener.hits,
    )
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


async def socket_echo(url: str, headers: dict[str, str], message: str = "hi") -> None:
    """Open a WebSocket through the proxy; the fake dashboard must echo ``message`` back."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    connection = await websocket_connect(HTTPRequest(url, headers=headers))
    try:
        await connection.write_message(message)
        assert await connection.read_message() == f"echo:{message}"
    finally:
        connection.close()


def write_record(dashboard_port: int | None, **fields: object) -> registry.ClusterRecord:
    """A record owned by this test process (alive, so it is listed)."""
    fields.setdefault("name", "fake")
    fields.setdefault("kind", "local")
    fields.setdefault("scheduler_address", FAKE_SCHEDULER)
    record = registry.ClusterRecord.new(dashboard_port=dashboard_port, owner_pid=os.getpid(), **fields)  # type: ignore[arg-type]
    registry.write(record)
    return record


@pytest.fixture
def raw(http_server_client, jp_base_url, jp_auth_header):
    """Fetch a path as written (no escaping), never raising for HTTP errors.

    ``auth``: True (the server's token), False (none) or a wrong token string.
    """

    async def fetch(path, method="GET", auth=True, headers=None, body=None, **kwargs):
        sent = dict(headers or {})
        if auth is True:
            sent.update(jp_auth_header)
        elif isinstance(auth, str):
            sent["Authorization"] = f"token {auth}"
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b"{}"
        return await http_server_client.fetch(
            jp_base_url + path,
            method=method,
            headers=sent,
            body=body,
            raise_error=False,
            follow_redirects=False,
            allow_nonstandard_methods=True,
            request_timeout=60,
            **kwargs,
        )

    return fetch


async def login_cookies(raw, jp_auth_header) -> dict[str, str]:
    """Log in through the login form, as a browser does; return the cookies."""
    token = jp_auth_header["Authorization"].split()[-1]
    page = await raw("login", auth=False)
    cookies = _cookies(page)
    form = urllib.parse.urlencode({"_xsrf": cookies["_xsrf"], "password": token}).encode()
    login = await raw("login", method="POST", auth=False, body=form, headers={"Cookie": cookie_header(cookies)})
    assert login.code == 302, login.body
    cookies.update(_cookies(login))
    assert any(name.startswith("username-") for name in cookies), cookies
    return cookies


def _cookies(response) -> dict[str, str]:
    found = {}
    for header in response.headers.get_list("Set-Cookie"):
        name, _, rest = header.partition("=")
        found[name.strip()] = rest.split(";", 1)[0]
    return found


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())
