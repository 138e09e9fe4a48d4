"""Scenarios that are already thorough tests (6 SSH errors, 10 REST/WebSocket security, 12 TLS).

The report runs those very tests in a pytest subprocess (they need their fixtures:
SSH namespace hosts, a real Jupyter server) and reports their outcomes and the time
each took to reach its error, rather than copying them.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from benchmarks.reliability._core import Result, scenario

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_tests(node_ids: list[str], timeout: float = 900) -> dict[str, tuple[str, float]]:
    """Run pytest on ``node_ids``; return each test's outcome and call duration (seconds)."""
    with tempfile.TemporaryDirectory() as folder:
        report = os.path.join(folder, "junit.xml")
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
             "-o", "junit_duration_report=call", *node_ids],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout, check=False,
        )
        if not os.path.exists(report):
            return {}
        outcomes = {}
        for case in ET.parse(report).iter("testcase"):
            name = case.get("name", "?")
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome = "failed"
                elif child.tag == "skipped":
                    outcome = "skipped"
            outcomes[name] = (outcome, round(float(case.get("time", 0)), 2))
        return outcomes


def _summary(number: int, title: str, node_ids: list[str], target: str, short: dict[str, str]) -> Result:
    outcomes = run_tests(node_ids)
    failed = sum(1 for o, _ in outcomes.values() if o != "passed")
    figures: dict[str, object] = {"tests": len(outcomes), "failures": failed}
    for name, (outcome, seconds) in outcomes.items():
        label = next((v for k, v in short.items() if k in name), name)
        figures[label] = f"{seconds} s" if outcome == "passed" else outcome
    return Result(number, title, figures, target=target, passed=bool(outcomes) and failed == 0,
                  covered_by=", ".join(node_ids))


@scenario(6, "SSH: black hole, closed port, silent remote, unknown host key")
def ssh_errors(full: bool) -> Result:
    tests = "tests/backends/test_ssh.py::"
    return _summary(
        6, "SSH: black hole, closed port, silent remote, unknown host key",
        [tests + "test_black_hole_host_fails_within_timeout", tests + "test_closed_port_fails_at_once",
         tests + "test_silent_host_fails_within_timeout",
         tests + "test_unknown_host_key_is_refused_with_the_command_that_trusts_it"],
        target="each fails within connect_timeout + 1 s with a message naming the host and the fix",
        short={"black_hole": "black hole", "closed_port": "closed port", "silent": "silent remote",
               "unknown_host_key": "unknown host key"},
    )


@scenario(10, "REST and WebSocket auth matrix, XSRF, SSRF canary, XSS")
def server_security(full: bool) -> Result:
    tests = "tests/server/test_api.py::"
    return _summary(
        10, "REST and WebSocket auth matrix, XSRF, SSRF canary, XSS",
        [tests + "test_auth_matrix", tests + "test_xsrf_is_enforced_for_cookie_authenticated_writes",
         tests + "test_ssrf_payloads_never_leave_the_registered_dashboard", tests + "test_names_are_escaped_wherever_sent",
         tests + "test_dashboard_not_on_this_machine_is_refused"],
        target="0 failures",
        short={"auth_matrix": "auth matrix", "xsrf": "XSRF", "ssrf": "SSRF canary", "escaped": "XSS",
               "not_on_this_machine": "non-local dashboard"},
    )


@scenario(12, "TLS: clients without or with the wrong credentials")
def tls(full: bool) -> Result:
    tests = "tests/backends/test_ssh.py::"
    return _summary(
        12, "TLS: clients without or with the wrong credentials",
        [tests + "test_tls_cluster_rejects_clients_without_credentials", tests + "test_tls_with_user_certificates"],
        target="no-TLS and wrong-certificate clients rejected, the right one accepted (3/3)",
        short={"rejects_clients": "rejection (2 bad clients, 1 good)", "user_certificates": "user certificates"},
    )
