"""``ck.map``'s progress bar in a real kernel: displayed in the running cell, finished afterwards.

Executed headless with nbclient (widget state stored), the way a notebook's saved
outputs show what a front end would place: a display without a parent message
would be in the widget state but in no cell's outputs.
"""

from __future__ import annotations

import pytest

from tests.kernels import execute_cells

pytestmark = pytest.mark.slow

VIEW = "application/vnd.jupyter.widget-view+json"
CELLS = [
    "import time\nimport clusterkit as ck\n"
    "s = ck.start(n_workers=2, threads_per_worker=1, memory_limit='1GiB')",
    # 60 items of 50 ms on 2 threads: at least 1.5 s of work, past the bar's delay.
    "def slow(x):\n    time.sleep(0.05)\n    return x\n\n"
    "results = ck.map(slow, range(60))\nprint(len(results), results[-1])",
    "quick = ck.map(abs, range(10))\nprint(sum(quick))",
    "s.stop()",
]


def test_map_progress_bar_is_in_the_running_cell_and_stays_finished(tmp_path):
    nb = execute_cells(CELLS, tmp_path)

    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    views = [o["data"][VIEW]["model_id"] for o in nb.cells[1].outputs if VIEW in o.get("data", {})]
    assert len(views) == 1, nb.cells[1].outputs  # one bar, in the cell that ran ck.map
    bar = state[views[0]]["state"]
    assert bar["_anywidget_id"] == "clusterkit.widgets.progress.ProgressWidget"
    assert bar["label"] == "ck.map(slow)"
    assert bar["finished"] is True
    assert bar["done"] == bar["total"] == 60
    assert "60 59" in "".join(o.get("text", "") for o in nb.cells[1].outputs)
    # Quick work shows no bar at all.
    assert not [o for o in nb.cells[2].outputs if VIEW in o.get("data", {})]
