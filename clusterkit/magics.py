"""The ``%cluster`` line magic and ``%%cluster run`` cell magic.

A thin shell over :mod:`clusterkit.session`, :mod:`clusterkit.launch` (``start``,
which may detach) and the widgets: it parses one
command line, calls the Python API, and shows the result. Every malformed
command ends in one ``UsageError`` line, never a traceback::

    In [1]: %load_ext clusterkit
    In [2]: %cluster start -n 2
    In [3]: %cluster scale 3
    In [4]: %cluster list
    In [5]: %cluster stop

``%cluster --help`` lists the verbs; ``%cluster VERB --help`` explains one.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from clusterkit import launch, options, registry
from clusterkit import session as sessions
from clusterkit.errors import ClusterkitError, OptionError
from clusterkit.listing import format_bytes, format_table

__all__ = ["ClusterMagics", "format_table", "list_clusters", "parse"]

_DESCRIPTION = "Start, attach to, scale, inspect and stop Dask clusters from a notebook."
_EXAMPLES = """
examples:
  %cluster start -n 2                     a local cluster of 2 worker processes
  %cluster start --memory 2GiB --adapt 1:4
  %cluster ssh node1 node2 --user ada     scheduler on node1, workers on both
  %cluster connect demo                   attach to a cluster started elsewhere (clusterkit up)
  %cluster gateway --options worker_memory=4 -n 2   a cluster on the Dask Gateway in your Dask config
  %cluster connect gateway:NAME           attach to a cluster running on the Dask Gateway
  %cluster scale 4                        or: %cluster scale --adapt 0:8
  %cluster list                           every registered cluster
  %cluster dashboard                      live task stream; %cluster dashboard progress
  %cluster stop                           or: %cluster stop NAME, %cluster stop --all
  %%cluster run                           run the cell on every worker
"""


class _HelpShown(Exception):
    """``--help`` printed its text; nothing else to do."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so the magic can report one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}. See `{self.prog} --help`.")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise UsageError(f"{self.prog}: {message.strip()}")
        raise _HelpShown()


# -- argument types: each rejects nonsense with a sentence -----------------------------
# Worker options are checked by clusterkit.options, the same sentence as every other entry point.
def _checked(check: Any) -> Any:
    def convert(text: str) -> Any:
        try:
            return check(text)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None

    convert.__name__ = check.__name__
    return convert


_count = _checked(options.workers)
_positive = _checked(options.threads)
_memory = _checked(options.memory)
_range = _checked(options.adapt_range)
_name = _checked(options.cluster_name)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (1-65535)")
    return value


