"""Dask Gateway clusters: start one, attach to one by name, list this user's.

`Dask Gateway <https://gateway.dask.org>`_ is the Dask project's multi-user
cluster service (JupyterHub deployments such as Pangeo run it). It starts the
scheduler and workers, authenticates every user, and serves schedulers (TLS) and
dashboards through its own proxy. clusterkit uses the ``dask-gateway`` client
library, and its configuration, so a hub's deployment config just works::

    # ~/.config/dask/gateway.yaml (or /etc/dask/gateway.yaml in a hub's user image)
    gateway:
      address: https://hub.example.org/services/dask-gateway
      auth: {type: jupyterhub}
      cluster:
        options: {worker_cores: 2}

    %cluster gateway --options worker_memory=4 -n 2
    %cluster connect gateway:5f3a...        # a cluster that already runs on the gateway

Every call to the gateway is checked first with a time limit
(``clusterkit.gateway.connect-timeout``): a gateway that is down or silent, a
wrong address, refused credentials, an option the gateway does not offer and an
unknown cluster name each end in one :class:`~clusterkit.errors.BackendError`
(or :class:`~clusterkit.errors.ClusterNotFoundError`) naming the gateway and the
fix, never a traceback or a hang.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import functools
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from clusterkit import config, registry
from clusterkit.errors import BackendError, ClusterNotFoundError, ConfigError

__all__ = [
    "PREFIX",
    "adapt_cluster",
    "attach_cluster",
    "cluster_name",
    "configured_address",
    "gateway_records",
    "list_clusters",
    "merge_records",
    "parse_option",
    "proxy_error",
    "quiet_after_close",
    "scale_cluster",
    "start_cluster",
    "start_detached",
    "stop_cluster",
]

logger = logging.getLogger(__name__)

#: ``%cluster connect gateway:<cluster name>`` names a cluster on the gateway.
PREFIX = "gateway:"

T = TypeVar("T")


# -- the dask-gateway library and its configuration ---------------------------------------------
def _library() -> Any:
    try:
        import dask_gateway
    except ImportError as exc:
        raise BackendError(
            "Dask Gateway clusters need the dask-gateway client library: pip install 'clusterkit[gateway]' "
            "(or pip install dask-gateway)."
        ) from exc
    return dask_gateway


def configured_address() -> str | None:
    """The gateway named in Dask config (``gateway.address``), or ``None``."""
    import dask.config

    value = dask.config.get("gateway.address", None)
    if not value:
        return None
    try:
        from dask_gateway.utils import format_template
    except ImportError:
        return str(value)
    return str(format_template(value))


def _address(address: str | None) -> str:
    """The gateway's URL: the one given, else ``gateway.address``; checked to be http(s)."""
    chosen = address or configured_address()
    if not chosen:
        raise ConfigError(
            "No Dask Gateway address: pass one (`%cluster gateway http://HOST:PORT`, "
            "`ck.gateway('http://HOST:PORT')`) or set gateway.address in your Dask config."
        )
    parsed = urllib.parse.urlsplit(chosen)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(
            f"{chosen!r} is not a Dask Gateway address: it is the gateway's http(s) URL, such as "
            "http://127.0.0.1:8000 or https://hub.example.org/services/dask-gateway."
        )
    return chosen.rstrip("/")


def _auth(auth: Any) -> Any:
    """An authenticator object: the one given, else ``gateway.auth`` from Dask config."""
    _library()
    from dask_gateway.auth import get_auth

    try:
        return get_auth(auth)
    except (ValueError, TypeError, ImportError, AttributeError) as exc:
        raise ConfigError(
            f"The Dask Gateway authentication is misconfigured: {_one_line(exc)}. Check gateway.auth.type "
            "(basic, kerberos, jupyterhub or a class path) and gateway.auth.kwargs in your Dask config."
        ) from exc


def _describe_auth(auth: Any) -> str:
    user = getattr(auth, "username", None)
    kind = type(auth).__name__
    return f"{kind} as user {user!r}" if user else kind


def _timeout() -> float:
    import dask.utils

    return float(dask.utils.parse_timedelta(config.get("gateway.connect-timeout")))


