"""The Dask client a session hands out: Dask's own, with ``scatter`` keyed safely.

``session.client`` is a :class:`distributed.Client` in every way but one default:
:meth:`Client.scatter` gives every call a fresh key (``hash=False``), as ``ray.put``
does, where Dask names scattered data after a hash of its content.

Why: with content keys, scattering the same value again while the future of the
previous scatter is being released races inside Dask. The release travels on the
client's batched stream, the new scatter on its own connection, and the scheduler
can apply them in either order. It then drops data that a live future and its
tasks still need: the tasks are cancelled ("lost dependencies") or, when the
scheduler is in the kernel, its state breaks and every later task waits forever
(dask/distributed#3703, #8576, open). Scattering inside a loop, once per task, is
the most common first attempt at passing a reference, so the default must survive
it. A fresh key also skips hashing the value (milliseconds for a few MB).

``client.scatter(x, hash=True)`` still asks for Dask's content key, for data you
scatter once and want deduplicated.
"""

from __future__ import annotations

from typing import Any

import distributed
from dask.typing import NoDefault, no_default

__all__ = ["Client"]


class Client(distributed.Client):
    """Dask's client; ``scatter`` defaults to a fresh key per call (see the module)."""

    def scatter(
        self,
        data: Any,
        workers: Any = None,
        broadcast: bool = False,
        direct: bool | None = None,
        hash: bool = False,
        timeout: float | NoDefault = no_default,
        asynchronous: bool | None = None,
    ) -> Any:
        """Move data to the workers, as :meth:`distributed.Client.scatter`, under a fresh key.

        Example: ``ref = session.client.scatter(weights)`` then pass ``ref`` to every
        task; each worker fetches the value at most once.
        """
        return super().scatter(
            data,
            workers=workers,
            broadcast=broadcast,
            direct=direct,
            hash=hash,
            timeout=timeout,
            asynchronous=asynchronous,
        )
