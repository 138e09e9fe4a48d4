from __future__ import annotations

import subprocess
import sys

import jsonschema
import yaml

from clusterkit import config


def test_defaults_are_loaded_and_match_the_schema():
    assert config.get("host") == "127.0.0.1"
    assert config.get("dashboard-port") == 0
    schema = yaml.safe_load(config.SCHEMA_PATH.read_text())
    defaults = yaml.safe_load(config.YAML_PATH.read_text())
    jsonschema.validate({"clusterkit": defaults["clusterkit"]}, schema)


def test_worker_ttl_is_lowered_below_dasks_five_minutes():
    import dask.utils

    assert dask.utils.parse_timedelta(dask.config.get("distributed.scheduler.worker-ttl")) <= 60


def _in_subprocess(code: str, **env: str) -> str:
    import os

    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout.strip()


def test_environment_variables_and_user_settings_win():
    code = "import clusterkit.config, dask; print(dask.config.get('clusterkit.local.n-workers'), dask.config.get('distributed.scheduler.worker-ttl'))"
    out = _in_subprocess(code, DASK_CLUSTERKIT__LOCAL__N_WORKERS="3", DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL="2m")
    assert out == "3 2m"


def test_dashboard_link_goes_through_the_hub_proxy_on_jupyterhub():
    code = "import clusterkit.config, dask; print(dask.config.get('distributed.dashboard.link'))"
    out = _in_subprocess(code, JUPYTERHUB_SERVICE_PREFIX="/user/ada/")
    assert out == "{JUPYTERHUB_SERVICE_PREFIX}clusterkit/dashboard/port-{port}/status"