# -- talking to the gateway, with a time limit -------------------------------------------------
def _one_line(exc: BaseException, limit: int = 120) -> str:
    """What an exception says, on one line and short (a server's HTML error page is neither)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _explain(exc: BaseException, address: str, auth: Any, timeout: float) -> BackendError:
    """One sentence for what went wrong between us and the gateway (what, why, the fix)."""
    import aiohttp

    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return BackendError(
            f"The Dask Gateway at {address} did not answer within {timeout:.0f} s. Check that the address "
            "is the gateway's (not another service's) and that the gateway is not overloaded; raise "
            "clusterkit.gateway.connect-timeout if it is only slow."
        )
    if isinstance(exc, aiohttp.ClientResponseError) and exc.status == 403:
        return BackendError(
            f"The Dask Gateway at {address} refused this request for {_describe_auth(auth)} (HTTP 403): that user "
            "may not use this cluster or action. Check that the cluster is yours (`%cluster list`) and that "
            "gateway.auth in your Dask config names the right user."
        )
    if isinstance(exc, aiohttp.ClientResponseError) and exc.status == 401:
        return BackendError(
            f"The Dask Gateway at {address} refused our credentials ({_describe_auth(auth)}; HTTP {exc.status}). "
            "Check gateway.auth in your Dask config (type and kwargs such as username and password), "
            "or pass auth=."
        )
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ServerDisconnectedError | ConnectionError | OSError):
        reason = getattr(exc, "strerror", None) or _one_line(exc)
        return BackendError(
            f"Cannot reach the Dask Gateway at {address}: {reason}. Check that dask-gateway-server runs there "
            "and that the address is right (the ADDRESS you gave, or gateway.address in your Dask config)."
        )
    if isinstance(exc, aiohttp.ContentTypeError | aiohttp.ClientResponseError | ValueError):
        return BackendError(
            f"{address} does not answer like a Dask Gateway ({_one_line(exc)}). Check the address: it is the gateway's "
            "public URL (gateway.address), such as http://127.0.0.1:8000."
        )
    return BackendError(f"The Dask Gateway at {address} failed: {type(exc).__name__}: {_one_line(exc)}.")


def _call(address: str, auth: Any, action: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``action(gateway)`` against the gateway, within the connect timeout.

    An asynchronous ``Gateway`` on a short-lived event loop in a helper thread: the
    caller may itself run inside an event loop (a kernel), and a timeout then
    cancels the request instead of leaving a thread waiting forever.
    """
    dask_gateway = _library()
    timeout = _timeout()

    async def run() -> T:
        gateway = dask_gateway.Gateway(address, auth=auth, asynchronous=True)
        try:
            return await asyncio.wait_for(action(gateway), timeout)
        finally:
            await gateway.close()

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="clusterkit-gateway") as pool:
        try:
            return pool.submit(asyncio.run, run()).result()
        except (BackendError, ConfigError, ClusterNotFoundError):
            raise
        except Exception as exc:
            raise _explain(exc, address, auth, timeout) from exc


def parse_option(text: str) -> tuple[str, Any]:
    """``"worker_memory=4"`` -> ``("worker_memory", 4)``; values read as YAML scalars (numbers, booleans)."""
    import yaml

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise ValueError(f"{text!r} is not KEY=VALUE, e.g. worker_memory=4")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def _apply_options(options_spec: Any, given: Mapping[str, Any], address: str) -> Any:
    """Set ``given`` on the gateway's options object; refuse what the gateway does not offer."""
    offered = ", ".join(f"{k}={v!r}" for k, v in dict(options_spec).items()) or "none"
    for key, value in given.items():
        try:
            options_spec[key] = value
        except (AttributeError, KeyError, ValueError, TypeError) as exc:
            reason = str(exc).strip("'\"")
            raise BackendError(
                f"The Dask Gateway at {address} does not allow the option {key}={value!r}: {reason}. "
                f"It offers (with defaults): {offered}. Pass allowed values with --options KEY=VALUE."
            ) from None
    return options_spec


# -- clusters -----------------------------------------------------------------------------------
def quiet_after_close(gateway: Any) -> None:
    """Stop a closed sync ``dask_gateway.Gateway`` from closing itself again when collected.

    With distributed >= 2026 its ``__del__`` asks the stopped loop runner for its
    loop, which raises, and Python prints "Exception ignored in Gateway.__del__"
    into the notebook. Its ``__del__`` skips asynchronous gateways, so mark it so.
    """
    gateway._asynchronous = True


