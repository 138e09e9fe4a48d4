"""One way to read worker options: the same bad value gives the same sentence through all five entry points.

``ck.start``, the ``%cluster`` magic, ``clusterkit up``, ``python -m clusterkit.daemon``
and the REST API's POST all hand what the user typed to
:class:`clusterkit.options.WorkerOptions`; none starts anything for a bad value.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import pytest
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

import clusterkit as ck
from clusterkit import options, registry
from clusterkit.errors import OptionError

# (what the user gives, in CLI/magic words and in Python/JSON) -> the sentence every entry point shows
BAD = [
    (("-n", "-3"), {"n_workers": -3}, "Worker count -3 is not allowed: use a whole number from 0 to 256"),
    (("-n", "999"), {"n_workers": 999}, "Worker count 999 is not allowed: use a whole number from 0 to 256"),
    (("-n", "two"), {"n_workers": "two"}, "Worker count 'two' is not allowed"),
    (("--threads", "0"), {"threads_per_worker": 0}, "Threads per worker 0 is not allowed: use a whole number from 1"),
    (("--memory", "1B"), {"memory_limit": "1B"}, "Memory per worker '1B' is not allowed: use a size from 16MiB"),
    (("--adapt", "4:1"), {"adapt": "4:1"}, "Adapt range 4:1 is not allowed: the minimum must not be larger"),
    (("--name", "<x>"), {"name": "<x>"}, "Cluster name '<x>' is not allowed"),
]
# REST body keys for the same values
REST_KEYS = {"n_workers": "workers", "threads_per_worker": "threads", "memory_limit": "memory"}


def test_parse_reads_text_and_numbers_alike():
    parsed = options.WorkerOptions.parse("2", 3, "1GiB", "1:4", "demo")
    assert parsed == options.WorkerOptions.parse(2, "3", 2**30, (1, 4), "demo")
    assert parsed.argv() == ["--name", "demo", "-n", "2", "--threads", "3", "--memory", str(2**30), "--adapt", "1:4"]
    assert options.WorkerOptions.parse(memory_limit="auto").memory_limit is None
    assert options.adapt_range({"minimum": 0, "maximum": 2}) == (0, 2)
    for bad in (True, 2.5, None, [1]):
        with pytest.raises(OptionError):
            options.workers(bad)


def test_bounds_come_from_config():
    import dask

    with dask.config.set({"clusterkit.local.max-workers": 8}):
        with pytest.raises(OptionError, match=r"from 0 to 8 \(clusterkit.local.max-workers\)"):
            options.workers(9)
        assert options.workers(8) == 8


@pytest.mark.parametrize(("words", "python", "sentence"), BAD)
def test_the_api_refuses_before_starting_anything(words, python, sentence):
    with pytest.raises(OptionError) as error:
        ck.start(**python)
    assert sentence in str(error.value)
    assert registry.list_records() == []


@pytest.mark.parametrize(("words", "python", "sentence"), BAD)
def test_the_magic_says_the_same(shell, words, python, sentence):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        shell.run_cell("%cluster start " + " ".join(words))
    assert sentence in out.getvalue() and "Traceback" not in out.getvalue()
    assert out.getvalue().strip().count("\n") == 0


def test_the_cli_and_the_daemon_say_the_same():
    for words, _, sentence in [BAD[0], *BAD[3:]]:  # one row per option (each is a process start)
        up = subprocess.run([sys.executable, "-m", "clusterkit.cli", "up", *words],
                            capture_output=True, text=True, timeout=60)
        assert up.returncode == 2 and sentence in up.stderr and "Traceback" not in up.stderr, up.stderr
        run = subprocess.run([sys.executable, "-m", "clusterkit.daemon", *words],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and sentence in run.stdout and "Traceback" not in run.stderr, run
    assert registry.list_records() == []


@pytest.fixture
def jp_server_config() -> Config:
    return Config({"ServerApp": {"jpserver_extensions": {"clusterkit.server": True, "jupyter_server_terminals": False}}})


async def test_the_rest_api_says_the_same(jp_fetch):
    for _, python, sentence in BAD:
        if "adapt" in python or "name" in python:
            continue  # the create form has no adapt; names are checked by the server's own 400 (same rule)
        [(key, value)] = python.items()
        with pytest.raises(HTTPClientError) as refused:
            await jp_fetch("clusterkit", "api", "clusters", method="POST", body=json.dumps({REST_KEYS[key]: value}))
        assert refused.value.code == 400
        assert refused.value.response is not None
        assert sentence in json.loads(refused.value.response.body)["message"]
    assert registry.list_records() == []
