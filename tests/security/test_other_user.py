"""Another local user against our clusters: refused before any code runs; the owner keeps working.

Each test starts a real cluster as root (local, detached, SSH), then a second unix
user tries what an attacker on a shared host would: a ``distributed.Client`` (plain
and with TLS credentials of its own), a raw comm sending ``log_event`` (the control
channel), and reading the registry folder, the record and the credentials. Then the
owner's other processes (another interpreter, the CLI, the control path the server
uses) still work. An ``--insecure`` cluster is attacked with the same script to show
the script does get in where nothing stops it.
"""

from __future__ import annotations

import subprocess
import sys

import clusterkit as ck
from clusterkit import daemon, registry
from tests.conftest import wait_until
from tests.security.attacks import assert_owner_still_works, assert_refused, attack


def test_local_cluster_refuses_another_user(other_user, reachable_registry):
    session = ck.start(n_workers=1, name="mine")
    try:
        record = session.record
        assert record is not None and record.scheduler_address.startswith("tls://127.0.0.1:")
        assert reachable_registry.stat().st_mode & 0o777 == 0o700
        assert_refused(attack(other_user, record, reachable_registry))
        assert session.client.submit(sum, [1, 2]).result() == 3  # the attacks did not stop it
        assert_owner_still_works(record)
    finally:
        session.stop()
    assert list(reachable_registry.iterdir()) == []  # record and credentials both gone


def test_detached_cluster_refuses_another_user(other_user, reachable_registry, shell):
    record = daemon.spawn(name="detached", n_workers=1)
    try:
        assert record.scheduler_address.startswith("tls://127.0.0.1:")
        assert_refused(attack(other_user, record, reachable_registry))
        assert registry.find("detached") is not None
        assert_owner_still_works(record)
        # The magic stops another owner's TLS cluster through its scheduler, with the credentials.
        shell.run_cell("%cluster stop detached")
        assert wait_until(lambda: registry.find(record.id) is None and not registry.owner_alive(record), 60)
    finally:
        subprocess.run([sys.executable, "-m", "clusterkit.cli", "down", "detached"], capture_output=True, timeout=90)
    assert list(reachable_registry.iterdir()) == []


def test_insecure_cluster_lets_the_same_script_in(other_user, reachable_registry, capfd):
    """The attack script is not vacuous: without TLS the other user runs code and sends control events."""
    session = ck.start(n_workers=1, name="open", insecure=True)
    try:
        assert "--insecure" in capfd.readouterr().err  # the one-line warning
        record = session.record
        assert record is not None and record.scheduler_address.startswith("tcp://")
        results = attack(other_user, record, reachable_registry)
        assert results["client_plain"] == "ALLOWED" and results["raw_plain_log_event"] == "ALLOWED", results
        # The folder still protects the record itself.
        assert results["list_registry"].startswith("refused") and results["read_record"].startswith("refused")
    finally:
        session.stop()
