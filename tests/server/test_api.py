"""The REST API, the dashboard proxy and their security, against a real Jupyter server."""

from __future__ import annotations

import json
import os
import time

import dask
import psutil
import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from clusterkit import control, options, registry
from clusterkit.errors import OptionError
from clusterkit.server.handlers import PUBLIC_FIELDS
from tests.server.conftest import canary, cookie_header, fake_dashboard, login_cookies, socket_echo, write_record

pytestmark = pytest.mark.timeout(180)


def body_of(response):
    return json.loads(response.body.decode())


async def wait_for(predicate, timeout=60.0):
    import asyncio

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        await asyncio.sleep(0.1)


# -- listing and reading -------------------------------------------------------------------
async def test_list_sends_listed_fields_only(raw, jp_base_url):
    record = write_record(8787, name="alpha")
    response = await raw("clusterkit/api/clusters")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    (item,) = body_of(response)
    assert set(item) == {*PUBLIC_FIELDS, "notebook_path", "dashboard_url"}
    assert item["id"] == record.id and item["name"] == "alpha" and item["owner_pid"] == os.getpid()
    assert item["dashboard_url"] == f"{jp_base_url}clusterkit/dashboard/{record.id}/"
    assert item["notebook_path"] is None


async def test_get_one_and_unknown_id(raw):
    record = write_record(None, name="beta")
    response = await raw(f"clusterkit/api/clusters/{record.id}")
    assert response.code == 200 and body_of(response)["name"] == "beta"
    assert body_of(response)["dashboard_url"] is None
    for method in ("GET", "PATCH", "DELETE"):
        missing = await raw("clusterkit/api/clusters/0123456789ab", method=method, body=b'{"workers": 1}'
                            if method == "PATCH" else None)
        assert missing.code == 404, method
        assert "No running cluster" in body_of(missing)["message"]


async def test_stale_records_are_not_listed(raw):
    dead = psutil.Popen(["true"])
    dead.wait()
    record = write_record(None, name="ghost")
    record.owner_pid = dead.pid
    registry.write(record)
    assert body_of(await raw("clusterkit/api/clusters")) == []
    assert (await raw(f"clusterkit/api/clusters/{record.id}")).code == 404


@pytest.mark.parametrize(
    ("method", "body", "fragment"),
    [
        ("POST", b"{not json", "not valid JSON"),
        ("POST", b"[1, 2]", "JSON object"),
        ("POST", b'{"colour": "red"}', "Unknown option"),
        ("POST", b'{"workers": -1}', "Worker count"),
        ("POST", b'{"workers": "three"}', "Worker count"),
        ("POST", b'{"workers": 2.5}', "Worker count"),
        ("POST", b'{"workers": 257}', "from 0 to 256 (clusterkit.local.max-workers)"),
        ("POST", b'{"workers": true}', "Worker count"),
        ("POST", b'{"workers": 100000}', "Worker count"),
        ("POST", b'{"threads": 0}', "Threads per worker"),
        ("POST", b'{"memory": "lots"}', "Memory per worker"),
        ("POST", b'{"memory": -5}', "Memory per worker"),
        ("POST", b'{"name": "<script>alert(1)</script>"}', "Cluster name '<script>alert(1)</script>' is not allowed"),
        ("POST", b'{"name": 7}', "Cluster name 7 is not allowed: use 1-64 letters"),
        ("POST", b'{"ssh_hosts": "host1"}', "'ssh_hosts'"),
        ("PATCH", b"{}", "to scale"),
        ("PATCH", b'{"workers": "x"}', "Worker count 'x' is not allowed"),
        ("PATCH", b'{"workers": 2, "colour": 1}', "to scale"),
        ("PATCH", b'{"adapt": {"minimum": 3, "maximum": 1}}', "must not be larger"),
        ("PATCH", b'{"adapt": {"minimum": 0, "maximum": 0}}', "at least 1"),
        ("PATCH", b'{"adapt": {"minimum": 1}}', "write MIN:MAX"),
        ("PATCH", b'{"adapt": {"minimum": 1, "maximum": 2, "colour": 3}}', "write MIN:MAX"),
        ("PATCH", b'{"adapt": 3}', "write MIN:MAX"),
        ("PATCH", b'{"adapt": {"minimum": 1.5, "maximum": 2}}', "Worker count 1.5"),
        ("PATCH", b'{"adapt": {"minimum": 1, "maximum": 257}}', "Worker count 257"),
        ("PATCH", b"\xff\xfe", "not valid JSON"),
    ],
)
async def test_bad_bodies_are_400_with_a_message(raw, method, body, fragment):
    record = write_record(None)
    path = "clusterkit/api/clusters" + (f"/{record.id}" if method == "PATCH" else "")
    response = await raw(path, method=method, body=body)
    assert response.code == 400, response.body
    assert fragment in body_of(response)["message"]


