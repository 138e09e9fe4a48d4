"""The cluster registry: one JSON file per running cluster.

Whoever starts a cluster (a kernel, or the ``clusterkit`` daemon for detached
clusters) *owns* it and writes its :class:`ClusterRecord` here; it rewrites the
file when the cluster changes and deletes it when the cluster stops. Everyone
else (``%cluster list``, ``clusterkit ls``, the Jupyter server extension) only
reads. A record whose owner process is gone is stale and is pruned by readers.

This module uses the standard library only, so the Jupyter server can import it
without importing Dask.

>>> rec = ClusterRecord.new(name="demo", kind="local", scheduler_address="tcp://127.0.0.1:8786")
>>> write(rec, directory=tmp)            # doctest: +SKIP
>>> [r.name for r in list_records(directory=tmp)]   # doctest: +SKIP
['demo']
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
import re
import secrets
import shutil
import stat
import tempfile
import time
from typing import Any, Literal, get_args

from clusterkit.errors import RegistryError

__all__ = [
    "ClusterRecord",
    "address_reachable",
    "credentials_directory",
    "default_directory",
    "find",
    "list_records",
    "new_id",
    "owner_alive",
    "owner_verified",
    "prune",
    "reachable",
    "remove",
    "statuses",
    "valid_id",
    "valid_name",
    "write",
]

logger = logging.getLogger(__name__)

Kind = Literal["local", "ssh", "address", "factory", "gateway"]
Status = Literal["starting", "running", "stopping", "lost"]
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Ids name files: no dots, no slashes, so no id can leave the registry folder.
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MAX_RECORD_BYTES = 64 * 1024


@dataclasses.dataclass
class ClusterRecord:
    """What everyone may know about one cluster. Never holds secrets.

    ``owner`` is a kernel id, ``"daemon"`` or ``"process"`` (a plain script);
    ``owner_pid`` is the process that must be alive for the record to count.
    The TypeScript interface ``IClusterRecord`` in ``labextension/src/tokens.ts``
    mirrors this class: change both together.
    """

    id: str
    name: str
    kind: Kind
    scheduler_address: str
    dashboard_port: int | None
    owner: str
    owner_pid: int
    created: float
    workers: int = 0
    threads: int = 0
    memory_bytes: int = 0
    status: Status = "running"
    #: A browser link for a dashboard served elsewhere (a Dask Gateway's proxy), else ``None``.
    dashboard_url: str | None = None

    @classmethod
    def new(
        cls, *, name: str, kind: Kind, scheduler_address: str, id: str | None = None, **fields: Any
    ) -> ClusterRecord:
        """A record with a fresh id (or ``id``), owned by this process unless told otherwise."""
        fields.setdefault("owner", "process")
        fields.setdefault("owner_pid", os.getpid())
        fields.setdefault("dashboard_port", None)
        return cls(
            id=id or new_id(),
            name=name,
            kind=kind,
            scheduler_address=scheduler_address,
            created=time.time(),
            **fields,
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ClusterRecord:
        """Check every field's type and value; ``ValueError`` names the first that is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"a record is a JSON object, not {type(data).__name__}")
        missing = _REQUIRED - set(data)
        if missing:
            raise ValueError(f"missing fields {sorted(missing)}")
        fields = {k: v for k, v in data.items() if k in _FIELDS}
        for key, check in _CHECKS.items():
            if key in fields and not check(fields[key]):
                raise ValueError(f"field {key!r} has a wrong type or value: {fields[key]!r}")
        return cls(**fields)


_FIELDS = frozenset(f.name for f in dataclasses.fields(ClusterRecord))
_REQUIRED = frozenset(f.name for f in dataclasses.fields(ClusterRecord) if f.default is dataclasses.MISSING)


