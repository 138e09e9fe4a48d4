"""A Binder launch, simulated: a fresh environment built only from ``binder/`` and the repo.

1. A new virtual environment gets ``binder/requirements.txt``, then ``binder/postBuild``
   runs in a copy of the repository (what would be committed, plus the prebuilt
   JupyterLab extension). postBuild itself fails unless Jupyter lists the clusterkit
   server extension and labextension as enabled. pip's cache is reused.
2. ``binder/start`` launches JupyterLab with a non-root ``base_url`` and
   ``JUPYTERHUB_SERVICE_PREFIX`` set, as a BinderHub does.
3. Notebook 00 runs in that environment's kernel; its dashboard link, fetched
   through the Jupyter server, must return Dask's dashboard.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.notebooks.harness import ROOT

PREFIX = "/user/learner/"

EXECUTE = r'''
import json, sys
import nbclient, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
client = nbclient.NotebookClient(nb, timeout=170, kernel_name="python3", allow_errors=True)
out = {"errors": [], "grades": []}
with client.setup_kernel():
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            client.execute_cell(cell, index)
            for o in cell.get("outputs", []):
                if o.get("output_type") == "error":
                    out["errors"].append(f"cell {index}: {o['ename']}: {o['evalue']}")
                if o.get("output_type") == "stream":
                    out["grades"] += [l for l in o["text"].splitlines() if l.startswith(("PASSED", "NOT YET"))]
    probe = nbformat.v4.new_code_cell(
        "import json\nfrom clusterkit import teach\nfrom clusterkit.widgets.dashboard import dashboard_url\n"
        "s = teach.cluster()\nprint('LINKS' + json.dumps([s.dashboard_url, dashboard_url(s)]))")
    nb.cells.append(probe)
    client.execute_cell(probe, len(nb.cells) - 1)
    text = "".join(o.get("text", "") for o in probe.outputs)
    out["links"] = json.loads(text.split("LINKS", 1)[1]) if "LINKS" in text else []
    out["probe"] = text[-2000:] + "".join(o.get("evalue", "") for o in probe.outputs)
    print("RESULT" + json.dumps(out), flush=True)
    # Keep the kernel (and its cluster) alive until the test has fetched the links.
    sys.stdin.readline()
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _copy_repository(target: pathlib.Path) -> None:
    """What a clone would hold (tracked and new, unignored files), plus the prebuilt extension."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listing):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    prebuilt = ROOT / "clusterkit" / "labextension"
    if prebuilt.is_dir():
        shutil.copytree(prebuilt, target / "clusterkit" / "labextension", dirs_exist_ok=True)


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _fetch(url: str, token: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


@contextlib.contextmanager
def _process(command: list[str], **kwargs: object) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(command, text=True, start_new_session=True, **kwargs)  # type: ignore[call-overload]
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_binder_launch(tmp_path: pathlib.Path) -> None:
    repo = tmp_path / "repo"
    venv = tmp_path / "venv"
    _copy_repository(repo)
    _run([sys.executable, "-m", "venv", str(venv)])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER"))}
    env.update(
        PATH=f"{venv / 'bin'}:{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    started = time.monotonic()
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
         cwd=repo, env=env, timeout=600)
    build = _run(["bash", "binder/postBuild"], cwd=repo, env=env, timeout=600)
    assert "enabled" in build.stdout, build.stdout
    build_seconds = time.monotonic() - started

    port, token = _free_port(), secrets.token_hex(16)
    env["JUPYTERHUB_SERVICE_PREFIX"] = PREFIX
    base = f"http://127.0.0.1:{port}{PREFIX}"
    server_command = [
        "bash", "binder/start", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--ServerApp.base_url={PREFIX}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={repo}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:  # Binder runs as an unprivileged user; this machine may not
        server_command.append("--allow-root")
    log = (tmp_path / "server.log").open("w")
    try:
        with _process(server_command, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT) as server:
            # binder/start first starts the shared cluster and imports the workspace.
            deadline = time.monotonic() + 180
            while not (_port_open(port) and _fetch(base + "api/status", token)[0] == 200):
                assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
                assert time.monotonic() < deadline, (
                    "the Jupyter server did not start within 180 s:\n" + (tmp_path / "server.log").read_text()[-3000:]
                )
                time.sleep(0.5)
            workspaces = _run(["jupyter", "lab", "workspaces", "export", "default"], cwd=repo, env=env).stdout
            assert "clusterkit-sidebar" in workspaces, workspaces[:2000]

            script = tmp_path / "execute.py"
            script.write_text(EXECUTE)
            notebook = repo / "notebooks" / "00-why-distributed.ipynb"
            with _process([str(venv / "bin" / "python"), str(script), str(notebook)], cwd=repo / "notebooks",
                          env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as runner:
                assert runner.stdout is not None and runner.stdin is not None
                line = ""
                deadline = time.monotonic() + 240
                while not line.startswith("RESULT"):
                    line = runner.stdout.readline()
                    assert line or runner.poll() is None, "the notebook runner exited without a result"
                    assert time.monotonic() < deadline, "notebook 00 did not finish within 4 minutes"
                result = json.loads(line[len("RESULT"):])
                assert result["errors"] == [], result["errors"]
                assert result["grades"] and all(g.startswith("PASSED") for g in result["grades"]), result["grades"]
                assert result["links"], result["probe"]
                for link in result["links"]:
                    assert link and link.startswith(PREFIX), f"dashboard link {link!r} does not go through {PREFIX}"
                    status, body = _fetch(f"http://127.0.0.1:{port}{link}", token)
                    assert status == 200, f"GET {link} through the server: HTTP {status}: {body[:500]}"
                    assert "Dask" in body or "bokeh" in body.lower(), f"{link} did not return the dashboard"
                runner.stdin.write("\n")
                runner.stdin.flush()
                runner.wait(timeout=60)
    finally:
        log.close()
        subprocess.run(["clusterkit", "down", "--all"], cwd=repo, env=env, capture_output=True, timeout=60)
    print(f"binder build {build_seconds:.0f} s, launch and notebook 00 {time.monotonic() - started - build_seconds:.0f} s")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
