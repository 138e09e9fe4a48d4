"""The widgets in a real kernel, executed headless with nbclient (widget state stored)."""

from __future__ import annotations

import nbformat
import pytest

from tests.kernels import execute_cells

pytestmark = pytest.mark.slow

CELLS = [
    "import time\nimport clusterkit as ck\nimport clusterkit.widgets\ns = ck.start(n_workers=2, threads_per_worker=1, memory_limit='1GiB')",
    "status = s.widget()\nstatus",
    "stream = ck.widgets.dashboard(s)\nstream",
    "def inc(x):\n    return x + 1\n\nresults = s.client.gather(s.client.map(inc, range(1000)))\nassert results[-1] == 1000",
    # The poller runs on the client's loop; wait for it (no timing assumptions), then
    # refresh from this cell so the final counts travel with a cell's messages.
    "deadline = time.monotonic() + 60\n"
    "while stream.task_count < 1000 and time.monotonic() < deadline:\n    time.sleep(0.1)\n"
    "stream.refresh()\nprint(stream.task_count, stream.event_count)",
    # Scale as the front end does: a custom message arriving on the widget's comm.
    "status.comm.handle_msg({'content': {'data': {'method': 'custom', 'content': {'type': 'scale', 'n': 3}}},"
    " 'buffers': []})\n"
    "deadline = time.monotonic() + 60\n"
    "while len(s.client.scheduler_info(n_workers=-1)['workers']) != 3 and time.monotonic() < deadline:\n"
    "    time.sleep(0.1)\n"
    # Both widgets read the scheduler now: the third worker's idle lane must be there too.
    "status.refresh()\nstream.refresh()\nprint(status.n_workers, len(stream.lanes))",
    "s",
    "stream.close()\nstatus.close()\ns.stop()",
]


def _models(nb: nbformat.NotebookNode) -> dict[str, dict]:
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return {model_id: model["state"] for model_id, model in state.items()}


def _by_class(models: dict[str, dict], name: str) -> dict:
    found = [m for m in models.values() if m.get("_anywidget_id") == f"clusterkit.widgets.{name}"]
    assert len(found) == 1, [m.get("_anywidget_id") for m in models.values()]
    return found[0]


def test_notebook_with_status_and_task_stream_leaves_widget_state(tmp_path):
    nb = execute_cells(CELLS, tmp_path)

    models = _models(nb)
    status = _by_class(models, "status.StatusWidget")
    stream = _by_class(models, "taskstream.TaskStreamWidget")
    assert status["n_workers"] == 3  # scaled through the widget's comm
    assert len(status["workers"]) == 3
    assert status["updates"] >= 2
    assert stream["task_count"] >= 1000
    assert stream["event_count"] >= 1000
    assert len(stream["lanes"]) == 3  # a lane per worker thread, idle ones included
    # The session's rich repr came from the template.
    html = "".join(o.get("data", {}).get("text/html", "") for o in nb.cells[6].outputs)
    assert "clusterkit session" in html and "Open in sidebar" in html
    # Widget views were displayed (anywidget's mime type) for both widgets.
    views = [o for c in nb.cells[1:3] for o in c.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 2
