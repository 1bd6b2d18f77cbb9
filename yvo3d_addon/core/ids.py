"""Ids from the network or from a file someone else made, checked before they reach a path or
a URL: a fixed pattern, and a path that must stay inside its folder (symlinks included)."""

from __future__ import annotations

import os
import re

from . import errors

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def is_id(value: object) -> bool:
    """A job, asset or library id we may put in a path or a URL: letters, digits, `_ . -`."""
    return isinstance(value, str) and bool(_ID.match(value)) and ".." not in value


def check_id(value: object, what: str) -> str:
    """`value` when is_id(), else InvalidResponseError naming `what` (never the raw value)."""
    if not is_id(value):
        raise errors.InvalidResponseError(
            f"Refused a malformed {what} (it could have reached a file path or a URL).",
            fix="This answer did not come from Scenario as expected; nothing was done with it.",
        )
    assert isinstance(value, str)
    return value


def child(root: str, name: str, what: str = "library entry id") -> str:
    """`root/name` for a checked id, guaranteed to resolve inside `root`."""
    check_id(name, what)
    base = os.path.realpath(root)
    path = os.path.realpath(os.path.join(base, name))
    if os.path.dirname(path) != base:
        raise errors.InvalidResponseError(f"Refused a {what} that leaves its folder.")
    return os.path.join(root, name)
