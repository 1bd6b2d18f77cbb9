"""Text and names from the network or from someone else's file, made safe: secrets scrubbed,
terminal control sequences removed, ids checked before they reach a path or a URL.

Blender-free. Every client registers its key and secret here, so text scrubbed anywhere later
(errors, the job store, the library, the batch state file, CLI output) never carries them.
"""

from __future__ import annotations

import base64
import re
import threading

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
