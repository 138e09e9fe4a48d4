from __future__ import annotations

import json
import logging
import pathlib
import subprocess
import sys

import pytest

from clusterkit import registry


def _record(name: str = "demo", **fields) -> registry.ClusterRecord:
    return registry.ClusterRecord.new(name=name, kind="local", scheduler_address="tcp://127.0.0.1:1", **fields)


def test_write_list_remove_roundtrip(registry_dir):
    record = _record(workers=2, threads=4, memory_bytes=1024)
    path = registry.write(record)
    assert path.parent == registry_dir
    [loaded] = registry.list_records()
    assert loaded == record
    record.workers = 3
    registry.write(record)
    assert registry.list_records()[0].workers == 3
    assert registry.remove(record.id) is True
    assert registry.remove(record.id) is False  # already gone is not an error
    assert registry.list_records() == []


def test_writes_leave_no_temporary_files(registry_dir):
    for _ in range(20):
        registry.write(_record())
    assert all(p.suffix == ".json" for p in registry_dir.iterdir())


def test_corrupt_files_are_skipped_with_a_warning(registry_dir, caplog):
    good = _record("good")
    registry.write(good)
    (registry_dir / "broken.json").write_text("{not json")
    (registry_dir / "partial.json").write_text(json.dumps({"id": "x", "name": "y"}))
    (registry_dir / "list.json").write_text("[1, 2]")
    with caplog.at_level(logging.WARNING, logger="clusterkit.registry"):
        records = registry.list_records()
    assert [r.name for r in records] == ["good"]
    assert sum("Skipping unreadable cluster record" in m for m in caplog.messages) == 3


def test_records_of_dead_owners_are_pruned(registry_dir):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = _record("stale", owner_pid=dead.pid)
    live = _record("live")
    registry.write(stale)
    registry.write(live)
    assert [r.name for r in registry.list_records()] == ["live"]
    assert {r.name for r in registry.list_records(include_stale=True)} == {"stale", "live"}
    removed = registry.prune()
    assert [r.name for r in removed] == ["stale"]
    assert not (registry_dir / f"{stale.id}.json").exists()


def test_find_by_id_then_newest_name(registry_dir):
    first = _record("same")
    second = _record("same")
    second.created = first.created + 1
    registry.write(first)
    registry.write(second)
    assert registry.find("same") == second
    assert registry.find(first.id) == first
    assert registry.find("missing") is None


@pytest.mark.parametrize(
    ("name", "ok"),
    [("demo", True), ("a.b-c_1", True), ("", False), ("-x", False), ("<script>", False), ("x" * 65, False)],
)
def test_names_are_validated(name, ok):
    assert registry.valid_name(name) is ok


def test_registry_uses_the_standard_library_only():
    """The Jupyter server reads records without needing Dask's machinery."""
    import ast

    tree = ast.parse(pathlib.Path(registry.__file__).read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    third_party = {m for m in modules if m.split(".")[0] not in sys.stdlib_module_names}
    assert third_party <= {"clusterkit.errors", "jupyter_core.paths"}


def test_unwritable_directory_is_a_registry_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("CLUSTERKIT_REGISTRY_DIR", str(blocker / "sub"))
    with pytest.raises(registry.RegistryError, match="CLUSTERKIT_REGISTRY_DIR"):
        registry.list_records()


def test_statuses_probe_live_owners_only_and_mark_unreachable_schedulers_lost(registry_dir):
    import socket

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
        closed.close()
        live = registry.ClusterRecord.new(name="live", kind="local", scheduler_address=f"tls://127.0.0.1:{port}")
        lost = registry.ClusterRecord.new(name="lost", kind="local", scheduler_address=f"tcp://127.0.0.1:{closed_port}")
        stopping = registry.ClusterRecord.new(
            name="stopping", kind="local", scheduler_address=f"tcp://127.0.0.1:{closed_port}", status="stopping"
        )
        orphan = registry.ClusterRecord.new(
            name="orphan", kind="local", scheduler_address=f"tcp://127.0.0.1:{closed_port}", owner_pid=dead.pid
        )
        named = registry.ClusterRecord.new(name="named", kind="local", scheduler_address=f"tcp://localhost:{port}")
        many = [registry.ClusterRecord.new(name=f"m{i}", kind="local", scheduler_address=f"tcp://127.0.0.1:{closed_port}")
                for i in range(300)]
        result = registry.statuses([live, lost, stopping, orphan, named, *many])
    assert result[live.id] == "running" and result[named.id] == "running"
    assert result[lost.id] == "lost" and all(result[m.id] == "lost" for m in many)
    assert result[stopping.id] == "stopping"
    assert result[orphan.id] == "running"  # a dead owner's record is pruned, not probed
