"""One rule for SSH host names, wherever they come from.

``%cluster ssh HOST ...``, ``clusterkit up --ssh HOST ...`` and the REST API's
``ssh_hosts`` all pass through :func:`check_host`, so a host that could be
read as an option by ``ssh`` or Dask (``-oProxyCommand=...``), one with
whitespace, an empty one or an absurdly long one is refused the same way
everywhere, with the same sentence.
"""

from __future__ import annotations

from typing import Any

from clusterkit.errors import OptionError

__all__ = ["MAX_HOSTS", "MAX_LENGTH", "check_host", "check_hosts"]

#: Longest host (``user@`` included); DNS names stop at 253 characters.
MAX_LENGTH = 255
#: Most hosts one cluster may name (a typo guard, not a capacity plan).
MAX_HOSTS = 256
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]@")


def check_host(value: Any) -> str:
    """``value`` if it is a host name or address (optionally ``user@host``), else :class:`OptionError`.

    >>> check_host("ada@node1.example.org")
    'ada@node1.example.org'
    """
    if not isinstance(value, str):
        raise OptionError(f"A host must be a string such as 'node1' or '10.0.0.5', not {type(value).__name__}.")
    if not value or len(value) > MAX_LENGTH or not set(value) <= _ALLOWED or value.startswith("-"):
        shown = value if len(value) <= 80 else value[:80] + "..."
        raise OptionError(
            f"{shown!r} is not a host name or address: use letters, digits and . - _ : [ ] @ only, "
            f"at most {MAX_LENGTH} characters, not starting with '-'."
        )
    return value


def check_hosts(values: Any) -> list[str]:
    """A non-empty list of hosts, each checked by :func:`check_host`."""
    if not isinstance(values, list) or not values:
        raise OptionError("'ssh_hosts' must be a non-empty list of host names, e.g. [\"node1\", \"node2\"].")
    if len(values) > MAX_HOSTS:
        raise OptionError(f"'ssh_hosts' names {len(values)} hosts; at most {MAX_HOSTS} are accepted.")
    return [check_host(value) for value in values]
