"""Every exception clusterkit raises, in one tree.

::

    ClusterkitError                 base class: catch this to catch everything of ours
    ├── ConfigError                 a clusterkit.* setting is missing or malformed
    ├── OptionError                 a worker option (count, threads, memory, adapt, name) is out of bounds
    ├── RegistryError               the registry folder cannot be read or written
    ├── NoClusterError              no current session (run ``%cluster start``)
    ├── ClusterNotFoundError        a name or address that matches no cluster
    ├── BackendError                a backend could not start or reach a cluster
    │   └── SSHError                an SSH host failed a preflight check or timed out
    ├── RemoteError                 a function raised on a worker (carries the remote traceback)
    └── ActorError                  something happened to an actor
        ├── ActorRestartedError     the actor was re-created; this call was in flight
        └── ActorLostError          the actor's worker died and no restarts are left

Messages are full sentences that say what failed, why, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ActorError",
    "ActorLostError",
    "ActorRestartedError",
    "BackendError",
    "ClusterNotFoundError",
    "ClusterkitError",
    "ConfigError",
    "NoClusterError",
    "OptionError",
    "RegistryError",
    "RemoteError",
    "SSHError",
]


class ClusterkitError(Exception):
    """Base class of every clusterkit error."""


class ConfigError(ClusterkitError):
    """A ``clusterkit.*`` configuration value is missing or malformed."""


class OptionError(ClusterkitError, ValueError):
    """A worker option is malformed or outside the configured bounds (same text from every entry point)."""


class RegistryError(ClusterkitError):
    """The cluster registry folder cannot be read or written."""


class NoClusterError(ClusterkitError):
    """There is no current session."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "No cluster is running in this process. Start one with "
            "`%cluster start` (or `ck.start()`), or attach to one with "
            "`%cluster connect NAME`."
        )


class ClusterNotFoundError(ClusterkitError):
    """A cluster name or address matches nothing known."""


class BackendError(ClusterkitError):
    """A backend could not start, reach or control a cluster."""


class SSHError(BackendError):
    """An SSH host failed a preflight check, refused us, or did not answer in time."""


class RemoteError(ClusterkitError):
    """A function raised on a worker.

    ``remote_traceback`` holds the worker-side traceback text and ``index``
    the position of the failing item when the call came from ``ck.map``.
    """

    def __init__(self, message: str, remote_traceback: str = "", index: int | None = None) -> None:
        super().__init__(message)
        self.remote_traceback = remote_traceback
        self.index = index


class ActorError(ClusterkitError):
    """Base class of actor failures."""


class ActorRestartedError(ActorError):
    """The actor was re-created after its worker died while this call was in flight."""


class ActorLostError(ActorError):
    """The actor's worker died and the actor has no restarts left."""
