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
    "OptionError",
    "RegistryError",
    "RemoteError",
    "SSHError",
    "Session",
    "__version__",
    "connect",
    "current",
    "gateway",
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


def test_the_registry_imports_without_dask_or_widgets():
    """The Jupyter server imports clusterkit.registry; it must stay light."""
    import subprocess
    import sys

    code = (
        "import sys, clusterkit.registry, clusterkit.errors; "
        "print(sorted(m for m in ('dask', 'distributed', 'IPython', 'ipywidgets', 'anywidget') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_session_import_loads_clusterkit_config():
    import dask

    assert clusterkit.start is not None
    assert dask.config.get("clusterkit.host") == "127.0.0.1"


def test_every_lazy_name_is_public():
    assert set(clusterkit._LAZY) | {"__version__", "load_ipython_extension"} == set(clusterkit.__all__)
