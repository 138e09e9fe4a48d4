"""SSH preflight: check every host, in parallel, before anything is started on any.

For each host, within ``connect_timeout`` seconds (:func:`connect_all`):

1. TCP: the SSH port accepts a connection (refused, unreachable and silent hosts
   each get their own message);
2. SSH: the server completes a handshake, its host key is in ``known_hosts``
   (unknown keys are refused with the command that trusts them, unless the user
   opted in to accepting new hosts; changed keys are always refused), and it
   accepts our key.

Then (in :mod:`clusterkit.backends.ssh`, over these connections) the remote Python
starts and reports its Python, dask, distributed and cloudpickle versions before
it imports anything; :func:`check_versions` turns a mismatch into one table, and
:func:`python_failure` explains a Python that is missing or broken. Every failure
is an :class:`~clusterkit.errors.SSHError` whose message names ``host:port`` and
says what to fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import socket
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import asyncssh

from clusterkit.errors import SSHError

__all__ = ["SSHOptions", "check_versions", "connect", "connect_all", "local_versions", "python_failure",
           "version_table"]

#: Packages whose versions must agree between the kernel and every host.
PACKAGES = ("dask", "distributed", "cloudpickle")

@dataclass(frozen=True)
class SSHOptions:
    """How to reach the hosts; shared by every host of one cluster."""

    user: str | None = None
    port: int = 22
    key: str | None = None
    python: str = field(default_factory=lambda: sys.executable)
    known_hosts: str | None = None
    insecure_accept_new_hosts: bool = False
    connect_timeout: float = 5.0

    @property
    def known_hosts_path(self) -> str:
        return os.path.expanduser(self.known_hosts or "~/.ssh/known_hosts")

    @property
    def login(self) -> str:
        return self.user or _local_user()


def _local_user() -> str:
    import getpass

    return getpass.getuser()


def local_versions() -> dict[str, str | None]:
    """This kernel's versions of Python and the packages in :data:`PACKAGES`."""
    found: dict[str, str | None] = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _comparable(package: str, version: str | None) -> str | None:
    """Python must agree in major.minor (pickle protocol, bytecode); packages exactly."""
    if version is not None and package == "python":
        return ".".join(version.split(".")[:2])
    return version


def version_table(local: dict[str, str | None], remote: dict[str, dict[str, str | None]]) -> str | None:
    """A host x version table when any host differs from ``local``, else ``None``.

    Differing cells are marked with ``*``.
    """
    packages = ["python", *PACKAGES]
    mismatch = any(
        _comparable(p, versions.get(p)) != _comparable(p, local.get(p))
        for versions in remote.values() for p in packages
    )
    if not mismatch:
        return None
    header = ["package", "this kernel", *remote]
    rows = [header]
    for package in packages:
        row = [package, local.get(package) or "missing"]
        for versions in remote.values():
            value = versions.get(package)
            differs = _comparable(package, value) != _comparable(package, local.get(package))
            row.append((value or "missing") + (" *" if differs else ""))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows)


