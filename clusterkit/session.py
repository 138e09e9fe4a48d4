"""Sessions: one connected cluster each, and the one that is *current*.

A :class:`Session` holds a Dask ``Client`` and, when this process started the
cluster, the cluster object too (it *owns* it). An owning session writes the
cluster's :class:`~clusterkit.registry.ClusterRecord`, keeps it current as
workers come and go, obeys scale/stop requests other processes send through
:mod:`clusterkit.control`, and deletes the record when it stops, at the latest
when the interpreter exits.

>>> import clusterkit as ck
>>> session = ck.start(n_workers=2)            # doctest: +SKIP
>>> session.client.submit(sum, [1, 2]).result()  # doctest: +SKIP
3
>>> session.stop()                              # doctest: +SKIP

Sessions sit below the widgets and the daemon, and never import either:
``ck.start`` (:mod:`clusterkit.launch`) is what hands a cluster to a daemon
(``detach=True``); the dashboard links come from :mod:`clusterkit.links`; the HTML
repr and ``Session.widget()`` go through :mod:`clusterkit.display`, into which the
package plugs the widgets' status widget.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from typing import Any

from distributed.deploy.cluster import Cluster
from distributed.security import Security

from clusterkit import config, control, display, links, registry, task_history
from clusterkit import security as tls
from clusterkit.backends import address as address_backend
from clusterkit.client import Client
from clusterkit.errors import BackendError, ClusterkitError, ClusterNotFoundError, NoClusterError
from clusterkit.options import WorkerOptions

__all__ = [
    "Session",
    "check_name",
    "connect",
    "current",
    "gateway",
    "own",
    "sessions",
    "ssh",
    "start_owned",
    "stop_cluster",
    "use",
]

logger = logging.getLogger(__name__)

#: Set by the ``clusterkit`` daemon so its records say ``owner: "daemon"``.
OWNER_OVERRIDE: str | None = None

_sessions: dict[str, Session] = {}
_current: str | None = None
_lock = threading.RLock()


def owner_id() -> str:
    """The kernel id when running in a Jupyter kernel, else ``"process"`` (or ``"daemon"``)."""
    if OWNER_OVERRIDE:
        return OWNER_OVERRIDE
    if "ipykernel" in sys.modules:
        try:
            from ipykernel.connect import get_connection_file

            # Kernels started by a Jupyter server use kernel-<id>.json; others
            # (nbclient, tests) use any file name, which is unique all the same.
            stem = re.sub(r"\.json$", "", os.path.basename(get_connection_file()))
            return stem.removeprefix("kernel-")
        except Exception:  # not inside a running kernel
            pass
    return "process"


class Session:
    """A connection to one cluster, owned by this process or attached to.

    Create sessions with :func:`clusterkit.start`, :func:`connect` or :func:`ssh`
    rather than directly.
    """

    def __init__(
        self,
        *,
        name: str,
        kind: registry.Kind,
        client: Client,
        cluster: Cluster | None = None,
        record: registry.ClusterRecord | None = None,
        owned: bool = True,
        owner: str | None = None,
        record_id: str | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.client = client
        self.cluster = cluster
        self.owned = owned
        self.closed = False
        self._stopped = threading.Event()
        self._refresher: Any = None
        self.record: registry.ClusterRecord | None = record
        if owned:
            # Listen before telling anyone the cluster exists, so no request is lost (confirmed
            # below, in one round trip, before the record is written).
            _send_at_once(client)
            client.subscribe_topic(control.TOPIC, self._on_control)
            task_history.keep_history(client)  # so a task stream opened later shows what ran
            info = self._counts()
            self.record = registry.ClusterRecord.new(
                id=record_id,
                name=name,
                kind=kind,
                scheduler_address=self.address,
                dashboard_port=self._dashboard_port(),
                owner=owner or owner_id(),
                **info,
            )
            if kind == "gateway":  # its dashboard is served by the gateway's proxy, for browsers too
                self.record.dashboard_url = getattr(cluster, "dashboard_link", None)
            self._wait_until_subscribed()
            registry.write(self.record)
            self._start_refresher()

    # -- what the session is connected to ------------------------------------------
    @property
    def address(self) -> str:
        """The scheduler's address, e.g. ``tls://127.0.0.1:40123``: the one others connect to.

        (An owning kernel's own client may reach a local scheduler in memory, see
        :func:`clusterkit.backends.local.in_process_address`.)
        """
        address = getattr(self.cluster, "scheduler_address", None)
        if isinstance(address, str) and "://" in address:
            return address
        scheduler = self.client.scheduler
        assert scheduler is not None, "a connected client always has a scheduler"
        return str(scheduler.address)

    @property
    def dashboard_url(self) -> str | None:
        """A link to Dask's dashboard (``None`` if the scheduler has none).

        Through the Jupyter server when this kernel knows one (so it works on
        JupyterHub and Binder too), else Dask's direct link.
        """
        return self.dashboard_links().url()

    def dashboard_links(self) -> links.DashboardLinks:
        """Where this cluster's dashboard is, and the URLs to it (:class:`clusterkit.links.DashboardLinks`).

        Asks the scheduler for its dashboard's port (the record's when it cannot say);
        the widgets take their plot URLs from here.
        """
        port = self._dashboard_port()
        if port is None and self.record is not None:
            port = self.record.dashboard_port
        # Dask's link may ask the scheduler: only when there is a dashboard to link to.
        dask_link = self.client.dashboard_link if port is not None or self.kind == "gateway" else None
        return links.DashboardLinks(
            kind=self.kind,
            scheduler_address=self.address,
            port=port,
            dask_link=str(dask_link or ""),
            cluster_id=self.record.id if self.record is not None else None,
        )

    def _dashboard_port(self) -> int | None:
        if self.kind == "gateway":  # the scheduler's own port is inside the gateway, not for us
            return None
        try:
            port = self.client.scheduler_info()["services"].get("dashboard")
        except Exception:  # a scheduler that is going away
            return None
        return int(port) if port else None

    def _counts(self) -> dict[str, int]:
        info = self.cluster.scheduler_info if self.cluster is not None else None
        if not info or not info.get("workers"):
            info = self.client.scheduler_info(n_workers=-1)
        workers = info.get("workers", {}).values()
        return {
            "workers": len(workers),
            "threads": sum(w.get("nthreads", 0) for w in workers),
            "memory_bytes": sum(w.get("memory_limit") or 0 for w in workers),
        }

    def info(self) -> dict[str, Any]:
        """Workers, threads and memory limit right now, asked of the scheduler."""
        info = self.client.scheduler_info(n_workers=-1)
        workers = info.get("workers", {}).values()
        return {
            "name": self.name,
            "kind": self.kind,
            "address": self.address,
            "workers": len(workers),
            "threads": sum(w.get("nthreads", 0) for w in workers),
            "memory_bytes": sum(w.get("memory_limit") or 0 for w in workers),
            "dashboard": self.dashboard_url,
        }

    def _wait_until_subscribed(self) -> None:
        """The subscription travels on the batched stream; a request sent before it
        lands would be dropped, so confirm it with the scheduler first."""
        if not control.wait_until_subscribed(self.client, control.TOPIC):
            logger.warning("clusterkit: scale/stop requests from other processes may be missed")

    # -- keeping the record current -----------------------------------------------
    def _loop(self) -> Any:
        return self.client.loop

    def _start_refresher(self) -> None:
        from tornado.ioloop import PeriodicCallback

        self._refresher = PeriodicCallback(self._refresh_record, 1000)
        self._loop().add_callback(self._refresher.start)

    def _refresh_record(self) -> None:
        if self.closed or self.cluster is None or self.record is None:
            return
        self._restore_lost_workers()
        counts = self._counts()
        if any(getattr(self.record, k) != v for k, v in counts.items()):
            for key, value in counts.items():
                setattr(self.record, key, value)
            registry.write(self.record)

    def _restore_lost_workers(self) -> None:
        """Start again the local workers Dask gave up on (runs on the client's loop).

        When a worker process dies, its nanny starts a new one; but Dask's
        ``SpecCluster`` also closes that nanny for good if, at the one moment
        ``distributed.deploy.lost-worker-timeout`` (15 s) after the death, no worker
        of that name is registered. A function that crashes workers again and again,
        or a restart slowed by a loaded machine, hits that moment: the cluster then
        stays below the size asked for (at 0 workers, every later call hangs). The
        worker is still in ``worker_spec``, so correcting the state starts it anew.
        """
        cluster = self.cluster
        if self.kind != "local" or cluster is None or getattr(cluster, "status", None) is None:
            return
        spec, workers = getattr(cluster, "worker_spec", None), getattr(cluster, "workers", None)
        if spec is None or workers is None or cluster.status.name != "running" or set(spec) <= set(workers):
            return
        lock = getattr(cluster, "_lock", None)
        if (lock is not None and lock.locked()) or getattr(cluster, "_correct_state_waiting", None):
            return  # Dask is starting or stopping workers right now (a scale): not lost
        logger.warning("clusterkit: restarting %d worker(s) Dask stopped after they died", len(set(spec) - set(workers)))
        with contextlib.suppress(Exception):
            cluster._correct_state()  # type: ignore[attr-defined]

    def _on_control(self, event: tuple[float, dict[str, Any]]) -> None:
        """Act on a request sent with :func:`clusterkit.control.send` (runs on the client's loop)."""
        _, message = event
        if self.record is None or not isinstance(message, dict) or message.get("id") != self.record.id:
            return
        op = message.get("op")
        try:
            if op == "scale":
                self._scale_now(int(message["n"]))
            elif op == "adapt":
                self._adapt_now(int(message["minimum"]), int(message["maximum"]))
            elif op == "stop":
                # Closing waits on this very loop: do it from another thread.
                threading.Thread(target=self.stop, name="clusterkit-stop", daemon=True).start()
        except Exception:
            logger.exception("clusterkit: control request %r failed", message)

    # -- changing the cluster -----------------------------------------------------------
    def _require_cluster(self, action: str) -> Cluster:
        if self.cluster is None:
            raise BackendError(
                f"Cannot {action} cluster {self.name!r}: this session is attached to it and does not own it. "
                "Ask its owner (the kernel or `clusterkit up` daemon that started it), or use the sidebar."
            )
        return self.cluster

    def _scale_now(self, n: int) -> None:
        cluster = self._require_cluster("scale")
        adaptive = getattr(cluster, "_adaptive", None)
        if adaptive is not None:
            adaptive.stop()
            cluster._adaptive = None
        cluster.scale(n)

    def _adapt_now(self, minimum: int, maximum: int) -> None:
        self._require_cluster("adapt").adapt(minimum=minimum, maximum=maximum)

    def scale(self, n: int, *, wait: bool = True, timeout: float = 60) -> None:
        """Ask for ``n`` workers (stops adaptive scaling); wait until they are there."""
        if self.cluster is None and self.record is not None and self.record.owner != owner_id():
            control.send(self.record, "scale", n=n)
        else:
            self._scale_now(n)
        if wait:
            self._wait_for_count(n, timeout)

    def _wait_for_count(self, n: int, timeout: float) -> None:
        import time

        deadline = time.monotonic() + timeout
        while len(self.client.scheduler_info(n_workers=-1)["workers"]) != n:
            if time.monotonic() > deadline:
                raise BackendError(f"Cluster {self.name!r} did not reach {n} workers within {timeout:.0f} s.")
            time.sleep(0.1)
        if self.owned:
            self._refresh_record()

    def adapt(self, minimum: int = 0, maximum: int = 4) -> None:
        """Let Dask add and remove workers between ``minimum`` and ``maximum`` as load requires."""
        if self.cluster is None and self.record is not None:
            control.send(self.record, "adapt", minimum=minimum, maximum=maximum)
        else:
            self._adapt_now(minimum, maximum)

    def restart(self) -> None:
        """Restart every worker (drops all data and state held on workers)."""
        self.client.restart()

    def run_cell(self, source: str, workers: Iterable[str] | None = None) -> dict[str, str]:
        """Run Python source on every worker (or those given); return output per worker.

        Each worker keeps its own namespace between calls, so a later cell sees
        names an earlier one defined. Exceptions become traceback text in that
        worker's output instead of failing the others.
        """
        targets = list(workers) if workers is not None else None
        results = self.client.run(_run_source, source, workers=targets, on_error="return")
        return {
            addr: out if isinstance(out, str) else f"{type(out).__name__}: {out}"
            for addr, out in sorted(results.items())
        }

    def stop(self) -> None:
        """Disconnect; when this process owns the cluster, shut it down and drop its record.

        Stopping twice, or stopping a cluster its other side already stopped, is fine; a
        second call (say the daemon's main thread while a control request's thread is
        stopping) waits until the first has finished, so nobody exits halfway and leaves
        the record behind with status ``stopping``.
        """
        global _current
        with _lock:
            if self.closed:
                first = False
            else:
                first = self.closed = True
        if not first:
            self._stopped.wait(60)
            return
        try:
            self._stop_once()
        finally:
            self._stopped.set()

    def _stop_once(self) -> None:
        global _current
        with _lock:
            if _sessions.get(self.name) is self:
                del _sessions[self.name]
            if _current == self.name:
                _current = next(reversed(_sessions), None)
        if self.owned and self.record is not None:
            self.record.status = "stopping"
            with contextlib.suppress(Exception):
                registry.write(self.record)
        if self._refresher is not None:
            with contextlib.suppress(Exception):
                self._loop().add_callback(self._refresher.stop)
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)
        # A client whose scheduler vanished closes itself without releasing its
        # event-loop thread, and close() then returns early: release it here
        # (idempotent), or an "IO loop" thread outlives every session.
        loop_runner = getattr(self.client, "_loop_runner", None)
        if loop_runner is not None:
            with contextlib.suppress(Exception):
                loop_runner.stop()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close(timeout=10)
        if self.owned and self.record is not None:
            registry.remove(self.record.id)  # the credentials go with it

    # -- display ----------------------------------------------------------------------
    def widget(self) -> Any:
        """The live status widget: workers, memory, tasks, and a control that scales.

        :class:`clusterkit.widgets.status.StatusWidget`, through :func:`clusterkit.display.status_widget`.
        """
        return display.status_widget(self)

    def _repr_html_(self) -> str:
        """HTML for notebooks (:func:`clusterkit.display.session_html`), with what the scheduler says now."""
        counts: dict[str, int] | None = None
        dashboard: str | None = None
        if not self.closed:
            try:
                info = self.info()
                counts = {key: info[key] for key in ("workers", "threads", "memory_bytes")}
                dashboard = info["dashboard"]
            except Exception:  # the scheduler is going away: show what we know
                counts = None
        return display.session_html(
            name=self.name,
            kind=self.kind,
            owned=self.owned,
            closed=self.closed,
            address=self.address if not self.closed else "",
            counts=counts,
            dashboard_url=dashboard,
            cluster_id=self.record.id if self.record is not None else None,
        )

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.address
        return f"<clusterkit.Session {self.name!r} {self.kind} {state}>"

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run_source(source: str, dask_worker: Any = None) -> str:
    """Execute ``source`` on a worker, capturing what it prints (used by ``run_cell``)."""
    namespace = getattr(dask_worker, "_clusterkit_namespace", None)
    if namespace is None:
        namespace = {"__name__": "__clusterkit_run__"}
        if dask_worker is not None:
            dask_worker._clusterkit_namespace = namespace
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            exec(compile(source, "<%%cluster run>", "exec"), namespace)
        except BaseException as exc:
            # Drop this function's own frame: the user wants their cell's lines.
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None)
    return buffer.getvalue()