# -- worker counts: clusterkit.options's rule, bounds and sentences ----------------------------
SERVER_LIMIT = options.WorkerLimit(256, "clusterkit.local.max-workers")  # the traitlet's default: the config's


def _refusal(check, *args):
    with pytest.raises(OptionError) as refused:
        check(*args)
    return str(refused.value)


@pytest.fixture
def sent(monkeypatch):
    """What PATCH asks a cluster's owner to do (the owner itself is a fake record's absent kernel)."""
    calls = []

    async def fake_send(record, op, directory=None, **arguments):
        calls.append((record.id, op, arguments))

    monkeypatch.setattr(control, "send_async", fake_send)
    return calls


@pytest.mark.parametrize("count", [-1, -3, True, False, 2.5, 1e3, "x", "", " ", "two", None, [2], {"n": 2}, 257, 10**30])
async def test_patch_worker_counts_are_refused_like_everywhere_else(raw, sent, count):
    """Bad counts: 400, one line, the very sentence ``clusterkit.options`` gives ck.start, magics and CLI."""
    record = write_record(None)
    response = await raw(f"clusterkit/api/clusters/{record.id}", method="PATCH", body=json.dumps({"workers": count}).encode())
    assert response.code == 400, response.body
    assert response.headers["Content-Type"].startswith("application/json")
    message = body_of(response)["message"]
    assert "\n" not in message and "Traceback" not in message
    assert message == _refusal(options.workers, count, SERVER_LIMIT)
    assert sent == []


@pytest.mark.parametrize(
    "adapt",
    [
        {"minimum": 3, "maximum": 1},
        {"minimum": 0, "maximum": 0},
        {"minimum": -1, "maximum": 2},
        {"minimum": 1, "maximum": "many"},
        {"minimum": True, "maximum": 2},
        {"minimum": 1, "maximum": 257},
        {"minimum": 1},
        {"low": 1, "high": 2},
        [1, 2, 3],
        "4:1",
        "1-4",
        None,
        7,
    ],
)
async def test_patch_adapt_ranges_are_refused_like_everywhere_else(raw, sent, adapt):
    record = write_record(None)
    response = await raw(f"clusterkit/api/clusters/{record.id}", method="PATCH", body=json.dumps({"adapt": adapt}).encode())
    assert response.code == 400, response.body
    message = body_of(response)["message"]
    assert "\n" not in message
    assert message == _refusal(options.adapt_range, adapt, SERVER_LIMIT)
    assert sent == []


