"""The plain-text table of registered clusters: ``%cluster list`` and ``clusterkit ls``.

Standard library only (like :mod:`clusterkit.registry`), so ``clusterkit ls`` starts
without importing Dask or IPython: with a crowded registry the listing itself, not
the imports, is what the user waits for.
"""

from __future__ import annotations

from clusterkit import registry

__all__ = ["format_bytes", "format_table"]


def format_bytes(n: int) -> str:
    """``23.54 GiB`` as Dask writes sizes; ``-`` for 0 (unknown)."""
    if not n:
        return "-"
    for prefix, k in (("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("ki", 2**10)):
        if n >= k * 0.9:
            return f"{n / k:.2f} {prefix}B"
    return f"{n} B"


def format_table(records: list[registry.ClusterRecord], current: str | None = None) -> str:
    """A plain-text table of records; ``current`` (a record id) is marked with ``*``."""
    if not records:
        return "No clusters are registered. Start one with `%cluster start` or `clusterkit up`."
    headers = ["", "NAME", "KIND", "WORKERS", "THREADS", "MEMORY", "OWNER", "STATUS", "SCHEDULER"]
    rows = []
    statuses = registry.statuses(records)  # all probes at once: a long list stays fast
    for r in records:
        owner = r.owner if r.owner in ("daemon", "process", "gateway") else f"kernel {r.owner[:8]}"
        mark = "*" if current is not None and r.id == current else ""
        rows.append(
            [mark, r.name, r.kind, str(r.workers), str(r.threads), format_bytes(r.memory_bytes), owner,
             statuses[r.id], r.scheduler_address]
        )
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [headers, *rows]
    )
