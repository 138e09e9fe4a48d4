"""Two users on one real JupyterHub: each logs in, starts a cluster and maps; neither sees the other's.

One hub for the module (tests/hub/conftest.py), both users in one browser (two
contexts, so two sets of cookies). The tests run in order and build on each other:
log in and compute, check the sidebars, then try every way one user could reach
the other's cluster. Screenshots go to ``test-artifacts/`` (copies in ``docs/``).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_sidebar import run as kernel_run  # code into demo.ipynb's kernel
from tests.hub.conftest import Hub, HubUser

pytestmark = [pytest.mark.allow_leaks, pytest.mark.slow, pytest.mark.timeout(600)]

DOCS = ARTIFACTS.parent / "docs"
CLUSTER = {"hub-alice": "alice-cluster", "hub-bob": "bob-cluster"}
TIMINGS: dict[str, float] = {}

# Run code in demo.ipynb's kernel; report an exception instead of failing on it.
_TRY_IN_KERNEL = """async (code) => {
  const nb = [...window.jupyterapp.shell.widgets('main')].find(w => w.context && w.context.path === 'demo.ipynb');
  const reply = await nb.sessionContext.session.kernel.requestExecute({code}).done;
  return {status: reply.content.status, error: reply.content.ename || ''};
}"""


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"hub-{name}.png"))


def sidebar_names(page: Any) -> set[str]:
    return set(page.locator("#clusterkit-sidebar li.ck-Cluster").evaluate_all(
        "items => items.map(i => i.dataset.clusterName)"))


@pytest.fixture(scope="module")
def pages(hub: Hub, browser: Any) -> Any:
    """One logged-in JupyterLab page per user, under ``/user/<name>/``."""
    contexts = {name: browser.new_context(viewport={"width": 1400, "height": 900}) for name in hub.users}
    opened = {}
    for name, context in contexts.items():
        page = context.new_page()
        page.set_default_timeout(120_000)
        opened[name] = page
    try:
        yield opened
    finally:
        for context in contexts.values():
            context.close()


def _login_and_map(hub: Hub, page: Any, user: HubUser) -> None:
    notebook = {"cells": [], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                         "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    started = time.monotonic()
    page.goto(f"{hub.url}hub/login")
    page.fill("#username_input", user.name)
    page.fill("#password_input", hub.password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user.name}/lab**", timeout=240_000)
    status, _ = hub.request(f"user/{user.name}/api/contents/demo.ipynb", token=user.token, method="PUT",
                            body={"type": "notebook", "content": notebook})
    assert status in (200, 201)
    page.goto(f"{hub.url}user/{user.name}/lab/tree/demo.ipynb")
    page.wait_for_selector("#clusterkit-sidebar", state="attached")
    page.wait_for_function("() => window.jupyterapp && [...window.jupyterapp.shell.widgets('main')]"
                           ".some(w => w.context && w.context.path === 'demo.ipynb' && w.sessionContext.session)")
    out = kernel_run(page, f"%load_ext clusterkit\n%cluster start -n 1 --threads 2 --memory 1GiB "
                           f"--name {CLUSTER[user.name]}\nimport clusterkit as ck\n"
                           "print('SUM', sum(ck.map(lambda x: x * x, range(200))))")
    assert "SUM 2646700" in out, out
    TIMINGS[user.name] = time.monotonic() - started


def test_each_user_logs_in_and_maps_on_their_own_cluster(hub: Hub, pages: Any) -> None:
    for name, user in hub.users.items():
        _login_and_map(hub, pages[name], user)
    load = os.getloadavg()
    print("\nhub login to first map: " + ", ".join(f"{n} {t:.1f} s" for n, t in TIMINGS.items())
          + f" (load average {load[0]:.2f})")
    # Each user's kernel runs as that user: the cluster record is in their own home.
    for name, user in hub.users.items():
        out = kernel_run(pages[name], "import os, clusterkit.registry as r\n"
                                      "print('UID', os.getuid(), 'DIR', r.default_directory())")
        assert f"UID {user.uid} DIR {user.home}" in out, out


def test_each_sidebar_lists_only_its_users_clusters(hub: Hub, pages: Any) -> None:
    for name, page in pages.items():
        page.evaluate("() => window.jupyterapp.commands.execute('clusterkit:show-sidebar')")
        page.locator(f"#clusterkit-sidebar li.ck-Cluster[data-cluster-name='{CLUSTER[name]}']").wait_for(
            state="visible", timeout=30_000)
    time.sleep(4)  # two more polls of the sidebar: nothing else appears
    for name, page in pages.items():
        assert sidebar_names(page) == {CLUSTER[name]}
        status, listed = hub.request(f"user/{name}/clusterkit/api/clusters", token=hub.users[name].token)
        assert status == 200 and [c["name"] for c in listed] == [CLUSTER[name]]
    shot(pages["hub-alice"], "alice")
    shot(pages["hub-bob"], "bob")


def test_dashboard_iframe_loads_through_the_hub_prefix(hub: Hub, pages: Any) -> None:
    page, alice = pages["hub-alice"], hub.users["hub-alice"]
    _, listed = hub.request("user/hub-alice/clusterkit/api/clusters", token=alice.token)
    status, plots = hub.request(f"user/hub-alice/clusterkit/dashboard/{listed[0]['id']}/individual-plots.json",
                                token=alice.token)
    assert status == 200 and "/individual-task-stream" in plots.values(), (status, plots)
    entry = page.locator(f"#clusterkit-sidebar li.ck-Cluster[data-cluster-name='{CLUSTER['hub-alice']}']")
    entry.locator("button[data-action='dashboard']").click()
    entry.locator("button[data-pane='individual-task-stream'], .ck-mod-error").first.wait_for()
    assert entry.locator(".ck-mod-error").count() == 0, entry.locator(".ck-mod-error").inner_text()
    entry.locator("button[data-pane='individual-task-stream']").click()
    iframe = page.locator(".ck-DashboardPane[data-pane='individual-task-stream'] iframe")
    iframe.wait_for(state="visible")
    src = iframe.get_attribute("src") or ""
    assert "/user/hub-alice/clusterkit/dashboard/" in src, src
    frame = page.frame_locator(".ck-DashboardPane[data-pane='individual-task-stream'] iframe")
    frame.locator(".bk-Canvas, .bk-root, canvas").first.wait_for(state="attached", timeout=60_000)
    kernel_run(page, "import time\n_ = ck.map(lambda x: time.sleep(0.02) or x, range(100))")
    shot(page, "alice-dashboard")


def test_the_other_user_cannot_list_proxy_scale_or_stop(hub: Hub) -> None:
    alice, bob = hub.users["hub-alice"], hub.users["hub-bob"]
    status, listed = hub.request("user/hub-alice/clusterkit/api/clusters", token=alice.token)
    assert status == 200
    cluster_id = listed[0]["id"]
    attempts = [
        ("GET", "clusterkit/api/clusters", None),
        ("GET", f"clusterkit/api/clusters/{cluster_id}", None),
        ("PATCH", f"clusterkit/api/clusters/{cluster_id}", {"workers": 3}),
        ("DELETE", f"clusterkit/api/clusters/{cluster_id}", None),
        ("GET", f"clusterkit/dashboard/{cluster_id}/status", None),
        ("GET", f"clusterkit/dashboard/{cluster_id}/individual-task-stream", None),
        ("POST", "clusterkit/api/clusters", {"name": "bob-on-alice"}),
    ]
    for method, path, body in attempts:
        status, reply = hub.request(f"user/hub-alice/{path}", token=bob.token, method=method, body=body)
        assert status in (403, 404), (method, path, status, reply)
    # Nor through his own server, nor with no token at all.
    status, listed_by_bob = hub.request("user/hub-bob/clusterkit/api/clusters", token=bob.token)
    assert status == 200 and cluster_id not in {c["id"] for c in listed_by_bob}
    status, _ = hub.request(f"user/hub-alice/clusterkit/api/clusters/{cluster_id}", token="", method="DELETE")
    assert status in (302, 401, 403, 404)
    # Alice's cluster is untouched: still running with its one worker.
    status, record = hub.request(f"user/hub-alice/clusterkit/api/clusters/{cluster_id}", token=alice.token)
    assert status == 200 and record["status"] == "running" and record["workers"] == 1, record


def test_the_other_user_cannot_connect_to_the_scheduler(hub: Hub) -> None:
    """Bob, a local user on the same host, can reach alice's scheduler port: it must refuse him (TLS)."""
    alice, bob = hub.users["hub-alice"], hub.users["hub-bob"]
    _, listed = hub.request("user/hub-alice/clusterkit/api/clusters", token=alice.token)
    address = listed[0]["scheduler_address"]
    tcp_address = address.replace("tls://", "tcp://")
    probe = (
        "import sys\nfrom distributed import Client\n"
        "for address in sys.argv[1:]:\n"
        "    try:\n"
        "        client = Client(address, timeout=10)\n"
        "    except Exception as exc:\n"
        "        print('REFUSED', address, type(exc).__name__)\n"
        "    else:\n"
        "        print('CONNECTED', address, len(client.scheduler_info()['workers']))\n"
        "        client.close()\n"
    )
    result = hub.as_user(bob, ["-c", probe, address, tcp_address], timeout=120)
    assert "CONNECTED" not in result.stdout, (
        f"another local user connected to {address} without credentials:\n{result.stdout}{result.stderr[-2000:]}")
    assert result.stdout.count("REFUSED") == 2, result.stdout + result.stderr[-2000:]


