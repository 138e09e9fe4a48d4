"""SSH clusters: a Dask scheduler and workers started on other machines over SSH.

>>> import clusterkit as ck
>>> session = ck.ssh(["10.0.0.5", "10.0.0.6"], workers_per_host=2)   # doctest: +SKIP

What this adds to Dask's own ``SSHCluster``:

- **Preflight** (:mod:`clusterkit.backends.ssh_preflight`): every host is checked in
  parallel before anything starts: TCP, host key against ``known_hosts``, key login,
  the remote Python and its versions. Failures end within ``connect_timeout`` with
  one :class:`~clusterkit.errors.SSHError` naming ``host:port`` and the fix.
- **Start-up timeouts**: a process that never reports its address is stopped after
  ``startup_timeout`` with its last output in the message.
- **Nothing left behind**: each remote process reads a heartbeat from the kernel on
  its stdin and exits when the SSH channel closes or the heartbeat stops for
  ``death_timeout`` seconds, so a killed kernel or a lost network leaves nothing
  running. Processes that never got as far as Python are killed by process group.
- **Fast start**: scheduler and workers import Dask at the same time; workers learn
  the scheduler's address afterwards, over the same stdin channel.
- **Dashboard** stays on the remote host's loopback and is reached through an SSH
  port forward to the same port on 127.0.0.1 here (never opened to the network).
- **Scaling** across the hosts (least-loaded host first) and :func:`add_host`.
- **TLS** with Dask's ``Security`` (per-cluster credentials from :mod:`clusterkit.security`
  when started through :func:`clusterkit.ssh`, the default): the scheduler's host gets
  only the CA and the scheduler's certificate and key, worker processes only the
  worker's; the client's key never leaves this machine. Secrets travel over the SSH
  channel's stdin, never on a command line.
- **Config**: hosts receive only the Dask sections a scheduler or worker uses
  (``distributed``, ``array``, ``dataframe``, ...), never ``clusterkit.*`` or other
  libraries' settings (tokens, factories) and never this kernel's TLS settings.
- Worker processes bind their HTTP endpoint (health only) to the host's loopback.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import ipaddress
import json
import logging
import pathlib
import shlex
import socket
from typing import Any

import asyncssh
import dask.config
import dask.utils
from distributed.core import Status
from distributed.deploy.spec import ProcessInterface, SpecCluster
from distributed.security import Security
from distributed.utils import format_dashboard_link

from clusterkit import config
from clusterkit import security as ck_security
from clusterkit.backends.ssh_preflight import SSHOptions, check_versions, connect_all, python_failure
from clusterkit.errors import SSHError

__all__ = ["SSHCluster", "SSHOptions", "add_host", "start_ssh"]

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_STARTUP_TIMEOUT = 30.0
DEFAULT_DEATH_TIMEOUT = 60.0
HEARTBEAT_INTERVAL = 1.0

# Runs in each remote Python. Everything comes over stdin, so secrets never appear in
# `ps`. First it reports its versions (from package metadata, without importing
# anything), then waits for a setup line (Dask config, death timeout, modules to
# import early); it imports Dask while the kernel decides what it should be, then a
# spec line makes it a Scheduler or Worker. Any other line is a heartbeat. It exits
# at EOF (the kernel closed the channel, died, or lost its connection) or when the
# heartbeat stops for the death timeout. Must run on any Python that Dask supports.
_BOOTSTRAP = r'''
import json, os, sys, threading, time
def say(kind, payload):
    sys.stderr.write("clusterkit-%s %s\n" % (kind, json.dumps(payload)))
    sys.stderr.flush()
def versions():
    wanted = {"dask": None, "distributed": None, "cloudpickle": None}
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                package, _, version = name[:-10].partition("-")
                package = package.lower().replace("_", "-")
                if package in wanted and wanted[package] is None:
                    wanted[package] = version
    for package in [p for p, v in wanted.items() if v is None]:
        try:
            from importlib import metadata
            wanted[package] = metadata.version(package)
        except Exception:
            pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wanted.update(python="%d.%d.%d" % sys.version_info[:3], cpus=cpus)
    return wanted
say("versions", versions())
line = "."
while not line.startswith("{"):
    line = sys.stdin.readline()
    if not line:
        os._exit(0)
setup = json.loads(line)
state = {"last": time.monotonic(), "spec": None}
got_spec = threading.Event()
def listen():
    while True:
        line = sys.stdin.readline()
        if not line:
            os._exit(0)
        state["last"] = time.monotonic()
        if line.startswith("{"):
            state["spec"] = json.loads(line)
            got_spec.set()
def watchdog():
    while True:
        time.sleep(0.25)
        if time.monotonic() - state["last"] > setup["death_timeout"]:
            say("exit", "no heartbeat from the kernel for %s s" % setup["death_timeout"])
            os._exit(3)
threading.Thread(target=listen, daemon=True).start()
threading.Thread(target=watchdog, daemon=True).start()
import dask.config
dask.config.update(dask.config.config, setup["config"], priority="new")
import distributed
from distributed.utils import import_term
dask.config.update(dask.config.config, setup["config"], priority="new")
import asyncio, importlib
for module in setup.get("preimport", []):
    try:
        importlib.import_module(module)
    except Exception:
        pass
say("imported", os.getpid())
got_spec.wait()
spec = state["spec"]
async def run():
    server = import_term(spec["cls"])(**spec["opts"])
    await server
    services = {k: getattr(v, "port", None) for k, v in getattr(server, "services", {}).items()}
    say("ready", {"address": server.address, "services": services})
    await server.finished()
dask.config.update(dask.config.config, spec.get("config", {}), priority="new")
asyncio.run(run())
sys.stderr.flush()
os._exit(0)
'''

# Imported by the scheduler's process while it waits, so its dashboard starts at once.
_SCHEDULER_IMPORTS = ("distributed.dashboard.scheduler",)

_LAUNCHER = "import sys,base64;exec(base64.b64decode(sys.stdin.readline()))"


def _free_local_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Top-level Dask config sections a remote scheduler or worker (and the tasks it runs) reads.
_REMOTE_SECTIONS = ("admin", "array", "dataframe", "distributed", "local_directory", "optimization",
                    "scheduler", "shuffle", "temporary-directory", "tokenize")


def _plain_config() -> dict[str, Any]:
    """What hosts get of this kernel's Dask config, as JSON-safe data.

    Only the sections Dask itself defines (never ``clusterkit.*``, gateway or other
    libraries' settings, which may hold tokens) and without any TLS settings: each
    process gets its own role's credentials in its start line instead.
    """
    kept = {k: v for k, v in dask.config.config.items() if k in _REMOTE_SECTIONS}
    try:
        plain = json.loads(json.dumps(kept))
    except (TypeError, ValueError):
        plain = json.loads(json.dumps(kept, default=str))
    comm = plain.get("distributed", {}).get("comm", {})
    comm.pop("tls", None)
    comm.pop("require-encryption", None)
    return plain


def make_security(tls: bool, tls_ca_file: str | None = None, tls_cert: str | None = None,
                  tls_key: str | None = None) -> Security | None:
    """``None`` without TLS; the user's certificates when given; else fresh temporary ones."""
    if not tls and not (tls_ca_file or tls_cert or tls_key):
        return None
    if tls_ca_file or tls_cert or tls_key:
        if not (tls_ca_file and tls_cert):
            raise SSHError(
                "TLS with your own certificates needs both tls_ca_file and tls_cert (and tls_key unless "
                "the certificate file holds the key). Pass them all, or only tls=True for temporary ones."
            )
        try:
            ca = pathlib.Path(tls_ca_file).read_text()
            cert = pathlib.Path(tls_cert).read_text()
            key = pathlib.Path(tls_key).read_text() if tls_key else cert
        except OSError as exc:
            raise SSHError(
                f"Cannot read a TLS file: {exc}. Check the paths of tls_ca_file, tls_cert and tls_key."
            ) from exc
        roles = {f"tls_{role}_{part}": value for role in ("client", "scheduler", "worker")
                 for part, value in (("cert", cert), ("key", key))}
        return Security(require_encryption=True, tls_ca_file=ca, **roles)
    return Security.temporary()


class _RemoteProcess:
    """One Python process on a host, started over SSH.

    Its life: :meth:`launch` (Python starts and reports versions), :meth:`setup`
    (it imports Dask), :meth:`configure` (it becomes a scheduler or worker), :meth:`stop`.
    """

    def __init__(self, hosts: _Hosts, host: str) -> None:
        self.hosts = hosts
        self.host = host
        self.where = f"{host}:{hosts.options.port}"
        self.process: Any = None
        self.pid: int | None = None
        loop = asyncio.get_running_loop()
        self.versions: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.ready: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.exited = asyncio.Event()
        self.tail: collections.deque[str] = collections.deque(maxlen=20)
        self.role = "process"
        self.stopping = False
        self._tasks: list[asyncio.Task[Any]] = []

    async def launch(self, timeout: float) -> dict[str, Any]:
        """Start Python on the host; return its versions (it imports nothing yet)."""
        connection = self.hosts.connection(self.host)
        python = shlex.quote(self.hosts.options.python)
        # `exec` keeps the shell's PID, which sshd made a process group leader (setsid): killing
        # the group ends whatever the command became, even if it never reached Python.
        command = f"echo clusterkit-pid $$ >&2; exec {python} -u -c {shlex.quote(_LAUNCHER)}"
        try:
            self.process = await asyncio.wait_for(connection.create_process(command, encoding="utf-8"), timeout)
        except (TimeoutError, asyncssh.Error, OSError) as exc:
            raise SSHError(
                f"{self.where} did not let us start a process over SSH within {timeout:g} s "
                f"({exc or type(exc).__name__}). Check that the host is up and that its sshd allows "
                "enough sessions (MaxSessions)."
            ) from exc
        self._tasks = [
            asyncio.create_task(self._read(self.process.stderr, parse=True)),
            asyncio.create_task(self._read(self.process.stdout, parse=False)),
        ]
        self.process.stdin.write(base64.b64encode(_BOOTSTRAP.encode()).decode() + "\n")
        try:
            return await asyncio.wait_for(asyncio.shield(self.versions), timeout)
        except TimeoutError as exc:
            raise SSHError(
                f"Python {self.hosts.options.python!r} on {self.where} did not start within {timeout:g} s"
                f"{self._last_output()}Check that it starts there (a slow file system?), or pass --python PATH."
            ) from exc
        except EOFError as exc:
            await self._wait_exit()
            status = self.process.exit_status
            raise python_failure(self.hosts.options, self.where, status, list(self.tail)) from exc

    def setup(self, preimport: tuple[str, ...] = ()) -> None:
        """Let the process import Dask (with this kernel's config) and start its heartbeat."""
        setup = {"config": self.hosts.remote_config, "death_timeout": self.hosts.death_timeout,
                 "preimport": list(preimport)}
        self.process.stdin.write(json.dumps(setup) + "\n")
        self._tasks.append(asyncio.create_task(self._heartbeat()))

    async def _read(self, stream: Any, parse: bool) -> None:
        try:
            async for line in stream:
                line = line.rstrip("\n")
                if parse and line.startswith("clusterkit-"):
                    kind, _, payload = line.partition(" ")
                    if kind == "clusterkit-pid":
                        self.pid = int(payload)
                    elif kind == "clusterkit-versions" and not self.versions.done():
                        self.versions.set_result(json.loads(payload))
                    elif kind == "clusterkit-ready" and not self.ready.done():
                        self.ready.set_result(json.loads(payload))
                    elif kind == "clusterkit-exit":
                        self.tail.append(f"exiting: {json.loads(payload)}")
                    continue
                self.tail.append(line)
                logger.debug("[%s %s] %s", self.role, self.where, line)
        except Exception as exc:  # a broken channel ends the stream like EOF
            logger.debug("[%s %s] output ended: %r", self.role, self.where, exc)
        finally:
            if parse:
                self.exited.set()
                for future in (self.versions, self.ready):
                    if not future.done():
                        future.set_exception(EOFError())
                        future.exception()  # retrieved: no "never retrieved" warning if nobody waits
                if self.ready.done() and not self.ready.exception() and not self.stopping:
                    logger.warning("clusterkit: the Dask %s on %s exited: %s", self.role, self.where,
                                   " | ".join(list(self.tail)[-3:]) or "no output")

    async def _wait_exit(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.process.wait_closed(), 2)

    async def _heartbeat(self) -> None:
        while not self.exited.is_set():
            try:
                self.process.stdin.write(".\n")
            except Exception:
                return
            await asyncio.sleep(HEARTBEAT_INTERVAL)

    async def configure(self, role: str, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Tell the process what to be; wait until it reports its address."""
        self.role = role
        self.process.stdin.write(json.dumps(spec) + "\n")
        try:
            return await asyncio.wait_for(asyncio.shield(self.ready), timeout)
        except TimeoutError as exc:
            await self.stop()
            raise SSHError(
                f"The Dask {role} on {self.where} did not report its address within {timeout:g} s"
                f"{self._last_output()}Check that {self.hosts.options.python!r} can start a Dask {role} "
                "there (try it by hand), or raise startup_timeout if the host is slow."
            ) from exc
        except EOFError as exc:
            await self._wait_exit()
            status = self.process.exit_status
            await self.stop()
            raise SSHError(
                f"The Dask {role} on {self.where} exited (status {status}) before it reported its address"
                f"{self._last_output()}Fix the error shown there, then start the cluster again."
            ) from exc

    def _last_output(self) -> str:
        lines = [line for line in self.tail if line.strip()][-5:]
        if not lines:
            return "; it printed nothing. "
        return ". Its last output:\n    " + "\n    ".join(lines) + "\n"

    async def stop(self, grace: float = 2.0) -> None:
        """End the process: close its stdin (it exits), then kill its process group if it lingers."""
        self.stopping = True
        self.hosts.processes.discard(self)
        if self.process is None:
            return
        with contextlib.suppress(Exception):
            self.process.stdin.write_eof()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.exited.wait(), grace)
        if not self.exited.is_set() and self.pid is not None:
            kill = f"kill -TERM -- -{self.pid} 2>/dev/null; sleep 0.5; kill -KILL -- -{self.pid} 2>/dev/null; true"
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.hosts.connection(self.host).run(kill, check=False), 3)
        with contextlib.suppress(Exception):
            self.process.close()
        for task in self._tasks:
            task.cancel()


class _Hosts:
    """The SSH side of one cluster: a verified connection per host and the processes on them."""

    def __init__(self, options: SSHOptions, *, startup_timeout: float, death_timeout: float,
                 security: Security | None) -> None:
        self.options = options
        self.startup_timeout = startup_timeout
        self.death_timeout = death_timeout
        self.connections: dict[str, asyncssh.SSHClientConnection] = {}
        self.host_versions: dict[str, dict[str, Any]] = {}
        self.warm: dict[str, list[_RemoteProcess]] = collections.defaultdict(list)
        self.processes: set[_RemoteProcess] = set()  # started and not yet stopped
        self.remote_config = _plain_config()
        # Per role: the CA and that role's own certificate and key, nothing else.
        self.role_config: dict[str, dict[str, Any]] = {}
        if security is not None:
            for role in ("scheduler", "worker"):
                self.role_config[role] = ck_security.remote_config(ck_security.role_pem(security, role), role)

    @property
    def launch_timeout(self) -> float:
        """How long Python may take to start and report its versions."""
        return self.startup_timeout

    def connection(self, host: str) -> asyncssh.SSHClientConnection:
        return self.connections[host]

    def reachable(self, host: str) -> bool:
        """Whether our SSH connection to ``host`` is open (keepalives close it when the host goes silent)."""
        connection = self.connections.get(host)
        return connection is not None and not connection.is_closed()

    def cpus(self, host: str) -> int | None:
        value = self.host_versions.get(host, {}).get("cpus")
        return int(value) if value else None

    async def preflight(self, counts: dict[str, int], preimport: dict[str, tuple[str, ...]] | None = None) -> None:
        """Check new hosts in parallel; on success leave ``counts[host]`` processes importing Dask on each.

        Connections first (TCP, host key, login), then Python on each host reports its
        versions before it imports anything; only when every host passed do they import.
        On any failure nothing stays running and one :class:`SSHError` is raised.
        """
        new = [h for h in counts if h not in self.connections]
        self.connections.update(await connect_all(new, self.options))
        launched: dict[str, list[_RemoteProcess]] = {}
        try:
            async def start(host: str, count: int) -> None:
                processes = [_RemoteProcess(self, host) for _ in range(max(count, 1))]
                launched[host] = processes
                self.processes.update(processes)
                reports = await asyncio.gather(*(p.launch(self.launch_timeout) for p in processes))
                self.host_versions[host] = reports[0]

            results = await asyncio.gather(*(start(h, n) for h, n in counts.items()), return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                if len(failures) == 1 or not all(isinstance(f, SSHError) for f in failures):
                    raise failures[0]
                lines = "\n".join(f"- {f}" for f in failures)
                raise SSHError(f"{len(failures)} of {len(counts)} SSH hosts failed the checks:\n{lines}") \
                    from failures[0]
            check_versions({f"{h}:{self.options.port}": self.host_versions[h] for h in counts})
        except BaseException:
            await asyncio.gather(*(p.stop() for ps in launched.values() for p in ps), return_exceptions=True)
            for host in new:
                with contextlib.suppress(Exception):
                    self.connections.pop(host).close()
                self.host_versions.pop(host, None)
            raise
        for host, processes in launched.items():
            for number, process in enumerate(processes[: counts[host]]):
                # The first process of a host is the one taken first (the scheduler's, on its host).
                process.setup((preimport or {}).get(host, ()) if number == 0 else ())
                self.warm[host].append(process)
            for process in processes[counts[host]:]:  # a host with no workers was only checked
                await process.stop()

    async def take(self, host: str, preimport: tuple[str, ...] = ()) -> _RemoteProcess:
        """A process on ``host`` that is importing Dask: a prelaunched one, or a new one."""
        if self.warm.get(host):
            return self.warm[host].pop(0)
        if not self.reachable(host):  # the connection died (host rebooted, network came back): reconnect
            self.connections.update(await connect_all([host], self.options))
        process = _RemoteProcess(self, host)
        self.processes.add(process)
        try:
            versions = await process.launch(self.launch_timeout)
            check_versions({process.where: versions})
        except BaseException:
            await process.stop()
            raise
        process.setup(preimport)
        return process

    def pids(self) -> dict[str, list[int]]:
        """Remote process ids by host (of processes not yet stopped)."""
        found: dict[str, list[int]] = collections.defaultdict(list)
        for process in list(self.processes):
            if process.pid is not None and not process.exited.is_set():
                found[process.host].append(process.pid)
        return dict(found)

    async def close(self) -> None:
        await asyncio.gather(*(p.stop() for p in list(self.processes)), return_exceptions=True)
        self.warm.clear()
        for connection in self.connections.values():
            with contextlib.suppress(Exception):
                connection.close()


class _RemoteScheduler(ProcessInterface):
    """The scheduler, as :class:`SpecCluster` expects it (``.address`` once started)."""

    def __init__(self, hosts: _Hosts, host: str, options: dict[str, Any]) -> None:
        super().__init__()
        self.hosts = hosts
        self.host = host
        self.options = options
        self.services: dict[str, int] = {}
        self.process: _RemoteProcess | None = None

    async def start(self) -> None:
        try:
            self.process = await self.hosts.take(self.host)
            info = await self.process.configure(
                "scheduler",
                {"cls": "distributed.Scheduler", "opts": self.options,
                 "config": self.hosts.role_config.get("scheduler", {})},
                self.hosts.startup_timeout)
        except BaseException:
            self.status = Status.failed
            raise
        self.address = info["address"]
        self.services = {k: int(v) for k, v in info.get("services", {}).items() if v}
        await super().start()

    async def close(self) -> None:
        if self.process is not None:
            await self.process.stop()
        await super().close()


class _RemoteWorker(ProcessInterface):
    """One worker process on ``host``."""

    def __init__(self, scheduler: str, *, name: str, hosts: _Hosts, host: str,
                 worker_options: dict[str, Any]) -> None:
        super().__init__(scheduler=scheduler, name=name)
        self.scheduler = scheduler
        self.name = name
        self.hosts = hosts
        self.host = host
        self.worker_options = worker_options
        self.process: _RemoteProcess | None = None

    async def start(self) -> None:
        options = {**self.worker_options, "scheduler_ip": self.scheduler, "name": self.name}
        try:
            self.process = await self.hosts.take(self.host)
            info = await self.process.configure(
                "worker",
                {"cls": "distributed.Worker", "opts": options, "config": self.hosts.role_config.get("worker", {})},
                self.hosts.startup_timeout)
        except BaseException:
            self.status = Status.failed
            raise
        self.address = info["address"]
        await super().start()

    async def close(self) -> None:
        if self.process is not None:
            await self.process.stop()
        await super().close()


class SSHCluster(SpecCluster):
    """A Dask cluster over SSH: the scheduler on the first host, workers spread over the hosts.

    Use :func:`start_ssh` (or ``clusterkit.ssh``) rather than this class directly.
    """

    def __init__(
        self,
        hosts: list[str],
        *,
        options: SSHOptions,
        workers_per_host: int = 1,
        scheduler_host_runs_worker: bool = True,
        threads_per_worker: int | None = None,
        memory_limit: str | int | None = "auto",
        security: Security | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        death_timeout: float = DEFAULT_DEATH_TIMEOUT,
        name: str | None = None,
    ) -> None:
        if not hosts:
            raise SSHError("An SSH cluster needs at least one host, e.g. %cluster ssh 10.0.0.5 10.0.0.6.")
        self.hosts = list(dict.fromkeys(hosts))
        self.scheduler_host = self.hosts[0]
        self.worker_hosts = self.hosts if scheduler_host_runs_worker else self.hosts[1:]
        if not self.worker_hosts:
            raise SSHError(
                f"No host is left for workers: {self.scheduler_host} runs only the scheduler. "
                "Give more hosts, or let the scheduler's host run workers too."
            )
        self.workers_per_host = workers_per_host
        self.options = options
        self.threads_per_worker = threads_per_worker
        self.memory_limit = memory_limit
        self.tls = security is not None
        self._hosts = _Hosts(options, startup_timeout=startup_timeout, death_timeout=death_timeout,
                             security=security)
        self._worker_number = 0
        self._dashboard_port: int | None = None
        self._forward: Any = None
        # The dashboard binds loopback on the scheduler's host at a port free here, then is
        # forwarded to that same port here, so the scheduler's own idea of its port is right.
        self._wanted_dashboard_port = _free_local_port()
        scheduler = {
            "cls": _RemoteScheduler,
            "options": {
                "hosts": self._hosts,
                "host": self.scheduler_host,
                "options": {
                    "host": self.scheduler_host,  # always explicit: else it advertises another address
                    "port": 0,
                    "protocol": "tls" if self.tls else "tcp",
                    "dashboard_address": f"127.0.0.1:{self._wanted_dashboard_port}",
                },
            },
        }
        workers: dict[str, dict[str, Any]] = {}
        for host in self.worker_hosts:
            for _ in range(workers_per_host):
                workers.update(self._spec_for(host))
        try:
            super().__init__(workers=workers, scheduler=scheduler, security=security,
                             name=name or f"ssh:{self.scheduler_host}")
        except BaseException:
            if self.status != Status.closed:
                with contextlib.suppress(Exception):
                    self.sync(self._close)
            with contextlib.suppress(Exception):
                self._loop_runner.stop()
            raise

    # -- worker specs ---------------------------------------------------------------------
    def _spec_for(self, host: str) -> dict[str, dict[str, Any]]:
        self._worker_number += 1
        name = f"{host}-{self._worker_number}"
        worker_options: dict[str, Any] = {
            "host": host,  # each worker listens on, and reports, its own host's address
            "protocol": "tls" if self.tls else "tcp",
            "death_timeout": self._hosts.death_timeout,
            "memory_limit": self.memory_limit if self.memory_limit is not None else "auto",
            "dashboard_address": "127.0.0.1:0",  # health endpoint only; never on the host's network
        }
        options = {"hosts": self._hosts, "host": host, "worker_options": worker_options}
        self._set_threads(options)
        return {name: {"cls": _RemoteWorker, "options": options}}

    def _set_threads(self, options: dict[str, Any]) -> None:
        """Threads per worker: as asked, else the host's CPUs shared by its workers (once known)."""
        cpus = self._hosts.cpus(options["host"])
        if self.threads_per_worker:
            options["worker_options"]["nthreads"] = self.threads_per_worker
        elif cpus:
            options["worker_options"]["nthreads"] = max(1, cpus // max(self.workers_per_host, 1))

    def _counts(self) -> dict[str, list[str]]:
        by_host: dict[str, list[str]] = {h: [] for h in self.worker_hosts}
        for name, spec in self.worker_spec.items():
            by_host.setdefault(spec["options"]["host"], []).append(name)
        return by_host

    def _usable_hosts(self) -> list[str]:
        """Worker hosts we still have a connection to (all of them before the cluster started)."""
        reachable = [h for h in self.worker_hosts if self._hosts.reachable(h)]
        return reachable or list(self.worker_hosts)

    def new_worker_spec(self) -> dict[str, dict[str, Any]]:
        """The next worker goes to the reachable host with the fewest (ties: the earliest given)."""
        counts = self._counts()
        host = min(self._usable_hosts(), key=lambda h: len(counts.get(h, [])))
        return self._spec_for(host)

    def _rehome_lost_workers(self) -> None:
        """Workers not running whose host we lost the connection to are started elsewhere instead."""
        usable = set(self._usable_hosts())
        for name, spec in list(self.worker_spec.items()):
            if name not in self.workers and spec["options"]["host"] not in usable:
                del self.worker_spec[name]
                self.worker_spec.update(self.new_worker_spec())

    def scale(self, n: int = 0, memory: Any = None, cores: Any = None) -> Any:
        """Ask for ``n`` workers in all: add on the least-loaded hosts, remove from the most-loaded."""
        if memory is not None or cores is not None:
            raise SSHError("SSH clusters scale by number of workers: call scale(n).")
        while len(self.worker_spec) > n:
            not_running = [name for name in self.worker_spec if name not in self.workers]
            if not_running:  # lost or not yet started: these go first
                del self.worker_spec[not_running[-1]]
                continue
            counts = self._counts()
            # Most workers first; among equals the host given last, so the first hosts keep theirs.
            order = {h: i for i, h in enumerate(self.worker_hosts)}
            host = max(counts, key=lambda h: (len(counts[h]), order.get(h, -1)))
            del self.worker_spec[counts[host][-1]]
        if self.status not in (Status.closing, Status.closed):
            while len(self.worker_spec) < n:
                self.worker_spec.update(self.new_worker_spec())
            self._rehome_lost_workers()
        self._drop_failed_workers()
        self._call_soon(self._correct_state)
        # A worker lost moments ago still counts as running until Dask's lost-worker-timeout
        # has passed; correct again after it, so scaling right after a loss still converges.
        self._heal_later()
        if self.asynchronous:
            from distributed.utils import NoOpAwaitable

            return NoOpAwaitable()
        return None

    def _update_worker_status(self, op: str, msg: Any) -> None:
        super()._update_worker_status(op, msg)
        if op == "remove":
            self._heal_later()

    def _heal_later(self) -> None:
        """After Dask forgets a lost worker (lost-worker-timeout), start a replacement.

        Workers run without nannies (one process each, faster to start), so this is what
        brings back a killed worker, and what ``client.restart()`` relies on.
        """
        delay = dask.utils.parse_timedelta(dask.config.get("distributed.deploy.lost-worker-timeout")) or 0
        if self.loop is not None:
            self.loop.call_later(delay + 1, self._heal)

    def _heal(self) -> None:
        if self.status != Status.running:
            return
        self._drop_failed_workers()
        self._rehome_lost_workers()
        self._correct_state()

    def _drop_failed_workers(self) -> None:
        """Forget workers whose start failed, so the next correction tries again."""
        for name, worker in list(self.workers.items()):
            if worker.status == Status.failed:
                del self.workers[name]

    def _call_soon(self, callback: Any) -> None:
        loop = self.loop
        if loop is not None:
            loop.add_callback(callback)

    # -- life cycle -------------------------------------------------------------------------
    async def _start(self) -> None:
        if self.status != Status.created:
            return await super()._start()
        counts = {h: len(names) for h, names in self._counts().items()}
        counts[self.scheduler_host] = counts.get(self.scheduler_host, 0) + 1
        try:
            # The scheduler and the first workers import Dask at the same time.
            await self._hosts.preflight(counts, {self.scheduler_host: _SCHEDULER_IMPORTS})
            for spec in self.worker_spec.values():
                self._set_threads(spec["options"])
        except BaseException:
            await self._hosts.close()
            raise
        await super()._start()
        try:
            await self._forward_dashboard()
        except BaseException:
            await self._close()
            raise

    async def _forward_dashboard(self) -> None:
        scheduler = self.scheduler
        assert isinstance(scheduler, _RemoteScheduler)
        remote_port = scheduler.services.get("dashboard")
        if remote_port is None:
            return
        if _is_loopback(self.scheduler_host):
            self._dashboard_port = remote_port  # the scheduler's host is this machine
            return
        connection = self._hosts.connection(self.scheduler_host)
        try:
            self._forward = await connection.forward_local_port("127.0.0.1", remote_port, "127.0.0.1", remote_port)
        except OSError:
            # The port is taken here: forward another one (the registry then shows the remote port).
            self._forward = await connection.forward_local_port("127.0.0.1", 0, "127.0.0.1", remote_port)
            logger.warning("clusterkit: dashboard port %s is busy here; forwarding port %s instead",
                           remote_port, self._forward.get_port())
        self._dashboard_port = int(self._forward.get_port())

    async def _close(self) -> None:
        try:
            await super()._close()
        finally:
            if self._forward is not None:
                with contextlib.suppress(Exception):
                    self._forward.close()
                self._forward = None
            await self._hosts.close()

    # -- adding hosts -------------------------------------------------------------------------
    async def _check_new_host(self, host: str, count: int) -> None:
        await self._hosts.preflight({host: count})

    def add_host(self, host: str, workers: int | None = None, timeout: float | None = None) -> list[str]:
        """Check ``host`` like the others, then start ``workers`` workers there; return their names."""
        if host in self.worker_hosts:
            raise SSHError(
                f"{host} already runs workers of this cluster; use %cluster scale N to add more."
            )
        count = self.workers_per_host if workers is None else workers
        self.sync(self._check_new_host, host, count)
        if host not in self.hosts:
            self.hosts.append(host)
        self.worker_hosts = [*self.worker_hosts, host]
        names: list[str] = []
        for _ in range(count):
            spec = self._spec_for(host)
            names.extend(spec)
            self.worker_spec.update(spec)
        try:
            self.sync(self._correct_state)
        except BaseException:
            for name in names:
                self.worker_spec.pop(name, None)
            self.worker_hosts.remove(host)
            self._call_soon(self._correct_state)
            raise
        return names

    # -- what users and the session see ---------------------------------------------------------
    @property
    def dashboard_link(self) -> str:
        """The dashboard through the local forward (``http://127.0.0.1:PORT/status``)."""
        if self._dashboard_port is None:
            return ""
        return format_dashboard_link("127.0.0.1", self._dashboard_port)

    @property
    def dashboard_port(self) -> int | None:
        """The local port that reaches the scheduler's dashboard, or ``None``."""
        return self._dashboard_port

    def remote_pids(self) -> dict[str, list[int]]:
        """Process ids of this cluster's live processes, by host (for diagnostics and tests)."""
        return self._hosts.pids()

    def __repr__(self) -> str:
        return (f"SSHCluster({self.scheduler_address!r}, hosts={self.hosts!r}, "
                f"workers={len(self.scheduler_info.get('workers', {}))})")


def _option(value: Any, key: str, default: Any) -> Any:
    return value if value is not None else config.get(f"ssh.{key}", default)


def start_ssh(
    hosts: list[str],
    workers_per_host: int = 1,
    *,
    user: str | None = None,
    port: int | None = None,
    key: str | None = None,
    python: str | None = None,
    insecure_accept_new_hosts: bool = False,
    known_hosts: str | None = None,
    security: Security | None = None,
    tls: bool = False,
    tls_ca_file: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    scheduler_host_runs_worker: bool = True,
    connect_timeout: float | None = None,
    startup_timeout: float | None = None,
    death_timeout: float | None = None,
    threads_per_worker: int | None = None,
    memory_limit: str | int | None = "auto",
) -> SSHCluster:
    """Check ``hosts``, then start a scheduler on the first and ``workers_per_host`` workers on each.

    ``security`` (what :func:`clusterkit.ssh` passes: per-cluster credentials) makes
    every connection mutual TLS; without it, ``tls=True`` or your own ``tls_*`` files
    do, else the cluster is plain TCP (``clusterkit.ssh(..., insecure=True)``).

    Raises :class:`~clusterkit.errors.SSHError` (one sentence naming ``host:port`` and
    the fix) when a check fails or a process does not start in time; nothing is left
    running then.
    """
    if not hosts:
        raise SSHError("Name at least one host, e.g. %cluster ssh 10.0.0.5 10.0.0.6.")
    for host in hosts:
        if "@" in host:
            login, _, name = host.rpartition("@")
            raise SSHError(
                f"Write the host without a user: {host!r} should be {name!r} with --user {login} "
                f"(user={login!r} in Python); one user logs in to every host."
            )
    if workers_per_host < 0:
        raise SSHError(f"workers_per_host must be 0 or more, not {workers_per_host}.")
    import sys

    options = SSHOptions(
        user=user,
        port=int(_option(port, "port", 22)),
        key=key,
        python=python or sys.executable,
        known_hosts=known_hosts,
        insecure_accept_new_hosts=bool(insecure_accept_new_hosts),
        connect_timeout=float(_option(connect_timeout, "connect-timeout", DEFAULT_CONNECT_TIMEOUT)),
    )
    if security is None:
        security = make_security(tls, tls_ca_file, tls_cert, tls_key)
    try:
        return SSHCluster(
            list(hosts),
            options=options,
            workers_per_host=workers_per_host,
            scheduler_host_runs_worker=scheduler_host_runs_worker,
            threads_per_worker=threads_per_worker,
            memory_limit=memory_limit,
            security=security,
            startup_timeout=float(_option(startup_timeout, "startup-timeout", DEFAULT_STARTUP_TIMEOUT)),
            death_timeout=float(_option(death_timeout, "death-timeout", DEFAULT_DEATH_TIMEOUT)),
        )
    except RuntimeError as exc:
        # SpecCluster wraps scheduler start-up errors in "Cluster failed to start": unwrap ours.
        if isinstance(exc.__cause__, SSHError):
            raise exc.__cause__ from exc.__cause__.__cause__
        raise


def add_host(cluster: Any, host: str, workers: int | None = None) -> list[str]:
    """Add ``host`` to a running SSH cluster (``%cluster ssh --add HOST``); return the new workers' names."""
    if not isinstance(cluster, SSHCluster):
        raise SSHError(
            "Only an SSH cluster started by this kernel can take another host; start one with "
            "%cluster ssh HOST [HOST ...] first."
        )
    return cluster.add_host(host, workers)
