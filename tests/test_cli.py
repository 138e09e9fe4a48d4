"""The clusterkit command and its daemon, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import psutil

from clusterkit import registry
from tests.conftest import wait_until


def clusterkit(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clusterkit.cli", *args], capture_output=True, text=True, timeout=120, check=check
    )


def test_up_ls_connect_down_leaves_nothing_running(registry_dir):
    result = clusterkit("up", "--name", "demo", "-n", "1", "--memory", "1GiB")
    assert "Started demo (1 workers)" in result.stdout
    assert "%cluster connect demo" in result.stdout
    [record] = registry.list_records()
    assert record.owner == "daemon" and record.name == "demo"
    daemon = psutil.Process(record.owner_pid)
    owned = [daemon, *daemon.children(recursive=True)]
    try:
        assert len(owned) >= 2  # the daemon and its worker
        listing = clusterkit("ls").stdout
        assert "demo" in listing and "daemon" in listing and "running" in listing
        assert json.loads(clusterkit("ls", "--json").stdout)[0]["name"] == "demo"
        assert "already running" in clusterkit("up", "--name", "demo", check=False).stderr

        # A notebook attaches with the magic and computes on the detached cluster.
        from nbclient import NotebookClient

        cells = [
            "%load_ext clusterkit",
            "%cluster connect demo",
            "ck = __import__('clusterkit'); print(ck.current().client.submit(sum, [20, 22]).result())",
        ]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        NotebookClient(nb, timeout=120, kernel_name="python3").execute()
        assert nb.cells[2].outputs[0]["text"].strip() == "42"
        assert registry.find("demo") is not None  # the notebook's exit did not stop it

        # Authenticated: the record says tls://, its credentials sit beside it, private.
        assert record.scheduler_address.startswith("tls://")
        credentials = registry.credentials_directory(record.id)
        assert oct(credentials.stat().st_mode & 0o777) == "0o700"
        assert {p.name for p in credentials.iterdir()} == {"ca.pem", "scheduler.pem", "worker.pem", "client.pem"}
        assert all(p.stat().st_mode & 0o777 == 0o600 for p in credentials.iterdir())
        [log] = registry_dir.glob("daemon-*.log")
        assert log.stat().st_mode & 0o777 == 0o600

        result = clusterkit("down", "demo")
        assert "Stopped demo." in result.stdout
        # The daemon is gone and so is everything it wrote: no "stopping" record, no
        # credentials, no log (a clean stop). Nothing is left for a reader to prune.
        assert not daemon.is_running() or daemon.status() == psutil.STATUS_ZOMBIE
        assert sorted(p.name for p in registry_dir.iterdir()) == []
    finally:
        clusterkit("down", "--all", check=False)
    assert wait_until(
        lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in owned), timeout=10
    )
    assert registry.list_records(include_stale=True) == []


def test_down_of_unknown_names_and_bad_usage():
    result = clusterkit("down", "ghost", check=False)
    assert result.returncode == 1 and "no cluster named 'ghost'" in result.stderr
    result = clusterkit("down", check=False)
    assert result.returncode == 2 and "give a NAME or --all" in result.stderr
    result = clusterkit("up", "--name", "<bad>", check=False)
    assert result.returncode == 2 and "Cluster name '<bad>' is not allowed" in result.stderr
    assert "No clusters are registered" in clusterkit("ls").stdout


def test_a_daemon_that_cannot_start_reports_its_log(registry_dir):
    from clusterkit import daemon
    from clusterkit.errors import BackendError

    # A factory-free way to fail after the options passed: a name already taken by a record.
    taken = registry.ClusterRecord.new(name="broken", kind="local", scheduler_address="tcp://127.0.0.1:9")
    registry.write(taken)
    try:
        daemon.spawn(name="broken", timeout=60)
    except BackendError as exc:
        assert "exited" in str(exc) and "already running" in str(exc)
    else:  # pragma: no cover - a started daemon would be a bug
        clusterkit("down", "broken", check=False)
        raise AssertionError("the daemon started a second cluster named 'broken'")
    [log] = registry_dir.glob("daemon-*.log")  # kept after a failure, for the message
    assert log.stat().st_mode & 0o777 == 0o600


def test_lab_serves_the_first_notebook_on_loopback(tmp_path):
    import re
    import signal
    import socket
    import urllib.request

    import nbformat as nbf

    nbf.write(nbf.v4.new_notebook(), tmp_path / "00-first.ipynb")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clusterkit.cli",
            "lab",
            str(tmp_path),
            "--no-browser",
            f"--ServerApp.port={port}",
            "--IdentityProvider.token=secret-token",
            "--LabApp.news_url=None",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if re.search(rf"http://127\.0\.0\.1:{port}/lab/tree/00-first\.ipynb", line):
                url = f"http://127.0.0.1:{port}/"
                break
        assert url, "JupyterLab did not print its URL:\n" + "".join(seen)

        def page_served() -> bool:  # the URL is printed a moment before the socket accepts
            try:
                with urllib.request.urlopen(
                    f"{url}lab/tree/00-first.ipynb?token=secret-token", timeout=30
                ) as page:
                    return page.status == 200
            except OSError:
                return False

        assert wait_until(page_served, timeout=30)
        with urllib.request.urlopen(f"{url}api/contents?token=secret-token", timeout=30) as response:
            assert "00-first.ipynb" in response.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
