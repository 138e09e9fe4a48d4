"""REST handlers: list, inspect, create, scale and stop clusters.

Every route is authenticated and answers JSON. Replies carry the listed fields
of :class:`~clusterkit.registry.ClusterRecord` plus two the sidebar needs
(``notebook_path``, ``dashboard_url``); nothing else from the server or the
cluster ever leaves it. Errors say what was refused and why: 400 for a bad
body, 404 for an unknown id, 409 for a taken name, 502 when a cluster's owner
or the daemon cannot do what was asked; a 500 means a bug of ours.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from clusterkit import control, hostnames, links, options, registry
from clusterkit.errors import ClusterkitError, OptionError, RegistryError
from clusterkit.server import gateway

__all__ = ["PUBLIC_FIELDS", "public_record", "routes", "safe_json"]

#: The record fields the API sends; everything else stays on the server.
PUBLIC_FIELDS = (
    "id",
    "name",
    "kind",
    "scheduler_address",
    "dashboard_port",
    "owner",
    "owner_pid",
    "created",
    "workers",
    "threads",
    "memory_bytes",
    "status",
)
_CREATE_KEYS = {"name", "workers", "threads", "memory", "ssh_hosts", "insecure"}
_T = TypeVar("_T")


def safe_json(value: Any) -> str:
    """JSON that is also inert in HTML: ``<``, ``>`` and ``&`` become ``\\u003c`` and so on."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def public_record(record: registry.ClusterRecord, base_url: str, notebook_path: str | None) -> dict[str, Any]:
    """The API's view of one record: the listed fields and two derived ones."""
    data = {field: getattr(record, field) for field in PUBLIC_FIELDS}
    data["notebook_path"] = notebook_path
    data["dashboard_url"] = links.dashboard_url(base_url, record.id) if record.dashboard_port else None
    if record.kind == "gateway":  # served by the gateway's own proxy
        data["dashboard_url"] = record.dashboard_url
    return data


