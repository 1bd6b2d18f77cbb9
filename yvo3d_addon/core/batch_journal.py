"""The batch state's journal: each change of an item appended as one line, so that a change
costs the same at item 5 as at item 5,000; the readable summary (yvo3d-batch.json) is rewritten
only at a bounded rate and at the end, and then the journal starts again empty.

Blender-free. A line is written and flushed before `append` returns, so a run killed at any
moment after it (Ctrl-C, a crash, a kill) finds the change on the next run: the journal is
replayed over the summary, line by line, the last word on an item winning; a torn last line (a
kill mid-write) is ignored.
"""

from __future__ import annotations

import json
import os
import time
from typing import IO, Any

from . import sanitize

SUFFIX = ".journal"

MIN_INTERVAL = 2.0
"""Seconds between two rewrites of the summary while a run goes on."""
MAX_SHARE = 0.05
"""At most this share of the run's time goes into rewriting the summary."""

State = dict[str, dict[str, Any]]


class Journal:
    def __init__(self, summary_path: str) -> None:
        self.path = summary_path + SUFFIX
        self._fh: IO[str] | None = None
        self.pending = False
        """Changes were journaled since the summary was last written."""
        self._last = time.monotonic()
        self._cost = 0.0

    def replay(self) -> State:
        """Every item's last journaled state (empty when there is no journal)."""
        found: State = {}
        try:
            with open(self.path, encoding="utf-8") as fh:
                lines = fh.read().split("\n")
        except (OSError, UnicodeDecodeError):
            return found
        for line in lines:
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                break  # a torn last line: the run was killed while writing it
            items = data.get("items") if isinstance(data, dict) else None
            if isinstance(items, dict):
                found.update({k: v for k, v in items.items() if isinstance(v, dict)})
        return found

    def append(self, changes: State) -> None:
        """One line, opened, written, flushed and closed each time: another run sharing the
        folder may have compacted (removed) the journal since, and its next line must land in
        the file both runs read. The caller holds the folder's lock file."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        line = sanitize.scrub(json.dumps({"items": changes}, separators=(",", ":")))
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
        self.pending = True

    def due(self) -> bool:
        """Whether the summary should be rewritten now: at least MIN_INTERVAL since the last
        time, and long enough that rewriting stays under MAX_SHARE of the time."""
        waited = time.monotonic() - self._last
        return waited >= max(MIN_INTERVAL, self._cost / MAX_SHARE)

    def compacted(self, cost: float) -> None:
        """The summary was just rewritten (taking `cost` seconds): start the journal again."""
        self._last, self._cost = time.monotonic(), cost
        self.pending = False
        self.close()
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