# -- the sessions of this process -------------------------------------------------------
def _unique_name(prefix: str) -> str:
    taken = set(_sessions) | {r.name for r in registry.list_records()}
    n = 1
    while f"{prefix}-{n}" in taken:
        n += 1
    return f"{prefix}-{n}"


def check_name(name: str) -> None:
    """Raise :class:`ClusterkitError`, saying what to do, unless ``name`` is free for a new cluster.

    It must be a valid name, not one of this process's sessions, not in the registry.
    """
    if not registry.valid_name(name):
        raise ClusterkitError(
            f"Cluster name {name!r} is not allowed: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit."
        )
    if name in _sessions:
        raise ClusterkitError(f"This process already has a cluster named {name!r}; pick another --name.")
    other = registry.find(name)
    if other is not None:
        raise ClusterkitError(
            f"A cluster named {name!r} is already running (owner {other.owner}, pid {other.owner_pid}). "
            f"Pick another --name, or attach to it with `%cluster connect {name}`."
        )


def _stop_on_sigterm() -> None:
    """In a kernel, turn SIGTERM into a clean stop of our clusters.

    Jupyter asks a kernel to shut down, and sends SIGTERM when it has not exited
    2.5 s later; a kernel holding a Dask client often takes longer, and SIGTERM's
    default action skips ``atexit``, so records would linger until pruned. Only
    installed when nobody else handles SIGTERM, and only from the main thread.
    """
    import signal

    if "ipykernel" not in sys.modules or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def handler(signum: int, frame: Any) -> None:
        try:
            stop_all()
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)


