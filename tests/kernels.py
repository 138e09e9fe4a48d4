"""Run code cells in a real kernel, headless, the way a saved notebook records them."""

from __future__ import annotations

import pathlib

import nbclient
import nbformat

from tests.notebooks.ipc_kernel import IPCKernelManager


def execute_cells(sources: list[str], folder: pathlib.Path, timeout: int = 120) -> nbformat.NotebookNode:
    """Execute ``sources`` as code cells in a fresh python3 kernel (cwd ``folder``), widget state stored.

    Fails the calling test with the kernel's traceback when a cell raises.
    """
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3", kernel_manager_class=IPCKernelManager,
        store_widget_state=True,
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()
    for cell in nb.cells:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, "\n".join(errors[0].traceback)
    return nb
