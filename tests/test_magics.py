"""The %cluster magics through a real IPython shell and a real kernel."""

from __future__ import annotations

import contextlib
import io

import nbformat
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from clusterkit import magics, registry
from tests.conftest import wait_until


def run(shell, line: str, cell: str | None = None) -> tuple[str, BaseException | None]:
    """Run a magic as a user would (through run_cell) and return what they see."""
    source = f"%%cluster {line}\n{cell}" if cell is not None else f"%cluster {line}"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        result = shell.run_cell(source)
    return out.getvalue(), result.error_in_exec


BAD_LINES = {
    "": "a verb is missing",
    "bogus": "invalid choice: 'bogus'",
    "start -n": "expected one argument",
    "start -n two": "Worker count 'two' is not allowed: use a whole number from 0 to 256",
    "start -n -3": "Worker count -3 is not allowed: use a whole number from 0 to 256",
    "start -n 100000000000000000000": "to 256 (clusterkit.local.max-workers)",
    "start --threads 0": "Threads per worker 0 is not allowed",
    "start --memory 12 parsecs": "Memory per worker '12' is not allowed: use a size from 16MiB to 1PiB",
    "start -n 2 extra": "unrecognized arguments: extra",
    "start --memory lots": "Memory per worker 'lots' is not allowed",
    "start --memory 1B": "Memory per worker '1B' is not allowed",
    "start --adapt 4:1": "Adapt range 4:1 is not allowed: the minimum must not be larger",
    "start --adapt 3": "Adapt range '3' is not allowed: write MIN:MAX",
    "start --name '<script>'": "Cluster name '<script>' is not allowed",
    "start --frobnicate": "unrecognized arguments: --frobnicate",
    "start --detach --factory x": "--detach works with local clusters only",
    "ssh h --tls --insecure": "--tls and --insecure contradict each other",
    "start 'unbalanced": "Check the quotes",
    'start "also': "Check the quotes",
    "scale": "give a worker count N or --adapt",
    "scale 2 --adapt 1:3": "give a worker count N or --adapt",
    "scale -1": "Worker count -1 is not allowed",
    "ssh": "give at least one HOST",
    "ssh host --port 70000": "70000 is not a port",
    "ssh 'bad host'": "is not a host name",
    "connect": "the following arguments are required",
    "connect http://x": "is not a scheduler address",
    "connect nope": "No cluster named 'nope' is registered",
    "use nope": "has no cluster named 'nope'",
    "stop nope": "No cluster named 'nope'",
    "stop a --all": "give a NAME or --all, not both",
    "status": "No cluster is running",
    "scale 2": "No cluster is running",
    "restart": "No cluster is running",
    "run": "`run` is a cell magic",
}


@pytest.mark.parametrize(("line", "message"), BAD_LINES.items())
def test_bad_input_is_one_usage_error_line(shell, line, message):
    output, error = run(shell, line)
    assert isinstance(error, UsageError), output
    assert message in output
    assert "Traceback" not in output
    assert output.strip().count("\n") == 0, output  # exactly one line
    assert registry.list_records() == []


def test_help_lists_every_verb_with_examples(shell):
    output, error = run(shell, "--help")
    assert error is None
    for verb in (
        "start",
        "ssh",
        "connect",
        "use",
        "scale",
        "status",
        "dashboard",
        "list",
        "restart",
        "stop",
        "run",
    ):
        assert f"    {verb}" in output
    assert "%cluster start -n 2" in output
    output, error = run(shell, "start --help")
    assert error is None and "--adapt MIN:MAX" in output and "example:" in output


