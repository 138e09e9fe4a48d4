"""Start time of a 3-host SSH cluster: clusterkit (preflight included) vs Dask's plain SSHCluster.

Both start a scheduler on the first host and one worker on each of three hosts
(network namespaces with their own sshd, see tests/backends/ssh_hosts.py; run as
root, else loopback addresses), and the clock stops when all three workers are
connected. Rounds alternate so both see the same machine load.

    .venv/bin/python benchmarks/bench_ssh_start.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import statistics
import sys
import time
from collections.abc import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "backends"))

import ssh_hosts

from clusterkit.backends.ssh import start_ssh


def time_clusterkit(hosts: ssh_hosts.SSHHosts) -> float:
    from distributed import Client

    start = time.perf_counter()
    cluster = start_ssh(hosts.addresses, **hosts.connect_options())  # type: ignore[arg-type]
    with Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(len(hosts.addresses))
        elapsed = time.perf_counter() - start
    cluster.close()
    return elapsed


def time_dask(hosts: ssh_hosts.SSHHosts, worker_class: str) -> float:
    from distributed import Client, SSHCluster

    first = hosts.addresses[0]
    start = time.perf_counter()
    cluster = SSHCluster(
        [first, *hosts.addresses],  # scheduler, then one worker per host
        connect_options={"known_hosts": hosts.known_hosts, "client_keys": [hosts.client_key],
                         "username": hosts.user, "port": hosts.port},
        scheduler_options={"host": first, "port": 0, "dashboard_address": "127.0.0.1:0"},
        worker_class=worker_class,
        remote_python=sys.executable,
    )
    with Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(len(hosts.addresses))
        elapsed = time.perf_counter() - start
    cluster.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    hosts = ssh_hosts.start_hosts(3)
    contenders: dict[str, Callable[[], float]] = {
        "clusterkit (preflight + 3 workers)": lambda: time_clusterkit(hosts),
        "dask SSHCluster (Nanny, its default)": lambda: time_dask(hosts, "distributed.Nanny"),
        "dask SSHCluster (worker_class=Worker)": lambda: time_dask(hosts, "distributed.Worker"),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    try:
        print(f"hosts: {hosts.addresses} ({hosts.mode}); rounds: {args.rounds}")
        for _ in range(args.rounds):
            for name, run in contenders.items():
                times[name].append(run())
    finally:
        hosts.stop()
    ours = statistics.median(times["clusterkit (preflight + 3 workers)"])
    for name, values in times.items():
        median = statistics.median(values)
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name:40s} median {median:5.2f} s  (runs: {runs})  ratio to clusterkit {median / ours:4.2f}")


if __name__ == "__main__":
    main()