def _add(session: Session) -> Session:
    global _current
    if session.owned:
        _stop_on_sigterm()
    with _lock:
        _sessions[session.name] = session
        _current = session.name
    return session


def _send_at_once(client: Client) -> None:
    """Give the owner's client stream ``clusterkit.parallel.batched-send-interval`` now.

    Dask's client batches on a 10 ms timer: a message sent within 10 ms of the
    previous one (the subscription, the first task's graph right after the start)
    waits for it. ``ck.map`` and friends set the same interval on first use
    (:mod:`clusterkit.parallel`); ``null`` keeps Dask's.
    """
    interval = config.batched_send_interval()
    stream = getattr(client, "scheduler_comm", None)
    if interval is not None and stream is not None:
        stream.interval = interval


def _client(address_or_cluster: Any, **kwargs: Any) -> Client:
    return Client(address_or_cluster, set_as_default=True, **kwargs)


def _owner_client(cluster: Cluster, credentials: Security | None) -> Client:
    """The owning kernel's client: in memory when the scheduler runs in this process.

    See :func:`clusterkit.backends.local.in_process_address`. The client still
    knows its cluster, as ``Client(cluster)`` would (its dashboard link, its
    HTML view, closing itself when the cluster closes).
    """
    from clusterkit.backends.local import in_process_address

    security = {"security": credentials} if credentials is not None else {}
    address = in_process_address(cluster)
    if address is None:
        return _client(cluster, **security)
    client = _client(address, loop=cluster.loop, **security)
    client.cluster = cluster
    return client


