"""A second unix user for isolation tests (see tests/security/conftest.py).

Created with ``useradd`` for one test module and removed at its end (module scope,
so two modules that use it never overlap). It runs a Python it can read: this
interpreter if others may execute it, else the system Python of the same version,
with this environment's site-packages (world-readable) on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from typing import Any

import pytest

OTHER_USER = "seccore-x"


class OtherUser:
    """Another local user of this machine, who runs Python scripts against our clusters."""

    def __init__(self, name: str) -> None:
        entry = pwd.getpwnam(name)
        self.name, self.uid, self.gid, self.home = name, entry.pw_uid, entry.pw_gid, entry.pw_dir
        paths = sysconfig.get_paths()
        self.pythonpath = os.pathsep.join(dict.fromkeys([paths["purelib"], paths["platlib"]]))
        self.python = self._find_python()

    def _env(self) -> dict[str, str]:
        return {
            "HOME": self.home,
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": self.pythonpath,
            "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s",
        }

    def _find_python(self) -> str:
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        for candidate in (sys.executable, f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
            if not os.path.exists(candidate):
                continue
            try:
                probe = subprocess.run(
                    [candidate, "-c", "import distributed, msgpack"], user=self.uid, group=self.gid,
                    env=self._env(), capture_output=True, timeout=60, cwd="/",
                )
            except PermissionError:  # inside a folder this user may not enter (root's home)
                continue
            if probe.returncode == 0:
                return candidate
        raise AssertionError(
            f"No Python {version} that user {self.name} can run with this environment's packages; "
            "the security tests need one (install python3 from the system packages)."
        )

    def run(self, script: str, *args: str, timeout: float = 120) -> dict[str, Any]:
        """Run ``script`` as this user; it prints one JSON object, returned here."""
        result = subprocess.run(
            [self.python, "-c", script, *args], user=self.uid, group=self.gid, env=self._env(),
            capture_output=True, text=True, timeout=timeout, cwd="/",
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def other_user() -> Iterator[OtherUser]:
    """A second unix user, created for these tests and removed afterwards."""
    if os.geteuid() != 0:
        raise AssertionError("The security tests create a second unix user and must run as root (CI does).")
    subprocess.run(["userdel", "-r", OTHER_USER], capture_output=True)  # a leftover of an interrupted run
    subprocess.run(["useradd", "-m", OTHER_USER], check=True, capture_output=True)
    try:
        yield OtherUser(OTHER_USER)
    finally:
        subprocess.run(["userdel", "-r", OTHER_USER], capture_output=True)