def _known_hosts_pattern(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


class _HostKeyPolicy(asyncssh.SSHClient):
    """Sees the key the server offers when it is not in known_hosts; accepts it only on opt-in."""

    def __init__(self, options: SSHOptions, host: str, port: int) -> None:
        self.options = options
        self.host = host
        self.port = port
        self.offered: asyncssh.SSHKey | None = None
        self.recorded = False  # known_hosts has other keys for this host: the key changed

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.offered = key
        path = self.options.known_hosts_path
        if os.path.exists(path):
            try:
                known = asyncssh.read_known_hosts(path).match(host, addr, port if port != 22 else None)
                self.recorded = bool(known[0]) or bool(known[1])
            except (OSError, ValueError):
                self.recorded = False
        if self.recorded or not self.options.insecure_accept_new_hosts:
            return False
        # Opt-in trust on first use, as OpenSSH's StrictHostKeyChecking=accept-new: record it.
        algorithm, data = key.export_public_key("openssh").decode().split()[:2]
        pathlib.Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(path, "a") as f:
            f.write(f"{_known_hosts_pattern(self.host, self.port)} {algorithm} {data}\n")
        return True


def _host_key_message(policy: _HostKeyPolicy, options: SSHOptions, where: str) -> str:
    path = options.known_hosts_path
    offered = ""
    if policy.offered is not None:
        offered = f" (it offered {policy.offered.get_algorithm()} key {policy.offered.get_fingerprint()})"
    if policy.recorded:
        pattern = _known_hosts_pattern(policy.host, policy.port)
        return (
            f"The SSH host key of {where} does not match the key recorded in {path}{offered}: "
            "the connection may be intercepted, or the host was reinstalled. If you know it was "
            f"reinstalled, remove the old key with: ssh-keygen -R '{pattern}' -f {path}, then trust the new one."
        )
    return (
        f"The SSH host key of {where} is not in {path}, so the host cannot be verified{offered}. "
        f"If that is the right key, trust it with: ssh-keyscan -p {policy.port} {policy.host} >> {path} "
        "(or pass --insecure-accept-new-hosts to accept unknown hosts on first use)."
    )


async def _open_tcp(host: str, port: int, timeout: float) -> socket.socket:
    """A connected socket, or an SSHError saying why not (name, refusal, silence, routing)."""
    where = f"{host}:{port}"
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    except (socket.gaierror, TimeoutError) as exc:
        raise SSHError(
            f"Cannot resolve the host name {host!r} ({exc or 'no answer'}). "
            "Check the spelling, or use an IP address."
        ) from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, address), timeout)
    except TimeoutError as exc:
        sock.close()
        raise SSHError(
            f"Cannot reach {where}: no TCP connection within {timeout:g} s. Check that the host is up "
            f"and that no firewall drops port {port} (use --port if sshd listens elsewhere)."
        ) from exc
    except ConnectionRefusedError as exc:
        sock.close()
        raise SSHError(
            f"Cannot reach {where}: connection refused. Check that sshd runs on {host} "
            f"and listens on port {port} (use --port if it listens elsewhere)."
        ) from exc
    except OSError as exc:
        sock.close()
        raise SSHError(
            f"Cannot reach {where}: {exc.strerror or exc}. Check the address and the network route to {host}."
        ) from exc
    return sock


def _client_keys(options: SSHOptions) -> list[Any] | None:
    """The key the user named (loaded now, so a bad path fails before any network), else defaults."""
    if options.key is None:
        return None  # asyncssh's defaults: ~/.ssh/id_* and the SSH agent
    path = os.path.expanduser(options.key)
    try:
        return [asyncssh.read_private_key(path)]
    except (OSError, asyncssh.KeyImportError) as exc:
        raise SSHError(
            f"The SSH key {path} cannot be used: {exc}. Pass --key with a private key file that has "
            "no passphrase, or load the key into ssh-agent and leave --key out."
        ) from exc


