"""A Binder launch, simulated from a plain ``git clone``, with the session's memory measured.

1. ``git clone`` of this repository: no build output (``clusterkit/labextension/`` is
   git-ignored and absent). A new virtual environment gets what ``binder/environment.yml``
   lists (Python's and Node's pins are checked against the interpreter and the ``node``
   here, the other packages come from pip, as conda-forge names them alike); then
   ``binder/postBuild`` builds the JupyterLab extension with Node and installs clusterkit,
   and fails unless Jupyter lists both extensions enabled. pip's and yarn's caches are reused.
2. ``binder/start`` launches JupyterLab with a non-root ``base_url`` and
   ``JUPYTERHUB_SERVICE_PREFIX`` set, as a BinderHub does, pinned to one CPU.
3. Two kernels run notebooks 00 and 05 (their solutions) at the same time, on the shared
   ``curriculum`` cluster; every grader passes; 00's dashboard link, fetched through the
   Jupyter server, returns Dask's dashboard.
4. All the while, the proportional memory (PSS) of every process of the session (server,
   daemon, scheduler, workers, both kernels, found by the runtime folder in their
   environment) is summed twice a second; the peak must stay under 1.6 GB (Binder gives 2 GB).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import nbformat
import psutil
import pytest
import yaml

from tests.notebooks import harness
from tests.notebooks.harness import ROOT

MEMORY_BUDGET = 1.6e9
PREFIX = "/user/learner/"

EXECUTE = r'''
import json, sys
import nbclient, nbformat
from ipc_kernel import IPCKernelManager  # copied beside this script
nb = nbformat.read(sys.argv[1], as_version=4)
client = nbclient.NotebookClient(nb, timeout=170, kernel_name="python3", kernel_manager_class=IPCKernelManager,
                                 allow_errors=True)
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
        "import json\nfrom clusterkit import teach\n"
        "s = teach.cluster()\n"
        "print('LINKS' + json.dumps([s.dashboard_url, s.client.dashboard_link]))")
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


def _clone_repository(target: pathlib.Path) -> None:
    """``git clone`` of the committed repository: exactly what Binder fetches, no local build output."""
    _run(["git", "clone", "--quiet", str(ROOT), str(target)])
    assert not (target / "clusterkit" / "labextension").exists(), "the built extension must not be in git"


def _environment_packages(environment: pathlib.Path) -> list[str]:
    """The pip requirements equivalent to binder/environment.yml; checks its Python and Node pins."""
    spec = yaml.safe_load(environment.read_text())
    packages = []
    for dependency in spec["dependencies"]:
        if not isinstance(dependency, str):
            continue
        name, _, version = re.match(r"([A-Za-z0-9_.-]+)(=?)(.*)", dependency).groups()  # type: ignore[union-attr]
        if name == "python":
            assert version and f"{sys.version_info.major}.{sys.version_info.minor}".startswith(version.lstrip("=")), (
                f"binder/environment.yml pins python {version}; this test runs {sys.version.split()[0]}")
        elif name == "nodejs":
            node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout
            assert version and node.lstrip("v").split(".")[0] == version.lstrip("=").split(".")[0], (
                f"binder/environment.yml pins nodejs {version}; node here is {node.strip()}")
        elif name != "pip":
            packages.append(name + version)
    return packages


class SessionMemory:
    """Peak summed PSS (and RSS) of the session's processes, sampled in a thread.

    The session is every process whose environment names ``runtime_dir``, except the
    nbclient runners of this test (``execute.py``), which stand in for the browser.
    """

    def __init__(self, runtime_dir: str) -> None:
        self.runtime_dir = runtime_dir
        self.peak = 0
        self.peak_rss = 0
        self.peak_processes: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="binder-memory", daemon=True)

    def __enter__(self) -> SessionMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.5):
            total, rss, parts = 0, 0, {}
            for process in psutil.process_iter(["pid", "name"]):
                try:
                    if process.pid == me or process.environ().get("JUPYTER_RUNTIME_DIR") != self.runtime_dir:
                        continue
                    command = " ".join(process.cmdline())
                    if "execute.py" in command:
                        continue
                    info = process.memory_full_info()
                except psutil.Error:
                    continue
                total += info.pss
                rss += info.rss
                parts[f"{process.pid} {command[-70:]}"] = info.pss
            self.peak_rss = max(self.peak_rss, rss)
            if total > self.peak:
                self.peak, self.peak_processes = total, parts


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


def _start_notebook(repo: pathlib.Path, stem: str, script: pathlib.Path, venv: pathlib.Path,
                    env: dict[str, str]) -> subprocess.Popen[str]:
    """Run the solutions variant of one notebook in a fresh kernel of the Binder environment."""
    source = nbformat.read(repo / "notebooks" / f"{stem}.ipynb", as_version=4)
    target = repo / "notebooks" / f"_binder-{stem}.ipynb"
    nbformat.write(harness.variant(source, "solutions"), target)
    return subprocess.Popen([str(venv / "bin" / "python"), str(script), str(target)], cwd=repo / "notebooks", env=env,
                            text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)


def _result_of(runner: subprocess.Popen[str], name: str, deadline: float) -> dict[str, object]:
    assert runner.stdout is not None
    line = ""
    while not line.startswith("RESULT"):
        line = runner.stdout.readline()
        assert line or runner.poll() is None, f"the runner of {name} exited without a result"
        assert time.monotonic() < deadline, f"{name} did not finish within its time"
    return dict(json.loads(line[len("RESULT"):]))


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_binder_launch(tmp_path: pathlib.Path) -> None:
    repo = tmp_path / "repo"
    venv = tmp_path / "venv"
    _clone_repository(repo)
    packages = _environment_packages(repo / "binder" / "environment.yml")
    _run([sys.executable, "-m", "venv", str(venv)])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER"))}
    runtime = str(tmp_path / "runtime")
    env.update(
        PATH=f"{venv / 'bin'}:{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        JUPYTER_RUNTIME_DIR=runtime,
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    started = time.monotonic()
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *packages], cwd=repo, env=env, timeout=600)
    build = _run(["bash", "binder/postBuild"], cwd=repo, env=env, timeout=1000)
    assert "enabled" in build.stdout, build.stdout
    assert (venv / "share" / "jupyter" / "labextensions" / "clusterkit" / "package.json").is_file()
    build_seconds = time.monotonic() - started

    port, token = _free_port(), secrets.token_hex(16)
    env["JUPYTERHUB_SERVICE_PREFIX"] = PREFIX
    base = f"http://127.0.0.1:{port}{PREFIX}"
    cpu = sorted(os.sched_getaffinity(0))[0]
    server_command = [
        "taskset", "-c", str(cpu),  # Binder's one CPU; everything the server starts inherits it
        "bash", "binder/start", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--ServerApp.base_url={PREFIX}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={repo}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:  # Binder runs as an unprivileged user; this machine may not
        server_command.append("--allow-root")
    log = (tmp_path / "server.log").open("w")
    memory = SessionMemory(runtime)
    try:
        with memory, _process(server_command, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT) as server:
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
            shutil.copy(pathlib.Path(__file__).with_name("ipc_kernel.py"), tmp_path / "ipc_kernel.py")
            kernel_env = {**env, "DASK_CLUSTERKIT__LOCAL__MEMORY_LIMIT": "900MiB"}
            runners = {stem: _start_notebook(repo, stem, script, venv, kernel_env)
                       for stem in ("00-why-distributed", "05-actors-and-state")}
            try:
                deadline = time.monotonic() + 300
                results = {stem: _result_of(runner, stem, deadline) for stem, runner in runners.items()}
                for stem, result in results.items():
                    assert result["errors"] == [], (stem, result["errors"])
                    grades = result["grades"]
                    assert grades and all(g.startswith("PASSED") for g in grades), (stem, grades)  # type: ignore[union-attr]
                links = results["00-why-distributed"]["links"]
                assert links, results["00-why-distributed"]["probe"]
                for link in links:  # type: ignore[union-attr]
                    assert link and link.startswith(PREFIX), f"dashboard link {link!r} does not go through {PREFIX}"
                    status, body = _fetch(f"http://127.0.0.1:{port}{link}", token)
                    assert status == 200, f"GET {link} through the server: HTTP {status}: {body[:500]}"
                    assert "Dask" in body or "bokeh" in body.lower(), f"{link} did not return the dashboard"
            finally:
                for runner in runners.values():
                    if runner.poll() is None and runner.stdin is not None:
                        with contextlib.suppress(OSError):
                            runner.stdin.write("\n")
                            runner.stdin.flush()
                for runner in runners.values():
                    try:
                        runner.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        os.killpg(runner.pid, signal.SIGKILL)
                        runner.wait()
    finally:
        log.close()
        subprocess.run(["timeout", "60", "clusterkit", "down", "--all"], cwd=repo, env=env, capture_output=True)
        # The measurement is reported whatever failed above (it is the number Binder cares about).
        top = sorted(memory.peak_processes.items(), key=lambda item: -item[1])
        report = {"peak_pss_MB": round(memory.peak / 1e6), "peak_rss_sum_MB": round(memory.peak_rss / 1e6),
                  "build_seconds": round(build_seconds),
                  "load_average": os.getloadavg(),
                  "processes_at_peak": {name: round(pss / 1e6) for name, pss in top}}
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        (ROOT / "test-artifacts" / "binder-memory.json").write_text(json.dumps(report, indent=1))
        print(f"binder build {build_seconds:.0f} s; session peak memory (PSS, server + daemon + scheduler + "
              f"workers + kernels of 00 and 05): {memory.peak / 1e6:.0f} MB (RSS summed: "
              f"{memory.peak_rss / 1e6:.0f} MB)")
    assert memory.peak > 0, "no process of the session was measured"
    assert memory.peak < MEMORY_BUDGET, f"the Binder session peaked at {memory.peak / 1e6:.0f} MB: {report}"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