@pytest.mark.parametrize(
    ("body", "op", "arguments"),
    [
        ({"workers": 0}, "scale", {"n": 0}),
        ({"workers": 256}, "scale", {"n": 256}),
        ({"workers": "3"}, "scale", {"n": 3}),  # text, as %cluster scale and the CLI take it
        ({"adapt": {"minimum": 0, "maximum": 256}}, "adapt", {"minimum": 0, "maximum": 256}),
        ({"adapt": {"minimum": 2, "maximum": 2}}, "adapt", {"minimum": 2, "maximum": 2}),
        ({"adapt": "1:4"}, "adapt", {"minimum": 1, "maximum": 4}),
        ({"adapt": [1, 3]}, "adapt", {"minimum": 1, "maximum": 3}),
    ],
)
async def test_patch_sends_the_parsed_counts(raw, sent, body, op, arguments):
    record = write_record(None)
    response = await raw(f"clusterkit/api/clusters/{record.id}", method="PATCH", body=json.dumps(body).encode())
    assert response.code == 202, response.body
    assert sent == [(record.id, op, arguments)]


async def test_server_bound_is_the_traitlet_within_the_config_bound(raw, sent, jp_serverapp, monkeypatch):
    """``ClusterkitServer.max_workers`` lowers the bound for POST and PATCH; it never lifts
    ``clusterkit.local.max-workers``, which the kernel or daemon behind the request checks too."""
    from clusterkit import daemon

    monkeypatch.setattr(daemon, "spawn", lambda **options: pytest.fail(f"spawn reached with {options}"))
    settings = jp_serverapp.web_app.settings["clusterkit_reaper"].settings
    assert settings.max_workers == options.max_workers() == SERVER_LIMIT.maximum  # by default, one bound
    record = write_record(None)
    one = f"clusterkit/api/clusters/{record.id}"

    async def refused(path, method, body):
        response = await raw(path, method=method, body=json.dumps(body).encode())
        assert response.code == 400, response.body
        return body_of(response)["message"]

    monkeypatch.setattr(settings, "max_workers", 3)
    lowered = "use a whole number from 0 to 3 (ClusterkitServer.max_workers)."
    assert (await refused(one, "PATCH", {"workers": 4})).endswith(lowered)
    assert (await refused(one, "PATCH", {"adapt": {"minimum": 1, "maximum": 4}})).endswith(lowered)
    assert (await refused("clusterkit/api/clusters", "POST", {"workers": 4})).endswith(lowered)
    assert (await raw(one, method="PATCH", body=b'{"workers": 3}')).code == 202

    monkeypatch.setattr(settings, "max_workers", 1000)
    with dask.config.set({"clusterkit.local.max-workers": 8}):
        configured = "use a whole number from 0 to 8 (clusterkit.local.max-workers)."
        assert (await refused(one, "PATCH", {"workers": 9})).endswith(configured)
        assert (await refused(one, "PATCH", {"adapt": "1:9"})).endswith(configured)
        assert (await refused("clusterkit/api/clusters", "POST", {"workers": 9})).endswith(configured)
        assert (await raw(one, method="PATCH", body=b'{"workers": 8}')).code == 202
    assert [arguments for _, _, arguments in sent] == [{"n": 3}, {"n": 8}]


async def test_taken_name_is_409(raw):
    write_record(None, name="taken")
    response = await raw("clusterkit/api/clusters", method="POST", body=b'{"name": "taken"}')
    assert response.code == 409 and "already running" in body_of(response)["message"]


async def test_unreachable_owner_is_502_not_500(raw):
    record = write_record(None, scheduler_address="tcp://127.0.0.1:9")
    with dask.config.set({"clusterkit.control.timeout": "1s"}):
        scale = await raw(f"clusterkit/api/clusters/{record.id}", method="PATCH", body=b'{"workers": 2}')
        stop = await raw(f"clusterkit/api/clusters/{record.id}", method="DELETE")
    assert scale.code == 502 and "Could not reach the scheduler" in body_of(scale)["message"]
    assert stop.code == 502


