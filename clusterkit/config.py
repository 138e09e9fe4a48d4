"""clusterkit's configuration, kept in ``dask.config`` under ``clusterkit.*``.

Importing this module loads ``clusterkit.yaml`` as *defaults*: anything the user
set in their own Dask YAML files or ``DASK_CLUSTERKIT__*`` environment variables
wins. The same file lowers a few of Dask's own defaults (``worker-ttl``) and, when
running under JupyterHub or Binder, points ``distributed.dashboard.link`` at the
clusterkit dashboard proxy of the user's server (``clusterkit/dashboard/port-{port}/``),
so Dask's own dashboard links work from the browser.

>>> import dask, clusterkit.config
>>> dask.config.get("clusterkit.host")
'127.0.0.1'
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import dask.config
import yaml

__all__ = ["SCHEMA_PATH", "YAML_PATH", "batched_send_interval", "get", "load"]

YAML_PATH = pathlib.Path(__file__).with_name("clusterkit.yaml")
SCHEMA_PATH = pathlib.Path(__file__).with_name("clusterkit-schema.yaml")

_loaded = False


def load() -> None:
    """Register clusterkit's defaults with dask.config (idempotent)."""
    global _loaded
    if _loaded:
        return
    with YAML_PATH.open() as f:
        defaults = yaml.safe_load(f)
    if os.environ.get("JUPYTERHUB_SERVICE_PREFIX"):
        # Dask formats the link with os.environ plus host and port.
        defaults.setdefault("distributed", {}).setdefault("dashboard", {})["link"] = (
            "{JUPYTERHUB_SERVICE_PREFIX}clusterkit/dashboard/port-{port}/status"
        )
    # Distributed registers its own defaults on import; it must come first, or
    # its values would replace ours (update_defaults favours the newest default).
    import distributed.config  # noqa: F401

    # update_defaults keeps values the user already set (YAML files and
    # DASK_* environment variables were read when dask was imported).
    dask.config.update_defaults(defaults)
    # The registry is read by processes without Dask (the Jupyter server), so its
    # folder travels as an environment variable, which child processes inherit.
    folder = dask.config.get("clusterkit.registry.path", default=None)
    if folder and not os.environ.get("CLUSTERKIT_REGISTRY_DIR"):
        os.environ["CLUSTERKIT_REGISTRY_DIR"] = os.path.expanduser(str(folder))
    _loaded = True


def get(key: str, default: Any = None) -> Any:
    """``dask.config.get("clusterkit." + key)`` with clusterkit's defaults loaded."""
    load()
    return dask.config.get(f"clusterkit.{key}", default=default)


load()


def batched_send_interval() -> float | None:
    """Seconds: ``clusterkit.parallel.batched-send-interval`` for Dask's batched streams (``None``: Dask's own)."""
    value = get("parallel.batched-send-interval", "0ms")
    if value is None:
        return None
    import dask.utils

    return float(dask.utils.parse_timedelta(value, default="ms"))
