"""Execute curriculum notebooks under Binder-like limits and read their grader lines.

Binder gives one CPU and 2 GB. Each run here gets:

* one CPU: ``taskset -c <cpu>`` (the kernel, the scheduler and every worker inherit it);
* 2 GB of memory: a memory cgroup nested under this process's own cgroup when the
  machine lets us make one (v1 or v2), else ``prlimit --as`` (an address-space
  limit per process, a weaker stand-in);
* 3 minutes: the run is killed, and fails, after that.

Two variants of every notebook are run (see :func:`variant`):

``solutions``
    as shipped: every exercise's reference solution runs; every grader must pass.
``stubs``
    each ``solution`` cell's source replaced by the ``exercise`` cell before it (the
    TODO stub a learner starts from), and cells tagged ``demo`` dropped (no grader
    depends on them); every grader must fail, with its hint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
RUNNER = pathlib.Path(__file__).with_name("run_notebook.py")
SOLUTION_DIR = NOTEBOOK_DIR / "solutions"
ANSWER_DIR = pathlib.Path(__file__).with_name("answers")
#: solutions: each exercise cell holds its reference solution (as if loaded); every grader passes.
#: stubs: as shipped, TODO stubs in place; demos dropped; every grader says NOT YET with a hint.
#: answers: the stubs variant, and after each stub's grader the extra answers of answers/NN.py,
#: each followed by the grader again: wrong ones must get NOT YET with a hint, right ones PASSED.
#: One kernel and cluster for all. The test runs solutions and answers (stubs is its first part).
VARIANTS = ("solutions", "stubs", "answers")

MEMORY_LIMIT = 2 * 10**9  # Binder's 2 GB
TIME_LIMIT = 180.0  # seconds per notebook run
GRADE_LINE = re.compile(r"^(PASSED|NOT YET) (\S+): (.*)$", re.MULTILINE)


def notebooks() -> list[pathlib.Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))


def tags(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def exercise_of(grader_cell: Any) -> str:
    """The exercise id a grader cell checks: ``teach.check("01.launch-then-get", ...)``."""
    return str(grader_cell.source.split('"')[1])


def answers(notebook_number: str) -> list[tuple[str, str, str]]:
    """The extra answers for one notebook: (``wrong``|``right``, exercise id, source), in file order.

    ``answers/NN.py`` holds blocks that start with ``# %% wrong <id>`` (a plausible wrong
    answer: the grader must say NOT YET with a hint) or ``# %% right <id>`` (another
    correct answer: the grader must pass it).
    """
    path = ANSWER_DIR / f"{notebook_number}.py"
    if not path.exists():
        return []
    blocks: list[tuple[str, str, str]] = []
    header: list[str] | None = None
    lines: list[str] = []
    for line in [*path.read_text().splitlines(), "# %% end"]:
        if line.startswith("# %%"):
            if header is not None:
                blocks.append((header[0], header[1], "\n".join(lines).strip("\n")))
            words = line[4:].split()
            header = words if words and words[0] in ("wrong", "right") else None
            lines = []
        else:
            lines.append(line)
    return blocks


def variant(nb: nbformat.NotebookNode, which: str) -> nbformat.NotebookNode:
    """One of the notebook's three test variants (see the module docstring)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    if which not in VARIANTS:
        raise ValueError(which)
    if which == "solutions":
        for index, cell in enumerate(nb.cells):
            if "exercise" in tags(cell):
                ident = exercise_of(nb.cells[index + 2])
                cell.source = (SOLUTION_DIR / f"{ident}.py").read_text()
        return nb
    cells = []
    for cell in nb.cells:
        if "demo" in tags(cell):
            continue
        if which == "answers" and "grader" in tags(cell):
            # First the stub as shipped (after its %load cell, which must run nothing), then each answer.
            cells.append(nbformat.from_dict({**cell, "metadata": {**cell.metadata, "expect": "NOT YET"}}))
            ident = exercise_of(cell)
            for kind, exercise, source in nb.metadata["clusterkit_answers"]:
                if exercise != ident:
                    continue
                cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": ["answer"]}))
                check = nbformat.v4.new_code_cell(cell.source, metadata={
                    "tags": ["grader"], "expect": "PASSED" if kind == "right" else "NOT YET"})
                cells.append(check)
            continue
        cells.append(cell)
    for cell in cells:
        cell.pop("id", None)  # the notebooks are nbformat 4.4: no cell ids
    nb.cells = cells
    nb.metadata.pop("clusterkit_answers", None)
    return nb


# -- limits ------------------------------------------------------------------------------
def _own_cgroup(controller_root: pathlib.Path, hierarchy_match: str) -> pathlib.Path | None:
    try:
        lines = pathlib.Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if hierarchy_match in controllers.split(",") or (hierarchy_match == "" and controllers == ""):
            return controller_root / path.lstrip("/")
    return None