@functools.cache
def _cluster_class() -> Any:
    """``dask_gateway.GatewayCluster`` with the ``close(timeout=...)`` every clusterkit cluster has."""
    dask_gateway = _library()
    base = dask_gateway.GatewayCluster

    class ClusterkitGatewayCluster(base):  # type: ignore[misc, valid-type]
        """A gateway cluster; ``close`` keeps it running on the gateway when detached."""

        def close(self, timeout: float | None = None, shutdown: bool | None = None) -> Any:
            result = super().close(shutdown=shutdown)
            quiet_after_close(self.gateway)
            return result

        def scale(self, n: int, **kwargs: Any) -> None:
            self._ask("scale", super().scale, n, **kwargs)

        def adapt(self, minimum: int | None = None, maximum: int | None = None, **kwargs: Any) -> None:
            self._ask("adapt", super().adapt, minimum=minimum, maximum=maximum, **kwargs)

        def _ask(self, action: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
            """A scale/adapt request; a cluster the gateway stopped meanwhile is one clear error."""
            try:
                call(*args, **kwargs)
            except (dask_gateway.GatewayClusterError, ValueError) as exc:
                raise BackendError(
                    f"Cannot {action} cluster {self.name!r}: the Dask Gateway at {self.gateway.address} no longer "
                    f"runs it ({_one_line(exc)}); it was stopped (idle culling, an admin). Start a new one with `%cluster gateway`."
                ) from exc
            except Exception as exc:
                raise _explain(exc, self.gateway.address, self.gateway.auth, _timeout()) from exc

    return ClusterkitGatewayCluster


def start_cluster(
    address: str | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    detach: bool = False,
    auth: Any = None,
) -> Any:
    """Start a cluster on the gateway and wait until its scheduler runs.

    ``options`` are the gateway's cluster options (``gateway.cluster.options`` from
    Dask config fill in the rest). ``detach=True`` turns off dask-gateway's
    shutdown-on-close, so the cluster outlives this process.
    """
    url, authenticator = _address(address), _auth(auth)
    dask_gateway = _library()
    import aiohttp

    async def fetch_options(gateway: Any) -> Any:
        return await gateway.cluster_options()

    spec = _apply_options(_call(url, authenticator, fetch_options), options or {}, url)
    try:
        return _cluster_class()(
            address=url, auth=authenticator, cluster_options=spec, shutdown_on_close=not detach
        )
    except dask_gateway.GatewayClusterError as exc:
        raise BackendError(
            f"The Dask Gateway at {url} could not start the cluster: {_one_line(exc)}. The gateway's log says why; "
            "try smaller --options, or ask its administrator."
        ) from exc
    except (ValueError, OSError, TimeoutError, aiohttp.ClientError) as exc:  # the gateway went away after the checks
        raise _explain(exc, url, authenticator, _timeout()) from exc


def attach_cluster(name: str, address: str | None = None, *, auth: Any = None) -> Any:
    """Connect to a running cluster of this user on the gateway (stopping it later only disconnects)."""
    url, authenticator = _address(address), _auth(auth)
    name = name.removeprefix(PREFIX)
    dask_gateway = _library()
    import aiohttp

    async def report(gateway: Any) -> tuple[Any, list[str]]:
        try:
            found = await gateway.get_cluster(name)
        except ValueError:
            found = None
        mine = [] if found is not None else [r.name for r in await gateway.list_clusters()]
        return found, mine

    found, mine = _call(url, authenticator, report)
    status = getattr(getattr(found, "status", None), "name", "")
    if found is None or status in ("STOPPED", "FAILED", "STOPPING"):
        state = "does not exist" if found is None else f"is {status.lower()}"
        raise ClusterNotFoundError(
            f"Cluster {name!r} {state} on the Dask Gateway at {url} "
            f"(your running clusters there: {', '.join(mine) or 'none'}). "
            "`%cluster list` shows them; start one with `%cluster gateway`."
        )
    try:
        return _cluster_class().from_name(name, address=url, auth=authenticator, shutdown_on_close=False)
    except dask_gateway.GatewayClusterError as exc:
        raise ClusterNotFoundError(f"Cluster {name!r} on the Dask Gateway at {url} cannot be used: {_one_line(exc)}.") from exc
    except (ValueError, OSError, TimeoutError, aiohttp.ClientError) as exc:  # the gateway went away after the checks
        raise _explain(exc, url, authenticator, _timeout()) from exc


def list_clusters(address: str | None = None, *, auth: Any = None) -> list[Any]:
    """This user's pending and running clusters on the gateway (``dask_gateway.ClusterReport``)."""
    url, authenticator = _address(address), _auth(auth)

    async def clusters(gateway: Any) -> list[Any]:
        return list(await gateway.list_clusters())

    return _call(url, authenticator, clusters)


def stop_cluster(name: str, address: str | None = None, *, auth: Any = None) -> None:
    """Shut down a cluster on the gateway by name, whoever started it (the gateway checks the user)."""
    url, authenticator = _address(address), _auth(auth)
    name = name.removeprefix(PREFIX)

    async def stop(gateway: Any) -> None:
        await gateway.stop_cluster(name)

    _call(url, authenticator, stop)


def proxy_error(cluster: Any, exc: BaseException) -> BackendError:
    """The gateway answered, but its scheduler proxy did not: say which address to fix."""
    return BackendError(
        f"The Dask Gateway at {cluster.gateway.address} runs cluster {cluster.name!r}, but its scheduler proxy "
        f"{cluster.scheduler_address} did not answer ({_one_line(exc)}). Check the address (the gateway's public URL, "
        "not its private API), or set gateway.proxy-address in your Dask config."
    )


def scale_cluster(name: str, n: int, address: str | None = None, *, auth: Any = None) -> None:
    """Ask the gateway for ``n`` workers (it turns adaptive scaling off)."""
    url, authenticator = _address(address), _auth(auth)

    async def scale(gateway: Any) -> None:
        await gateway.scale_cluster(name.removeprefix(PREFIX), n)

    _call(url, authenticator, scale)


def adapt_cluster(name: str, minimum: int, maximum: int, address: str | None = None, *, auth: Any = None) -> None:
    """Let the gateway scale the cluster between ``minimum`` and ``maximum`` workers."""
    url, authenticator = _address(address), _auth(auth)

    async def adapt(gateway: Any) -> None:
        await gateway.adapt_cluster(name.removeprefix(PREFIX), minimum=minimum, maximum=maximum)

    _call(url, authenticator, adapt)


def start_detached(address: str | None, options: Mapping[str, Any], workers: int | None = None) -> registry.ClusterRecord:
    """Start a cluster that stays on the gateway after this call (the sidebar's "New cluster")."""
    cluster = start_cluster(address, options, detach=True)
    try:
        if workers:
            cluster.scale(workers)
        record = registry.ClusterRecord.new(
            name=str(cluster.name),
            kind="gateway",
            scheduler_address=str(cluster.scheduler_address),
            owner="gateway",
            owner_pid=0,
            dashboard_url=cluster.dashboard_link,
        )
        record.id = str(cluster.name)
        return record
    finally:
        cluster.close()


def cluster_name(scheduler_address: str) -> str | None:
    """The gateway's cluster name in a ``gateway://host:port/<name>`` address, else ``None``."""
    if not scheduler_address.startswith("gateway://"):
        return None
    name = urllib.parse.urlsplit(scheduler_address).path.strip("/")
    return name or None


# -- the registry's view of the gateway ---------------------------------------------------------
def _record(report: Any) -> registry.ClusterRecord:
    """A record (never written to disk) for a cluster that only the gateway knows."""
    started = getattr(report, "start_time", None)
    created = started.timestamp() if isinstance(started, datetime.datetime) else 0.0
    status = getattr(getattr(report, "status", None), "name", "RUNNING")
    record = registry.ClusterRecord(
        id=str(report.name),
        name=str(report.name),
        kind="gateway",
        scheduler_address=str(report.scheduler_address or f"gateway://{report.name}"),
        dashboard_port=None,
        owner="gateway",
        owner_pid=0,
        created=created,
        status="starting" if status == "PENDING" else "running",
    )
    record.dashboard_url = report.dashboard_link
    return record


def merge_records(records: list[registry.ClusterRecord], reports: list[Any]) -> list[registry.ClusterRecord]:
    """The registry's records with the gateway's view folded in.

    A gateway record whose cluster the gateway no longer runs (culled, stopped
    by an admin) becomes ``lost``; this user's gateway clusters that no record
    describes (started in another program, or detached) are added.
    """
    running = {str(r.name): r for r in reports}
    merged = []
    for record in records:
        name = cluster_name(record.scheduler_address) if record.kind == "gateway" else None
        if name is not None and record.status == "running" and name not in running:
            record.status = "lost"
        running.pop(name or "", None)
        merged.append(record)
    merged.extend(_record(report) for report in running.values())
    return sorted(merged, key=lambda r: r.created)


def gateway_records(
    records: list[registry.ClusterRecord], address: str | None = None
) -> tuple[list[registry.ClusterRecord], str | None]:
    """``records`` merged with this user's clusters on the configured gateway, and a note if it failed.

    Without a configured gateway (``gateway.address``) the records come back
    unchanged: listing never waits on a gateway nobody set up.
    """
    url = address or configured_address()
    if not url:
        return records, None
    try:
        reports = list_clusters(url)
    except (BackendError, ConfigError) as exc:
        return records, f"Gateway clusters not shown: {exc}"
    return merge_records(records, reports), None
