"""Fixtures for the security tests: a second unix user, a registry they could reach, a hostile listener.

The tests run as root (CI does); the second user comes from :mod:`tests.security.users`.
"""

from __future__ import annotations

import pathlib
import pickle
import shutil
import socket
import struct
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403  (a real Jupyter server: the REST entry point)

from tests.security.users import other_user  # noqa: F401  (a fixture)


@pytest.fixture
def reachable_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[pathlib.Path]:
    """A registry whose parent others may enter (0755), so only clusterkit's own modes protect it."""
    parent = pathlib.Path(tempfile.mkdtemp(prefix="seccore-"))
    parent.chmod(0o755)
    folder = parent / "clusterkit"
    monkeypatch.setenv("CLUSTERKIT_REGISTRY_DIR", str(folder))
    try:
        yield folder
    finally:
        shutil.rmtree(parent, ignore_errors=True)


class _Evil:
    """Unpickling this creates the marker file: proof that a peer's pickle ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def _pickle_message(marker: str) -> bytes:
    """A Dask TCP message whose body is a ``__Pickled__`` object (what distributed unpickles on read)."""
    sub_header = msgpack.packb({"pickled-obj": pickle.dumps(_Evil(marker)), "num-sub-frames": 0}, use_bin_type=True)
    body = msgpack.packb({"op": "reply", "value": {"__Pickled__": 1}}, use_bin_type=True)
    frames = [body, sub_header]
    prelude = struct.pack(f"Q{len(frames)}Q", len(frames), *(len(f) for f in frames))
    return struct.pack("Q", len(prelude) + sum(len(f) for f in frames)) + prelude + b"".join(frames)


class PickleListener:
    """A loopback TCP listener that answers every connection with pickles; ``address`` is ``tcp://``."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="pickle-listener", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                try:
                    conn.sendall(_pickle_message(str(self.marker)) * 3)
                    conn.settimeout(2)
                    conn.recv(65536)
                    conn.sendall(_pickle_message(str(self.marker)) * 3)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def pickle_listener(tmp_path: pathlib.Path) -> Iterator[PickleListener]:
    listener = PickleListener(tmp_path / "pickle-ran")
    try:
        yield listener
    finally:
        listener.close()