def _host(text: str) -> str:
    # secserver (issue 11): one host rule for magics, CLI and REST (clusterkit.hostnames).
    from clusterkit.hostnames import check_host

    try:
        return check_host(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _gateway_name(text: str) -> str:
    """``gateway:<cluster name>``: names on a Dask Gateway are letters, digits, ``. _ -``."""
    name = text.removeprefix("gateway:")
    if not registry.valid_name(name):
        raise argparse.ArgumentTypeError(f"{text!r} is not gateway:NAME with a Dask Gateway cluster name")
    return text


def _gateway_address(text: str) -> str:
    import urllib.parse

    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or " " in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Dask Gateway address like http://127.0.0.1:8000")
    return text


def _gateway_option(text: str) -> tuple[str, Any]:
    from clusterkit.backends.gateway import parse_option

    try:
        return parse_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _target(text: str) -> str:
    """A cluster name, id, scheduler address or ``gateway:<cluster name>``."""
    if text.startswith("gateway:"):
        return _gateway_name(text)
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme in ("tcp", "tls", "ws", "wss", "inproc", "ucx") and rest and " " not in rest:
            return text
        raise argparse.ArgumentTypeError(f"{text!r} is not a scheduler address like tcp://127.0.0.1:8786")
    return _name(text)


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="%cluster",
        description=_DESCRIPTION,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)

    def verb(name: str, help: str, example: str) -> _Parser:
        return verbs.add_parser(
            name,
            help=help,
            description=help,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    start = verb("start", "start a cluster and make it current", "%cluster start -n 2 --memory 2GiB")
    start.add_argument("-n", "--workers", type=_count, help="worker processes (default: one per CPU, at most 4)")
    start.add_argument("--threads", type=_positive, help="threads per worker (default 1)")
    start.add_argument("--memory", type=_memory, help="memory per worker, e.g. 2GiB (default: split evenly)")
    start.add_argument("--name", type=_name, help="a name to refer to the cluster by (default local-N)")
    start.add_argument("--adapt", type=_range, metavar="MIN:MAX", help="scale automatically between MIN and MAX")
    start.add_argument(
        "--detach", action="store_true", help="hand the cluster to a daemon so it outlives this kernel"
    )
    start.add_argument(
        "--factory", type=_name, metavar="NAME", help="a cluster manager configured as clusterkit.factories.NAME"
    )
    start.add_argument(
        "--insecure", action="store_true", help="no TLS: any local user can connect and run code as you"
    )

    ssh = verb(
        "ssh", "start a cluster over SSH (first host runs the scheduler)", "%cluster ssh node1 node2 --user ada"
    )
    ssh.add_argument("hosts", nargs="*", type=_host, metavar="HOST")
    ssh.add_argument("--workers-per-host", type=_positive, default=1, metavar="N")
    ssh.add_argument("--user", type=_name, metavar="U")
    ssh.add_argument("--port", type=_port, metavar="P")
    ssh.add_argument("--key", metavar="PATH", help="private key file (default: your SSH agent and ~/.ssh keys)")
    ssh.add_argument(
        "--python", metavar="PATH", help="python on the hosts (default: this kernel's sys.executable)"
    )
    ssh.add_argument("--name", type=_name)
    ssh.add_argument(
        "--insecure-accept-new-hosts",
        action="store_true",
        help="trust host keys not yet in known_hosts (off by default)",
    )
    ssh.add_argument("--tls", action="store_true", help="(the default now; kept for old notebooks)")
    ssh.add_argument(
        "--insecure", action="store_true", help="no TLS: anyone who can reach the hosts' ports can run code as you"
    )
    ssh.add_argument("--add", type=_host, metavar="HOST", help="add a host to the current SSH cluster")

    gateway = verb(
        "gateway",
        "start a cluster on a Dask Gateway (address, auth and options default to Dask's gateway.* config)",
        "%cluster gateway http://127.0.0.1:8000 --options worker_memory=4 -n 2",
    )
    gateway.add_argument("address", nargs="?", type=_gateway_address, metavar="ADDRESS")
    gateway.add_argument(
        "--options", nargs="+", type=_gateway_option, default=[], metavar="K=V", help="the gateway's cluster options"
    )
    gateway.add_argument("-n", "--workers", type=_count, help="workers to ask for once it runs (default: none)")
    gateway.add_argument("--adapt", type=_range, metavar="MIN:MAX", help="let the gateway scale between MIN and MAX")
    gateway.add_argument("--name", type=_name, help="a name to refer to the cluster by (default gateway-N)")
    gateway.add_argument(
        "--detach", action="store_true", help="keep the cluster running on the gateway after this kernel ends"
    )

    connect = verb("connect", "attach to a running scheduler or a registered cluster", "%cluster connect demo")
    connect.add_argument("target", type=_target, metavar="ADDRESS|NAME")
    connect.add_argument("--name", type=_name, help="a local name for this session")

    use = verb("use", "make another of this kernel's clusters current", "%cluster use local-2")
    use.add_argument("name", type=_name, metavar="NAME")

    scale = verb("scale", "change the number of workers", "%cluster scale 4   or   %cluster scale --adapt 1:8")
    scale.add_argument("n", nargs="?", type=_count, metavar="N")
    scale.add_argument("--adapt", type=_range, metavar="MIN:MAX")

    verb("status", "show the current cluster's status (workers, memory, tasks)", "%cluster status")

    dashboard = verb("dashboard", "show a live dashboard view inline", "%cluster dashboard progress")
    dashboard.add_argument("plot", nargs="?", metavar="PLOT", help="a Dask plot name (default: live task stream)")

    verb("list", "list every registered cluster", "%cluster list")
    verb("restart", "restart the current cluster's workers", "%cluster restart")

    stop = verb("stop", "stop the current cluster, a named one, or all", "%cluster stop --all")
    stop.add_argument("name", nargs="?", type=_target, metavar="NAME")
    stop.add_argument("--all", action="store_true", help="every cluster this kernel started or attached to")

    run = verb("run", "(cell magic) run the cell on every worker", "%%cluster run --workers 0 1")
    run.add_argument("--workers", nargs="+", metavar="W", help="worker indices or addresses (default: all)")
    return parser


_PARSER: _Parser | None = None


def parse(line: str) -> argparse.Namespace | None:
    """Parse one ``%cluster`` line; ``None`` means help was printed.

    Raises ``UsageError`` (one line) for anything malformed, including
    unbalanced quotes, which make ``shlex`` raise a plain ``ValueError``.
    """
    global _PARSER
    if _PARSER is None:
        _PARSER = _build_parser()
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"%cluster: cannot read the command line ({exc}). Check the quotes.") from None
    if not argv:
        raise UsageError("%cluster: a verb is missing. See `%cluster --help`.")
    try:
        args = _PARSER.parse_args(argv)
    except _HelpShown:
        return None
    if args.verb is None:
        raise UsageError("%cluster: a verb is missing. See `%cluster --help`.")
    _check_combinations(args)
    return args