@dataclasses.dataclass
class MemoryCage:
    """A memory cgroup for one run (or nothing, if the machine does not allow one)."""

    path: pathlib.Path | None
    version: int  # 1, 2, or 0 for none

    @classmethod
    def create(cls, limit: int) -> MemoryCage:
        name = f"clusterkit-nb-{uuid.uuid4().hex[:8]}"
        v1 = _own_cgroup(pathlib.Path("/sys/fs/cgroup/memory"), "memory")
        if v1 is not None and v1.is_dir():
            with contextlib.suppress(OSError):
                path = v1 / name
                path.mkdir()
                try:
                    (path / "memory.limit_in_bytes").write_text(str(limit))
                    return cls(path, 1)
                except OSError:
                    path.rmdir()
        v2_root = pathlib.Path("/sys/fs/cgroup")
        if (v2_root / "cgroup.controllers").exists():
            own = _own_cgroup(v2_root, "")
            if own is not None and "memory" in (own / "cgroup.subtree_control").read_text():
                with contextlib.suppress(OSError):
                    path = own / name
                    path.mkdir()
                    try:
                        (path / "memory.max").write_text(str(limit))
                        return cls(path, 2)
                    except OSError:
                        path.rmdir()
        return cls(None, 0)

    def join(self) -> None:
        """Move the calling process into the cgroup (runs in the child, before exec)."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def peak(self) -> int | None:
        if self.path is None:
            return None
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        with contextlib.suppress(OSError, ValueError):
            return int((self.path / name).read_text())
        return None

    def oom_killed(self) -> bool:
        if self.path is None:
            return False
        with contextlib.suppress(OSError):
            if self.version == 1:
                return int((self.path / "memory.failcnt").read_text()) > 0 and "oom_kill 0" not in (
                    self.path / "memory.oom_control"
                ).read_text()
            return "oom_kill 0" not in (self.path / "memory.events").read_text()
        return False

    def leftover_pids(self) -> list[int]:
        if self.path is None:
            return []
        with contextlib.suppress(OSError):
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        return []

    def remove(self) -> None:
        if self.path is None:
            return
        for pid in self.leftover_pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)


# -- one run -----------------------------------------------------------------------------
@dataclasses.dataclass
class Outcome:
    notebook: str
    variant: str
    cpu: int
    seconds: float
    timed_out: bool
    returncode: int | None
    peak_cgroup_bytes: int | None
    peak_rss_bytes: int | None
    memory_limit: str
    grades: list[tuple[str, str, str]]  # (PASSED|NOT YET, exercise, message), one per grader cell
    expected: list[str]  # per grader cell: the status it must print
    grader_cells: int
    bad_grader_cells: list[str]
    errors: list[str]
    leftover_processes: list[str]
    log: str

    def summary(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "variant": self.variant,
            "seconds": round(self.seconds, 1),
            "peak_cgroup_MiB": None if self.peak_cgroup_bytes is None else round(self.peak_cgroup_bytes / 2**20),
            "peak_rss_MiB": None if self.peak_rss_bytes is None else round(self.peak_rss_bytes / 2**20),
            "memory_limit": self.memory_limit,
            "passed": sum(g[0] == "PASSED" for g in self.grades),
            "failed": sum(g[0] == "NOT YET" for g in self.grades),
        }


class Run:
    """One notebook variant executing in a limited subprocess."""

    def __init__(self, path: pathlib.Path, which: str, cpu: int, workdir: pathlib.Path) -> None:
        self.path = path
        self.which = which
        self.cpu = cpu
        self.workdir = workdir / f"{path.stem}-{which}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        source = nbformat.read(path, as_version=4)
        source.metadata["clusterkit_answers"] = answers(path.name[:2])
        nb = variant(source, which)
        shutil.copytree(SOLUTION_DIR, self.workdir / "solutions", dirs_exist_ok=True)  # for %load
        self.input = self.workdir / path.name
        nbformat.write(nb, self.input)
        self.output = self.workdir / "executed.ipynb"
        self.stats = self.workdir / "stats.json"
        self.cage = MemoryCage.create(MEMORY_LIMIT)
        env = dict(os.environ)
        env.update(
            {
                # Each run gets its own registry: two kernels must not share a "curriculum" cluster.
                "CLUSTERKIT_REGISTRY_DIR": str(self.workdir / "registry"),
                # A nested cgroup is invisible to clusterkit.machine (which reads the container's
                # own limit, as on Binder): tell the cluster its share of Binder's 2 GB directly.
                "DASK_CLUSTERKIT__LOCAL__MEMORY_LIMIT": "900MiB",
                "PYTHONUNBUFFERED": "1",
                "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            }
        )
        command = ["taskset", "-c", str(cpu)]
        if self.cage.path is None:
            command += ["prlimit", f"--as={MEMORY_LIMIT * 2}"]  # virtual memory exceeds RSS
            env["MALLOC_ARENA_MAX"] = "2"
        command += [sys.executable, str(RUNNER), str(self.input), str(self.output), str(self.stats)]
        self.memory_limit = f"cgroup v{self.cage.version}" if self.cage.path else "prlimit --as"
        self.log_path = self.workdir / "runner.log"
        self._log = self.log_path.open("w")
        self.started = time.monotonic()
        self.ended: float | None = None
        self.timed_out = False
        self.process = subprocess.Popen(
            command,
            cwd=NOTEBOOK_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=self.cage.join,
            start_new_session=True,
        )

    def poll(self, timeout: float = TIME_LIMIT) -> bool:
        """Has the run ended? Kills it (and marks it timed out) once ``timeout`` s have passed."""
        if self.ended is not None:
            return True
        if self.process.poll() is not None:
            self.ended = time.monotonic()
            return True
        if time.monotonic() - self.started > timeout:
            self.timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.ended = time.monotonic()
            return True
        return False

    def wait(self, timeout: float = TIME_LIMIT) -> Outcome:
        while not self.poll(timeout):
            time.sleep(0.1)
        assert self.ended is not None
        timed_out = self.timed_out
        seconds = self.ended - self.started
        self._log.close()
        leftovers = []
        for pid in self.cage.leftover_pids():
            with contextlib.suppress(OSError):
                leftovers.append(f"{pid}: {pathlib.Path(f'/proc/{pid}/cmdline').read_text().replace(chr(0), ' ')}")
        peak = self.cage.peak()
        self.cage.remove()
        stats = json.loads(self.stats.read_text()) if self.stats.exists() else {}
        leftovers += stats.get("leftover_processes", [])
        return self._outcome(seconds, timed_out, peak, stats, leftovers)

    def _outcome(self, seconds: float, timed_out: bool, peak: int | None, stats: dict[str, Any],
                 leftovers: list[str]) -> Outcome:
        grades: list[tuple[str, str, str]] = []
        expected: list[str] = []
        bad: list[str] = []
        errors: list[str] = list(stats.get("errors", []))
        cells = 0
        if self.output.exists():
            nb = nbformat.read(self.output, as_version=4)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "error":
                        errors.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
                if "grader" in tags(cell):
                    cells += 1
                    found = GRADE_LINE.findall(text)
                    if len(found) != 1:
                        bad.append(f"cell {index} printed {len(found)} grade lines: {text[:300]!r}")
                    grades += found[:1] or [("MISSING", "?", text[:200])]
                    default = "PASSED" if self.which == "solutions" else "NOT YET"
                    expected.append(cell.metadata.get("expect", default))
        elif not timed_out:
            errors.append("the runner wrote no executed notebook")
        return Outcome(
            notebook=self.path.name,
            variant=self.which,
            cpu=self.cpu,
            seconds=seconds,
            timed_out=timed_out,
            returncode=self.process.returncode,
            peak_cgroup_bytes=peak,
            peak_rss_bytes=stats.get("peak_rss_bytes"),
            memory_limit=self.memory_limit,
            grades=grades,
            expected=expected,
            grader_cells=cells,
            bad_grader_cells=bad,
            errors=errors,
            leftover_processes=leftovers,
            log=self.log_path.read_text()[-4000:],
        )


def cpus_for_runs() -> list[int]:
    """CPUs to pin runs to: two different ones when we have two, so both variants run at once."""
    available = sorted(os.sched_getaffinity(0))
    return available[:2] if len(available) >= 2 else available[:1]


def run_variants(path: pathlib.Path, workdir: pathlib.Path) -> dict[str, Outcome]:
    """Run the three variants of one notebook, each pinned to one CPU, as many at once as CPUs allow.

    ``answers`` includes the stubs run (every stub graded as shipped), so two runs cover all three checks.
    """
    cpus = cpus_for_runs()
    queue = ["answers", "solutions"]
    running: dict[int, Run] = {}
    done: dict[str, Outcome] = {}
    while queue or running:
        for cpu in cpus:
            if cpu not in running and queue:
                running[cpu] = Run(path, queue.pop(0), cpu, workdir)
        for cpu, run in list(running.items()):
            if run.poll():
                done[run.which] = run.wait()
                del running[cpu]
        time.sleep(0.1)
    return done


def cleanup(workdir: pathlib.Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
