"""The dashboard proxy isolates Dask's pages: paths, CSP, per-method authorization, headers, targets."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from clusterkit import links, registry
from clusterkit.errors import ClusterkitError
from clusterkit.server.proxy import DASHBOARD_CSP
from tests.server.conftest import cookie_header, fake_dashboard, login_cookies, socket_echo, write_record

pytestmark = pytest.mark.timeout(120)

# Paths that must never be proxied: each would leave the cluster's dashboard or
# is not one of Dask's pages. Sent as written (the client does not normalize).
ESCAPES = [
    "../../../files/x.html",
    "status/../../../files/x.html",
    "..%2F..%2F..%2Ffiles%2Fx.html",
    "%2e%2e/%2e%2e/%2e%2e/files/x.html",
    ".%2e/.%2e/files/x.html",
    "./status",
    "status/./ws",
    "//evil.example/status",
    "status//ws",
    "status%5C..%5C..%5Cfiles%5Cx.html",
    "%252e%252e/files/x.html",
    "files/x.html",
    "proxy/8888/127.0.0.1/status",
    "api/v1/retire_workers",
    "lab",
    "status%00",
    "individual-task-stream%3F.js",
]

ALLOWED = [
    "",
    "status",
    "/individual-task-stream",
    "individual-task-stream/ws",
    "individual-task-stream/autoload.js",
    "static/js/bokeh.min.js",
    "statics/css/base.css",
    "info/main/workers.html",
    "info/task/('inc-0abc', 0).html",
    "json/identity.json",
    "individual-plots.json",
    "eventstream",
]


@pytest.mark.parametrize("path", ALLOWED)
def test_dashboard_paths_allowed(path):
    assert links.check_dashboard_path(path) == path.removeprefix("/")


@pytest.mark.parametrize(
    "path",
    [*ESCAPES, "status?token=x", "status#x", "/../x", "status\\..\\x", "a" * 3000, "/" + "/status"],
)
def test_dashboard_paths_refused(path):
    import urllib.parse

    with pytest.raises(ClusterkitError, match="Refusing dashboard path"):
        links.check_dashboard_path(urllib.parse.unquote(path))


def test_links_build_only_the_clusterkit_route():
    assert links.dashboard_url("/user/ada", "3fa2c1d04e9b", "/individual-task-stream") == (
        "/user/ada/clusterkit/dashboard/3fa2c1d04e9b/individual-task-stream"
    )
    with pytest.raises(ClusterkitError):
        links.dashboard_url("/", "3fa2c1d04e9b", "../../../files/x.html")


def _csp(response) -> list[str]:
    return response.headers.get_list("Content-Security-Policy")


@pytest.mark.parametrize("path", ESCAPES)
async def test_path_escapes_are_refused_before_any_connection(raw, path):
    async with fake_dashboard() as dashboard:
        record = write_record(dashboard.port)
        response = await raw(f"clusterkit/dashboard/{record.id}/{path}")
        assert response.code == 404, (path, response.code, response.body)
        assert "Refusing dashboard path" in json.loads(response.body)["message"]
        assert _csp(response) == [DASHBOARD_CSP]
        assert dashboard.hits == []


async def test_csp_on_every_proxied_response(raw, jp_http_port):
    """Success, every error, every method: one CSP, ours, and nothing the dashboard tried to set."""
    async with fake_dashboard() as dashboard:
        record = write_record(dashboard.port)
        planted = write_record(1, name="nobody-listens")  # no process of this cluster listens there
        dead = write_record(dashboard.port, name="dead-dashboard")
        no_dashboard = write_record(None, name="no-dashboard")
        cases = [
            (f"clusterkit/dashboard/{record.id}/status", "GET", True, 200),
            (f"clusterkit/dashboard/{record.id}/status", "HEAD", True, 200),
            (f"clusterkit/dashboard/{record.id}/status", "POST", True, 200),
            (f"clusterkit/dashboard/{record.id}/status", "OPTIONS", True, 200),
            (f"clusterkit/dashboard/{record.id}/status", "GET", False, 403),
            (f"clusterkit/dashboard/{record.id}/status", "GET", "wrong-token", 403),
            (f"clusterkit/dashboard/{record.id}/../../files/x.html", "GET", True, 404),
            ("clusterkit/dashboard/feedfeedfeed/status", "GET", True, 404),
            (f"clusterkit/dashboard/{no_dashboard.id}/status", "GET", True, 404),
            (f"clusterkit/dashboard/{planted.id}/status", "GET", True, 403),
        ]
        for path, method, auth, code in cases:
            response = await raw(path, method=method, auth=auth)
            assert response.code == code, (path, method, auth, response.code, response.body)
            assert _csp(response) == [DASHBOARD_CSP], (path, method, response.headers)
            assert "planted" not in str(response.headers.get_list("Set-Cookie")), (path, method, response.headers.get_list("Set-Cookie"))
            assert "Access-Control-Allow-Origin" not in response.headers, (path, method)
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert len(dashboard.hits) == 4  # the four successful requests above
        assert (await raw(f"clusterkit/dashboard/{dead.id}/status")).code == 200  # its owner listens, for now
    # The owner listened when checked, then its dashboard went away: 502, still confined.
    response = await raw(f"clusterkit/dashboard/{dead.id}/status")
    assert response.code == 502 and _csp(response) == [DASHBOARD_CSP], (response.code, response.headers)


async def test_read_only_user_may_look_but_not_act(raw, read_only, http_server_client, jp_http_port, jp_base_url,
                                                   jp_auth_header):
    """A restricted authorizer that allows only ``read``: GET and HEAD pass, everything else is 403."""
    async with fake_dashboard() as dashboard:
        record = write_record(dashboard.port)
        dash = f"clusterkit/dashboard/{record.id}/status"
        one = f"clusterkit/api/clusters/{record.id}"
        allowed = [("GET", dash), ("HEAD", dash), ("GET", "clusterkit/api/clusters"), ("GET", one)]
        refused = [
            *[(method, dash) for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")],
            ("POST", "clusterkit/api/clusters"), ("PATCH", one), ("DELETE", one),
        ]
        for method, path in allowed:
            response = await raw(path, method=method)
            assert response.code == 200, (method, path, response.code, response.body)
        for method, path in refused:
            body = b'{"workers": 1}' if method in ("POST", "PATCH", "PUT") else None
            response = await raw(path, method=method, body=body)
            assert response.code == 403, (method, path, response.code, response.body)
        url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}{dash}/ws"
        with pytest.raises(HTTPClientError) as socket_refused:
            await websocket_connect(HTTPRequest(url, headers=jp_auth_header))
        assert socket_refused.value.code == 403
        assert [method for method, _, _ in dashboard.hits] == ["GET", "HEAD"]
    read_only.read_only = False  # the same socket, allowed to act, opens
    async with fake_dashboard() as dashboard:
        record = write_record(dashboard.port)
        url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}clusterkit/dashboard/{record.id}/status/ws"
        await socket_echo(url, jp_auth_header)


async def test_canary_dashboard_never_receives_jupyter_credentials(raw, jp_auth_header, jp_http_port, jp_base_url):
    """Token in header and query, login cookies, XSRF, Referer, Origin: none of them reach the dashboard."""
    token = jp_auth_header["Authorization"].split()[-1]
    cookies = await login_cookies(raw, jp_auth_header)
    async with fake_dashboard() as dashboard:
        record = write_record(dashboard.port)
        base = f"clusterkit/dashboard/{record.id}"
        referer = f"http://127.0.0.1:{jp_http_port}{jp_base_url}lab?token={token}"
        extra = {"Referer": referer, "Origin": f"http://127.0.0.1:{jp_http_port}"}
        by_cookie = {"Cookie": cookie_header(cookies), "X-XSRFToken": cookies["_xsrf"], **extra}
        assert (await raw(f"{base}/status?token={token}&x=1", headers=extra)).code == 200
        assert (await raw(f"{base}/status?_xsrf={cookies['_xsrf']}", auth=False, headers=by_cookie)).code == 200
        assert (await raw(f"{base}/status", method="POST", auth=False, headers=by_cookie)).code == 200
        url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}{base}/status/ws?token={token}"
        await socket_echo(url, {**jp_auth_header, **extra})
        assert [method for method, _, _ in dashboard.hits] == ["GET", "GET", "POST", "WEBSOCKET"]
        secrets = {token, cookies["_xsrf"], *cookies.values()}
        for method, uri, headers in dashboard.hits:
            assert not {"authorization", "cookie", "x-xsrftoken", "referer", "origin"} & {h.lower() for h in headers}
            assert "token=" not in uri and "_xsrf" not in uri, uri
            assert not any(secret in f"{uri} {headers}" for secret in secrets), (method, uri, headers)


async def test_a_planted_record_cannot_aim_the_proxy_at_another_loopback_port(raw, jp_http_port):
    """The dashboard port must be a listening socket of the record's owner (or its children): a record
    whose owner is some other live process, pointing at Jupyter's port or another dashboard, is 403."""
    import subprocess
    import sys

    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # alive, listens on nothing
    try:
        async with fake_dashboard() as other:
            cases = [
                write_record(jp_http_port, kind="ssh", scheduler_address="tcp://10.200.0.11:8786"),  # Jupyter itself
                write_record(other.port, kind="ssh", scheduler_address="tcp://10.200.0.11:8786"),
                write_record(other.port, kind="local"),
            ]
            for record in cases:
                record.owner_pid = stranger.pid
                registry.write(record)
                for path in ("status", "individual-task-stream"):
                    for headers in ({}, {"Sec-Fetch-Dest": "iframe"}):
                        response = await raw(f"clusterkit/dashboard/{record.id}/{path}", headers=headers)
                        assert response.code == 403, (record, response.code, response.body)
                        message = json.loads(response.body)["message"]
                        assert "no process of that cluster" in message or "this Jupyter server's" in message
            assert other.hits == []
        # Even its owner's: the Jupyter server's own port is never proxied.
        itself = write_record(jp_http_port, kind="local")
        response = await raw(f"clusterkit/dashboard/{itself.id}/status")
        assert response.code == 403 and "this Jupyter server's" in json.loads(response.body)["message"]
    finally:
        stranger.kill()
        stranger.wait()


