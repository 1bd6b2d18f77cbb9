"""What the Jobs panel and the status bar show: the unfinished jobs and the recently finished
ones, kept up to date by the job manager's events, so a redraw never sorts the whole history.

Blender-free. Not thread-safe on its own: the job manager calls it under its lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from .store import JobRecord

RECENT_SECONDS = 24 * 3600.0
"""Finished jobs stay in view this long (the Jobs panel lists the last day's)."""


def _finished_at(record: JobRecord) -> float:
    return record.finished_at or record.updated


class JobView:
    def __init__(self, unfinished: Iterable[str], records: Iterable[JobRecord] = ()) -> None:
        self._unfinished = frozenset(unfinished)
        self._live: dict[str, JobRecord] = {}
        self._done: dict[str, JobRecord] = {}
        self.version = 0
        """Changes whenever something in view changes (a redraw is due only then)."""
        since = time.time() - RECENT_SECONDS
        for record in records:
            if record.stage in self._unfinished or _finished_at(record) >= since:
                self.note(record)

    def note(self, record: JobRecord) -> None:
        if record.stage in self._unfinished:
            self._done.pop(record.id, None)
            self._live[record.id] = record
        else:
            self._live.pop(record.id, None)
            self._done[record.id] = record
        self.version += 1

    def drop(self, local_id: str) -> None:
        found = self._live.pop(local_id, None) or self._done.pop(local_id, None)
        if found is not None:
            self.version += 1

    def unfinished(self) -> list[JobRecord]:
        """Every unfinished job, newest first."""
        return sorted(self._live.values(), key=lambda r: r.created, reverse=True)

    def listed(self, with_finished: bool = True, now: float | None = None) -> list[JobRecord]:
        """The unfinished jobs and (when asked) those finished in the last day, newest first."""
        since = (time.time() if now is None else now) - RECENT_SECONDS
        for local_id in [i for i, r in self._done.items() if _finished_at(r) < since]:
            del self._done[local_id]
        shown = list(self._live.values())
        if with_finished:
            shown += self._done.values()
        return sorted(shown, key=lambda r: r.created, reverse=True)
