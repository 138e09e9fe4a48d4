"""The owner of detached clusters: ``clusterkit up`` and the sidebar's "New cluster".

A detached cluster must outlive the shell or kernel that asked for it, so a
small daemon process owns it instead: it starts the cluster, writes the record
(``owner: "daemon"``), obeys scale/stop requests like any owner (see
:mod:`clusterkit.control`), and exits, removing the record, when asked to stop
or sent SIGTERM. Its log is ``<registry>/daemon-<time>.log`` (0600), removed when it
stops cleanly (kept after a failure, for the error message).

Its options are checked twice with :class:`clusterkit.options.WorkerOptions`: by
:func:`spawn` (so the caller gets the error) and by the daemon itself (it may be run
by hand). :func:`process` tells ``clusterkit down`` whether a record's pid really is
that cluster's daemon before anything is signalled.

The daemon owns its cluster through a session (:func:`clusterkit.session.start_owned`),
so it sits above :mod:`clusterkit.session`, which never imports it: callers that
detach call :func:`spawn` (``ck.start(detach=True)`` in :mod:`clusterkit.launch`,
``clusterkit up``, the server's "New cluster").

>>> record = spawn(name="demo", n_workers=2)     # doctest: +SKIP
>>> record.owner
'daemon'
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from clusterkit import registry
from clusterkit.errors import BackendError, ClusterkitError, OptionError
from clusterkit.options import WorkerOptions

__all__ = ["main", "process", "spawn"]

_MODULE = "clusterkit.daemon"


def spawn(
    name: str | None = None,
    n_workers: int | str | None = None,
    threads_per_worker: int | str | None = None,
    memory_limit: str | int | None = None,
    ssh_hosts: list[str] | None = None,
    timeout: float = 60,
    *,
    insecure: bool = False,
    options: WorkerOptions | None = None,
) -> registry.ClusterRecord:
    """Start a daemon that owns a new cluster; return its record once written.

    ``options`` (already checked) wins over the separate arguments, which are checked
    here (:class:`~clusterkit.errors.OptionError`). Raises :class:`BackendError` with
    the daemon's log if it fails to start.
    """
    if options is None:
        options = WorkerOptions.parse(n_workers, threads_per_worker, memory_limit, None, name, insecure)
    command = [sys.executable, "-m", _MODULE, *options.argv()]
    if ssh_hosts:
        command += ["--ssh", *ssh_hosts]
    folder = registry.default_directory()
    registry.list_records(folder)  # creates the folder 0700 and checks it is ours
    log_path = folder / f"daemon-{time.time_ns()}.log"
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(log_fd, "w") as log:
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
            if process.returncode == 2 and tail.startswith("clusterkit daemon: "):
                raise OptionError(tail.removeprefix("clusterkit daemon: ").strip())
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


def process(record: registry.ClusterRecord) -> Any:
    """The ``psutil.Process`` of ``record``'s daemon, or ``None`` if its pid is not that daemon.

    Before ``clusterkit down`` signals a pid it checks that the process belongs to this
    user, runs ``-m clusterkit.daemon`` and started before the record was written (a
    pid reused by a later process, or a record naming an unrelated pid, is left alone).
    """
    import psutil

    if record.owner != "daemon" or not registry.owner_verified(record):
        return None
    try:
        return psutil.Process(record.owner_pid)
    except psutil.Error:
        return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE}")
    parser.add_argument("--name")
    parser.add_argument("-n")
    parser.add_argument("--threads")
    parser.add_argument("--memory")
    parser.add_argument("--adapt")
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument("--ssh", nargs="+")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run as ``python -m clusterkit.daemon``: own one cluster until told to stop."""
    args = _parser().parse_args(argv)
    try:
        options = WorkerOptions.parse(args.n, args.threads, args.memory, args.adapt, args.name, args.insecure)
    except OptionError as exc:
        print(f"clusterkit daemon: {exc}", flush=True)
        return 2

    from clusterkit import session as sessions

    sessions.OWNER_OVERRIDE = "daemon"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        if args.ssh:
            session = sessions.ssh(args.ssh, name=options.name, insecure=options.insecure)
        else:
            session = sessions.start_owned(options)
    except ClusterkitError as exc:
        print(f"clusterkit daemon {os.getpid()}: could not start the cluster: {exc}", flush=True)
        return 1
    print(f"clusterkit daemon {os.getpid()}: owning {session.name} at {session.address}", flush=True)
    while not stop.is_set() and not session.closed:
        stop.wait(0.2)
    session.stop()  # waits for a stop a control request began on another thread
    print(f"clusterkit daemon {os.getpid()}: stopped {session.name}", flush=True)
    _remove_own_log()
    return 0


def _remove_own_log() -> None:
    """A clean stop leaves nothing behind: delete the log ``spawn`` gave this process."""
    try:
        target = os.readlink("/proc/self/fd/1")
    except OSError:
        return
    path = registry.default_directory() / os.path.basename(target)
    if os.path.basename(target).startswith("daemon-") and str(path) == target:
        with contextlib.suppress(OSError):
            path.unlink()


if __name__ == "__main__":
    sys.exit(main())
