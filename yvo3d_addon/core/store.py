"""The job store: every job from before its paid request to its import, in SQLite on disk.

Blender-free. One row per job; the record itself is JSON (never credentials). A damaged file
is moved aside and a new store is made, so a corrupt store never stops the add-on loading.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_RECORD_START = b'{"asset_ids": '  # JobRecord.to_json sorts its keys: this one comes first

_VERIFIED: dict[str, tuple[int, int]] = {}
"""(size, mtime) of each store file as this process closed it: reopened unchanged in the same
session (a manager made again), it is not checked again (the integrity check is once a session)."""

VERIFIED_SUFFIX = ".verified"
"""Beside the store: its (size, mtime) at its last clean close, after a check. Consumed when the
store is opened: a Blender start after a clean quit skips the O(size) check; after a crash, or
when anything else wrote the file, the mark is gone or differs and the store is checked."""


def _mark(path: str) -> tuple[int, int]:
    try:
        stat = os.stat(path)
    except OSError:
        return (-1, -1)
    return (stat.st_size, stat.st_mtime_ns)


def _clean_mark(path: str) -> tuple[int, int] | None:
    """The file's mark when everything is in it (no write-ahead log with pages not yet in the
    file: another session still has it open, or the last one crashed); else None."""
    try:
        if os.path.getsize(path + "-wal") > 0:
            return None
    except OSError:
        pass  # no log: everything is in the file
    mark = _mark(path)
    return mark if mark[0] > 0 else None


def _take_verified(path: str) -> tuple[int, int] | None:
    """The mark the last clean close left, removed (a crash from now on leaves none)."""
    marker = path + VERIFIED_SUFFIX
    try:
        with open(marker, encoding="utf-8") as fh:
            data = json.load(fh)
        os.remove(marker)
    except (OSError, ValueError):
        return None
    if isinstance(data, list) and len(data) == 2 and all(type(v) is int for v in data):
        return (data[0], data[1])
    return None


def _leave_verified(path: str, mark: tuple[int, int]) -> None:
    marker = path + VERIFIED_SUFFIX
    try:
        with open(marker + ".part", "w", encoding="utf-8") as fh:
            json.dump(list(mark), fh)
        os.replace(marker + ".part", marker)
    except OSError as exc:  # the next start checks the store: slower, never wrong
        log.info("could not leave the store's check mark (%s)", exc)


@dataclass
class JobRecord:
    """Everything needed to follow, resume, or re-import one job. Plain data, no secrets."""

    id: str
    name: str
    stage: str
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    images: list[str] = field(default_factory=list)
    image_hashes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    placement: dict[str, Any] = field(default_factory=dict)
    expected_cost: float | None = None
    cost: float | None = None
    upload_ids: list[str] = field(default_factory=list)
    job_id: str = ""
    status: str = ""
    progress: float = 0.0
    asset_ids: list[str] = field(default_factory=list)
    glb_asset_id: str = ""
    glb_path: str = ""
    library_id: str = ""
    message: str = ""
    error_code: str = ""
    error: str = ""
    hint: str = ""
    cancel_requested: bool = False
    submitted_at: float | None = None
    finished_at: float | None = None
    imported_as: str = ""

    def to_json(self) -> str:
        from .sanitize import scrub  # late, like sqlite3: see JobStore

        return scrub(json.dumps(asdict(self), sort_keys=True))

    @classmethod
    def from_json(cls, text: str) -> JobRecord:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


_FIELDS = {f.name for f in fields(JobRecord)}


class JobStore:
    """Thread-safe; every write is committed before it returns (WAL, synchronous=FULL)."""

    def __init__(self, path: str) -> None:
        import sqlite3  # late: the Blender layer imports this module when the add-on is enabled

        self.path = path
        self.recovered_from = ""  # set when a damaged store was moved aside
        self.recovered: list[str] = []  # local ids of paid jobs salvaged from it
        self.recovery_reported = False  # the command line says it once per session
        self._lock = threading.Lock()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            backup = f"{path}.corrupt-{int(time.time())}"
            log.warning("job store damaged (%s); moved to %s", exc, backup)
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.replace(path + suffix, backup + suffix)
            self.recovered_from = backup
            self._db = self._open()
            self.recovered = self._salvage(backup)

    def _open(self) -> sqlite3.Connection:
        import sqlite3

        mark = _clean_mark(self.path)  # before connecting: opening may replay a log
        remembered = _take_verified(self.path)
        remembered = _VERIFIED.pop(self.path, None) or remembered
        checked = mark is not None and remembered == mark
        self.checked_at_open = not checked
        """Whether opening ran the integrity check (the benchmark and tests read it)."""
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            check = ("ok",) if checked else db.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {check}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, stage TEXT NOT NULL, "
                "job_id TEXT, updated REAL NOT NULL, data TEXT NOT NULL)"
            )
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            # Who follows a job, and who is paying for a request (two sessions, one store).
            db.execute("CREATE TABLE IF NOT EXISTS claims (id TEXT PRIMARY KEY, owner TEXT)")
            db.execute("CREATE INDEX IF NOT EXISTS jobs_stage ON jobs (stage)")
            db.execute("CREATE INDEX IF NOT EXISTS jobs_updated ON jobs (updated)")
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            # Every record is JSON (checked by SQLite in C: no record parsed at start-up).
            bad = (
                (0,)
                if checked
                else db.execute("SELECT COUNT(*) FROM jobs WHERE NOT json_valid(data)").fetchone()
            )
            if bad and bad[0]:
                raise ValueError(f"{bad[0]} damaged job record(s)")
        except (sqlite3.DatabaseError, ValueError) as exc:
            db.close()
            raise sqlite3.DatabaseError(str(exc)) from exc
        return db

    def _salvage(self, backup: str) -> list[str]:
        """Paid jobs read back from the damaged file's bytes (and its WAL), stored again as
        resumable: Resume then follows each from Scenario by its job id."""
        from .ids import is_id

        found: dict[str, JobRecord] = {}
        for suffix in ("", "-wal"):
            try:
                with open(backup + suffix, "rb") as fh:
                    raw = fh.read()
            except OSError:
                continue
            text = raw.decode("utf-8", "replace")
            decoder = json.JSONDecoder()
            start = text.find(_RECORD_START.decode())
            while start >= 0:
                try:
                    data, _ = decoder.raw_decode(text, start)
                    record = JobRecord(**{k: v for k, v in data.items() if k in _FIELDS})
                except (ValueError, TypeError, AttributeError):
                    record = None
                start = text.find(_RECORD_START.decode(), start + 1)
                if record is None:
                    continue
                if not isinstance(record.id, str) or not isinstance(record.job_id, str):
                    continue
                if not (is_id(record.id) and is_id(record.job_id)):
                    continue  # a tampered record: never followed
                if record.id not in found or record.updated > found[record.id].updated:
                    found[record.id] = record
        kept = []
        for record in found.values():
            if record.stage in ("failed", "cancelled", "imported"):
                continue
            kept.append(record.id)
            ready = record.stage == "ready" and os.path.isfile(record.glb_path)
            if not ready:
                record.stage = "stalled"
                record.message = record.error = (
                    "Recovered from a damaged job store; press Resume to follow it again."
                )
            self.put(record)
        return sorted(kept)

    def recovery_text(self) -> str:
        """What every entry point says about a damaged store (empty when there was none)."""
        if not self.recovered_from:
            return ""
        return (
            f"The job store was damaged and moved to {self.recovered_from}; a new one was made. "
            f"{len(self.recovered)} paid job(s) were recovered from it (Resume follows them)."
        )

    def put(self, record: JobRecord) -> None:
        record.updated = time.time()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO jobs (id, stage, job_id, updated, data) "
                "VALUES (?, ?, ?, ?, ?)",
                (record.id, record.stage, record.job_id, record.updated, record.to_json()),
            )

    def get(self, local_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM jobs WHERE id = ?", (local_id,)).fetchone()
        return JobRecord.from_json(row[0]) if row else None

    def all(self) -> list[JobRecord]:
        """Every job, newest first."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM jobs ORDER BY updated DESC").fetchall()
        return [JobRecord.from_json(r[0]) for r in rows]

    def by_stage(self, stages: set[str] | frozenset[str]) -> list[JobRecord]:
        return self.current(stages, float("inf"))

    def current(self, stages: set[str] | frozenset[str], since: float) -> list[JobRecord]:
        """The jobs in `stages` and those changed at or after `since`, newest first: two
        indexed lookups, never the whole history."""
        marks = ", ".join("?" * len(stages))
        with self._lock:
            rows = self._db.execute(
                f"SELECT data FROM jobs WHERE stage IN ({marks}) OR updated >= ? "  # noqa: S608
                "ORDER BY updated DESC",
                (*sorted(str(s) for s in stages), since),
            ).fetchall()
        return [JobRecord.from_json(r[0]) for r in rows]

    def delete(self, local_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (local_id,))

    def claim(self, key: str, *, force: bool = False) -> str:
        """Take `key` (a job's local id, or "request:<fingerprint>") for this process, in one
        transaction: returns "" when it is now ours, else the live owner that keeps it."""
        import sqlite3

        from . import owners

        mine = owners.me()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes
            except sqlite3.OperationalError as exc:  # locked past the timeout: as before claims
                log.warning("job store busy (%s); %s not claimed", exc, key)
                return ""
            try:
                row = self._db.execute("SELECT owner FROM claims WHERE id = ?", (key,)).fetchone()
                holder = row[0] if row else ""
                if holder and holder != mine and not force and owners.alive(holder):
                    return holder
                self._db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?)", (key, mine))
                return ""
            finally:
                self._db.execute("COMMIT")

    def release(self, key: str) -> None:
        """Give up a claim of this process (an ended request may be paid again on purpose)."""
        from . import owners

        with self._lock:
            self._db.execute("DELETE FROM claims WHERE id = ? AND owner = ?", (key, owners.me()))

    def close(self) -> None:
        with self._lock:
            self._db.close()
        mark = _clean_mark(self.path)
        if mark is not None:
            _VERIFIED[self.path] = mark
            _leave_verified(self.path, mark)
