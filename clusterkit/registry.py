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
import tempfile
import time
from typing import Any, Literal

from clusterkit.errors import RegistryError

__all__ = [
    "ClusterRecord",
    "address_reachable",
    "default_directory",
    "find",
    "list_records",
    "owner_alive",
    "prune",
    "reachable",
    "remove",
    "valid_name",
    "write",
]

logger = logging.getLogger(__name__)

Kind = Literal["local", "ssh", "address", "factory", "gateway"]
Status = Literal["starting", "running", "stopping", "lost"]
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


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
    def new(cls, *, name: str, kind: Kind, scheduler_address: str, **fields: Any) -> ClusterRecord:
        """A record with a fresh id, owned by this process unless told otherwise."""
        fields.setdefault("owner", "process")
        fields.setdefault("owner_pid", os.getpid())
        fields.setdefault("dashboard_port", None)
        return cls(
            id=secrets.token_hex(6),
            name=name,
            kind=kind,
            scheduler_address=scheduler_address,
            created=time.time(),
            **fields,
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        missing = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING} - set(data)
        if missing:
            raise ValueError(f"missing fields {sorted(missing)}")
        return cls(**{k: v for k, v in data.items() if k in names})


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


def _directory(directory: str | os.PathLike[str] | None) -> pathlib.Path:
    path = pathlib.Path(directory) if directory is not None else default_directory()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise RegistryError(
            f"Cannot create the cluster registry folder {path}: {exc.strerror}. "
            "Set CLUSTERKIT_REGISTRY_DIR to a writable folder."
        ) from exc
    return path


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
    """Delete a record; ``False`` if it was already gone (that is not an error)."""
    try:
        (_directory(directory) / f"{record_id}.json").unlink()
    except FileNotFoundError:
        return False
    return True


def owner_alive(record: ClusterRecord) -> bool:
    """Is the process that owns this record still running?"""
    if record.owner_pid <= 0:
        return False
    try:
        os.kill(record.owner_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    # A zombie (dead but not reaped by its parent) counts as dead.
    try:
        with open(f"/proc/{record.owner_pid}/stat") as f:
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


def list_records(
    directory: str | os.PathLike[str] | None = None, *, include_stale: bool = False
) -> list[ClusterRecord]:
    """Every readable record, oldest first. Corrupt files are skipped with a warning."""
    folder = _directory(directory)
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = ClusterRecord.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            continue  # removed while we listed
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("Skipping unreadable cluster record %s: %s", path, exc)
            continue
        if include_stale or owner_alive(record):
            records.append(record)
    return sorted(records, key=lambda r: r.created)


def prune(directory: str | os.PathLike[str] | None = None) -> list[ClusterRecord]:
    """Delete records whose owner process is gone; return what was removed."""
    removed = []
    for record in list_records(directory, include_stale=True):
        if not owner_alive(record):
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
