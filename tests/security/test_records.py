"""Planted records: nothing trusts a record it did not check.

Each row plants what an attacker (or a bug) could leave in the registry folder and
checks that listing skips it with a warning naming the file, that nothing outside
the folder is touched, that no pickle a peer sends is ever loaded, and that
``clusterkit down`` signals only verified daemons.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import pathlib
import stat
import subprocess
import sys

import psutil
import pytest

from clusterkit import control, registry
from clusterkit.errors import BackendError, RegistryError
from tests.conftest import wait_until


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clusterkit.cli", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


def good(**fields: object) -> dict[str, object]:
    record = registry.ClusterRecord.new(name="planted", kind="local", scheduler_address="tcp://127.0.0.1:9")
    return {**record.to_json(), **fields}


def plant(folder: pathlib.Path, file_name: str, data: object) -> pathlib.Path:
    path = folder / file_name
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return path


ROWS = {
    "traversal id": ("evil.json", good(id="../x")),
    "slash in id": ("evil.json", good(id="a/b")),
    "id differs from file name": ("123456abcdef.json", good(id="fedcba654321")),
    "owner_pid as a string": (None, good(owner_pid="1")),
    "workers as a float": (None, good(workers=2.5)),
    "status unknown": (None, good(status="hacked")),
    "kind unknown": (None, good(kind="shell")),
    "name with markup": (None, good(name="<img src=x>")),
    "address without scheme": (None, good(scheduler_address="127.0.0.1:8786")),
    "dashboard port out of range": (None, good(dashboard_port=70000)),
    "missing fields": (None, {"id": "abcdef012345", "name": "x"}),
    "not an object": ("abcdef012345.json", [1, 2]),
}


@pytest.mark.parametrize("row", ROWS)
def test_a_bad_record_is_skipped_with_a_warning_naming_its_file(row, registry_dir, caplog):
    file_name, data = ROWS[row]
    if file_name is None:
        file_name = f"{data['id']}.json"  # type: ignore[index]
    outside = registry_dir.parent / "x.json"
    outside.write_text("{}")
    path = plant(registry_dir, file_name, data)
    with caplog.at_level(logging.WARNING, logger="clusterkit.registry"):
        assert registry.list_records(include_stale=True) == []
        assert registry.prune() == []
    assert any(str(path) in message for message in caplog.messages), caplog.messages
    assert outside.exists()  # nothing outside the folder is touched
    assert registry.remove("../x") is False and outside.exists()
    outside.unlink()


def test_the_cli_lists_past_every_bad_record_at_once(registry_dir):
    for number, (file_name, data) in enumerate(ROWS.values()):
        plant(registry_dir, file_name or f"{number:012d}.json", data)
    real = registry.ClusterRecord.new(name="real", kind="local", scheduler_address="tcp://127.0.0.1:9")
    registry.write(real)
    listing = cli("ls")
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    assert "real" in listing.stdout and "planted" not in listing.stdout
    assert [r["name"] for r in json.loads(cli("ls", "--json").stdout)] == ["real"]


def test_another_users_or_writable_or_linked_record_is_skipped(registry_dir, tmp_path, caplog):
    theirs = plant(registry_dir, "aaaaaaaaaaaa.json", good(id="aaaaaaaaaaaa"))
    os.chown(theirs, 65534, 65534)  # nobody
    writable = plant(registry_dir, "bbbbbbbbbbbb.json", good(id="bbbbbbbbbbbb"))
    writable.chmod(0o666)
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(good(id="cccccccccccc")))
    (registry_dir / "cccccccccccc.json").symlink_to(target)
    with caplog.at_level(logging.WARNING, logger="clusterkit.registry"):
        assert registry.list_records(include_stale=True) == []
    text = "\n".join(caplog.messages)
    assert "belongs to another user" in text and "other users may write to it" in text
    assert str(registry_dir / "cccccccccccc.json") in text


def test_a_loose_registry_folder_is_tightened_and_anothers_is_refused(tmp_path, monkeypatch, caplog):
    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setenv("CLUSTERKIT_REGISTRY_DIR", str(folder))
    with caplog.at_level(logging.WARNING, logger="clusterkit.registry"):
        assert registry.list_records() == []
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert any("made it 0700" in m for m in caplog.messages)

    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, 65534, 65534)
    monkeypatch.setenv("CLUSTERKIT_REGISTRY_DIR", str(foreign))
    with pytest.raises(RegistryError, match="belongs to another user"):
        registry.list_records()
    result = cli("ls")
    assert result.returncode == 1 and "belongs to another user" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0

    nested = tmp_path / "a" / "b" / "c"
    monkeypatch.setenv("CLUSTERKIT_REGISTRY_DIR", str(nested))
    registry.list_records()
    for level in (tmp_path / "a", tmp_path / "a" / "b", nested):
        assert stat.S_IMODE(level.stat().st_mode) == 0o700, level


def _pickle_record(registry_dir: pathlib.Path, address: str, **fields: object) -> registry.ClusterRecord:
    record = registry.ClusterRecord.new(name="hostile", kind="local", scheduler_address=address, **fields)
    registry.write(record)
    return record


def test_the_listener_is_dangerous_to_a_plain_dask_read(pickle_listener):
    """Control group: distributed's own comm unpickles what this listener sends (the marker appears)."""
    script = (
        "import asyncio, sys\n"
        "from distributed.comm import connect\n"
        "async def main():\n"
        "    comm = await connect(sys.argv[1], timeout=5)\n"
        "    await comm.read()\n"
        "try:\n    asyncio.run(main())\nexcept Exception:\n    pass\n"
    )
    subprocess.run([sys.executable, "-c", script, pickle_listener.address], capture_output=True, timeout=60)
    assert pickle_listener.marker.exists()


