"""Keep a cluster's recent task history on its scheduler, so views opened later show it.

Dask records finished tasks in its ``TaskStreamPlugin`` (the data behind the
dashboard's task stream), but only once something asks for it: a task stream
opened right after a computation would otherwise start empty. An owning session
installs the plugin as soon as its cluster is up, with a bounded length
(:data:`HISTORY_LENGTH` records, not Dask's 100,000) so a scheduler living in the
kernel does not grow with every task ever run. A plugin someone installed earlier
(Dask's own dashboard, another client) is kept as it is.

The installer is a closure (pickled by value), so the scheduler does not need
clusterkit installed: SSH and gateway schedulers only need ``distributed``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["HISTORY_LENGTH", "keep_history"]

logger = logging.getLogger(__name__)

#: Records the scheduler keeps; the task stream widget holds as many rows.
HISTORY_LENGTH = 5000


def keep_history(client: Client, length: int = HISTORY_LENGTH) -> bool:
    """Make the scheduler behind ``client`` record its task stream; ``False`` if it refused.

    Idempotent. A scheduler that refuses (pickled functions disabled, an old
    version) is logged and left alone: history is a convenience, never a failure.
    """

    def install(dask_scheduler: Any, length: int) -> bool:
        from distributed.diagnostics.task_stream import TaskStreamPlugin

        if TaskStreamPlugin.name not in dask_scheduler.plugins:
            dask_scheduler.add_plugin(TaskStreamPlugin(dask_scheduler, maxlen=length))
        return True

    try:
        return bool(client.run_on_scheduler(install, length=length))
    except Exception:
        logger.debug("the scheduler did not install the task stream history", exc_info=True)
        return False
