"""Nothing left behind: killed kernels (4), start/stop cycles (5), listeners (11), fuzzed magics (13).

These reuse the helpers of the tests that already cover them in CI
(``tests/test_cleanup.py``, ``tests/test_magics.py``) instead of copying them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import threading
import time

import psutil

from benchmarks.reliability._core import Result, alive, children, rounded, scenario, wait_until


def _listeners(processes: list[psutil.Process]) -> list[str]:
    """Every listening TCP socket of ``processes``, as ``ip:port``."""
    found = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            for conn in process.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    found.append(f"{conn.laddr.ip}:{conn.laddr.port}")
    return found


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


@scenario(4, "Kernel SIGKILL with a local and a detached cluster")
def kernel_sigkill(full: bool) -> Result:
    from clusterkit import registry
    from tests.test_cleanup import _kernel_with_cluster

    code = (
        "import clusterkit as ck\n"
        "local = ck.start(n_workers=2, memory_limit='1GiB', name='mine')\n"
        "detached = ck.start(n_workers=1, memory_limit='1GiB', name='kept', detach=True)\n"
    )
    km, kc, kernel = _kernel_with_cluster(code)
    daemon_tree: list[int] = []
    try:
        records = {r.name: r for r in registry.list_records()}
        daemon_tree = [p.pid for p in _tree(records["kept"].owner_pid)]
        own = {p.pid for p in kernel.children(recursive=True)} - set(daemon_tree)
        kc.stop_channels()
        os.kill(kernel.pid, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: not alive(own), timeout=10)
        gone_after = time.monotonic() - killed
        time.sleep(max(0.0, 10 - gone_after))
        left = alive(own)
        detached_alive = len(alive(daemon_tree))
        stale = [r.name for r in registry.list_records()]
    finally:
        km.cleanup_resources()
        for pid in daemon_tree:  # the detached cluster outlives the kernel by design: stop it
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    return Result(
        4, "Kernel SIGKILL with a local and a detached cluster",
        {"kernel's processes": len(own), "left after 10 s": len(left),
         "seconds until gone": rounded(gone_after), "detached processes still running (by design)": detached_alive,
         "records listed afterwards": ",".join(stale) or "-"},
        target="0 of the kernel's own processes after 10 s; the detached cluster keeps running",
        passed=not left and detached_alive >= 2 and stale == ["kept"],
        covered_by="tests/test_cleanup.py::test_sigkill_of_the_kernel_leaves_no_process_after_10_seconds; "
        "SSH: tests/backends/test_ssh.py::test_sigkilled_kernel_leaves_nothing_on_any_host",
    )


@scenario(5, "20 start/stop cycles in one process")
def start_stop_cycles(full: bool) -> Result:
    from clusterkit import registry
    from tests.test_cleanup import _cycle

    me = psutil.Process()
    before_children = children()
    before_records = len(registry.list_records(include_stale=True))
    sockets, fds, threads, rss = len(me.net_connections("inet")), me.num_fds(), threading.active_count(), 0
    rss = me.memory_info().rss
    _cycle(10)
    mid = (len(me.net_connections("inet")), me.num_fds(), threading.active_count(), me.memory_info().rss)
    _cycle(10)
    wait_until(lambda: children() <= before_children, timeout=10)
    time.sleep(1)
    end = (len(me.net_connections("inet")), me.num_fds(), threading.active_count(), me.memory_info().rss)
    leaked = len(children() - before_children)
    figures = {
        "leaked processes": leaked,
        "sockets +": end[0] - sockets, "fds + (1-20)": end[1] - fds, "fds + (11-20)": end[1] - mid[1],
        "threads + (1-20)": end[2] - threads, "threads + (11-20)": end[2] - mid[2],
        "RSS MiB + (1-20)": round((end[3] - rss) / 2**20, 1), "RSS MiB + (11-20)": round((end[3] - mid[3]) / 2**20, 1),
        "records left": len(registry.list_records(include_stale=True)) - before_records,
    }
    return Result(
        5, "20 start/stop cycles in one process", figures,
        target="0 processes, sockets, records; no fd or thread growth over cycles 11-20; RSS growth < 50 MiB",
        passed=leaked == 0 and end[0] <= sockets and end[1] <= mid[1] and end[2] <= mid[2]
        and (end[3] - mid[3]) < 50 * 2**20 and figures["records left"] == 0,
        note="thread pools and caches fill during the first cycles, so growth is judged on cycles 11-20",
        covered_by="tests/test_cleanup.py::test_twenty_start_stop_cycles_leak_nothing",
    )


@scenario(11, "Listening sockets in every start mode")
def listening_sockets(full: bool) -> Result:
    import clusterkit as ck
    from tests.test_cleanup import _kernel_with_cluster

    found: dict[str, list[str]] = {}
    session = ck.start(n_workers=2, memory_limit="1GiB")
    try:
        found["local"] = _listeners([psutil.Process(), *psutil.Process().children(recursive=True)])
    finally:
        session.stop()
    session = ck.start(n_workers=1, memory_limit="1GiB", detach=True)
    try:
        assert session.record is not None
        found["detached"] = _listeners(_tree(session.record.owner_pid))
    finally:
        ck.session.stop_cluster(session.record.name if session.record else session.name)
        session.stop()
    km, kc, kernel = _kernel_with_cluster()
    try:
        found["kernel"] = _listeners(_tree(kernel.pid))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    outside = {mode: sorted(a for a in addresses if not ipaddress.ip_address(a.rsplit(':', 1)[0]).is_loopback)
               for mode, addresses in found.items()}
    count = sum(len(v) for v in outside.values())
    return Result(
        11, "Listening sockets in every start mode",
        {**{f"{mode} listeners": len(a) for mode, a in found.items()}, "non-loopback listeners": count},
        target="0 non-loopback listeners",
        passed=count == 0 and all(found.values()),
        note="; ".join(f"{m}: {v}" for m, v in outside.items() if v),
        covered_by="tests/test_cleanup.py::test_every_listening_socket_of_kernel_and_cluster_is_loopback; SSH "
        "workers listen on their own host's address by design (tests/backends/test_ssh.py)",
    )


@scenario(13, "Fuzzed magic invocations")
def fuzzed_magics(full: bool) -> Result:
    from hypothesis import HealthCheck, given, settings
    from IPython.core.error import UsageError
    from IPython.testing.globalipapp import start_ipython

    from clusterkit import magics
    from tests.test_magics import _STARTS_SOMETHING, command_lines, run

    shell = start_ipython()
    shell.run_line_magic("load_ext", "clusterkit")
    counts = {"invocations": 0, "skipped valid start lines": 0, "tracebacks": 0, "non-usage errors": 0,
              "processes spawned by a rejected command": 0}
    examples: list[str] = []
    started = time.monotonic()

    @settings(max_examples=1000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(line=command_lines())
    def invoke(line: str) -> None:
        lines = line.splitlines()
        line = lines[0] if lines else ""
        try:
            args = magics.parse(line)
        except UsageError:
            args = None
        if args is not None and args.verb in _STARTS_SOMETHING:
            counts["skipped valid start lines"] += 1
            return
        before = children()
        output, error = run(shell, line)
        counts["invocations"] += 1
        if "Traceback" in output:
            counts["tracebacks"] += 1
            examples.append(line)
        if error is not None and not isinstance(error, UsageError):
            counts["non-usage errors"] += 1
            examples.append(line)
        if error is not None and children() - before:
            counts["processes spawned by a rejected command"] += 1
            examples.append(line)

    invoke()
    counts["seconds"] = rounded(time.monotonic() - started)  # type: ignore[assignment]
    return Result(
        13, "Fuzzed magic invocations", dict(counts),
        target="0 tracebacks, 0 processes spawned by rejected commands",
        passed=counts["tracebacks"] == 0 and counts["non-usage errors"] == 0
        and counts["processes spawned by a rejected command"] == 0,
        note="; ".join(repr(e) for e in examples[:3]),
        covered_by="tests/test_magics.py::test_fuzzed_command_lines_never_show_a_traceback (2000 examples)",
    )
