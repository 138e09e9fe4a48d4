"""Issue 8's fault, volume and load scenarios in their CI size, asserting their targets.

The scenarios live in ``benchmarks/reliability`` (``python -m benchmarks.reliability
--full`` prints the full report). Scenarios 4, 5, 6, 10, 11, 12 and 13 are already
thorough tests elsewhere and are not run twice here:

* 4: tests/test_cleanup.py::test_sigkill_of_the_kernel_leaves_no_process_after_10_seconds,
  tests/backends/test_ssh.py::test_sigkilled_kernel_leaves_nothing_on_any_host
* 5: tests/test_cleanup.py::test_twenty_start_stop_cycles_leak_nothing
* 6: tests/backends/test_ssh.py (black hole, closed port, silent host, unknown host key)
* 10: tests/server/test_api.py (auth matrix, XSRF, SSRF, XSS)
* 11: tests/test_cleanup.py::test_every_listening_socket_of_kernel_and_cluster_is_loopback
* 12: tests/backends/test_ssh.py::test_tls_cluster_rejects_clients_without_credentials
* 13: tests/test_magics.py::test_fuzzed_command_lines_never_show_a_traceback

Figures are printed (``-s``) so a run shows them; assertions are about behaviour, with
time limits far above the figures measured on a loaded 2-core machine.
"""

from __future__ import annotations

import pytest

from benchmarks.reliability import faults, soak
from benchmarks.reliability._core import Result

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _show(result: Result) -> dict[str, object]:
    print(f"\nscenario {result.number} {result.title}: {result.figures} {result.note}")
    return result.figures


def test_1_worker_sigkill_mid_map_delivers_each_item_once():
    figures = _show(faults.worker_sigkill_mid_map(False))
    assert figures["delivered"] == 200 and figures["duplicates delivered"] == 0
    assert figures["executions"] >= 200


def test_2_poison_item_is_named_and_the_cluster_recovers():
    """Regression: the error named a batch start (or hung at 0 workers once Dask gave up on them)."""
    result = faults.poison_task(False)
    figures = _show(result)
    assert figures["error names the item"], figures["message"]
    assert figures["good results intact"] and figures["workers restored"]
    assert result.passed


def test_3_hung_worker_does_not_stall_a_map():
    """Regression: 35 s with a 15 s worker-ttl checked every 15 s; now one 8 s ttl, checked every second."""
    figures = _show(faults.hung_worker(False))
    assert figures["correct"]
    assert figures["seconds to completion"] < 30


def test_7_killed_scheduler_fails_the_next_call_cleanly_and_lists_as_lost():
    """Regression: the next ck.map waited 10 s and then raised a TypeError."""
    result = faults.scheduler_sigkill(False)
    figures = _show(result)
    assert figures["error type"] == "BackendError", figures["message"]
    assert figures["%cluster list shows lost"]


def test_8_ctrl_c_cancels_quietly():
    result = faults.ctrl_c(False)
    figures = _show(result)
    assert figures["KeyboardInterrupt raised"]
    assert figures["extra output lines"] == 0, result.note
    # idle at all (within the 10 s hang guard) proves the cancel: 20 s of work were left; how fast is a benchmark figure
    assert figures["scheduler idle"], result.note
    assert figures["items started after ck.map returned"] == 0


def test_9_actor_restarts_or_fails_cleanly():
    result = faults.actor_on_killed_worker(False)
    _show(result)
    assert result.passed, result.note


def test_14_memory_soak_stays_bounded():
    result = soak.memory_soak(False)
    figures = _show(result)
    assert figures["correct"] and result.passed


def test_15_concurrent_clients_without_errors():
    result = soak.load(False)
    figures = _show(result)
    assert figures["errors"] == 0, result.note
    assert figures["tasks"] > 0