def _check_combinations(args: argparse.Namespace) -> None:
    if args.verb == "scale" and (args.n is None) == (args.adapt is None):
        raise UsageError("%cluster scale: give a worker count N or --adapt MIN:MAX (one of them).")
    if args.verb == "stop" and args.name and args.all:
        raise UsageError("%cluster stop: give a NAME or --all, not both.")
    if args.verb == "ssh" and not args.hosts and not args.add:
        raise UsageError("%cluster ssh: give at least one HOST (or --add HOST). See `%cluster ssh --help`.")
    if args.verb == "ssh" and args.tls and args.insecure:
        raise UsageError("%cluster ssh: --tls and --insecure contradict each other; TLS is the default.")
    if args.verb == "gateway" and args.workers is not None and args.adapt is not None:
        raise UsageError("%cluster gateway: give -n N or --adapt MIN:MAX, not both.")
    if args.verb == "start" and args.detach and args.factory:
        raise UsageError("%cluster start: --detach works with local clusters only, not with --factory.")


def list_clusters(current: str | None = None) -> str:
    """``%cluster list`` / ``clusterkit ls``: the registry, plus this user's clusters on the configured Dask Gateway."""
    from clusterkit.backends.gateway import gateway_records

    records, note = gateway_records(registry.list_records())
    table = format_table(records, current)
    return f"{table}\n{note}" if note else table


