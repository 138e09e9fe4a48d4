"""Pins the public names: adding one is a decision, removing one breaks users."""

import clusterkit

EXPECTED = {
    "as_completed",
    "cancel",
    "get",
    "imap",
    "map",
    "remote",
    "wait",
    "ActorError",
    "ActorLostError",
    "ActorRestartedError",
    "BackendError",
    "ClusterNotFoundError",
    "ClusterkitError",
    "ConfigError",
    "NoClusterError",
    "RegistryError",
    "RemoteError",
    "SSHError",
    "Session",
    "__version__",
    "connect",
    "current",
    "load_ipython_extension",
    "progress",
    "sessions",
    "ssh",
    "start",
    "stop_cluster",
    "use",
}


def test_public_names_are_pinned():
    assert set(clusterkit.__all__) == EXPECTED


def test_every_public_name_exists():
    for name in clusterkit.__all__:
        assert hasattr(clusterkit, name), name
