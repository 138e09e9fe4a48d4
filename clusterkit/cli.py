"""The ``clusterkit`` command: detached clusters and JupyterLab from the shell.

::

    clusterkit up --name demo -n 2     start a detached cluster (a daemon owns it)
    clusterkit ls                      list every registered cluster
    clusterkit down demo               stop it (or: clusterkit down --all)
    clusterkit lab [PATH]              JupyterLab on the curriculum, clusterkit active
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import sys
import time

from clusterkit import registry

__all__ = ["main"]


def _up(args: argparse.Namespace) -> int:
    from clusterkit import daemon
    from clusterkit.errors import OptionError
    from clusterkit.options import WorkerOptions

    try:
        options = WorkerOptions.parse(args.n, args.threads, args.memory, args.adapt, args.name, args.insecure)
    except OptionError as exc:
        print(f"clusterkit up: {exc}", file=sys.stderr)
        return 2
    if options.name and registry.find(options.name):
        print(f"clusterkit up: a cluster named {options.name!r} is already running.", file=sys.stderr)
        return 1
    record = daemon.spawn(options=options, ssh_hosts=args.ssh)
    print(
        f"Started {record.name} ({record.workers} workers) at {record.scheduler_address}, "
        f"owned by daemon pid {record.owner_pid}."
    )
    print(f"Attach from a notebook with: %cluster connect {record.name}")
    return 0


def _gateway_configured() -> bool:
    """Whether Dask config names a gateway, read with dask's config alone (not distributed: listing stays fast)."""
    import dask.config

    return bool(dask.config.get("gateway.address", None))


def _ls(args: argparse.Namespace) -> int:
    from clusterkit.listing import format_table

    registry.prune()
    records, note = registry.list_records(), None
    if _gateway_configured():
        from clusterkit.backends.gateway import gateway_records

        records, note = gateway_records(records)  # + this user's Dask Gateway clusters
    if args.json:
        statuses = registry.statuses(records)
        print(json.dumps([{**r.to_json(), "status": statuses[r.id]} for r in records], indent=1))
    else:
        print(format_table(records))
    if note:
        print(note, file=sys.stderr)
    return 0


def _gone(record: registry.ClusterRecord) -> bool:
    """No record left and (for a daemon) no daemon. A record whose owner has exited is
    removed here: a stopped cluster's record must always go, whatever its status."""
    owner_alive = registry.owner_alive(record)
    if not owner_alive:
        registry.remove(record.id)
        return True
    return record.owner != "daemon" and registry.find(record.id) is None


def _wait_gone(record: registry.ClusterRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(record):
            return True
        time.sleep(0.1)
    return _gone(record)


def _control_timeout() -> float:
    """``clusterkit.control.timeout`` in seconds: how long an owner may take to act on a request."""
    import dask.utils

    from clusterkit import config

    return float(dask.utils.parse_timedelta(config.get("control.timeout")))


def _signal_daemon(record: registry.ClusterRecord, sig: signal.Signals) -> None:
    """Signal ``record``'s daemon, only if its pid verifiably is that daemon (see ``daemon.process``)."""
    from clusterkit import daemon

    process = daemon.process(record)
    if process is None:
        return
    try:
        process.send_signal(sig)  # psutil refuses if the pid was reused since it was checked
    except Exception:  # gone meanwhile (psutil.NoSuchProcess) or not ours
        pass


def _down(args: argparse.Namespace) -> int:
    from clusterkit import control, daemon
    from clusterkit.errors import BackendError

    if args.all == bool(args.name):
        print("clusterkit down: give a NAME or --all.", file=sys.stderr)
        return 2
    records = registry.list_records() if args.all else [r for r in [registry.find(args.name)] if r]
    if not records:
        print(
            f"clusterkit down: no cluster named {args.name!r} is registered (see clusterkit ls)."
            if args.name
            else "No clusters are registered.",
            file=sys.stderr if args.name else sys.stdout,
        )
        return 1 if args.name else 0
    status = 0
    for record in records:
        sent = True
        try:
            control.send(record, "stop")
        except BackendError as exc:
            print(f"clusterkit down: {exc}", file=sys.stderr)
            sent = False
        if not _wait_gone(record, timeout=2 * _control_timeout() if sent else 0) and daemon.process(record) is not None:
            # The daemon did not stop its cluster in time: end it (its workers die with it).
            _signal_daemon(record, signal.SIGTERM)
            if not _wait_gone(record, timeout=10):
                _signal_daemon(record, signal.SIGKILL)
                _wait_gone(record, timeout=5)
        if registry.find(record.id) is None:
            print(f"Stopped {record.name}.")
        else:
            print(
                f"clusterkit down: {record.name} is still running (owner pid {record.owner_pid}).", file=sys.stderr
            )
            status = 1
    return status


def _lab(args: argparse.Namespace) -> int:
    """Replace this process with JupyterLab, opened on the curriculum's first notebook."""
    target = pathlib.Path(args.path or ("notebooks" if pathlib.Path("notebooks").is_dir() else ".")).resolve()
    if not target.exists():
        print(f"clusterkit lab: {target} does not exist.", file=sys.stderr)
        return 2
    root = target if target.is_dir() else target.parent
    first = target if target.is_file() else next(iter(sorted(root.glob("00-*.ipynb"))), None)
    # This interpreter's JupyterLab, whatever PATH says.
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and Binder-like machines run as root
    command += args.extra
    if first is not None:
        command.append(f"--LabApp.default_url=/lab/tree/{first.relative_to(root).as_posix()}")
    print("Running:", " ".join(command), flush=True)
    os.execvp(command[0], command)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clusterkit", description="Dask clusters for Jupyter, from the shell.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    up = verbs.add_parser("up", help="start a detached cluster owned by a daemon")
    up.add_argument("--name")
    up.add_argument("-n", help="workers (default: one per CPU, at most 4)")
    up.add_argument("--threads", help="threads per worker")
    up.add_argument("--memory", help="memory per worker, e.g. 2GiB")
    up.add_argument("--adapt", metavar="MIN:MAX", help="scale automatically between MIN and MAX workers")
    up.add_argument(
        "--insecure", action="store_true", help="no TLS: any local user (or host on the network) can connect"
    )
    up.add_argument("--ssh", nargs="+", metavar="HOST", help="start over SSH on these hosts instead")
    up.set_defaults(func=_up)
    ls = verbs.add_parser("ls", help="list registered clusters")
    ls.add_argument("--json", action="store_true", help="print records as JSON")
    ls.set_defaults(func=_ls)
    down = verbs.add_parser("down", help="stop a cluster by name, or all")
    down.add_argument("name", nargs="?")
    down.add_argument("--all", action="store_true")
    down.set_defaults(func=_down)
    lab = verbs.add_parser("lab", help="open JupyterLab on the curriculum (or PATH)")
    lab.add_argument("path", nargs="?")
    lab.add_argument("extra", nargs=argparse.REMAINDER, help="more jupyter lab options")
    lab.set_defaults(func=_lab)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line for the user; the cause is in the daemon log
        from clusterkit.errors import ClusterkitError

        if isinstance(exc, ClusterkitError):
            print(f"clusterkit {args.verb}: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
