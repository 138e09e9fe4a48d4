"""Any Dask cluster manager, named in config.

A user who outgrows one machine keeps the same magics: describe the cluster
class once, in Dask config, and start it by name::

    # ~/.config/dask/clusterkit.yaml
    clusterkit:
      factories:
        slurm:
          module: dask_jobqueue
          class: SLURMCluster
          kwargs: {cores: 8, memory: 16GiB, queue: regular}

    %cluster start --factory slurm -n 4

dask-jobqueue, dask-kubernetes, dask-gateway and Coiled all fit this shape.
"""

from __future__ import annotations

import importlib
from typing import Any

from distributed.deploy.cluster import Cluster

from clusterkit import config
from clusterkit.errors import BackendError, ConfigError

__all__ = ["factory_names", "start_factory"]


def factory_names() -> list[str]:
    """Names configured under ``clusterkit.factories``."""
    return sorted(config.get("factories") or {})


def start_factory(name: str, **overrides: Any) -> Cluster:
    """Create the cluster class configured as ``clusterkit.factories.<name>``."""
    factories = config.get("factories") or {}
    if name not in factories:
        known = ", ".join(sorted(factories)) or "none are configured"
        raise ConfigError(
            f"No cluster factory named {name!r} (known: {known}). "
            f"Add clusterkit.factories.{name} with 'module' and 'class' to your Dask config."
        )
    spec = factories[name]
    try:
        module_name, class_name = spec["module"], spec["class"]
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"clusterkit.factories.{name} needs 'module' and 'class' keys.") from exc
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(
            f"Factory {name!r} needs the module {module_name!r}, which is not installed: "
            f"pip install {module_name.split('.')[0].replace('_', '-')}"
        ) from exc
    try:
        cls = getattr(module, class_name)
    except AttributeError as exc:
        raise ConfigError(f"Module {module_name!r} has no class {class_name!r} (factory {name!r}).") from exc
    kwargs = {**(spec.get("kwargs") or {}), **overrides}
    try:
        return cls(**kwargs)
    except Exception as exc:
        raise BackendError(f"Factory {name!r} ({module_name}.{class_name}) failed to start: {exc}") from exc