@pytest.mark.slow
async def test_scale_and_stop_a_real_cluster(raw, cluster):
    """A TLS cluster (the default): the server finds its credentials and scales and stops it."""
    record = cluster.record
    assert record.scheduler_address.startswith("tls://"), record.scheduler_address
    response = await raw(f"clusterkit/api/clusters/{record.id}", method="PATCH", body=b'{"workers": 3}')
    assert response.code == 202, response.body
    await wait_for(lambda: len(cluster.client.scheduler_info(n_workers=-1)["workers"]) == 3)
    await wait_for(lambda: (registry.find(record.id) or record).workers == 3)
    # Adapt: the range as the owner got it, parsed once by clusterkit.options on the way in.
    response = await raw(f"clusterkit/api/clusters/{record.id}", method="PATCH",
                         body=b'{"adapt": {"minimum": 1, "maximum": 3}}')
    assert response.code == 202, response.body
    await wait_for(lambda: getattr(cluster.cluster, "_adaptive", None) is not None)
    assert (cluster.cluster._adaptive.minimum, cluster.cluster._adaptive.maximum) == (1, 3)
    response = await raw(f"clusterkit/api/clusters/{record.id}", method="DELETE")
    assert response.code == 202 and body_of(response)["status"] == "stopping"
    await wait_for(lambda: registry.find(record.id) is None)


@pytest.mark.slow
async def test_create_a_detached_cluster_and_stop_it(raw):
    body = json.dumps({"name": "from-api", "workers": 1, "threads": 1, "memory": "512MiB"}).encode()
    response = await raw("clusterkit/api/clusters", method="POST", body=body)
    assert response.code == 201, response.body
    created = body_of(response)
    assert created["owner"] == "daemon" and created["name"] == "from-api"
    assert response.headers["Location"].endswith(f"clusterkit/api/clusters/{created['id']}")
    listed = body_of(await raw("clusterkit/api/clusters"))
    assert [c["name"] for c in listed] == ["from-api"]
    response = await raw(f"clusterkit/api/clusters/{created['id']}", method="DELETE")
    assert response.code == 202, response.body
    await wait_for(lambda: registry.find(created["id"]) is None)
    await wait_for(lambda: not psutil.pid_exists(created["owner_pid"])
                   or psutil.Process(created["owner_pid"]).status() == psutil.STATUS_ZOMBIE)


# -- the dashboard proxy -------------------------------------------------------------------
async def test_proxy_forwards_http_without_jupyter_credentials(raw, jp_auth_header):
    async with fake_dashboard() as dashboard:
        record = write_record(dashboard.port)
        token = jp_auth_header["Authorization"].split()[-1]
        response = await raw(f"clusterkit/dashboard/{record.id}/status?x=1&token={token}")
        assert response.code == 200
        assert body_of(response)["uri"] == "/status?x=1"
        posted = await raw(f"clusterkit/dashboard/{record.id}/status", method="POST", body=b"{}")
        assert posted.code == 200 and body_of(posted) == {"method": "POST", "uri": "/status"}
        for _, _, headers in dashboard.hits:
            assert not {"Authorization", "Cookie"} & set(headers)


async def test_proxy_websocket(http_server_client, jp_http_port, jp_base_url, jp_auth_header):
    async with fake_dashboard() as dashboard:
        record = write_record(dashboard.port)
        url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}clusterkit/dashboard/{record.id}/status/ws"
        await socket_echo(url, jp_auth_header)
        for headers in ({}, {"Authorization": "token wrong"}):
            with pytest.raises(HTTPClientError) as refused:
                await websocket_connect(HTTPRequest(url, headers=headers))
            assert refused.value.code == 403
        with pytest.raises(HTTPClientError) as unknown:
            await websocket_connect(HTTPRequest(url.replace(record.id, "feedfeedfeed"), headers=jp_auth_header))
        assert unknown.value.code == 404


@pytest.mark.slow
async def test_proxy_serves_a_real_dask_dashboard(raw, cluster):
    base = f"clusterkit/dashboard/{cluster.record.id}"
    plots = await raw(f"{base}/individual-plots.json")
    assert plots.code == 200
    assert "/individual-task-stream" in body_of(plots).values()
    for page in ("status", "individual-task-stream", "individual-progress"):
        response = await raw(f"{base}/{page}")
        assert response.code == 200, page
        assert b"<html" in response.body.lower()
    root = await raw(f"{base}/")
    assert root.code in (301, 302, 307) and root.headers["Location"].endswith(f"{base}/status")