async def connect(host: str, options: SSHOptions, *, client_keys: list[Any] | None = None
                  ) -> asyncssh.SSHClientConnection:
    """Open a verified, authenticated SSH connection to ``host`` within ``connect_timeout``."""
    port = options.port
    where = f"{host}:{port}"
    timeout = options.connect_timeout
    deadline = time.monotonic() + timeout
    sock = await _open_tcp(host, port, timeout)
    policy = _HostKeyPolicy(options, host, port)
    known_hosts: Any = options.known_hosts_path
    if not os.path.exists(known_hosts):
        known_hosts = b""  # no file yet: nothing is trusted, every key goes to the policy
    remaining = max(deadline - time.monotonic(), 0.1)
    keys = client_keys if client_keys is not None else _client_keys(options)
    try:
        connection = await asyncio.wait_for(
            asyncssh.connect(
                host,
                port,
                sock=sock,
                username=options.login,
                client_keys=keys,
                known_hosts=known_hosts,
                client_factory=lambda: policy,
                connect_timeout=remaining,
                keepalive_interval=5,
                keepalive_count_max=3,
                config=None,
                agent_path=None if keys else (),
                password=None,
                kbdint_auth=False,
            ),
            remaining + 0.5,
        )
    except asyncssh.HostKeyNotVerifiable as exc:
        raise SSHError(_host_key_message(policy, options, where)) from exc
    except asyncssh.PermissionDenied as exc:
        tried = f"the key {options.key}" if options.key else "your default keys in ~/.ssh and the SSH agent"
        public = f"{options.key}.pub" if options.key else "your public key"
        raise SSHError(
            f"SSH login as {options.login!r} to {where} was refused: the server accepted none of {tried}. "
            f"Add {public} to ~{options.login}/.ssh/authorized_keys on {host}, or pass the right --key / --user."
        ) from exc
    except (asyncssh.ConnectionLost, ConnectionResetError) as exc:
        sock.close()
        raise SSHError(
            f"{where} closed the connection during the SSH handshake. Check that an SSH server (not another "
            f"service) listens on port {port}, and its log for why it refused us (MaxStartups, AllowUsers)."
        ) from exc
    except TimeoutError as exc:
        sock.close()
        raise SSHError(
            f"{where} accepted a TCP connection but did not complete an SSH handshake within {timeout:g} s. "
            f"Check that an SSH server (not another service) listens on port {port} and that {host} "
            "is not overloaded."
        ) from exc
    except (asyncssh.Error, OSError) as exc:
        sock.close()
        reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        raise SSHError(f"SSH to {where} failed: {reason}. Check that `ssh -p {port} {host}` works.") from exc
    return connection


def python_failure(options: SSHOptions, where: str, status: int | None, output: list[str]) -> SSHError:
    """The error for a remote Python that ended before it reported its versions."""
    detail = next((line.strip() for line in reversed(output) if line.strip()), f"exit status {status}")
    if status == 127 or "not found" in detail or "No such file" in detail:
        return SSHError(
            f"Python {options.python!r} does not exist on {where} ({detail}). Install Python with dask and "
            "distributed there, or pass --python with the path of an interpreter that has them."
        )
    return SSHError(
        f"Python {options.python!r} on {where} failed before it could report its versions ({detail}). "
        "Check that it runs there, or pass --python PATH."
    )


def check_versions(reports: dict[str, dict[str, Any]]) -> None:
    """Raise one :class:`SSHError` with a host x version table if any host differs from this kernel."""
    table = version_table(local_versions(), reports)
    if table is not None:
        raise SSHError(
            "The SSH hosts run other versions than this kernel, and Dask would fail later with "
            "unpickling errors. Install this kernel's versions on the hosts marked *, or pass --python "
            f"with an interpreter that has them:\n{table}"
        )


async def connect_all(hosts: list[str], options: SSHOptions) -> dict[str, asyncssh.SSHClientConnection]:
    """Connect to every host at once; return the connections or raise one :class:`SSHError`.

    Several failing hosts give one message with a line per host; nothing stays open then.
    """
    unique = list(dict.fromkeys(hosts))
    client_keys = _client_keys(options)
    results = await asyncio.gather(*(connect(h, options, client_keys=client_keys) for h in unique),
                                   return_exceptions=True)
    connections = {h: r for h, r in zip(unique, results, strict=True) if isinstance(r, asyncssh.SSHClientConnection)}
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        for connection in connections.values():
            with contextlib.suppress(Exception):
                connection.close()
        unexpected = [r for r in failures if not isinstance(r, SSHError)]
        if unexpected:
            raise unexpected[0]
        if len(failures) == 1:
            raise failures[0]
        lines = "\n".join(f"- {r}" for r in failures)
        raise SSHError(f"{len(failures)} of {len(unique)} SSH hosts failed the checks:\n{lines}") from failures[0]
    return connections