def test_gateway_clusters_of_both_users_on_one_gateway_each_sees_only_their_own(hub: Hub, pages: Any) -> None:
    """Both users start a cluster on the one dask-gateway-server the hub's config names."""
    gateway_names = {}
    for name, page in pages.items():
        started = time.monotonic()
        out = kernel_run(page, f"%cluster gateway -n 1 --name gw-{name}\n"
                               "print('GSUM', sum(ck.map(lambda x: x + 1, range(50))))\n"
                               "print('GWID', ck.current().cluster.name)")
        assert "GSUM 1275" in out, out
        TIMINGS[f"gateway {name}"] = time.monotonic() - started
        gateway_names[name] = out.split("GWID ", 1)[1].split()[0]
    print("\ngateway cluster start to first map: " + ", ".join(
        f"{n} {t:.1f} s" for n, t in TIMINGS.items() if n.startswith("gateway")) +
        f" (load average {os.getloadavg()[0]:.2f})")
    for name, page in pages.items():
        other = next(n for n in pages if n != name)
        out = kernel_run(page, "from clusterkit.backends.gateway import list_clusters\n"
                               "print('LISTED', sorted(c.name for c in list_clusters()))")
        assert f"LISTED {[gateway_names[name]]}" in out, out
        # Nor can this user attach to the other's cluster by its gateway name.
        result = page.evaluate(_TRY_IN_KERNEL, f"ck.connect('gateway:{gateway_names[other]}')")
        assert result["status"] == "error", result
        page.locator(f"#clusterkit-sidebar li.ck-Cluster[data-cluster-name='gw-{name}']").wait_for(
            state="visible", timeout=30_000)
        assert f"gw-{other}" not in sidebar_names(page)
    for name, page in pages.items():
        kernel_run(page, f"%cluster stop gw-{name}")


def test_dark_theme_screenshots_for_the_docs(hub: Hub, pages: Any) -> None:
    page = pages["hub-alice"]
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=60_000)
    background = page.locator("#clusterkit-sidebar").evaluate("node => getComputedStyle(node).backgroundColor")
    channels = [int(c) for c in background[background.index("(") + 1:background.index(")")].split(",")[:3]]
    assert sum(channels) / 3 < 80, background
    shot(page, "alice-dark")
    DOCS.mkdir(exist_ok=True)
    for name in ("alice", "bob", "alice-dark"):
        shutil.copy(ARTIFACTS / f"hub-{name}.png", DOCS / f"hub-{name}.png")
