"""SSH clusters on real hosts: three network namespaces with their own sshd (see ssh_hosts.py).

Each test checks afterwards that no process is left on any host. Functions run on
the workers are pickled by value (this module is not importable there).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import operator
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator

import cloudpickle
import dask
import psutil
import pytest
import ssh_hosts

import clusterkit as ck
from clusterkit.backends import ssh_preflight
from clusterkit.backends.ssh import SSHCluster, add_host
from tests.conftest import wait_until
from tests.security.attacks import assert_owner_still_works, assert_refused, attack
from tests.security.conftest import reachable_registry  # noqa: F401  (a fixture)
from tests.security.users import other_user  # noqa: F401  (a fixture)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(autouse=True)
def short_timeouts() -> Iterator[None]:
    """Detect lost workers in seconds, not minutes (comm.timeouts.tcp stays above 11 s)."""
    with dask.config.set({
        "distributed.comm.timeouts.connect": "5s",
        "distributed.scheduler.worker-ttl": "6s",
        "distributed.deploy.lost-worker-timeout": "1s",
    }):
        yield


@pytest.fixture(autouse=True)
def nothing_left_on_hosts(ssh_test_hosts: ssh_hosts.SSHHosts) -> Iterator[None]:
    """Fail a test that leaves any process on any host (after the death timeout), then clean up."""
    yield
    hosts = ssh_test_hosts

    def leftovers() -> dict[str, list[str]]:
        found = {}
        for index, address in enumerate(hosts.addresses):
            names = []
            for proc in hosts.processes(index):
                with_name = f"{proc.pid}"
                try:
                    with_name += " " + " ".join(proc.cmdline())[:80]
                except psutil.Error:
                    continue
                names.append(with_name)
            if names:
                found[address] = names
        return found

    for index in range(len(hosts.addresses)):
        hosts.heal(index)
    if not wait_until(lambda: not leftovers(), timeout=15):
        left = leftovers()
        for index in range(len(hosts.addresses)):
            hosts.kill(index)
        pytest.fail(f"processes left on the SSH hosts: {left}", pytrace=False)


# -- run on the workers ------------------------------------------------------------------
# Made as closures: Dask pickles module-level functions by reference, and this module
# cannot be imported on the workers; closures travel by value (cloudpickle).
def _worker_functions():
    def where(x: int) -> tuple[int, str]:
        """``x`` and the address of the worker that computed it."""
        from distributed import get_worker

        return x, get_worker().address

    def held_until(flag: str, x: int) -> tuple[int, str]:
        """Wait until the file ``flag`` exists (all hosts share this file system), then ``where(x)``."""
        import os
        import time

        deadline = time.monotonic() + 120
        while not os.path.exists(flag) and time.monotonic() < deadline:
            time.sleep(0.05)
        return where(x)

    return where, held_until


where, held_until = _worker_functions()


def run_map(session: ck.Session, fn, *iterables) -> list:
    """``ck.map`` once it exists; until then the same through the client."""
    ck_map = getattr(ck, "map", None)
    if ck_map is not None:
        return ck_map(fn, *iterables, progress=False)
    return session.client.gather(session.client.map(fn, *iterables, pure=False))


def host_of(address: str) -> str:
    return address.split("://")[1].rsplit(":", 1)[0]


def workers_by_host(session: ck.Session) -> Counter[str]:
    return Counter(host_of(a) for a in session.client.scheduler_info(n_workers=-1)["workers"])


def timed_error(call, *args, **kwargs) -> tuple[ck.SSHError, float]:
    start = time.monotonic()
    with pytest.raises(ck.SSHError) as info:
        call(*args, **kwargs)
    return info.value, time.monotonic() - start


# -- starting across hosts -----------------------------------------------------------------
def test_start_on_three_hosts_map_and_dashboard(ssh_test_hosts, ssh_options):
    hosts = ssh_test_hosts.addresses
    session = ck.ssh(hosts, **ssh_options)
    try:
        assert isinstance(session.cluster, SSHCluster)
        # Worker processes listen on their host for Dask only: their HTTP endpoint is on loopback.
        http = session.client.run(lambda dask_worker: dask_worker.http_server.port and [
            s.getsockname()[0] for s in dask_worker.http_server._sockets.values()])
        assert all(set(addrs) == {"127.0.0.1"} for addrs in http.values()), http
        assert session.kind == "ssh"
        assert host_of(session.address) == hosts[0]  # the scheduler advertises its own host
        workers = session.client.scheduler_info(n_workers=-1)["workers"]
        assert sorted(host_of(a) for a in workers) == sorted(hosts)  # each reports its own address

        results = run_map(session, where, range(60))
        assert [x for x, _ in results] == list(range(60))
        assert {host_of(a) for _, a in results} <= set(hosts)

        # Every host computes when asked directly.
        per_worker = session.client.run(lambda dask_worker: dask_worker.address)
        assert {host_of(addr) for addr in per_worker.values()} == set(hosts)

        # The dashboard: a local port forward, same port as the scheduler reports, never on the network.
        url = session.dashboard_url
        port = session.cluster.dashboard_port
        assert url == f"http://127.0.0.1:{port}/status"
        assert session.record.dashboard_port == port
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
        with pytest.raises(OSError), socket.create_connection((hosts[0], port), timeout=3):
            pass
    finally:
        session.stop()


def test_loopback_fallback(tmp_path):
    """Without namespaces (not root) the hosts are loopback addresses on one sshd: that works too."""
    hosts = ssh_hosts.start_hosts(2, mode="loopback")
    try:
        session = ck.ssh(hosts.addresses, **hosts.connect_options(), connect_timeout=3, death_timeout=6)
        try:
            results = run_map(session, where, range(20))
            assert [x for x, _ in results] == list(range(20))
            workers = session.client.scheduler_info(n_workers=-1)["workers"]
            assert sorted(host_of(a) for a in workers) == sorted(hosts.addresses)
            with urllib.request.urlopen(session.dashboard_url, timeout=10) as response:
                assert response.status == 200
        finally:
            session.stop()
        assert wait_until(lambda: not any(hosts.processes(i) for i in range(2)), timeout=10)
    finally:
        hosts.stop()


# -- failures during a map -------------------------------------------------------------------------
def test_killed_and_partitioned_hosts_mid_map(ssh_test_hosts, ssh_options, tmp_path):
    hosts = ssh_test_hosts.addresses
    session = ck.ssh(hosts, threads_per_worker=2, **ssh_options)
    flag = str(tmp_path / "release")
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        items = list(range(40))
        running = pool.submit(run_map, session, held_until, [flag] * len(items), items)

        def busy_hosts() -> set[str]:
            processing = session.client.processing()
            return {host_of(a) for a, keys in processing.items() if keys}

        assert wait_until(lambda: busy_hosts() >= set(hosts), timeout=60), busy_hosts()

        def alive() -> set[str]:
            return set(workers_by_host(session))

        start = time.monotonic()
        assert ssh_test_hosts.kill(1)
        assert wait_until(lambda: hosts[1] not in alive(), timeout=30)
        killed_detected = time.monotonic() - start

        start = time.monotonic()
        ssh_test_hosts.partition(2)
        assert wait_until(lambda: hosts[2] not in alive(), timeout=60)
        partition_detected = time.monotonic() - start

        pathlib.Path(flag).touch()
        results = running.result(timeout=120)
        assert [x for x, _ in results] == items  # every result, exactly once, in order
        assert Counter(x for x, _ in results) == Counter(items)
        print(f"\nSSH detection: killed host {killed_detected:.2f} s, partitioned host {partition_detected:.2f} s")

        # Back to three workers: lost ones are replaced (on a host we can still reach).
        ssh_test_hosts.heal(2)
        session.scale(3)
        assert wait_until(lambda: sum(workers_by_host(session).values()) == 3, timeout=60)
        assert [x for x, _ in run_map(session, where, range(10))] == list(range(10))
    finally:
        pathlib.Path(flag).touch()
        pool.shutdown(wait=True)
        ssh_test_hosts.heal(2)
        session.stop()


# -- preflight failures ----------------------------------------------------------------------------------
@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts TCP connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def test_black_hole_host_fails_within_timeout(ssh_test_hosts, ssh_options, black_hole):
    options = {**ssh_options, "port": black_hole, "connect_timeout": 2}
    error, elapsed = timed_error(ck.ssh, ["127.0.0.1"], **options)
    assert elapsed < 2 + 1
    assert str(error) == (
        f"127.0.0.1:{black_hole} accepted a TCP connection but did not complete an SSH handshake within 2 s. "
        f"Check that an SSH server (not another service) listens on port {black_hole} and that 127.0.0.1 "
        "is not overloaded."
    )


def test_closed_port_fails_at_once(ssh_test_hosts, ssh_options):
    host = ssh_test_hosts.addresses[0]
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error, elapsed = timed_error(ck.ssh, [host], **{**ssh_options, "port": port, "connect_timeout": 2})
    assert elapsed < 2 + 1
    assert str(error) == (
        f"Cannot reach {host}:{port}: connection refused. Check that sshd runs on {host} "
        f"and listens on port {port} (use --port if it listens elsewhere)."
    )


def test_silent_host_fails_within_timeout(ssh_test_hosts, ssh_options):
    if ssh_test_hosts.mode != "netns":
        pytest.skip("dropping packets needs network namespaces (root); the black-hole test covers silence")
    hosts = ssh_test_hosts.addresses
    ssh_test_hosts.partition(2)
    try:
        error, elapsed = timed_error(ck.ssh, hosts, **{**ssh_options, "connect_timeout": 2})
    finally:
        ssh_test_hosts.heal(2)
    assert elapsed < 2 + 1
    assert str(error) == (
        f"Cannot reach {hosts[2]}:22: no TCP connection within 2 s. Check that the host is up "
        "and that no firewall drops port 22 (use --port if sshd listens elsewhere)."
    )


def test_unknown_host_key_is_refused_with_the_command_that_trusts_it(ssh_test_hosts, ssh_options, tmp_path):
    host, port = ssh_test_hosts.addresses[0], ssh_test_hosts.port
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    error, _ = timed_error(ck.ssh, [host], **{**ssh_options, "known_hosts": str(empty)})
    message = str(error)
    assert message.startswith(f"The SSH host key of {host}:{port} is not in {empty}, so the host cannot be verified")
    assert f"trust it with: ssh-keyscan -p {port} {host} >> {empty}" in message
    assert "--insecure-accept-new-hosts" in message
    assert "SHA256:" in message

    # The suggested command works: after it, the same call passes the checks.
    command = message.split("trust it with: ")[1].split(" (or pass")[0]
    subprocess.run(command, shell=True, check=True, capture_output=True)
    connections = asyncio.run(_connect_all([host], {**ssh_options, "known_hosts": str(empty)}))
    assert list(connections) == [host]


async def _connect_all(hosts: list[str], options: dict) -> dict:
    opts = ssh_preflight.SSHOptions(
        user=options["user"], port=options["port"], key=options["key"], known_hosts=options["known_hosts"],
        insecure_accept_new_hosts=options.get("insecure_accept_new_hosts", False),
        connect_timeout=options["connect_timeout"],
    )
    connections = await ssh_preflight.connect_all(hosts, opts)
    for connection in connections.values():
        connection.close()
        await connection.wait_closed()
    return connections


def test_accept_new_hosts_is_opt_in_and_refuses_changed_keys(ssh_test_hosts, ssh_options, tmp_path):
    hosts, port = ssh_test_hosts.addresses, ssh_test_hosts.port
    known = tmp_path / "known_hosts"
    options = {**ssh_options, "known_hosts": str(known), "insecure_accept_new_hosts": True}
    asyncio.run(_connect_all(hosts, options))
    recorded = known.read_text().splitlines()
    assert len(recorded) == len(hosts)
    asyncio.run(_connect_all(hosts, {**options, "insecure_accept_new_hosts": False}))  # now known

    # A recorded key that differs is refused even with the opt-in.
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    pattern = next(line.split()[0] for line in recorded if line.split()[0] in (hosts[0], f"[{hosts[0]}]:{port}"))
    known.write_text(f"{pattern} {' '.join(pathlib.Path(f'{other}.pub').read_text().split()[:2])}\n")
    with pytest.raises(ck.SSHError, match="does not match the key recorded in") as info:
        asyncio.run(_connect_all(hosts[:1], options))
    assert f"ssh-keygen -R '{pattern}' -f {known}" in str(info.value)


def test_auth_failure_names_host_and_key(ssh_test_hosts, ssh_options, tmp_path):
    host, port = ssh_test_hosts.addresses[1], ssh_test_hosts.port
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    error, elapsed = timed_error(ck.ssh, [host], **{**ssh_options, "key": str(stranger)})
    assert elapsed < 3 + 1
    user = ssh_test_hosts.user
    assert str(error) == (
        f"SSH login as {user!r} to {host}:{port} was refused: the server accepted none of the key {stranger}. "
        f"Add {stranger}.pub to ~{user}/.ssh/authorized_keys on {host}, or pass the right --key / --user."
    )


def test_several_failing_hosts_give_one_message(ssh_test_hosts, ssh_options, tmp_path):
    hosts = ssh_test_hosts.addresses
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    error, _ = timed_error(ck.ssh, hosts[:2], **{**ssh_options, "known_hosts": str(empty)})
    lines = str(error).splitlines()
    assert lines[0] == "2 of 2 SSH hosts failed the checks:"
    assert lines[1].startswith(f"- The SSH host key of {hosts[0]}:")
    assert lines[2].startswith(f"- The SSH host key of {hosts[1]}:")


def test_user_in_host_name_is_explained(ssh_test_hosts):
    with pytest.raises(ck.SSHError) as info:
        ck.ssh(["ada@node1"])
    assert str(info.value) == (
        "Write the host without a user: 'ada@node1' should be 'node1' with --user ada "
        "(user='ada' in Python); one user logs in to every host."
    )


def test_missing_python(ssh_test_hosts, ssh_options):
    host, port = ssh_test_hosts.addresses[0], ssh_test_hosts.port
    error, _ = timed_error(ck.ssh, [host], **{**ssh_options, "python": "/nowhere/python3"})
    assert str(error).startswith(f"Python '/nowhere/python3' does not exist on {host}:{port} (")
    assert str(error).endswith(
        "Install Python with dask and distributed there, or pass --python with the path of an interpreter "
        "that has them."
    )


def _wrapper(tmp_path: pathlib.Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    os.chmod(tmp_path, 0o755)
    return str(path)


def test_version_mismatch_is_a_table(ssh_test_hosts, ssh_options, tmp_path):
    hosts, port = ssh_test_hosts.addresses, ssh_test_hosts.port
    fake = tmp_path / "fake"
    (fake / "cloudpickle-1.0.0.dist-info").mkdir(parents=True)
    (fake / "cloudpickle-1.0.0.dist-info" / "METADATA").write_text("Name: cloudpickle\nVersion: 1.0.0\n")
    python = _wrapper(tmp_path, "python", (
        f'case "$SSH_CONNECTION" in *" {hosts[1]} "*) export PYTHONPATH={fake};; esac\n'
        f'exec {sys.executable} "$@"\n'
    ))
    error, _ = timed_error(ck.ssh, hosts, **{**ssh_options, "python": python})
    message = str(error)
    assert message.startswith("The SSH hosts run other versions than this kernel, and Dask would fail later")
    table = message.split("\n")[1:]
    assert table[0].split() == ["package", "this", "kernel", *(f"{h}:{port}" for h in hosts)]
    cloudpickle_row = next(row for row in table if row.startswith("cloudpickle"))
    local = cloudpickle.__version__
    assert cloudpickle_row.split() == ["cloudpickle", local, local, "1.0.0", "*", local]
    assert sum("*" in row for row in table) == 1


def test_process_that_never_reports_its_address(ssh_test_hosts, ssh_options, tmp_path):
    """Python starts, then hangs importing Dask: stopped after startup_timeout, nothing left."""
    host, port = ssh_test_hosts.addresses[0], ssh_test_hosts.port
    fake = tmp_path / "hang"
    (fake / "dask").mkdir(parents=True)
    (fake / "dask" / "__init__.py").write_text("import time\ntime.sleep(3600)\n")
    python = _wrapper(tmp_path, "python", f'export PYTHONPATH={fake}\nexec {sys.executable} "$@"\n')
    error, elapsed = timed_error(ck.ssh, [host], **{**ssh_options, "python": python, "startup_timeout": 3})
    assert elapsed < 3 + 3 + 2  # startup timeout, plus stopping
    assert str(error) == (
        f"The Dask scheduler on {host}:{port} did not report its address within 3 s; it printed nothing. "
        f"Check that {python!r} can start a Dask scheduler there (try it by hand), or raise startup_timeout "
        "if the host is slow."
    )


def test_command_that_never_starts_python_is_killed(ssh_test_hosts, ssh_options, tmp_path):
    """A wrapper that hangs in the shell (a child process, no Python): its process group is killed."""
    host, port = ssh_test_hosts.addresses[0], ssh_test_hosts.port
    python = _wrapper(tmp_path, "python", "echo 'loading modules...' >&2\nsleep 600\n")
    error, _ = timed_error(ck.ssh, [host], **{**ssh_options, "python": python, "startup_timeout": 2})
    assert str(error) == (
        f"Python {python!r} on {host}:{port} did not start within 2 s. Its last output:\n"
        "    loading modules...\n"
        "Check that it starts there (a slow file system?), or pass --python PATH."
    )


# -- the kernel dies -------------------------------------------------------------------------------
KERNEL = """
import json, sys, time
import clusterkit as ck
options = json.loads(sys.argv[1])
session = ck.ssh(options.pop("hosts"), **options)
print(json.dumps(session.cluster.remote_pids()), flush=True)
time.sleep(600)
"""


def test_sigkilled_kernel_leaves_nothing_on_any_host(ssh_test_hosts, ssh_options):
    hosts = ssh_test_hosts.addresses
    options = {**ssh_options, "hosts": hosts}
    kernel = subprocess.Popen([sys.executable, "-c", KERNEL, json.dumps(options)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = kernel.stdout.readline()
        assert line, kernel.stderr.read()
        pids = json.loads(line)
        assert set(pids) == set(hosts)
        assert all(ssh_test_hosts.processes(i) for i in range(len(hosts)))
        start, killed_at = time.monotonic(), time.time()
        kernel.send_signal(signal.SIGKILL)
        kernel.wait(10)
        gone = wait_until(lambda: not any(ssh_test_hosts.processes(i) for i in range(len(hosts))),
                          timeout=ssh_options["death_timeout"] + 5)
        print(f"\nSSH: after the kernel's SIGKILL every host was empty in {time.monotonic() - start:.2f} s")
        assert gone

        def still_running(pid: int) -> str | None:
            try:
                proc = psutil.Process(pid)
                if proc.status() == psutil.STATUS_ZOMBIE or proc.create_time() > killed_at:
                    return None  # exited, or the PID now belongs to a new process
                return " ".join(proc.cmdline())
            except psutil.Error:
                return None

        survivors = {pid: still_running(pid) for ps in pids.values() for pid in ps}
        assert not {pid: cmd for pid, cmd in survivors.items() if cmd}
    finally:
        if kernel.poll() is None:
            kernel.kill()
            kernel.wait(10)
        kernel.stdout.close()
        kernel.stderr.close()


async def _identity(address: str, security) -> dict:
    """Ask the scheduler at ``address`` who it is (without a Client, which leaks threads on failure)."""
    from distributed.core import rpc

    args = security.get_connection_args("client") if security is not None else {}
    async with rpc(address, connection_args=args, timeout=3) as scheduler:
        return await asyncio.wait_for(scheduler.identity(), 5)


# -- TLS -----------------------------------------------------------------------------------------------------
def test_tls_cluster_rejects_clients_without_credentials(ssh_test_hosts, ssh_options):
    from distributed.security import Security

    hosts = ssh_test_hosts.addresses[:2]
    session = ck.ssh(hosts, **ssh_options)  # TLS is the default
    try:
        assert session.address.startswith("tls://")
        # Each process got only its own role's key; nobody on a host holds the client's key,
        # and the config the hosts got has no clusterkit.* (or other libraries') settings.
        def keys(dask_worker=None, dask_scheduler=None) -> dict:
            import dask.config

            tls = dask.config.get("distributed.comm.tls")
            return {role: bool((tls.get(role) or {}).get("key")) for role in ("client", "scheduler", "worker")}

        seen = session.client.run(keys)
        assert all(v == {"client": False, "scheduler": False, "worker": True} for v in seen.values()), seen
        assert session.client.run_on_scheduler(keys) == {"client": False, "scheduler": True, "worker": False}
        sent = json.dumps([session.cluster._hosts.remote_config, session.cluster._hosts.role_config])
        client_key = pathlib.Path(session.cluster.security.tls_client_key).read_text().split("-----END CERTIFICATE-----")[-1]
        assert client_key.strip() and client_key.strip() not in sent
        assert '"clusterkit"' not in json.dumps(list(session.cluster._hosts.remote_config))
        assert session.client.submit(operator.add, 1, 2).result() == 3
        workers = session.client.scheduler_info(n_workers=-1)["workers"]
        assert all(a.startswith("tls://") for a in workers)
        # A client with its own (other) credentials, and one without TLS: the scheduler refuses both.
        with pytest.raises((OSError, TimeoutError)):
            asyncio.run(_identity(session.address, Security.temporary()))
        with pytest.raises((OSError, TimeoutError)):
            asyncio.run(_identity(session.address.replace("tls://", "tcp://"), None))
        # With the cluster's credentials the same call works.
        assert asyncio.run(_identity(session.address, session.cluster.security))["type"] == "Scheduler"
    finally:
        session.stop()


def test_tls_with_user_certificates(tmp_path):
    from distributed.security import Security

    from clusterkit.backends.ssh import make_security

    assert make_security(False) is None
    made = Security.temporary()
    ca, cert, key = (tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    ca.write_text(made.tls_ca_file)
    cert.write_text(made.tls_client_cert)
    key.write_text(made.tls_client_key)
    security = make_security(True, str(ca), str(cert), str(key))
    assert security.require_encryption
    assert security.tls_ca_file == made.tls_ca_file
    assert security.tls_scheduler_cert == security.tls_worker_cert == security.tls_client_cert == made.tls_client_cert
    assert security.get_connection_args("client")["ssl_context"] is not None
    with pytest.raises(ck.SSHError, match="needs both tls_ca_file and tls_cert"):
        make_security(True, tls_cert=str(cert))
    with pytest.raises(ck.SSHError, match="Cannot read a TLS file"):
        make_security(True, str(tmp_path / "missing.pem"), str(cert))


def test_version_table_compares_python_by_minor_version():
    local = {"python": "3.11.7", "dask": "1", "distributed": "1", "cloudpickle": "3"}
    same = {"python": "3.11.2", "dask": "1", "distributed": "1", "cloudpickle": "3", "cpus": 2}
    assert ssh_preflight.version_table(local, {"a:22": same}) is None
    table = ssh_preflight.version_table(local, {"a:22": same, "b:22": {**same, "python": "3.12.1", "dask": None}})
    assert table is not None
    assert table.splitlines() == [
        "package      this kernel  a:22    b:22",
        "python       3.11.7       3.11.2  3.12.1 *",
        "dask         1            1       missing *",
        "distributed  1            1       1",
        "cloudpickle  3            3       3",
    ]


# -- scaling ------------------------------------------------------------------------------------------------------
def test_scale_up_down_and_add_host(ssh_test_hosts, ssh_options):
    hosts = ssh_test_hosts.addresses
    session = ck.ssh(hosts[:2], threads_per_worker=1, **ssh_options)
    try:
        assert workers_by_host(session) == {hosts[0]: 1, hosts[1]: 1}
        session.scale(4)
        assert workers_by_host(session) == {hosts[0]: 2, hosts[1]: 2}

        names = add_host(session.cluster, hosts[2])
        assert len(names) == 1
        assert wait_until(lambda: workers_by_host(session) == {hosts[0]: 2, hosts[1]: 2, hosts[2]: 1}, timeout=30)
        with pytest.raises(ck.SSHError, match="already runs workers of this cluster"):
            add_host(session.cluster, hosts[2])
        nowhere = "10.200.0.99"  # in the test subnet, but no host has it
        with pytest.raises(ck.SSHError, match=f"^Cannot reach {nowhere}:{ssh_test_hosts.port}: "):
            add_host(session.cluster, nowhere)
        assert nowhere not in session.cluster.worker_hosts

        session.scale(2)  # from the most-loaded hosts; the later host among equals
        assert workers_by_host(session) == {hosts[0]: 1, hosts[1]: 1}
        assert wait_until(lambda: not ssh_test_hosts.processes(2), timeout=10)
        results = run_map(session, where, range(10))
        assert [x for x, _ in results] == list(range(10))

        # Workers have no nannies: the cluster replaces the ones restart() shuts down.
        session.restart()
        assert wait_until(lambda: workers_by_host(session) == {hosts[0]: 1, hosts[1]: 1}, timeout=60)
    finally:
        session.stop()


# -- another local user (issue 11) -----------------------------------------------------------------------------
def test_ssh_cluster_refuses_another_user(other_user, reachable_registry, ssh_test_hosts, ssh_options):  # noqa: F811
    """A second unix user on the kernel's machine cannot use, control or read an SSH cluster."""
    session = ck.ssh(ssh_test_hosts.addresses[:2], name="remote", **ssh_options)
    try:
        record = session.record
        assert record is not None and record.scheduler_address.startswith("tls://")
        assert_refused(attack(other_user, record, reachable_registry))
        assert session.client.submit(operator.add, 1, 2).result() == 3
        assert_owner_still_works(record)
    finally:
        session.stop()
    assert list(reachable_registry.iterdir()) == []
