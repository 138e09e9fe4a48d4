"""Helpers for the curriculum notebooks: the shared cluster, machine facts, graders.

Learners use it as::

    from clusterkit import teach
    session = teach.cluster()          # the one cluster all notebooks share
    teach.show(session)                # live status and task stream
    print(teach.describe())            # CPUs and memory this kernel really has
    teach.check("01.distinct-rolls", futures)   # one line: PASSED, or NOT YET with a hint

The graders live in :mod:`.exercises`, which registers them with :mod:`.grading`
(``@grader``); this package imports it, and Python runs this package before any of
its modules, so every grader is registered before anyone can ask for one.
"""

from __future__ import annotations

from clusterkit.teach import exercises as _exercises  # noqa: F401  (defines and registers every grader)
from clusterkit.teach.capture import Capture, max_overlap
from clusterkit.teach.environment import cpus, curriculum_workers, describe, facts, memory_bytes, time_window
from clusterkit.teach.grading import check, passed
from clusterkit.teach.shared import CLUSTER_NAME, cluster, show, worker_addresses

__all__ = [
    "CLUSTER_NAME",
    "Capture",
    "check",
    "cluster",
    "cpus",
    "curriculum_workers",
    "describe",
    "facts",
    "max_overlap",
    "memory_bytes",
    "passed",
    "show",
    "time_window",
    "worker_addresses",
]
