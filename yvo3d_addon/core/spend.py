"""What the user has spent, and the budget that stops a request crossing a limit.

Blender-free. Spend is read from job records (the job store keeps them across files and
restarts): a job counts once its paid request was sent, at its price, unless it failed
(Scenario normally refunds failed jobs) or was cancelled before paying. A job being priced
right now counts too (its reservation), so two jobs starting together cannot both slip under
the limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from .store import JobRecord

_RESERVING = frozenset({"pricing", "submitting"})


def day_start(now: float | None = None) -> float:
    """Local midnight of the day `now` falls in."""
    moment = time.localtime(time.time() if now is None else now)
    return time.mktime((moment.tm_year, moment.tm_mon, moment.tm_mday, 0, 0, 0, 0, 0, -1))


def charged(record: JobRecord) -> float:
    """What one job costs the user: its price once the paid request went out (or while it is
    being priced and submitted: a reservation), else 0."""
    if record.cost is None or record.stage == "failed":
        return 0.0
    if record.submitted_at is not None or record.stage in _RESERVING:
        return float(record.cost)
    return 0.0


def spent_since(records: Iterable[JobRecord], since: float) -> float:
    """Credits spent by jobs created at or after `since`."""
    return sum(charged(r) for r in records if r.created >= since)


@dataclass(frozen=True)
class Budget:
    """Limits in credits; 0 means no limit. `session_start`: when this session began."""

    per_session: float = 0.0
    per_day: float = 0.0
    session_start: float = 0.0

    @property
    def active(self) -> bool:
        return self.per_session > 0 or self.per_day > 0

    def remaining(self, spent_session: float, spent_today: float) -> list[tuple[str, float, float]]:
        """("session" | "today", limit, credits left) for each limit in force: what the panel
        and the command line show, from spend they already have."""
        found = []
        for key, limit, spent in (
            ("session", self.per_session, spent_session),
            ("today", self.per_day, spent_today),
        ):
            if limit > 0:
                found.append((key, limit, max(0.0, limit - spent)))
        return found

    def refusal(self, records: Iterable[JobRecord], cost: float, now: float | None = None) -> str:
        """Why spending `cost` more would cross a limit ("" when it would not), with numbers."""
        pool = list(records)
        checks = (
            ("this session", self.per_session, self.session_start),
            ("today", self.per_day, day_start(now)),
        )
        for label, limit, since in checks:
            if limit <= 0:
                continue
            spent = spent_since(pool, since)
            if spent + cost > limit + 1e-9:
                return (
                    f"Over budget: {cost:g} credits more would make {spent + cost:g} {label}, "
                    f"over the limit of {limit:g} ({spent:g} spent, {max(0.0, limit - spent):g} "
                    "left). Nothing was paid."
                )
        return ""