def _is_int(value: Any, minimum: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_port(value: Any) -> bool:
    return value is None or (_is_int(value) and 0 < value < 65536)


def _is_address(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 512 and "://" in value and value.isprintable()


_CHECKS: dict[str, Any] = {
    "id": lambda v: isinstance(v, str) and valid_id(v),
    "name": lambda v: isinstance(v, str) and valid_name(v),
    "kind": lambda v: v in get_args(Kind),
    "scheduler_address": _is_address,
    "dashboard_port": _is_port,
    "owner": lambda v: isinstance(v, str) and 0 < len(v) <= 128 and v.isprintable(),
    "owner_pid": _is_int,
    "created": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
    "workers": _is_int,
    "threads": _is_int,
    "memory_bytes": _is_int,
    "status": lambda v: v in get_args(Status),
    # a link the sidebar opens: http(s) only, never javascript: or file:
    "dashboard_url": lambda v: v is None
    or (isinstance(v, str) and v.startswith(("http://", "https://")) and len(v) <= 2048 and v.isprintable()),
}


def new_id() -> str:
    """A fresh record id (12 hex digits); credentials are made for it before the record exists."""
    return secrets.token_hex(6)


def valid_id(record_id: str) -> bool:
    """Ids are file names: letters, digits, ``_`` and ``-`` only (no ``.`` or ``/``)."""
    return bool(_ID_RE.match(record_id))


def valid_name(name: str) -> bool:
    """Names are short and shell-safe: letters, digits, ``_ . -``, at most 64."""
    return bool(_NAME_RE.match(name))


def default_directory() -> pathlib.Path:
    """``$CLUSTERKIT_REGISTRY_DIR``, else ``<jupyter runtime dir>/clusterkit``."""
    env = os.environ.get("CLUSTERKIT_REGISTRY_DIR")
    if env:
        return pathlib.Path(env)
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime = pathlib.Path(jupyter_runtime_dir())
    except ImportError:  # the registry must work without Jupyter installed
        data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
        runtime = pathlib.Path(
            os.environ.get("JUPYTER_RUNTIME_DIR") or pathlib.Path(data_home, "jupyter", "runtime")
        )
    return runtime / "clusterkit"


def _make_private(path: pathlib.Path) -> None:
    """Create ``path`` and missing parents with mode 0700 (``mkdir(parents=True)`` would use 0755)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass


def _check_owned(path: pathlib.Path, info: os.stat_result, what: str) -> None:
    """Refuse a folder another user owns; tighten one of ours that others could write to."""
    if info.st_uid != os.geteuid():
        raise RegistryError(
            f"The cluster registry {what} {path} belongs to another user (uid {info.st_uid}), so its records "
            "cannot be trusted. Remove it, or set CLUSTERKIT_REGISTRY_DIR to a folder of your own."
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        logger.warning("clusterkit: %s %s was open to other users (mode %o); made it 0700",
                       what, path, stat.S_IMODE(info.st_mode))
        try:
            os.chmod(path, 0o700)
        except OSError as exc:
            raise RegistryError(f"Cannot make the registry {what} {path} private: {exc.strerror}.") from exc


def _directory(directory: str | os.PathLike[str] | None) -> pathlib.Path:
    path = pathlib.Path(directory) if directory is not None else default_directory()
    try:
        _make_private(path)
        info = os.stat(path, follow_symlinks=False)
    except OSError as exc:
        raise RegistryError(
            f"Cannot create the cluster registry folder {path}: {exc.strerror}. "
            "Set CLUSTERKIT_REGISTRY_DIR to a writable folder."
        ) from exc
    if not stat.S_ISDIR(info.st_mode):
        raise RegistryError(
            f"The cluster registry {path} is not a folder (a symbolic link or file?). "
            "Remove it, or set CLUSTERKIT_REGISTRY_DIR to a folder of your own."
        )
    _check_owned(path, info, "folder")
    return path


def credentials_directory(record_id: str, directory: str | os.PathLike[str] | None = None) -> pathlib.Path:
    """Where the TLS credentials of cluster ``record_id`` live: ``<registry>/<id>.tls`` (not created)."""
    if not valid_id(record_id):
        raise RegistryError(f"{record_id!r} is not a cluster record id.")
    return _directory(directory) / f"{record_id}.tls"


def write(record: ClusterRecord, directory: str | os.PathLike[str] | None = None) -> pathlib.Path:
    """Write (or rewrite) a record atomically: readers never see half a file."""
    folder = _directory(directory)
    target = folder / f"{record.id}.json"
    try:
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w") as f:
            json.dump(record.to_json(), f, indent=1)
        os.replace(tmp, target)
    except OSError as exc:
        raise RegistryError(f"Cannot write cluster record {target}: {exc}.") from exc
    return target


def remove(record_id: str, directory: str | os.PathLike[str] | None = None) -> bool:
    """Delete a record and its credentials; ``False`` if it was already gone (that is not an error)."""
    if not valid_id(record_id):
        return False
    folder = _directory(directory)
    shutil.rmtree(folder / f"{record_id}.tls", ignore_errors=True)
    try:
        (folder / f"{record_id}.json").unlink()
    except FileNotFoundError:
        return False
    return True


def owner_alive(record: ClusterRecord, _seen: dict[int, bool] | None = None) -> bool:
    """Is the process that owns this record still running? (``_seen`` caches answers by pid
    for one listing: a thousand records of a few owners cost a few checks.)"""
    pid = record.owner_pid
    if not isinstance(pid, int) or pid <= 0:
        return False
    if _seen is not None and pid in _seen:
        return _seen[pid]
    alive = _pid_alive(pid)
    if _seen is not None:
        _seen[pid] = alive
    return alive


def owner_verified(record: ClusterRecord) -> bool:
    """Is ``record.owner_pid`` really the owner the record names, so that it may be signalled?

    The process must belong to this user and have started before the record was written
    (a pid reused later, or a record naming an older unrelated process, fails); a daemon
    must run ``-m clusterkit.daemon`` and a kernel must carry its id on its command line
    (its connection file). ``"process"`` owners (scripts) can only be checked by user and
    start time.
    """
    if not isinstance(record.owner_pid, int) or record.owner_pid <= 1:
        return False
    facts = _process_facts(record.owner_pid)
    if facts is None:
        return False
    uid, started, cmdline = facts
    if uid != os.getuid() or started > record.created + 1.0:
        return False
    if record.owner == "daemon":
        return "-m" in cmdline and "clusterkit.daemon" in cmdline
    if record.owner == "process":
        return True
    return any(record.owner in argument for argument in cmdline)


def _process_facts(pid: int) -> tuple[int, float, list[str]] | None:
    """Real uid, start time (epoch seconds) and command line of ``pid``, from ``/proc``; ``None`` if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
        with open(f"/proc/{pid}/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return uid, boot + ticks / os.sysconf("SC_CLK_TCK"), cmdline


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    # A zombie (dead but not reaped by its parent) counts as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def address_reachable(address: str, timeout: float = 0.5) -> bool:
    """Does a ``tcp://`` or ``tls://`` address accept connections? Other transports count as yes."""
    import socket
    import urllib.parse

    parsed = urllib.parse.urlsplit(address)
    if parsed.scheme not in ("tcp", "tls") or not parsed.hostname or not parsed.port:
        return True  # cannot probe other transports cheaply; assume alive
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout):
            return True
    except OSError:
        return False


def reachable(record: ClusterRecord, timeout: float = 0.5) -> bool:
    """Does the scheduler accept TCP connections? (``False`` marks a lost cluster.)"""
    return address_reachable(record.scheduler_address, timeout)


def statuses(records: list[ClusterRecord], timeout: float = 0.25) -> dict[str, Status]:
    """Each record's status as a listing shows it: ``running`` records whose scheduler does not
    accept a connection are ``lost``.

    A thousand records list in well under a second: records of dead owners are reported as
    they are, without a probe; the others are probed all at once with non-blocking connects
    (in batches that fit the file-descriptor limit), so the wait is ``timeout`` per batch,
    not per record.
    """
    import ipaddress
    import socket
    import urllib.parse

    result: dict[str, Status] = {r.id: r.status for r in records}
    targets: list[tuple[str, tuple[str, int], int]] = []
    seen: dict[int, bool] = {}
    for record in records:
        if record.status != "running" or not owner_alive(record, seen):
            continue
        parsed = urllib.parse.urlsplit(record.scheduler_address)
        try:
            host, port = parsed.hostname, parsed.port
            if parsed.scheme not in ("tcp", "tls") or not host or not port:
                continue  # other transports cannot be probed cheaply: assume alive
            family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
        except ValueError:  # a host name: resolving it may block, so probe it the slow way
            if not reachable(record, timeout):
                result[record.id] = "lost"
            continue
        targets.append((record.id, (host, port), family))
    batch = _probe_batch()
    for start in range(0, len(targets), batch):
        for record_id in _unreachable(targets[start : start + batch], timeout):
            result[record_id] = "lost"
    return result


def _probe_batch() -> int:
    """How many sockets to open at once: half the free file-descriptor budget, 64 to 1024."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 256
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(64, min(1024, soft // 2 - 64))


def _unreachable(targets: list[tuple[str, tuple[str, int], int]], timeout: float) -> list[str]:
    """Ids whose address refused or did not accept a TCP connection within ``timeout`` (all at once)."""
    import errno
    import selectors
    import socket

    pending: dict[socket.socket, str] = {}
    failed: list[str] = []
    with selectors.DefaultSelector() as selector:
        try:
            for record_id, address, family in targets:
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setblocking(False)
                code = sock.connect_ex(address)
                if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                    sock.close()
                    failed.append(record_id)
                    continue
                pending[sock] = record_id
                selector.register(sock, selectors.EVENT_WRITE)
            deadline = time.monotonic() + timeout
            while pending and (left := deadline - time.monotonic()) > 0:
                for key, _ in selector.select(left):
                    sock = key.fileobj  # type: ignore[assignment]
                    selector.unregister(sock)
                    record_id = pending.pop(sock)
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        failed.append(record_id)
                    sock.close()
        finally:
            failed.extend(pending.values())  # no answer in time
            for sock in pending:
                sock.close()
    return failed


def _read_record(path: pathlib.Path) -> ClusterRecord:
    """One record file, checked: ours, not writable by others, not a link, id = file name."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_uid != os.geteuid():
            raise ValueError(f"it belongs to another user (uid {info.st_uid})")
        if stat.S_IMODE(info.st_mode) & 0o022:
            raise ValueError(f"other users may write to it (mode {stat.S_IMODE(info.st_mode):o})")
        raw = f.read(_MAX_RECORD_BYTES + 1)
    if len(raw) > _MAX_RECORD_BYTES:
        raise ValueError("it is too large to be a record")
    record = ClusterRecord.from_json(json.loads(raw))
    if path.name != f"{record.id}.json":
        raise ValueError(f"its id {record.id!r} does not match its file name")
    return record


def list_records(
    directory: str | os.PathLike[str] | None = None, *, include_stale: bool = False
) -> list[ClusterRecord]:
    """Every valid record, oldest first.

    A file that is not a valid record (corrupt JSON, wrong or missing fields, an id that
    differs from its file name, another user's file, one others may write) is skipped with
    a warning naming the file; listing never raises for a bad record.
    """
    folder = _directory(directory)
    records = []
    seen: dict[int, bool] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            record = _read_record(path)
        except FileNotFoundError:
            continue  # removed while we listed
        except (OSError, ValueError, TypeError, UnicodeDecodeError) as exc:
            logger.warning("Skipping unreadable cluster record %s: %s", path, exc)
            continue
        if include_stale or owner_alive(record, seen):
            records.append(record)
    return sorted(records, key=lambda r: r.created)


def prune(directory: str | os.PathLike[str] | None = None) -> list[ClusterRecord]:
    """Delete records whose owner process is gone; return what was removed."""
    removed = []
    seen: dict[int, bool] = {}
    for record in list_records(directory, include_stale=True):
        if not owner_alive(record, seen):
            remove(record.id, directory)
            removed.append(record)
    return removed


def find(name_or_id: str, directory: str | os.PathLike[str] | None = None) -> ClusterRecord | None:
    """The live record with this id, or else this name (newest wins)."""
    records = list_records(directory)
    for record in records:
        if record.id == name_or_id:
            return record
    named = [r for r in records if r.name == name_or_id]
    return named[-1] if named else None