@pytest.mark.slow
async def test_dask_own_link_reaches_the_cluster_by_its_dashboard_port(raw, cluster):
    """``distributed.dashboard.link`` on a hub is ``clusterkit/dashboard/port-{port}/status``."""
    port = cluster.record.dashboard_port
    plots = await raw(f"clusterkit/dashboard/port-{port}/individual-plots.json")
    assert plots.code == 200 and "/individual-task-stream" in body_of(plots).values()
    unknown = port + 1 if port < 65535 else port - 1
    assert (await raw(f"clusterkit/dashboard/port-{unknown}/status")).code == 404
    assert (await raw("clusterkit/dashboard/port-x1/status")).code == 404


async def test_dashboard_not_on_this_machine_is_refused(raw):
    record = write_record(8787, kind="address", scheduler_address="tcp://10.200.0.99:8786")
    response = await raw(f"clusterkit/dashboard/{record.id}/status")
    assert response.code == 403 and "loopback dashboards only" in body_of(response)["message"]
    no_dashboard = write_record(None)
    assert (await raw(f"clusterkit/dashboard/{no_dashboard.id}/status")).code == 404


# -- security ------------------------------------------------------------------------------
def _routes(record_id: str) -> list[tuple[str, str]]:
    api, one, dash = "clusterkit/api/clusters", f"clusterkit/api/clusters/{record_id}", f"clusterkit/dashboard/{record_id}/status"
    return [
        ("GET", api), ("POST", api),
        ("GET", one), ("PATCH", one), ("DELETE", one),
        *[(method, dash) for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")],
        ("GET", "clusterkit/dashboard/feedfeedfeed/status"),
    ]


async def test_auth_matrix(raw):
    """No token or a bad token: every route and method answers 403, and nothing reaches a dashboard."""
    async with fake_dashboard() as dashboard:
        record = write_record(dashboard.port)
        codes = {}
        for method, path in _routes(record.id):
            for auth in (False, "not-the-token"):
                response = await raw(path, method=method, auth=auth)
                codes[(method, path, auth)] = response.code
        assert {key: code for key, code in codes.items() if code != 403} == {}
        assert dashboard.hits == []
        # With the token, the same requests get through (whatever the route then answers).
        with dask.config.set({"clusterkit.control.timeout": "1s"}):
            for method, path in _routes(record.id):
                # (a body that is refused: this test must not start a real cluster)
                body = {"PATCH": b'{"workers": 1}', "POST": b'{"workers": -1}'}.get(method)
                response = await raw(path, method=method, body=body)
                assert response.code not in (403, 500), (method, path, response.code, response.body)
        assert dashboard.hits


async def test_xsrf_is_enforced_for_cookie_authenticated_writes(raw, jp_auth_header):
    cookies = await login_cookies(raw, jp_auth_header)
    async with fake_dashboard() as dashboard:
        record = write_record(dashboard.port)
        cookie = {"Cookie": cookie_header(cookies)}
        with_xsrf = {**cookie, "X-XSRFToken": cookies["_xsrf"]}
        # Reading with the cookie alone works.
        assert (await raw("clusterkit/api/clusters", auth=False, headers=cookie)).code == 200
        writes = [
            ("POST", "clusterkit/api/clusters", b'{"workers": -1}'),
            ("PATCH", f"clusterkit/api/clusters/{record.id}", b"{}"),
            ("DELETE", "clusterkit/api/clusters/feedfeedfeed", None),
            ("POST", f"clusterkit/dashboard/{record.id}/status", b"{}"),
        ]
        for method, path, body in writes:
            refused = await raw(path, method=method, auth=False, headers=cookie, body=body)
            assert refused.code == 403, (method, path)
        assert dashboard.hits == []
        for method, path, body in writes:
            allowed = await raw(path, method=method, auth=False, headers=with_xsrf, body=body)
            assert allowed.code in (200, 400, 404), (method, path, allowed.code)
        assert len(dashboard.hits) == 1


async def test_ssrf_payloads_never_leave_the_registered_dashboard(raw, jp_http_port, jp_base_url, jp_auth_header):
    import asyncio

    async with fake_dashboard() as dashboard, canary() as target:
        record = write_record(dashboard.port)
        port = target.port
        not_pages = [  # valid id, but not one of Dask's dashboard pages: 404 before any connection
            f"clusterkit/dashboard/{record.id}/localhost@127.0.0.1:{port}/",
            f"clusterkit/dashboard/{record.id}/@127.0.0.1:{port}/",
            f"clusterkit/dashboard/{record.id}/user:pass@127.0.0.1:{port}/foo",
            f"clusterkit/dashboard/{record.id}//127.0.0.1:{port}/",
            f"clusterkit/dashboard/{record.id}/http://127.0.0.1:{port}/",
            f"clusterkit/dashboard/{record.id}/..%2F..%2F127.0.0.1:{port}",
        ]
        reaching = [f"clusterkit/dashboard/{record.id}/status?host=127.0.0.1:{port}"]
        unknown = [  # not a registered id: 404 before any connection
            f"clusterkit/dashboard/127.0.0.1:{port}/status",
            f"clusterkit/dashboard/{port}/status",
            f"clusterkit/dashboard/{record.id}:{port}/status",
            f"clusterkit/dashboard/localhost@127.0.0.1:{port}/",
            f"clusterkit/dashboard/user:pass@127.0.0.1:{port}/foo",
        ]
        for path in not_pages + unknown:
            assert (await raw(path)).code == 404, path
        for path in reaching:
            response = await raw(path)
            assert response.code == 200, (path, response.code)
        for payload in (f"localhost@127.0.0.1:{port}/ws", f"user:pass@127.0.0.1:{port}/ws"):
            url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}clusterkit/dashboard/{record.id}/{payload}"
            with pytest.raises(HTTPClientError) as refused:
                await websocket_connect(HTTPRequest(url, headers=jp_auth_header))
            assert refused.value.code == 404
        await asyncio.sleep(0.5)
        assert target.connections == 0
        assert len(dashboard.hits) == len(reaching)
        assert all(uri.startswith("/status") for _, uri, _ in dashboard.hits)


