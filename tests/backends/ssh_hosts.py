"""Real SSH hosts for tests and benchmarks: network namespaces on a private bridge.

As root, :func:`start_hosts` creates one network namespace per host (``ck-h1`` ...)
joined by the bridge ``ckbr0`` on ``10.200.0.0/24`` (this machine is ``10.200.0.1``,
host *i* is ``10.200.0.1i``), and runs a separate ``sshd`` in each with its own
generated host key; one generated client key logs in to all of them. Workers on
those hosts then really have their own addresses, a host's link can be cut
(``ip link set ... down``) and its processes killed.

Without root (no namespaces) it falls back to one ``sshd`` listening on loopback
addresses ``127.0.0.11`` ... on a free port; a "partition" then freezes the host's
processes (SIGSTOP), which the scheduler sees the same way: silence.

Only these self-made addresses and loopback are ever used. :meth:`SSHHosts.stop`
removes everything (processes by PID, namespaces, the bridge), and a file lock
keeps two test runs on one machine from fighting over the bridge.

>>> hosts = start_hosts(3)                  # doctest: +SKIP
>>> hosts.addresses                         # doctest: +SKIP
['10.200.0.11', '10.200.0.12', '10.200.0.13']
>>> hosts.stop()                            # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import psutil

SSHD = "/usr/sbin/sshd"
BRIDGE = "ckbr0"
BRIDGE_ADDRESS = "10.200.0.1"
NAMESPACE_PREFIX = "ck-h"
VETH_PREFIX = "ck-v"
LOCK_PATH = "/tmp/clusterkit-ssh-hosts.lock"


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True)


def namespaces_available() -> bool:
    """Root, ``ip`` and ``sshd`` present: real hosts in namespaces are possible."""
    return os.geteuid() == 0 and shutil.which("ip") is not None and os.path.exists(SSHD)


def _keygen(path: pathlib.Path) -> None:
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "clusterkit-test", "-f", str(path))


def _free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def _wait_listening(address: str, port: int, timeout: float = 10.0, namespace: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd did not start listening on {address}:{port} (namespace {namespace})")


@dataclass
class SSHHosts:
    """Hosts that accept ``ssh -i client_key -p port user@address`` with a known host key."""

    mode: str  # "netns" or "loopback"
    addresses: list[str]
    port: int
    user: str
    client_key: str
    known_hosts: str
    directory: pathlib.Path
    sshd_pids: list[int] = field(default_factory=list)
    _lock_file: object = None

    # -- what runs on a host ---------------------------------------------------------
    def namespace(self, index: int) -> str:
        return f"{NAMESPACE_PREFIX}{index + 1}"

    def veth(self, index: int) -> str:
        return f"{VETH_PREFIX}{index + 1}"

    def processes(self, index: int) -> list[psutil.Process]:
        """Processes running on host ``index`` other than sshd itself (sessions included)."""
        if self.mode == "netns":
            result = _run("ip", "netns", "pids", self.namespace(index), check=False)
            pids = [int(p) for p in result.stdout.split()]
            found = []
            for pid in pids:
                try:
                    proc = psutil.Process(pid)
                    if not proc.name().startswith("sshd"):
                        found.append(proc)
                except psutil.Error:
                    pass
            return found
        # One sshd serves every loopback host: a process belongs to the host its SSH session
        # came in on (sshd puts "client port server port" in SSH_CONNECTION). Orphans that
        # outlived their session keep the variable, so all processes are searched.
        found = []
        wanted = [self.addresses[index], str(self.port)]
        for proc in psutil.process_iter():
            try:
                if proc.name().startswith("sshd"):
                    continue
                connection = proc.environ().get("SSH_CONNECTION", "")
            except psutil.Error:
                continue
            if connection.split()[2:4] == wanted:
                found.append(proc)
        return found

    def kill(self, index: int) -> list[int]:
        """SIGKILL every non-sshd process on host ``index``: the host's Dask processes die."""
        killed = []
        for proc in self.processes(index):
            with contextlib.suppress(psutil.Error):
                proc.kill()
                killed.append(proc.pid)
        return killed

    def partition(self, index: int) -> None:
        """Cut host ``index`` off the network (netns: link down; loopback: freeze its processes)."""
        if self.mode == "netns":
            _run("ip", "link", "set", self.veth(index), "down")
        else:
            for proc in self.processes(index):
                with contextlib.suppress(psutil.Error):
                    proc.send_signal(signal.SIGSTOP)

    def heal(self, index: int) -> None:
        """Undo :meth:`partition`."""
        if self.mode == "netns":
            _run("ip", "link", "set", self.veth(index), "up")
        else:
            for proc in self.processes(index):
                with contextlib.suppress(psutil.Error):
                    proc.send_signal(signal.SIGCONT)

    def connect_options(self) -> dict[str, object]:
        """Keyword arguments for ``clusterkit.ssh`` that log in to these hosts."""
        return {"user": self.user, "port": self.port, "key": self.client_key, "known_hosts": self.known_hosts}

    # -- teardown ----------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every process on the hosts, then sshd, then remove namespaces and bridge."""
        for index in range(len(self.addresses)):
            for proc in self.processes(index):
                with contextlib.suppress(psutil.Error):
                    proc.kill()
        for pid in self.sshd_pids:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                for child in proc.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        child.kill()
                proc.kill()
                proc.wait(5)
        self.sshd_pids.clear()
        if self.mode == "netns":
            _remove_network(len(self.addresses))
        shutil.rmtree(self.directory, ignore_errors=True)
        if self._lock_file is not None:
            self._lock_file.close()  # type: ignore[attr-defined]
            self._lock_file = None


