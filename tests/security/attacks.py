"""What another local user tries against a cluster, and what the owner must still be able to do.

Shared by tests/security/test_other_user.py (local, detached) and
tests/backends/test_ssh.py (SSH, which needs that module's SSH hosts).
"""

from __future__ import annotations

import json
import subprocess
import sys

from clusterkit import control, registry

ATTACK = r'''
import asyncio, json, os, sys, threading
address, folder, record_id = sys.argv[1:4]
plain = address.replace("tls://", "tcp://")
results = {}

def attempt(name, action):
    try:
        action()
        results[name] = "ALLOWED"
    except BaseException as exc:  # any failure is a refusal
        results[name] = "refused: " + type(exc).__name__

def client(target, security):
    from distributed import Client
    with Client(target, security=security, timeout=3) as c:
        c.submit(os.getpid).result(timeout=5)

async def raw(target, security):
    from distributed.comm import connect
    args = security.get_connection_args("client") if security is not None else {}
    comm = await connect(target, timeout=3, **args)
    try:
        message = {"op": "stop", "id": record_id}
        await comm.write({"op": "log_event", "topic": "clusterkit-control", "msg": message, "reply": True})
        await asyncio.wait_for(comm.read(), 3)
    finally:
        comm.abort()

from distributed.security import Security
own = Security.temporary()
attempt("client_plain", lambda: client(plain, None))
attempt("client_own_tls", lambda: client(address, own))
attempt("raw_plain_log_event", lambda: asyncio.run(raw(plain, None)))
attempt("raw_own_tls_log_event", lambda: asyncio.run(raw(address, own)))
attempt("list_registry", lambda: os.listdir(folder))
attempt("read_record", lambda: open(os.path.join(folder, record_id + ".json")).read())
attempt("read_client_key", lambda: open(os.path.join(folder, record_id + ".tls", "client.pem")).read())
attempt("read_ca", lambda: open(os.path.join(folder, record_id + ".tls", "ca.pem")).read())
print(json.dumps(results))
'''

OWNER_CONNECTS = r'''
import json, sys
import clusterkit as ck
session = ck.connect(sys.argv[1], name="second-kernel")
print(json.dumps({"sum": session.client.submit(sum, [20, 22]).result(), "address": session.address}))
session.stop()
'''


def attack(user, record: registry.ClusterRecord, folder) -> dict[str, str]:
    return user.run(ATTACK, record.scheduler_address, str(folder), record.id)


def assert_refused(results: dict[str, str]) -> None:
    assert results and all(v.startswith("refused") for v in results.values()), results


def assert_owner_still_works(record: registry.ClusterRecord) -> None:
    """Another interpreter of the owner, the CLI and the server's control path all still get in."""
    other = subprocess.run(
        [sys.executable, "-c", OWNER_CONNECTS, record.name], capture_output=True, text=True, timeout=120
    )
    assert other.returncode == 0, other.stderr[-2000:]
    assert json.loads(other.stdout.strip().splitlines()[-1]) == {"sum": 42, "address": record.scheduler_address}
    listing = subprocess.run(
        [sys.executable, "-m", "clusterkit.cli", "ls"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert record.name in listing and "running" in listing
    control.send(record, "scale", n=record.workers)  # what the server's PATCH does
