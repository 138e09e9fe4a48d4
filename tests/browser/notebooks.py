"""A notebook with given cells on a test server, with its kernel already started."""

from __future__ import annotations

from tests.browser.conftest import Lab


def put_notebook(lab: Lab, path: str, cells: list[str]) -> None:
    """Write ``path`` with one code cell per source and start its kernel session.

    With the session there before the page opens, JupyterLab and Notebook 7 attach
    to that kernel instead of asking which kernel to start.
    """
    notebook = {
        "cells": [{"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}
                  for source in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    lab.api(f"api/contents/{path}", method="PUT", body={"type": "notebook", "content": notebook})
    lab.api("api/sessions", method="POST",
            body={"path": path, "name": path, "type": "notebook", "kernel": {"name": "python3"}})
