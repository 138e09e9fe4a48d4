"""Run every benchmark and write one Markdown report of ratios: ``python -m benchmarks``.

``python -m benchmarks [--smoke] [--only map,roundtrip] [--out benchmarks/results.md]``

Each benchmark runs in its own process, one after the other (they would disturb
each other otherwise), with the load average printed before and after it, so a
busy machine shows in the report. The report names the machine and the versions of
Python, Dask, Ray and ipyparallel, then lists each benchmark's ratio tables as it
printed them, and its raw JSON records. ``--smoke`` runs every benchmark at tiny
sizes to check that the set works; its numbers mean nothing.

Peers are measured in the same run: install them with ``pip install -e .[bench]``
(a missing peer is an ``error`` record in the report, never a silent gap).
Benchmarks written elsewhere (``bench_security``, ``bench_registry``, ...) join the
run when their module exists. ``bench_ssh_start`` needs the SSH test hosts and runs
on its own (see its docstring).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

#: name, module, full-size arguments, smoke arguments
BENCHMARKS: list[tuple[str, str, list[str], list[str]]] = [
    ("map", "benchmarks.bench_map", [], ["--sizes", "2000,5000", "--repeat", "1"]),
    ("roundtrip", "benchmarks.bench_roundtrip", [], ["--calls", "20"]),
    ("profile", "benchmarks.profile_roundtrip", [], ["--calls", "20", "--rounds", "1"]),
    ("start", "benchmarks.bench_start", [], ["--rounds", "1", "--pss-rounds", "1", "--cold-rounds", "1", "--settle", "0.5"]),
    ("scaling", "benchmarks.bench_scaling", [], ["--repeat", "1"]),
    ("taskstream", "benchmarks.bench_taskstream", [], ["--items", "5000", "--tasks", "200", "--rounds", "1"]),
    ("imap", "benchmarks.bench_imap", [], ["--items", "200000"]),
    # 64 workers as threads of the kernel; worker processes only as many as fit 2 cores (see its docstring)
    ("cluster64", "benchmarks.bench_cluster64", ["--mode", "threads", "--workers", "64"],
     ["--mode", "threads", "--workers", "4", "--seconds", "3", "--batch", "200", "--pairs", "1", "--rounds", "1"]),
    ("cluster-processes", "benchmarks.bench_cluster64", ["--mode", "processes", "--workers", "16", "--rounds", "2"],
     ["--mode", "processes", "--workers", "4", "--seconds", "3", "--batch", "200", "--pairs", "1", "--rounds", "1"]),
    ("security", "benchmarks.bench_security", [], ["--smoke"]),
    ("registry", "benchmarks.bench_registry", [], ["--smoke"]),
    ("gateway", "benchmarks.bench_gateway", [], ["--rounds", "1"]),
]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    """One line naming the machine and the versions measured."""
    cpus = os.cpu_count()
    versions = ", ".join(f"{p} {_version(p)}" for p in ("clusterkit", "dask", "distributed", "ray", "ipyparallel"))
    return f"{platform.platform()}, {cpus} CPUs, Python {platform.python_version()}; {versions}"


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def run_one(name: str, module: str, arguments: list[str], timeout: float) -> tuple[str, list[dict], str]:
    """Run one benchmark module; return its printed tables, JSON records and a status line."""
    before = _load()
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", module, *arguments], capture_output=True, text=True,
                              timeout=timeout, check=False)
        output, code = done.stdout, done.returncode
        error = done.stderr.strip().splitlines()[-1:] if code else []
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        code, error = -1, [f"timed out after {timeout:.0f} s"]
    records, text = [], []
    for line in output.splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
                continue
            except ValueError:
                pass
        text.append(line)
    status = (f"load average before {before}, after {_load()}; {time.monotonic() - started:.0f} s; "
              + ("ok" if code == 0 else f"**failed** (exit {code}): {' '.join(error)}"))
    return "\n".join(text).strip(), records, status


def _accepts(module: str, option: str) -> bool:
    spec = importlib.util.find_spec(module)
    try:
        return spec is not None and spec.origin is not None and option in open(spec.origin, encoding="utf-8").read()
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check that the set runs")
    parser.add_argument("--only", default="", help="comma-separated names: " + ",".join(b[0] for b in BENCHMARKS))
    parser.add_argument("--out", default="benchmarks/results.md")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    wanted = {n for n in args.only.split(",") if n}
    lines = [f"# clusterkit benchmarks{' (smoke run: sizes too small to mean anything)' if args.smoke else ''}",
             "", f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; {machine()}", ""]
    for name, module, full, smoke in BENCHMARKS:
        if wanted and name not in wanted:
            continue
        if importlib.util.find_spec(module) is None:
            continue  # written by another part of the project, not here yet
        arguments = smoke if args.smoke else full
        if "--smoke" in arguments and not _accepts(module, "--smoke"):
            arguments = [a for a in arguments if a != "--smoke"]
        print(f"# {name}: load average {_load()}", flush=True)
        text, records, status = run_one(name, module, arguments, args.timeout)
        failed = [f"{r.get('contender')}: {r['error']}" for r in records if "error" in r]
        if failed:
            status += "; **peers that did not run**: " + "; ".join(failed)
        print(f"# {name}: {status}", flush=True)
        lines += [f"## {name}", "", status, "", "```", text or "(no table printed)", "```", "",
                  "<details><summary>records</summary>", "", "```json",
                  *[json.dumps(r) for r in records], "```", "</details>", ""]
    report = "\n".join(lines) + "\n"
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(report)
    print(report)


if __name__ == "__main__":
    main()