def test_control_down_and_the_magic_never_unpickle(pickle_listener, registry_dir, shell):
    record = _pickle_record(registry_dir, pickle_listener.address)
    # control (what REST PATCH/DELETE and %cluster stop call): the reply is read as plain msgpack.
    for op, arguments in (("stop", {}), ("scale", {"n": 2}), ("adapt", {"minimum": 0, "maximum": 2})):
        with contextlib.suppress(BackendError):
            control.send(record, op, **arguments)
    # clusterkit down
    result = cli("down", "hostile", env={"DASK_CLUSTERKIT__CONTROL__TIMEOUT": "2s"})
    assert "Traceback" not in result.stderr
    # %cluster stop in a real IPython shell
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        shell.run_cell("%cluster stop hostile")
    assert "Traceback" not in out.getvalue()
    assert pickle_listener.connections >= 5  # every path really talked to the listener
    assert not pickle_listener.marker.exists()


def test_a_tls_record_without_credentials_is_not_contacted(pickle_listener, registry_dir):
    address = pickle_listener.address.replace("tcp://", "tls://")
    record = _pickle_record(registry_dir, address)
    with pytest.raises(BackendError, match=r"TLS credentials of cluster \w+ are not in"):
        control.send(record, "stop")
    assert pickle_listener.connections == 0 and not pickle_listener.marker.exists()


def test_down_never_signals_a_process_that_is_not_the_clusters_daemon(registry_dir):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        record = _pickle_record(registry_dir, "tcp://127.0.0.1:9", owner="daemon", owner_pid=bystander.pid)
        result = cli("down", record.name, env={"DASK_CLUSTERKIT__CONTROL__TIMEOUT": "2s"})
        assert result.returncode == 1 and "still running" in result.stderr
        assert bystander.poll() is None and psutil.Process(bystander.pid).status() != psutil.STATUS_ZOMBIE
        result = cli("down", "--all", env={"DASK_CLUSTERKIT__CONTROL__TIMEOUT": "2s"})
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_a_reused_pid_is_not_taken_for_the_daemon(registry_dir):
    from clusterkit import daemon

    # Looks like a daemon on its command line, but started after the record was written.
    lookalike = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "-m", "clusterkit.daemon"])
    try:
        # /proc shows the new command line a moment after exec.
        assert wait_until(lambda: "clusterkit.daemon" in psutil.Process(lookalike.pid).cmdline(), 10)
        started = psutil.Process(lookalike.pid).create_time()
        record = registry.ClusterRecord.new(name="reused", kind="local", scheduler_address="tcp://127.0.0.1:9",
                                            owner="daemon", owner_pid=lookalike.pid)
        record.created = started - 3600
        assert daemon.process(record) is None
        record.created = started + 5  # the control case: a record written after it started is its own
        assert daemon.process(record) is not None
    finally:
        lookalike.kill()
        lookalike.wait()


def test_your_own_ca_and_certificate_work_for_a_local_cluster(registry_dir, tmp_path):
    """``ck.start(tls_ca_file=..., tls_cert=..., tls_key=...)``: the files are copied beside the record."""
    import clusterkit as ck
    from clusterkit import security

    # A CA and certificates made elsewhere, as a user's own PKI would give them.
    pki = tmp_path / "pki"
    pki.mkdir(mode=0o700)
    security.create("userpki", pki)
    made = {name: (pki / "userpki.tls" / f"{name}.pem").read_text() for name in ("ca", "client")}
    (tmp_path / "ca.pem").write_text(made["ca"])
    cert, key = made["client"].split("-----END CERTIFICATE-----\n")
    (tmp_path / "cert.pem").write_text(cert + "-----END CERTIFICATE-----\n")
    (tmp_path / "key.pem").write_text(key)
    session = ck.start(n_workers=1, tls_ca_file=str(tmp_path / "ca.pem"), tls_cert=str(tmp_path / "cert.pem"),
                       tls_key=str(tmp_path / "key.pem"))
    try:
        assert session.address.startswith("tls://")
        assert session.client.submit(sum, [1, 2]).result() == 3
        folder = registry.credentials_directory(session.record.id)
        assert (folder / "ca.pem").read_text() == made["ca"]
    finally:
        session.stop()
