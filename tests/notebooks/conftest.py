"""Print the notebook runs' times and peak memory at the end of the session."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.notebooks.test_notebooks import REPORT

    if not REPORT:
        return
    terminalreporter.section("curriculum notebooks (1 CPU, 2 GB each)")
    terminalreporter.write_line(f"{'notebook':44} {'variant':10} {'seconds':>8} {'cgroup MiB':>10} {'RSS MiB':>8}  grades")
    for row in REPORT:
        terminalreporter.write_line(
            f"{row['notebook']!s:44} {row['variant']!s:10} {row['seconds']!s:>8} {row['peak_cgroup_MiB']!s:>10} "
            f"{row['peak_rss_MiB']!s:>8}  {row['passed']} passed, {row['failed']} not yet ({row['memory_limit']})"
        )
