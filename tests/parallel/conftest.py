"""A 2-worker cluster shared by a test module, and helpers sent to workers by value."""

from __future__ import annotations

from collections.abc import Iterator

import cloudpickle
import pytest

from tests.parallel import helpers

# Workers cannot import the tests package (think of remote workers): ship helpers by value.
cloudpickle.register_pickle_by_value(helpers)


@pytest.fixture(scope="module")
def shared_cluster() -> Iterator[object]:
    """One real 2-worker x 1-thread session for a whole module (tests must not break it).

    Tests using it carry ``allow_leaks``: this fixture, not the per-test leak check,
    stops the session.
    """
    import clusterkit as ck

    session = ck.start(n_workers=2, threads_per_worker=1, memory_limit="1GiB")
    try:
        yield session
    finally:
        session.stop()
