"""The factory backend with real cluster classes from distributed."""

from __future__ import annotations

import dask
import pytest

import clusterkit as ck
from clusterkit import registry
from clusterkit.backends.factory import factory_names, start_factory

LOCAL = {
    "module": "distributed",
    "class": "LocalCluster",
    "kwargs": {"n_workers": 1, "processes": True, "host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"},
}


def test_a_configured_factory_starts_a_session_and_scales():
    with dask.config.set({"clusterkit.factories": {"mine": LOCAL}}):
        assert factory_names() == ["mine"]
        session = ck.start(factory="mine", n_workers=2)
        try:
            assert session.kind == "factory"
            assert registry.find(session.name).kind == "factory"
            session.scale(2)
            assert session.client.submit(lambda x: x + 1, 1).result() == 2
        finally:
            session.stop()


def test_spec_cluster_through_the_factory_path():
    spec = {
        "module": "distributed",
        "class": "SpecCluster",
        "kwargs": {
            "scheduler": {
                "cls": "distributed.Scheduler",
                "options": {"host": "127.0.0.1", "dashboard_address": ":0"},
            },
            "workers": {"w0": {"cls": "distributed.Nanny", "options": {"nthreads": 1, "host": "127.0.0.1"}}},
        },
    }
    # SpecCluster wants classes, not names: the factory passes config through unchanged,
    # so a YAML user writes the dotted path and Dask imports it.
    with dask.config.set({"clusterkit.factories": {"spec": spec}}):
        session = ck.start(factory="spec")
        try:
            assert len(session.client.scheduler_info()["workers"]) == 1
        finally:
            session.stop()


def test_unknown_and_broken_factories_explain_the_fix():
    with dask.config.set({"clusterkit.factories": {"broken": {"module": "no_such_module_xyz", "class": "X"}}}):
        with pytest.raises(ck.ConfigError, match=r"No cluster factory named 'nope' \(known: broken\)"):
            start_factory("nope")
        with pytest.raises(ck.BackendError, match="pip install no-such-module-xyz"):
            start_factory("broken")
    missing_class = {"x": {"module": "distributed", "class": "Nope"}}
    with (
        dask.config.set({"clusterkit.factories": missing_class}),
        pytest.raises(ck.ConfigError, match="has no class 'Nope'"),
    ):
        start_factory("x")