def _capability_path(response) -> str:
    """The ``clusterkit/dashboard/<id>/~<capability>/<path>`` a navigation was redirected to."""
    assert response.code == 302, (response.code, response.body)
    location = response.headers["Location"]
    assert "/~" in location and "token=" not in location, location
    return location[location.index("clusterkit/dashboard/"):]


async def test_pages_move_under_a_capability_that_works_without_cookies(raw, read_only, jp_http_port, jp_base_url,
                                                                       jp_auth_header):
    """A page opened in a frame is redirected under ``~<capability>``; that prefix alone authorizes
    its requests (the sandbox sends no cookie), for this cluster and this user's actions only."""
    read_only.read_only = False
    async with fake_dashboard() as dashboard:
        record = write_record(dashboard.port)
        other = write_record(dashboard.port, name="other")
        navigate = {"Sec-Fetch-Dest": "iframe"}
        token = jp_auth_header["Authorization"].split()[-1]
        page = _capability_path(await raw(f"clusterkit/dashboard/{record.id}/status?token={token}&a=1",
                                          auth=False, headers=navigate))
        assert page.endswith("/status?a=1")
        prefix = page.rsplit("/", 1)[0]
        assert dashboard.hits == []  # the redirect itself reaches nothing
        for method in ("GET", "POST"):
            response = await raw(f"{prefix}/status", method=method, auth=False)
            assert response.code == 200, (method, response.code, response.body)
            assert _csp(response) == [DASHBOARD_CSP]
        await socket_echo(f"ws://127.0.0.1:{jp_http_port}{jp_base_url}{prefix}/status/ws", {"Origin": "null"})
        assert [uri for _, uri, _ in dashboard.hits] == ["/status", "/status", "/status/ws"]
        capability = prefix.rsplit("/", 1)[1]
        refused = [
            f"clusterkit/dashboard/{other.id}/{capability}/status",  # another cluster
            f"clusterkit/dashboard/{record.id}/~not-a-capability/status",
            f"{prefix}/../../../files/x.html",
        ]
        for path in refused:
            assert (await raw(path, auth=False)).code in (403, 404), path
        # A read-only user's pages may look but not act: no POST, no socket.
        read_only.read_only = True
        html_get = {"Accept": "text/html,application/xhtml+xml"}  # a browser without Sec-Fetch-Dest
        page = _capability_path(await raw(f"clusterkit/dashboard/{record.id}/status", headers=html_get))
        prefix = page.rsplit("/", 1)[0]
        assert (await raw(f"{prefix}/status", auth=False)).code == 200
        assert (await raw(f"{prefix}/status", method="POST", auth=False)).code == 403
        with pytest.raises(HTTPClientError) as socket_refused:
            await websocket_connect(HTTPRequest(f"ws://127.0.0.1:{jp_http_port}{jp_base_url}{prefix}/status/ws"))
        assert socket_refused.value.code == 403
        assert len(dashboard.hits) == 4