async def test_names_are_escaped_wherever_sent(raw):
    name = "</script><script>alert(1)</script>"
    record = write_record(None, name=name)
    response = await raw("clusterkit/api/clusters")
    assert response.headers["Content-Type"].startswith("application/json")
    assert b"<script>" not in response.body and b"</script>" not in response.body
    assert body_of(response) == []  # the registry skips a record whose name is not a valid name
    missing = await raw("clusterkit/api/clusters/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert missing.code == 404 and b"<script>" not in missing.body
    proxy_missing = await raw("clusterkit/dashboard/%3Cscript%3E/status")
    assert proxy_missing.code == 404 and b"<script>" not in proxy_missing.body
    assert proxy_missing.headers["Content-Type"].startswith("application/json")
    one = await raw(f"clusterkit/api/clusters/{record.id}")
    assert one.code == 404 and b"<script>" not in one.body


async def test_create_passes_the_form_to_the_daemon(raw, monkeypatch):
    from clusterkit import daemon

    calls = []

    def fake_spawn(**options):
        calls.append(options)
        record = registry.ClusterRecord.new(name="over-ssh", kind="ssh", scheduler_address="tcp://127.0.0.1:1",
                                            owner="daemon")
        registry.write(record)
        return record

    monkeypatch.setattr(daemon, "spawn", fake_spawn)
    body = json.dumps({"name": "over-ssh", "workers": 2, "threads": 2, "memory": "1GiB",
                       "ssh_hosts": ["host-a", "ada@host-b"]}).encode()
    response = await raw("clusterkit/api/clusters", method="POST", body=body)
    assert response.code == 201, response.body
    assert calls == [{"name": "over-ssh", "n_workers": 2, "threads_per_worker": 2, "memory_limit": 2**30,
                      "ssh_hosts": ["host-a", "ada@host-b"], "insecure": False}]
    assert body_of(response)["kind"] == "ssh"


async def test_create_can_be_turned_off(raw, jp_serverapp):
    settings = jp_serverapp.web_app.settings["clusterkit_reaper"].settings
    settings.allow_create = False
    response = await raw("clusterkit/api/clusters", method="POST", body=b"{}")
    assert response.code == 403 and "allow_create" in body_of(response)["message"]


@pytest.mark.parametrize(
    ("hosts", "fragment"),
    [
        ("host1", "non-empty list"),
        ([""], "not a host name"),
        (["-oProxyCommand=touch /tmp/x"], "not starting with '-'"),
        (["node1", "-p2222"], "not starting with '-'"),
        (["node 1"], "not a host name"),
        ([" node1"], "not a host name"),
        (["node1\n"], "not a host name"),
        (["node1;reboot"], "not a host name"),
        (["a" * 256], "at most 255 characters"),
        ([1], "must be a string"),
        ([None], "must be a string"),
        (["node"] * 257, "at most 256"),
    ],
)
async def test_ssh_hosts_are_checked_like_the_magics(raw, monkeypatch, hosts, fragment):
    """The REST body's hosts pass the magics' rule (clusterkit.hostnames): 400 with the same sentence."""
    import argparse

    from clusterkit import daemon, magics

    monkeypatch.setattr(daemon, "spawn", lambda **options: pytest.fail(f"spawn reached with {options}"))
    response = await raw("clusterkit/api/clusters", method="POST", body=json.dumps({"ssh_hosts": hosts}).encode())
    assert response.code == 400, response.body
    message = body_of(response)["message"]
    assert message.startswith("'ssh_hosts': ") and fragment in message, message
    if isinstance(hosts, list) and len(hosts) < 3 and all(isinstance(h, str) for h in hosts):
        bad = next(h for h in hosts if h != "node1")
        with pytest.raises(argparse.ArgumentTypeError) as magic:
            magics._host(bad)
        assert str(magic.value) in message


async def test_concurrent_starts_are_limited_to_the_setting(raw, monkeypatch, jp_serverapp):
    """Two starts run at once (the default); a third is 429 with a message, and works once they finish."""
    import asyncio
    import threading

    from clusterkit import daemon

    settings = jp_serverapp.web_app.settings["clusterkit_reaper"].settings
    assert settings.max_starting_clusters == 2
    release, entered = threading.Event(), []

    def slow_spawn(**options):
        entered.append(options["name"])
        assert release.wait(60), "the test never released the fake daemon"
        record = registry.ClusterRecord.new(name=options["name"], kind="local", scheduler_address="tcp://127.0.0.1:1",
                                            owner="daemon")
        registry.write(record)
        return record

    monkeypatch.setattr(daemon, "spawn", slow_spawn)

    def create(name):
        return raw("clusterkit/api/clusters", method="POST", body=json.dumps({"name": name}).encode())

    first, second = asyncio.ensure_future(create("one")), asyncio.ensure_future(create("two"))
    await wait_for(lambda: len(entered) == 2)
    third = await create("three")
    assert third.code == 429, third.body
    assert "max_starting_clusters" in body_of(third)["message"]
    assert sorted(entered) == ["one", "two"]
    release.set()
    assert [(await first).code, (await second).code] == [201, 201]
    await wait_for(lambda: settings.starting_now == 0)
    assert (await create("three")).code == 201
