"""Fixtures for backend tests: real SSH hosts (see ``ssh_hosts.py``)."""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import ssh_hosts


@pytest.fixture(scope="session")
def ssh_test_hosts() -> Iterator[ssh_hosts.SSHHosts]:
    """Three SSH hosts: network namespaces on ckbr0 as root, else loopback addresses on one sshd.

    Removed afterwards (processes by PID, namespaces, bridge), also when tests fail.
    """
    hosts = ssh_hosts.start_hosts(3)
    try:
        yield hosts
    finally:
        hosts.stop()


@pytest.fixture
def ssh_options(ssh_test_hosts: ssh_hosts.SSHHosts) -> dict[str, object]:
    """Keyword arguments for ``clusterkit.ssh`` that log in to the test hosts, with short timeouts."""
    return {**ssh_test_hosts.connect_options(), "connect_timeout": 3, "startup_timeout": 30, "death_timeout": 10}
