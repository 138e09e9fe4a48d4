"""The owner of detached clusters: ``clusterkit up`` and the sidebar's "New cluster".

A detached cluster must outlive the shell or kernel that asked for it, so a
small daemon process owns it instead: it starts the cluster, writes the record
(``owner: "daemon"``), obeys scale/stop requests like any owner (see
:mod:`clusterkit.control`), and exits, removing the record, when asked to stop
or sent SIGTERM. Its log is ``<registry>/daemon-<pid>.log``.

>>> record = spawn(name="demo", n_workers=2)     # doctest: +SKIP
>>> record.owner
'daemon'
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from clusterkit import registry
from clusterkit.errors import BackendError

__all__ = ["main", "spawn"]


def spawn(
    name: str | None = None,
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    memory_limit: str | int | None = None,
    ssh_hosts: list[str] | None = None,
    timeout: float = 60,
) -> registry.ClusterRecord:
    """Start a daemon that owns a new cluster; return its record once written.

    Raises :class:`BackendError` with the daemon's log if it fails to start.
    """
    command = [sys.executable, "-m", "clusterkit.daemon"]
    if name:
        command += ["--name", name]
    if n_workers is not None:
        command += ["-n", str(n_workers)]
    if threads_per_worker is not None:
        command += ["--threads", str(threads_per_worker)]
    if memory_limit is not None:
        command += ["--memory", str(memory_limit)]
    if ssh_hosts:
        command += ["--ssh", *ssh_hosts]
    folder = registry.default_directory()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = folder / f"daemon-{time.time_ns()}.log"
    with open(log_path, "w") as log:
        # A new session: the daemon survives the terminal or kernel that spawned it.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=os.path.expanduser("~"),
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in registry.list_records():
            if record.owner_pid == process.pid and record.status == "running":
                _reap_in_background(process)
                return record
        if process.poll() is not None:
            tail = log_path.read_text()[-2000:].strip()
            raise BackendError(
                f"The clusterkit daemon exited (code {process.returncode}) before its cluster was ready. "
                f"Its log ({log_path}) ends with:\n{tail}"
            )
        time.sleep(0.1)
    process.terminate()
    raise BackendError(
        f"The clusterkit daemon did not report a running cluster within {timeout:.0f} s; see {log_path}."
    )


def _reap_in_background(process: subprocess.Popen[Any]) -> None:
    """Collect the daemon's exit status when it ends, so it never lingers as a zombie."""
    threading.Thread(target=process.wait, name="clusterkit-daemon-reaper", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """Run as ``python -m clusterkit.daemon``: own one cluster until told to stop."""
    parser = argparse.ArgumentParser(prog="python -m clusterkit.daemon")
    parser.add_argument("--name")
    parser.add_argument("-n", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--memory")
    parser.add_argument("--ssh", nargs="+")
    args = parser.parse_args(argv)

    from clusterkit import session as sessions

    sessions.OWNER_OVERRIDE = "daemon"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if args.ssh:
        session = sessions.ssh(args.ssh, name=args.name)
    else:
        memory: str | int | None = args.memory
        if memory is not None and str(memory).isdigit():
            memory = int(memory)
        session = sessions.start(args.n, args.threads, memory, name=args.name)
    print(f"clusterkit daemon {os.getpid()}: owning {session.name} at {session.address}", flush=True)
    while not stop.is_set() and not session.closed:
        stop.wait(0.2)
    session.stop()
    print(f"clusterkit daemon {os.getpid()}: stopped {session.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
