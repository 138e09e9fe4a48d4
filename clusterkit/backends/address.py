"""An existing scheduler: by ``tcp://`` address, or by a name in the registry."""

from __future__ import annotations

from clusterkit import registry
from clusterkit.errors import ClusterNotFoundError

__all__ = ["resolve"]

_SCHEMES = ("tcp://", "tls://", "inproc://", "ws://", "wss://", "ucx://")


def resolve(address_or_name: str) -> tuple[str, registry.ClusterRecord | None]:
    """Turn what the user typed into a scheduler address (and its record, if any)."""
    if address_or_name.startswith(_SCHEMES):
        for record in registry.list_records():
            if record.scheduler_address == address_or_name:
                return address_or_name, record
        return address_or_name, None
    found = registry.find(address_or_name)
    if found is None:
        known = ", ".join(sorted({r.name for r in registry.list_records()})) or "none"
        raise ClusterNotFoundError(
            f"No cluster named {address_or_name!r} is registered (known: {known}). "
            "Use `%cluster list` to see them, or pass a scheduler address like tcp://127.0.0.1:8786."
        )
    return found.scheduler_address, found