def test_the_whole_lifecycle_in_one_shell(shell):
    output, error = run(shell, "start -n 2 --name life --memory 1GiB")
    assert error is None, output
    try:
        output, _ = run(shell, "list")
        assert "life" in output and "running" in output and "*" in output
        output, error = run(shell, "scale 3")
        assert error is None and "3 workers" in output
        output, error = run(shell, "run", "import os\nprint('hello from', os.getpid())")
        assert error is None
        blocks = [b for b in output.split("[tls://") if b]
        assert len(blocks) == 3 and all("hello from" in b for b in blocks)
        output, error = run(shell, "run --workers 0", "print('only one')")
        assert output.count("only one") == 1
        output, error = run(shell, "run --workers 7", "print(1)")
        assert isinstance(error, UsageError) and "no worker 7" in output
        output, error = run(shell, "status")
        assert error is None
        output, error = run(shell, "restart")
        assert error is None and "restarted" in output
    finally:
        output, error = run(shell, "stop")
    assert error is None and "Stopped 'life'" in output
    assert registry.list_records() == []


def test_start_detach_leaves_the_cluster_to_a_daemon(shell):
    output, error = run(shell, "start --detach -n 1 --memory 1GiB --name layers-magic")
    assert error is None, output
    [record] = registry.list_records()
    daemon = psutil.Process(record.owner_pid)
    try:
        assert record.owner == "daemon" and record.name == "layers-magic"
        output, error = run(shell, "list")
        assert error is None and "layers-magic" in output and "daemon" in output
    finally:
        run(shell, "stop layers-magic")  # this kernel's session: disconnects
        run(shell, "stop layers-magic")  # then asks the daemon that owns it
    assert wait_until(lambda: registry.find(record.id) is None, timeout=60)
    assert wait_until(lambda: not daemon.is_running() or daemon.status() == psutil.STATUS_ZOMBIE, timeout=30)


VALID = [
    "start -n 2",
    "start --threads 2 --memory 2GiB --name x",
    "start --adapt 1:4 --detach",
    "ssh a b --user u --port 22 --workers-per-host 2",
    "connect tcp://127.0.0.1:8786",
    "connect demo",
    "use demo",
    "scale 3",
    "scale --adapt 0:4",
    "status",
    "dashboard task-stream",
    "list",
    "restart",
    "stop --all",
    "stop demo",
]
NOISE = ["-n", "--adapt", "1:0", "-5", "9" * 25, "'", '"', "--name", "<script>", "x", "--all", "tcp://", "0", "--"]
# Verbs that would start real work when a fuzzed line happens to be valid.
_STARTS_SOMETHING = {"start", "ssh", "connect"}


@st.composite
def command_lines(draw):
    if draw(st.booleans()):
        return draw(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
    tokens = draw(st.sampled_from(VALID)).split()
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["drop", "dup", "insert", "replace"]))
        index = draw(st.integers(0, max(len(tokens) - 1, 0)))
        if action == "drop" and tokens:
            tokens.pop(index)
        elif action == "dup" and tokens:
            tokens.insert(index, tokens[index])
        elif action == "insert":
            tokens.insert(index, draw(st.sampled_from(NOISE)))
        elif tokens:
            tokens[index] = draw(st.sampled_from(NOISE))
    return " ".join(tokens)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=command_lines())
def test_fuzzed_command_lines_never_show_a_traceback(shell, line):
    lines = line.splitlines()  # a magic gets one line; IPython splits the rest off
    line = lines[0] if lines else ""
    try:
        args = magics.parse(line)
    except UsageError:
        args = None
    if args is not None and args.verb in _STARTS_SOMETHING:
        return  # a valid start/ssh/connect line: parsing it cleanly is what we check
    output, error = run(shell, line)
    assert error is None or isinstance(error, UsageError), (line, output)
    assert "Traceback" not in output, (line, output)


def test_magics_in_a_real_kernel():
    """The issue's scenario, executed by nbclient in a real ipykernel."""
    from nbclient import NotebookClient

    cells = [
        "%load_ext clusterkit",
        "%cluster start -n 2 --memory 1GiB --name nb",
        "%cluster list",
        "%cluster scale 3",
        "%%cluster run\nimport os\nprint('worker pid', os.getpid())",
        "%cluster stop",
        "%cluster list",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    texts = ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]
    assert "nb" in texts[2] and "running" in texts[2]
    assert "3 workers" in texts[3]
    assert texts[4].count("worker pid") == 3 and texts[4].count("[tls://127.0.0.1:") == 3
    assert "Stopped 'nb'" in texts[5]
    assert "No clusters are registered" in texts[6]
