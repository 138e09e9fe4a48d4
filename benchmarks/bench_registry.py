"""What a listing costs with a crowded registry: 1,000 records, half of them dead or lost.

    python -m benchmarks.bench_registry [--records 1000] [--rounds 5]

Plants ``--records`` records in a temporary registry: a quarter with a dead owner
(pruned by readers, never probed), a quarter "lost" (a live owner, a closed loopback
port), a quarter "lost" behind a port that never answers (a listener whose backlog is
full, so each probe waits for the timeout), and a quarter running (a real listener).
Times the three listings users and the server run: ``registry.list_records`` plus
``registry.statuses`` (what ``%cluster list`` and the server's GET do), the text table
of ``%cluster list``, and the ``clusterkit ls`` command as a process. Prints JSON lines
with the load average, which says whether the machine was quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _plant(folder: pathlib.Path, count: int, live: socket.socket, silent: socket.socket) -> None:
    from clusterkit import registry

    dead = _dead_pid()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nobody listens here: connections are refused at once
    ports = {"live": live.getsockname()[1], "silent": silent.getsockname()[1], "closed": closed_port}
    for number in range(count):
        kind = ("dead", "closed", "silent", "live")[number % 4]
        port = ports.get(kind, closed_port)
        record = registry.ClusterRecord.new(
            name=f"c{number}", kind="local", scheduler_address=f"tcp://127.0.0.1:{port}",
            owner_pid=dead if kind == "dead" else os.getpid(),
        )
        registry.write(record, folder)


def _time(call, rounds: int) -> dict[str, float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return {"median_s": round(statistics.median(times), 4), "max_s": round(max(times), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    folder = pathlib.Path(tempfile.mkdtemp(prefix="ck-bench-registry-")) / "registry"
    os.environ["CLUSTERKIT_REGISTRY_DIR"] = str(folder)
    from clusterkit import registry
    from clusterkit.magics import format_table

    live = socket.create_server(("127.0.0.1", 0), backlog=4096)
    silent = socket.create_server(("127.0.0.1", 0), backlog=0)
    # Fill the silent listener's backlog so further connects hang (SYNs dropped) until the timeout.
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(silent.getsockname())
        fillers.append(filler)
    try:
        _plant(folder, args.records, live, silent)
        listed = registry.list_records(folder)
        counts: dict[str, int] = {}
        for status in registry.statuses(listed).values():
            counts[status] = counts.get(status, 0) + 1
        results = {
            "list_and_probe": _time(lambda: registry.statuses(registry.list_records(folder)), args.rounds),
            "cluster_list_table": _time(lambda: format_table(registry.list_records(folder)), args.rounds),
            "clusterkit_ls_process": _time(
                lambda: subprocess.run([sys.executable, "-m", "clusterkit.cli", "ls"], check=True,
                                       capture_output=True),
                max(1, args.rounds // 2),
            ),
        }
        for name, figures in results.items():
            print(json.dumps({"bench": "registry", "case": name, "records": args.records,
                              "listed": len(listed), "statuses": counts, **figures,
                              "loadavg": os.getloadavg()}))
    finally:
        for filler in fillers:
            filler.close()
        live.close()
        silent.close()
        shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
