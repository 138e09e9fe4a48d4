"""Kernel managers on Unix-domain sockets: no TCP ports to race for.

jupyter_client picks a kernel's five TCP ports by binding port 0 and closing the
socket; the kernel binds them a moment later. Any process that binds port 0 in
between (Dask schedulers and workers do, all the time, in these tests) can take
one, and the kernel dies with "Address already in use" (seen in a fresh-clone CI
run). With the IPC transport the kernel's sockets are files in a private folder,
removed when the manager is garbage-collected.

Imported as ``tests.notebooks.ipc_kernel`` by the tests and as ``ipc_kernel`` by
the scripts in this folder (run by path, with this folder on ``sys.path``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from typing import Any

from jupyter_client.manager import AsyncKernelManager, KernelManager


def _ipc(manager: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="ck-kernel-")
    weakref.finalize(manager, shutil.rmtree, folder, True)
    return {**kwargs, "transport": "ipc", "ip": os.path.join(folder, "kernel")}


class IPCKernelManager(AsyncKernelManager):
    """nbclient's kernel manager on IPC: ``NotebookClient(..., kernel_manager_class=IPCKernelManager)``.

    Passed as a class, not as ``km=``, so that nbclient owns the kernel and shuts it down.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_ipc(self, kwargs))


class BlockingIPCKernelManager(KernelManager):
    """The blocking manager on IPC, for tests that drive a kernel themselves."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_ipc(self, kwargs))