@magics_class
class ClusterMagics(Magics):
    """``%cluster VERB ...`` and ``%%cluster run``; see ``%cluster --help``."""

    @line_cell_magic
    def cluster(self, line: str, cell: str | None = None) -> None:
        """Manage Dask clusters from the notebook. ``%cluster --help`` lists the verbs."""
        args = parse(line)
        if args is None:
            return
        if (args.verb == "run") != (cell is not None):
            raise UsageError(
                "%cluster: `run` is a cell magic (%%cluster run) and the other verbs are line magics."
            )
        try:
            getattr(self, f"_{args.verb}")(args, cell)
        except ClusterkitError as exc:
            raise UsageError(str(exc)) from None

    # -- verbs ------------------------------------------------------------------------
    def _start(self, args: argparse.Namespace, cell: str | None) -> None:
        session = launch.start(
            n_workers=args.workers,
            threads_per_worker=args.threads,
            memory_limit=args.memory,
            name=args.name,
            adapt=args.adapt,
            detach=args.detach,
            factory=args.factory,
            insecure=args.insecure,
        )
        _display(session)

    def _ssh(self, args: argparse.Namespace, cell: str | None) -> None:
        if args.add:
            from clusterkit.backends.ssh import add_host

            session = sessions.current()
            if session.kind != "ssh" or session.cluster is None:
                raise UsageError("%cluster ssh --add: the current cluster is not an SSH cluster this kernel owns.")
            add_host(session.cluster, args.add, workers=args.workers_per_host)
            _display(session)
            return
        ssh_options = {k: getattr(args, k) for k in ("user", "port", "key", "python") if getattr(args, k) is not None}
        session = sessions.ssh(
            args.hosts,
            workers_per_host=args.workers_per_host,
            name=args.name,
            insecure_accept_new_hosts=args.insecure_accept_new_hosts,
            insecure=args.insecure,
            **ssh_options,
        )
        _display(session)

    def _gateway(self, args: argparse.Namespace, cell: str | None) -> None:
        chosen = {"name": args.name, "n_workers": args.workers, "adapt": args.adapt, "detach": args.detach}
        _display(sessions.gateway(args.address, **chosen, **dict(args.options)))

    def _connect(self, args: argparse.Namespace, cell: str | None) -> None:
        _display(sessions.connect(args.target, name=args.name))

    def _use(self, args: argparse.Namespace, cell: str | None) -> None:
        _display(sessions.use(args.name))

    def _scale(self, args: argparse.Namespace, cell: str | None) -> None:
        session = sessions.current()
        if args.adapt is not None:
            session.adapt(*args.adapt)
            print(f"{session.name}: adapting between {args.adapt[0]} and {args.adapt[1]} workers.")
        else:
            session.scale(args.n)
            print(f"{session.name}: {args.n} workers.")

    def _status(self, args: argparse.Namespace, cell: str | None) -> None:
        session = sessions.current()
        try:
            from clusterkit.widgets import status_widget
        except ImportError:
            info = session.info()
            print(
                f"{info['name']} ({info['kind']}) at {info['address']}: {info['workers']} workers, "
                f"{info['threads']} threads, {format_bytes(info['memory_bytes'])}; dashboard {info['dashboard']}"
            )
            return
        _display(status_widget(session))

    def _dashboard(self, args: argparse.Namespace, cell: str | None) -> None:
        session = sessions.current()
        try:
            from clusterkit.widgets import dashboard
        except ImportError:
            print(f"Dashboard: {session.dashboard_url}")
            return
        _display(dashboard(session, args.plot))

    def _list(self, args: argparse.Namespace, cell: str | None) -> None:
        try:
            current = sessions.current()
            current_id = current.record.id if current.record is not None else None
        except ClusterkitError:
            current_id = None
        print(list_clusters(current_id))

    def _restart(self, args: argparse.Namespace, cell: str | None) -> None:
        session = sessions.current()
        started = time.monotonic()
        session.restart()
        print(f"{session.name}: workers restarted in {time.monotonic() - started:.1f} s.")

    def _stop(self, args: argparse.Namespace, cell: str | None) -> None:
        if args.all:
            names = list(sessions.sessions())
            if not names:
                print("This kernel has no clusters.")
            for name in names:
                print(sessions.stop_cluster(name))
            return
        name = args.name or sessions.current().name
        print(sessions.stop_cluster(name))

    def _run(self, args: argparse.Namespace, cell: str | None) -> None:
        session = sessions.current()
        workers = _resolve_workers(session, args.workers) if args.workers else None
        outputs = session.run_cell(cell or "", workers)
        for address, text in outputs.items():
            sys.stdout.write(f"[{address}]\n{text if text.endswith(chr(10)) or not text else text + chr(10)}")
        sys.stdout.flush()


def _resolve_workers(session: sessions.Session, given: list[str]) -> list[str]:
    addresses = sorted(session.client.scheduler_info(n_workers=-1)["workers"])
    chosen = []
    for item in given:
        if item.isdigit():
            index = int(item)
            if index >= len(addresses):
                raise UsageError(f"%%cluster run: there is no worker {index} (the cluster has {len(addresses)}).")
            chosen.append(addresses[index])
        elif item in addresses:
            chosen.append(item)
        else:
            raise UsageError(f"%%cluster run: {item!r} is neither a worker index nor a worker address.")
    return chosen


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)