def _remove_network(count: int = 9) -> None:
    for index in range(count):
        namespace = f"{NAMESPACE_PREFIX}{index + 1}"
        result = _run("ip", "netns", "pids", namespace, check=False)
        for pid in result.stdout.split():
            with contextlib.suppress(psutil.Error):
                psutil.Process(int(pid)).kill()
        _run("ip", "link", "del", f"{VETH_PREFIX}{index + 1}", check=False)
        _run("ip", "netns", "del", namespace, check=False)
    _run("ip", "link", "del", BRIDGE, check=False)


def _openssh_version() -> tuple[int, int]:
    """(major, minor) of the installed OpenSSH, from ``ssh -V`` (e.g. ``OpenSSH_9.2p1``)."""
    import re

    result = _run("ssh", "-V", check=False)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", result.stderr + result.stdout)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _sshd_config(directory: pathlib.Path, name: str, listen: list[str], port: int, host_key: pathlib.Path,
                 authorized_keys: pathlib.Path) -> pathlib.Path:
    path = directory / f"sshd-{name}.conf"
    lines = [
        f"Port {port}",
        *(f"ListenAddress {address}" for address in listen),
        f"HostKey {host_key}",
        f"PidFile {directory / f'sshd-{name}.pid'}",
        f"AuthorizedKeysFile {authorized_keys}",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "MaxStartups 100:30:200",
        "LogLevel ERROR",
    ]
    if _openssh_version() >= (9, 8):
        # Since 9.8 sshd shuts out a source address for a while after failed logins or
        # silent connections, which the error tests make on purpose.
        lines.append("PerSourcePenalties no")
    path.write_text("\n".join(lines) + "\n")
    return path


def _start_sshd(config: pathlib.Path, log: pathlib.Path, namespace: str | None) -> int:
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    _run(*prefix, SSHD, "-f", str(config), "-E", str(log))
    pid_file = pathlib.Path(next(line.split()[1] for line in config.read_text().splitlines()
                                 if line.startswith("PidFile")))
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        if time.monotonic() > deadline:
            raise RuntimeError(f"sshd wrote no pid file; log: {log.read_text() if log.exists() else ''}")
        time.sleep(0.02)
    return int(pid_file.read_text().strip())