def start_owned(
    options: WorkerOptions,
    *,
    factory: str | None = None,
    tls_ca_file: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> Session:
    """Start a cluster this process owns, connect to it and make it current.

    What :func:`clusterkit.start` does unless it detaches (see :mod:`clusterkit.launch`),
    and what the daemon does for a detached one. By default a local cluster of worker
    processes sized for this machine, with mutual TLS on credentials made for it (see
    :mod:`clusterkit.security`); ``options.insecure`` uses plain TCP that any local user
    can reach (a warning says so); ``tls_ca_file``, ``tls_cert`` (and ``tls_key``) use
    your own CA and certificate instead. ``factory=NAME`` uses a cluster manager
    configured as ``clusterkit.factories.NAME`` (its own security settings apply).
    ``options`` are already checked (:meth:`clusterkit.options.WorkerOptions.parse`).
    """
    if options.name is not None:
        check_name(options.name)
    record_id = registry.new_id()
    credentials: Security | None = None
    if factory is not None:
        from clusterkit.backends.factory import start_factory

        cluster = start_factory(factory)
        kind: registry.Kind = "factory"
        if options.n_workers is not None:
            cluster.scale(options.n_workers)
    else:
        from clusterkit.backends.local import start_local

        if options.insecure:
            tls.warn_insecure("this local cluster")
        else:
            credentials = tls.create(record_id, tls_ca_file=tls_ca_file, tls_cert=tls_cert, tls_key=tls_key)
        try:
            cluster = start_local(options.n_workers, options.threads_per_worker, options.memory_limit, security=credentials)
        except BaseException:
            registry.remove(record_id)
            raise
        kind = "local"
    session = own(cluster, kind, options.name, record_id=record_id, credentials=credentials)
    if options.adapt is not None:
        session.adapt(*options.adapt)
    return session


def own(
    cluster: Cluster,
    kind: registry.Kind,
    name: str | None = None,
    *,
    record_id: str | None = None,
    credentials: Security | None = None,
) -> Session:
    """Wrap a started cluster in an owning session, register it and make it current.

    Backends that build their own cluster object (SSH, factories) end here; on
    failure the cluster is closed (and credentials made for ``record_id`` removed)
    so nothing is left running.
    """
    try:
        if name is not None:
            check_name(name)
        client = _owner_client(cluster, credentials)
        session = Session(
            name=name or _unique_name(kind), kind=kind, client=client, cluster=cluster, record_id=record_id
        )
    except BaseException:
        cluster.close()
        if record_id is not None:
            registry.remove(record_id)
        raise
    return _add(session)


def ssh(
    hosts: list[str] | str,
    workers_per_host: int = 1,
    name: str | None = None,
    *,
    insecure: bool = False,
    **options: Any,
) -> Session:
    """Start a cluster over SSH: the first host runs the scheduler, every host runs workers.

    Mutual TLS on per-cluster credentials unless ``insecure=True``; your own CA and
    certificate with ``tls_ca_file``, ``tls_cert`` (and ``tls_key``). Other ``options``
    go to :func:`clusterkit.backends.ssh.start_ssh` (``user``, ``port``, ``key``,
    ``python``, ``insecure_accept_new_hosts``, ...).
    """
    from clusterkit.backends.ssh import start_ssh

    if name is not None:
        check_name(name)
    options.pop("tls", None)  # TLS is the default now; tls=True is accepted and means nothing more
    host_list = [hosts] if isinstance(hosts, str) else list(hosts)
    record_id = registry.new_id()
    credentials: Security | None = None
    user_files = {k: options.pop(k) for k in ("tls_ca_file", "tls_cert", "tls_key") if options.get(k)}
    if insecure:
        tls.warn_insecure("this SSH cluster")
    else:
        credentials = tls.create(record_id, **user_files)
    try:
        cluster = start_ssh(host_list, workers_per_host=workers_per_host, security=credentials, **options)
    except BaseException:
        registry.remove(record_id)
        raise
    return own(cluster, "ssh", name, record_id=record_id, credentials=credentials)


def connect(address_or_name: str, name: str | None = None, *, security: Security | None = None) -> Session:
    """Attach to a running scheduler (``tls://...``, ``tcp://...``), a registered cluster (name or id),
    or a cluster on the Dask Gateway (``gateway:<cluster name>``).

    A registered TLS cluster is reached with its credentials from the registry folder
    (only the user who started it has them); a bare ``tls://`` address needs ``security=``.
    """
    from clusterkit.backends import gateway as gateway_backend

    if address_or_name.startswith(gateway_backend.PREFIX):
        return _attach_gateway(address_or_name, None, name)
    try:
        address, record = address_backend.resolve(address_or_name)
    except ClusterNotFoundError:
        if not _on_gateway(address_or_name):  # the sidebar lists gateway clusters by their gateway name
            raise
        return _attach_gateway(address_or_name, None, name)
    if record is not None and record.kind == "gateway":
        return _attach_gateway(gateway_backend.cluster_name(address) or record.name, record, name)
    if security is None and record is not None:
        security = tls.for_record(record)
    if security is None and address.startswith("tls://"):
        raise BackendError(
            f"{address} is a TLS scheduler that is not in your registry, so clusterkit has no credentials "
            "for it. Connect by its name (`%cluster connect NAME`), or pass security= a distributed Security."
        )
    try:
        client = _client(address, timeout=config.get("control.timeout"), security=security)
    except (OSError, TimeoutError) as exc:
        raise BackendError(
            f"Could not connect to the scheduler at {address}: {exc}. "
            "Check that the cluster is running (`%cluster list`) and the address is right."
        ) from exc
    if record is not None:
        session_name = name or record.name
        if session_name in _sessions:
            session_name = _unique_name(record.name)
        session = Session(name=session_name, kind=record.kind, client=client, record=record, owned=False)
    else:
        session = Session(name=name or _unique_name("address"), kind="address", client=client)
        # We do not own the scheduler: stopping the session only disconnects.
        session.cluster = None
    return _add(session)


def gateway(
    address: str | None = None,
    *,
    name: str | None = None,
    n_workers: int | None = None,
    adapt: tuple[int, int] | None = None,
    detach: bool = False,
    auth: Any = None,
    **options: Any,
) -> Session:
    """Start a cluster on a Dask Gateway, connect to it and make it current.

    ``address`` and ``auth`` default to dask-gateway's own config (``gateway.address``,
    ``gateway.auth``), and ``options`` (the gateway's cluster options, such as
    ``worker_memory=4``) to ``gateway.cluster.options``. ``detach=True`` leaves the
    cluster running on the gateway when this process ends (stop it with
    ``ck.stop_cluster("gateway:<name>")``).
    """
    from clusterkit.backends.gateway import proxy_error, start_cluster

    checked = WorkerOptions.parse(n_workers=n_workers, adapt=adapt, name=name)  # before asking the gateway
    n_workers, adapt = checked.n_workers, checked.adapt
    if name is not None:
        check_name(name)
    cluster = start_cluster(address, options, detach=detach, auth=auth)
    try:
        session = own(cluster, "gateway", name)
    except (OSError, TimeoutError) as exc:
        with contextlib.suppress(Exception):
            cluster.close(shutdown=True)  # detached or not: nobody can use it
        raise proxy_error(cluster, exc) from exc
    if n_workers is not None:
        session.scale(n_workers)
    if adapt is not None:
        session.adapt(*adapt)
    return session


def _attach_gateway(cluster: str, record: registry.ClusterRecord | None, name: str | None) -> Session:
    """A session on a gateway cluster this process did not start: it may scale it; stop only disconnects."""
    from clusterkit.backends.gateway import PREFIX, attach_cluster, proxy_error

    gateway_cluster = attach_cluster(cluster)
    try:
        try:
            client = _client(gateway_cluster)
        except (OSError, TimeoutError) as exc:
            raise proxy_error(gateway_cluster, exc) from exc
        session_name = name or (record.name if record is not None else cluster.removeprefix(PREFIX))
        if session_name in _sessions or not registry.valid_name(session_name):
            session_name = _unique_name("gateway")
        session = Session(
            name=session_name, kind="gateway", client=client, cluster=gateway_cluster, record=record, owned=False
        )
    except BaseException:
        gateway_cluster.close()
        raise
    return _add(session)


def current() -> Session:
    """The current session; raises :class:`NoClusterError` with a hint if there is none."""
    with _lock:
        if _current is None:
            raise NoClusterError()
        return _sessions[_current]


def sessions() -> dict[str, Session]:
    """This process's sessions by name (a copy)."""
    with _lock:
        return dict(_sessions)


def use(name: str) -> Session:
    """Make another of this process's sessions current."""
    global _current
    with _lock:
        if name not in _sessions:
            known = ", ".join(_sessions) or "none"
            raise ClusterNotFoundError(f"This process has no cluster named {name!r} (it has: {known}).")
        _current = name
        return _sessions[name]


def stop_cluster(name_or_id: str) -> str:
    """Stop a cluster by name: this process's own session, or another owner's cluster.

    Returns what was done, as a sentence for the user.
    """
    with _lock:
        session = _sessions.get(name_or_id)
    if session is not None:
        session.stop()
        return f"Stopped {name_or_id!r}."
    from clusterkit.backends import gateway as gateway_backend

    record = registry.find(name_or_id)
    if name_or_id.startswith(gateway_backend.PREFIX) or (record is None and _on_gateway(name_or_id)):
        gateway_backend.stop_cluster(name_or_id)
        return f"Asked the Dask Gateway to stop {name_or_id.removeprefix(gateway_backend.PREFIX)!r}."
    if record is None:
        raise ClusterNotFoundError(
            f"No cluster named {name_or_id!r} here or in the registry. `%cluster list` shows what exists."
        )
    control.send(record, "stop")
    return f"Asked the owner of {record.name!r} ({record.owner}, pid {record.owner_pid}) to stop it."


def _on_gateway(cluster_name: str) -> bool:
    """Is ``cluster_name`` one of this user's clusters on the configured Dask Gateway?"""
    from clusterkit.backends import gateway as gateway_backend

    if gateway_backend.configured_address() is None:
        return False
    try:
        return any(r.name == cluster_name for r in gateway_backend.list_clusters())
    except ClusterkitError:  # a gateway that is down: the name is simply not known
        return False


def stop_all() -> None:
    """Stop every session of this process (registered to run at exit)."""
    for session in list(sessions().values()):
        session.stop()


atexit.register(stop_all)
