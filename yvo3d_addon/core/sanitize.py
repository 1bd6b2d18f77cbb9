"""Text and names from the network or from someone else's file, made safe: secrets scrubbed,
terminal control sequences removed, ids checked before they reach a path or a URL.

Blender-free. Every client registers its key and secret here, so text scrubbed anywhere later
(errors, the job store, the library, the batch state file, CLI output) never carries them.
"""

from __future__ import annotations

import base64
import os
import re
import threading

from . import errors

REDACTED = "[redacted]"
# Shorter values are not secrets anyone could recognise, and would mangle ordinary text.
MIN_SECRET = 8

_lock = threading.Lock()
_secrets: set[str] = set()

_BASIC = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]{6,}")
# CSI / OSC / other ESC sequences first, then any remaining C0/C1 control or bidi override.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]?|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def register_secrets(*values: str) -> None:
    """Remember credentials (and their Basic token) so every later scrub removes them."""
    found = [v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET]
    if len(values) == 2 and all(isinstance(v, str) and v for v in values):
        token = base64.b64encode(f"{values[0]}:{values[1]}".encode()).decode()
        found.append(token)
    with _lock:
        _secrets.update(found)


def scrub(text: str) -> str:
    """`text` with every registered secret and any Basic/Bearer credential replaced."""
    if not text:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _BASIC.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """`text` without terminal escape sequences or control characters (tabs become spaces)."""
    text = _ESCAPES.sub("", text)
    if keep_newlines:
        return "\n".join(_CONTROLS.sub("", line.replace("\t", " ")) for line in text.split("\n"))
    return _CONTROLS.sub("", text.replace("\t", " ").replace("\n", " ").replace("\r", " "))


def clean(value: object, *, limit: int = 2000) -> str:
    """Untrusted text for a message, a record or a name: a string, scrubbed, printable, short."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = printable(scrub(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