def start_hosts(count: int = 3, mode: str | None = None) -> SSHHosts:
    """Start ``count`` SSH hosts (``mode`` "netns", "loopback", or ``None`` for the best available).

    ``CLUSTERKIT_SSH_TEST_MODE=loopback`` forces the fallback (to test it as root).
    """
    if not os.path.exists(SSHD):
        raise RuntimeError(f"{SSHD} is missing: apt-get install -y --no-install-recommends openssh-server")
    mode = mode or os.environ.get("CLUSTERKIT_SSH_TEST_MODE") or (
        "netns" if namespaces_available() else "loopback")
    directory = pathlib.Path(tempfile.mkdtemp(prefix="ck-ssh-hosts-"))
    os.chmod(directory, 0o755)
    lock_file = None
    try:
        if mode == "netns":
            lock_file = open(LOCK_PATH, "w")  # noqa: SIM115 - held for the hosts' lifetime
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # another run on this machine uses the bridge
            _remove_network()  # leftovers of a run that was killed
            os.makedirs("/run/sshd", exist_ok=True)
        client_key = directory / "client_key"
        _keygen(client_key)
        authorized_keys = directory / "authorized_keys"
        shutil.copy(f"{client_key}.pub", authorized_keys)
        user = psutil.Process().username()
        hosts = SSHHosts(mode=mode, addresses=[], port=22, user=user, client_key=str(client_key),
                         known_hosts=str(directory / "known_hosts"), directory=directory,
                         _lock_file=lock_file)
        known_lines = []
        try:
            if mode == "netns":
                _run("ip", "link", "add", BRIDGE, "type", "bridge")
                _run("ip", "addr", "add", f"{BRIDGE_ADDRESS}/24", "dev", BRIDGE)
                _run("ip", "link", "set", BRIDGE, "up")
                for index in range(count):
                    namespace, veth = hosts.namespace(index), hosts.veth(index)
                    address = f"10.200.0.{11 + index}"
                    _run("ip", "netns", "add", namespace)
                    _run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
                    _run("ip", "link", "set", veth, "master", BRIDGE, "up")
                    _run("ip", "-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
                    _run("ip", "-n", namespace, "link", "set", "eth0", "up")
                    _run("ip", "-n", namespace, "link", "set", "lo", "up")
                    host_key = directory / f"host_key_{index + 1}"
                    _keygen(host_key)
                    config = _sshd_config(directory, namespace, [address], 22, host_key, authorized_keys)
                    hosts.sshd_pids.append(_start_sshd(config, directory / f"sshd-{namespace}.log", namespace))
                    hosts.addresses.append(address)
                    known_lines.append(f"{address} {pathlib.Path(f'{host_key}.pub').read_text().strip()}")
            else:
                hosts.port = _free_port()
                addresses = [f"127.0.0.{11 + index}" for index in range(count)]
                host_key = directory / "host_key"
                _keygen(host_key)
                config = _sshd_config(directory, "loopback", addresses, hosts.port, host_key, authorized_keys)
                hosts.sshd_pids.append(_start_sshd(config, directory / "sshd-loopback.log", None))
                hosts.addresses.extend(addresses)
                public = pathlib.Path(f"{host_key}.pub").read_text().strip()
                known_lines.extend(f"[{address}]:{hosts.port} {public}" for address in addresses)
            pathlib.Path(hosts.known_hosts).write_text("\n".join(known_lines) + "\n")
            for address in hosts.addresses:
                _wait_listening(address, hosts.port)
        except BaseException:
            hosts.stop()
            raise
        return hosts
    except BaseException:
        if lock_file is not None:
            lock_file.close()
        shutil.rmtree(directory, ignore_errors=True)
        raise


if __name__ == "__main__":  # manual check: python tests/backends/ssh_hosts.py
    started = start_hosts(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    print(started)
    started.stop()
