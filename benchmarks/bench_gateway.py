"""Start-to-ready time of a Dask Gateway cluster: ``ck.gateway(n_workers=1)`` vs dask-gateway's own client.

A real ``dask-gateway-server`` (process backend, loopback; see tests/gateway_server.py)
starts once; each round then starts a cluster, asks for one worker, and stops the
clock when a task has come back. "clusterkit" includes the checks before the start
(gateway reachable, credentials, options) and writing the registry record; "dask-gateway"
is ``Gateway.new_cluster()``, ``scale(1)``, a client and the same task. Rounds
alternate so both see the same machine load, which is printed (``os.getloadavg``).

    .venv/bin/python -m benchmarks.bench_gateway [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import tempfile
import time

import dask

from tests.gateway_server import GatewayServer, start_gateway


def time_clusterkit(server: GatewayServer) -> float:
    import clusterkit as ck

    start = time.perf_counter()
    session = ck.gateway(n_workers=1)
    assert session.client.submit(sum, [1, 2]).result() == 3
    elapsed = time.perf_counter() - start
    session.stop()
    return elapsed


def time_dask_gateway(server: GatewayServer) -> float:
    from dask_gateway import Gateway

    from clusterkit.backends.gateway import quiet_after_close

    start = time.perf_counter()
    with Gateway(server.address, auth=server.auth()) as gateway:
        cluster = gateway.new_cluster()
        cluster.scale(1)
        client = cluster.get_client(set_as_default=False)
        client.wait_for_workers(1)
        assert client.submit(sum, [1, 2]).result() == 3
        elapsed = time.perf_counter() - start
        client.close()
        cluster.close()
        quiet_after_close(cluster.gateway)
    quiet_after_close(gateway)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("CLUSTERKIT_REGISTRY_DIR", tempfile.mkdtemp(prefix="ck-bench-registry-"))
    import dask_gateway  # noqa: F401 - its config defaults first

    server = start_gateway(pathlib.Path(tempfile.mkdtemp(prefix="ck-bench-gateway-")))
    times: dict[str, list[float]] = {"clusterkit": [], "dask-gateway": []}
    try:
        with dask.config.set(server.dask_config()):
            for round_ in range(args.rounds):
                for name, run in (("clusterkit", time_clusterkit), ("dask-gateway", time_dask_gateway)):
                    elapsed = run(server)
                    times[name].append(elapsed)
                    print(json.dumps({"round": round_, "who": name, "seconds": round(elapsed, 3),
                                      "loadavg": [round(x, 2) for x in os.getloadavg()]}), flush=True)
    finally:
        server.stop()
    for name, values in times.items():
        print(f"{name:13s} start-to-ready median {statistics.median(values):.2f} s "
              f"(runs: {', '.join(f'{v:.2f}' for v in values)})")
    ratio = statistics.median(times["clusterkit"]) / statistics.median(times["dask-gateway"])
    print(f"clusterkit / dask-gateway: {ratio:.2f}; load average now {os.getloadavg()}")


if __name__ == "__main__":
    main()
