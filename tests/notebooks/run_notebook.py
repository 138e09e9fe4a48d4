"""Execute one notebook with nbclient; record wall time, peak memory and leftovers.

Usage: python run_notebook.py INPUT.ipynb OUTPUT.ipynb STATS.json

Run by :mod:`tests.notebooks.harness` inside the CPU and memory limits, so the
kernel, the scheduler and the workers it starts all inherit them. Cell errors
are kept in the output notebook (``allow_errors``) so every problem is reported.
"""

from __future__ import annotations

import json
import pathlib
import sys
import threading
import time

import nbclient
import nbformat
import psutil
from ipc_kernel import IPCKernelManager  # this folder is on sys.path: the script runs by path


def tree_rss(root: psutil.Process) -> int:
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total


def main(source: str, target: str, stats_path: str) -> int:
    me = psutil.Process()
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.25):
            peak[0] = max(peak[0], tree_rss(me))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    nb = nbformat.read(source, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=170,
        startup_timeout=120,  # a loaded machine can take a minute to start a kernel
        kernel_name="python3",
        kernel_manager_class=IPCKernelManager,
        allow_errors=True,
        store_widget_state=True,
        resources={"metadata": {"path": str(pathlib.Path(source).parent)}},
    )
    errors = []
    start = time.monotonic()
    try:
        client.execute(cwd=str(pathlib.Path.cwd()))
    except Exception as exc:  # a dead kernel or a cell timeout
        errors.append(f"{type(exc).__name__}: {str(exc)[:500]}")
    seconds = time.monotonic() - start
    nbformat.write(nb, target)
    # The kernel is gone; its cluster must be gone with it.
    deadline = time.monotonic() + 15
    while me.children(recursive=True) and time.monotonic() < deadline:
        time.sleep(0.2)
    waited = time.monotonic() - (deadline - 15)
    leftovers = []
    for child in me.children(recursive=True):
        try:
            leftovers.append(f"{child.pid}: {' '.join(child.cmdline())}")
            child.kill()
        except psutil.Error:
            pass
    done.set()
    sampler.join()
    stats = {"seconds": seconds, "peak_rss_bytes": peak[0], "errors": errors, "leftover_processes": leftovers,
             "waited_for_children": waited}
    pathlib.Path(stats_path).write_text(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