class ClusterkitAPIHandler(APIHandler):
    """Shared parts: settings, record lookup, JSON bodies."""

    auth_resource = "clusterkit"

    def initialize(self, clusterkit: Any, serverapp: Any, reaper: Any) -> None:
        self.clusterkit = clusterkit
        self.server = serverapp

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON errors whose message is the HTTPError's text (escaped like every reply)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message
        else:
            message = "Unhandled error (a bug in clusterkit; the server log has the traceback)."
        self.set_header("Content-Type", "application/json")
        self.finish(safe_json({"message": message, "reason": self._reason}))

    # -- records ---------------------------------------------------------------
    def records(self) -> list[registry.ClusterRecord]:
        try:
            return registry.list_records(self.clusterkit.registry_folder())
        except RegistryError as exc:
            raise web.HTTPError(503, str(exc)) from None

    def record_or_404(self, cluster_id: str) -> registry.ClusterRecord:
        for record in self.records():
            if record.id == cluster_id:
                return record
        raise web.HTTPError(404, f"No running cluster has the id {cluster_id!r}; list them with GET /clusterkit/api/clusters.")

    async def notebook_paths(self) -> dict[str, str]:
        """Kernel id -> path of the notebook (or console) that kernel belongs to."""
        try:
            sessions = await self.server.session_manager.list_sessions()
        except Exception:  # a session store in trouble must not hide the clusters
            self.log.warning("clusterkit: cannot list sessions", exc_info=True)
            return {}
        return {s["kernel"]["id"]: s.get("path", "") for s in sessions if s.get("kernel")}

    async def reply(self, record: registry.ClusterRecord, status: int = 200) -> None:
        paths = await self.notebook_paths()
        self.set_status(status)
        self.finish(safe_json(public_record(record, self.base_url, paths.get(record.owner))))

    # -- bodies ----------------------------------------------------------------
    def json_body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPError(400, "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise web.HTTPError(400, "The request body must be a JSON object.")
        return data

    def worker_limit(self) -> options.WorkerLimit:
        """Worker counts this server accepts: ``ClusterkitServer.max_workers``, within the config's bound."""
        return options.worker_limit(self.clusterkit.max_workers, "ClusterkitServer.max_workers")

    def checked(self, check: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``check(...)`` from :mod:`clusterkit.options`; its refusal becomes a 400 with the same sentence."""
        try:
            return check(*args, **kwargs)
        except OptionError as exc:
            raise web.HTTPError(400, str(exc)) from None


class ClustersHandler(ClusterkitAPIHandler):
    """``/clusterkit/api/clusters``: list every cluster, or start a detached one."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        paths = await self.notebook_paths()
        records = await gateway.merged(self.records(), gateway.address(self.clusterkit), self.log)
        self.finish(safe_json([public_record(r, self.base_url, paths.get(r.owner)) for r in records]))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        if not self.clusterkit.allow_create:
            raise web.HTTPError(403, "Starting clusters from the server is turned off (ClusterkitServer.allow_create).")
        body = self.json_body()
        if body.get("gateway") is True:  # {"gateway": true, "workers": N, "gateway_options": {...}}
            return await self.create_on_gateway(body)
        options = self.create_options(body)
        settings = self.clusterkit
        if settings.starting_now >= settings.max_starting_clusters:
            raise web.HTTPError(
                429,
                f"{settings.starting_now} clusters are already starting on this server (the limit is "
                f"{settings.max_starting_clusters}, ClusterkitServer.max_starting_clusters); "
                "wait until one is running and try again.",
            )
        try:
            from clusterkit import daemon
        except ImportError:
            raise web.HTTPError(501, "This clusterkit has no daemon module, so it cannot start detached clusters.") from None
        loop = asyncio.get_running_loop()
        settings.starting_now += 1
        spawning = loop.run_in_executor(None, functools.partial(daemon.spawn, **options))
        # Counted until the daemon is really done (a timed-out start still runs in its thread).
        spawning.add_done_callback(lambda _: setattr(settings, "starting_now", settings.starting_now - 1))
        try:
            record = await asyncio.wait_for(asyncio.shield(spawning), self.clusterkit.create_timeout)
        except TimeoutError:
            raise web.HTTPError(
                504, f"The daemon did not register the cluster within {self.clusterkit.create_timeout:.0f} s."
            ) from None
        except ClusterkitError as exc:
            raise web.HTTPError(502, f"Could not start the cluster: {exc}") from None
        self.set_header("Location", url_path_join(self.base_url, "clusterkit", "api", "clusters", record.id))
        await self.reply(record, status=201)

    async def create_on_gateway(self, body: dict[str, Any]) -> None:
        unknown = sorted(set(body) - {"gateway", "workers", "gateway_options"})
        if unknown:
            raise web.HTTPError(400, f"Unknown option(s) {unknown} for a Dask Gateway cluster; it takes 'workers' and 'gateway_options'.")
        workers = self.checked(options.workers, body["workers"], self.worker_limit()) if body.get("workers") is not None else None
        record = await gateway.create(gateway.address(self.clusterkit), workers, body.get("gateway_options") or {})
        await self.reply(record, status=201)

    def create_options(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check a 'New cluster' body and turn it into ``daemon.spawn`` arguments."""
        unknown = sorted(set(body) - _CREATE_KEYS)
        if unknown:
            raise web.HTTPError(400, f"Unknown option(s) {unknown}; expected some of {sorted(_CREATE_KEYS)}.")
        spawn: dict[str, Any] = {}
        name = body.get("name")
        if name not in (None, ""):
            name = self.checked(options.cluster_name, name)
            if any(r.name == name for r in self.records()):
                raise web.HTTPError(409, f"A cluster named {name!r} is already running; pick another name.")
            spawn["name"] = name
        # The same rule, bounds and sentences as ck.start, the magics, the CLI and the daemon.
        parsed = self.checked(
            options.WorkerOptions.parse,
            n_workers=body.get("workers"),
            threads_per_worker=body.get("threads"),
            memory_limit=body.get("memory"),
            insecure=body.get("insecure", False),
            limit=self.worker_limit(),
        )
        if parsed.n_workers is not None:
            spawn["n_workers"] = parsed.n_workers
        if parsed.threads_per_worker is not None:
            spawn["threads_per_worker"] = parsed.threads_per_worker
        if parsed.memory_limit is not None:
            spawn["memory_limit"] = parsed.memory_limit
        spawn["insecure"] = parsed.insecure
        hosts = body.get("ssh_hosts")
        if hosts not in (None, []):
            try:  # the same rule and sentence as %cluster ssh and clusterkit up --ssh
                spawn["ssh_hosts"] = hostnames.check_hosts(hosts)
            except OptionError as exc:
                raise web.HTTPError(400, f"'ssh_hosts': {exc}") from None
        return spawn


class ClusterHandler(ClusterkitAPIHandler):
    """``/clusterkit/api/clusters/<id>``: one cluster; scale or stop it."""

    @web.authenticated
    @authorized
    async def get(self, cluster_id: str) -> None:
        await self.reply(await self.any_record(cluster_id))

    @web.authenticated
    @authorized
    async def patch(self, cluster_id: str) -> None:
        """``{"workers": N}`` scales, ``{"adapt": {"minimum": A, "maximum": B}}`` (or ``"A:B"``) adapts.

        Counts go through :mod:`clusterkit.options`, as everywhere else: a bad one is a 400
        with its one-line sentence, before the cluster's owner is asked anything.
        """
        record = await self.any_record(cluster_id)
        body = self.json_body()
        if set(body) == {"workers"}:
            n = self.checked(options.workers, body["workers"], self.worker_limit())
            await self.send(record, "scale", n=n)
        elif set(body) == {"adapt"}:
            low, high = self.checked(options.adapt_range, body["adapt"], self.worker_limit())
            await self.send(record, "adapt", minimum=low, maximum=high)
        else:
            raise web.HTTPError(
                400, 'Send {"workers": N} to scale, or {"adapt": {"minimum": A, "maximum": B}} to adapt.'
            )
        await self.reply(record, status=202)

    @web.authenticated
    @authorized
    async def delete(self, cluster_id: str) -> None:
        record = await self.any_record(cluster_id)
        await self.send(record, "stop")
        record.status = "stopping"
        await self.reply(record, status=202)

    async def any_record(self, cluster_id: str) -> registry.ClusterRecord:
        """A registered cluster, else one of this user's clusters on the Dask Gateway."""
        url = gateway.address(self.clusterkit)
        if url and not any(r.id == cluster_id for r in self.records()):
            found = await gateway.find(cluster_id, url, self.log)
            if found is not None:
                return found
        return self.record_or_404(cluster_id)

    async def send(self, record: registry.ClusterRecord, op: str, **arguments: Any) -> None:
        if record.kind == "gateway":  # the gateway owns it, whoever started it
            return await gateway.send(record, op, gateway.address(self.clusterkit), **arguments)
        try:
            await control.send_async(record, op, directory=self.clusterkit.registry_folder(), **arguments)
        except ClusterkitError as exc:
            raise web.HTTPError(502, str(exc)) from None


def routes() -> list[tuple[str, type, dict[str, Any]]]:
    """URL patterns relative to the server's base URL."""
    return [
        (r"clusterkit/api/clusters/?", ClustersHandler, {}),
        (r"clusterkit/api/clusters/(?P<cluster_id>[^/]+)/?", ClusterHandler, {}),
        (r"clusterkit/api/gateway/?", gateway.GatewayInfoHandler, {}),
    ]
