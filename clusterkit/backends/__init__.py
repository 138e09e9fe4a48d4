"""Ways to get a Dask cluster. One module per way; each returns a started cluster.

- :mod:`~clusterkit.backends.local`: a ``LocalCluster`` of processes on loopback.
- :mod:`~clusterkit.backends.address`: an existing scheduler, by address or registered name.
- :mod:`~clusterkit.backends.factory`: any Dask cluster manager named in config.

Backends know nothing of sessions, records or magics; :mod:`clusterkit.session` does.
"""
