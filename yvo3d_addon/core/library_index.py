"""The library's index: one SQLite table beside the entry folders, so that a lookup by
fingerprint, a listing or a search never walks the folder.

Blender-free. `entry.json` files stay the durable, readable copy: the index is written when an
entry is added or deleted (by this process or another one sharing the library), rebuilt from
them when it is missing or damaged, and reconciled with the folder (new folders read, vanished
ones dropped) when it is opened and the folder changed since it was last reconciled, and on
`reconcile()` (the Refresh button): changes made by hand are seen then, never walked for on a
lookup. Ids read back are checked against a strict pattern before they reach a path.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

log = logging.getLogger(__name__)

INDEX_NAME = ".yvo3d-index.sqlite"
SCHEMA = "1"
_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

Row = dict[str, Any]
ListRow = tuple[str, str, float, str]
"""(id, name, created, job id): what a list of entries shows."""
Reader = Callable[[str], "Row | None"]
"""Reads one entry folder's `entry.json` as the index stores it (None: not a complete entry)."""


def valid_id(entry_id: str) -> bool:
    return bool(_ID.match(entry_id)) and ".." not in entry_id


class LibraryIndex:
    """Thread-safe (workers add entries while the main thread lists them)."""

    def __init__(self, root: str, read: Reader) -> None:
        self.root = root
        self.path = os.path.join(root, INDEX_NAME)
        self._read = read
        self._lock = threading.Lock()
        self.rebuilds = 0  # full rebuilds from entry.json (tests and the benchmark read it)
        self.version = 0
        """Changes when this process adds or deletes an entry or finds the folder changed."""
        self._listed: list[ListRow] | None = None
        self._listed_ids: set[str] = set()
        """listing(), newest first, kept up to date by put and remove (None: read it again)."""
        self._db = self._connect()
        with self._lock:
            self._fresh()

    # -- opening

    def _connect(self) -> sqlite3.Connection:
        import sqlite3

        try:
            db = self._open()
        except sqlite3.DatabaseError as exc:
            log.warning("library index damaged (%s): rebuilt from entry.json files", exc)
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.remove(self.path + suffix)
                except OSError:
                    pass
            db = self._open()
        return db

    def _open(self) -> sqlite3.Connection:
        import sqlite3

        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        found = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if found is None or found[0] != SCHEMA:
            db.execute("DROP TABLE IF EXISTS entries")
        # name: lower-cased, for search; data: the entry as entry.json holds it.
        db.execute(
            "CREATE TABLE IF NOT EXISTS entries (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
            "title TEXT NOT NULL, job_id TEXT NOT NULL, created REAL NOT NULL, "
            "fingerprint TEXT NOT NULL, service TEXT NOT NULL, data TEXT NOT NULL)"
        )
        db.execute("CREATE INDEX IF NOT EXISTS entries_fp ON entries (fingerprint)")
        db.execute("CREATE INDEX IF NOT EXISTS entries_created ON entries (created)")
        if found is None or found[0] != SCHEMA:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA,))
            db.execute("DELETE FROM meta WHERE key = 'seen'")
            self._rebuild(db)
        return db

    def _rebuild(self, db: sqlite3.Connection) -> None:
        self.rebuilds += 1
        db.execute("DELETE FROM entries")
        self._reconcile(db, set())

    # -- keeping it true

    def _folder_mark(self) -> str:
        try:
            return str(os.stat(self.root).st_mtime_ns)
        except OSError:
            return ""

    def _reconcile(self, db: sqlite3.Connection, known: set[str]) -> None:
        """Add the folders the index does not know, drop the ids whose folder is gone."""
        mark = self._folder_mark()
        try:
            names = {n for n in os.listdir(self.root) if valid_id(n)}
        except OSError:
            names = set()
        db.execute("BEGIN IMMEDIATE")
        try:
            for gone in known - names:
                db.execute("DELETE FROM entries WHERE id = ?", (gone,))
            for name in sorted(names - known):
                row = self._read(name)
                if row is not None:
                    self._insert(db, row)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('seen', ?)", (mark,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _fresh(self) -> None:
        """One stat; a walk of the folder names only when the folder changed since last time."""
        mark = self._folder_mark()
        seen = self._db.execute("SELECT value FROM meta WHERE key = 'seen'").fetchone()
        if seen is not None and seen[0] == mark:
            return
        self.reconcile(locked=True)

    def reconcile(self, locked: bool = False) -> None:
        """Read the folders the index does not know, drop those that are gone (a walk of the
        folder's names: at open when it changed, and when the user asks)."""
        if not locked:
            with self._lock:
                self.reconcile(locked=True)
            return
        known = {r[0] for r in self._db.execute("SELECT id FROM entries")}
        self._reconcile(self._db, known)
        self._listed = None
        self.version += 1

    @staticmethod
    def _insert(db: sqlite3.Connection, row: Row) -> None:
        db.execute(
            "INSERT OR REPLACE INTO entries (id, name, title, job_id, created, fingerprint, "
            "service, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                str(row["id"]),
                str(row.get("name", "")).lower(),
                str(row.get("name", "")),
                str(row.get("job_id", "")),
                float(row.get("created", 0.0) or 0.0),
                str(row.get("fingerprint", "")),
                str(row.get("service", "")),
                json.dumps(row, sort_keys=True),
            ),
        )

    def put(self, row: Row) -> None:
        with self._lock:
            self._insert(self._db, row)
            self.version += 1
            entry_id, created = str(row["id"]), float(row.get("created", 0.0) or 0.0)
            listed = self._listed
            if (
                listed is not None
                and valid_id(entry_id)
                and entry_id not in self._listed_ids
                and (not listed or created >= listed[0][2])
            ):  # the newest, as a new download is: at the top, no re-read
                listed.insert(
                    0, (entry_id, str(row.get("name", "")), created, str(row.get("job_id", "")))
                )
                self._listed_ids.add(entry_id)
            else:
                self._listed = None  # read again when asked

    def remove(self, entry_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
            self._listed = None
            self.version += 1

    # -- reading

    def _rows(self, sql: str, args: tuple[Any, ...]) -> list[Row]:
        with self._lock:
            found = self._db.execute(sql, args).fetchall()
        rows = []
        for (data,) in found:
            try:
                row = json.loads(data)
            except ValueError:
                continue
            if isinstance(row, dict) and valid_id(str(row.get("id", ""))):
                rows.append(row)
        return rows

    def get(self, entry_id: str) -> Row | None:
        found = self._rows("SELECT data FROM entries WHERE id = ?", (entry_id,))
        return found[0] if found else None

    def find(self, fingerprint: str, service: str | None) -> list[Row]:
        args: tuple[str, ...]
        if service is None:
            sql, args = "fingerprint = ?", (fingerprint,)
        else:
            sql, args = "fingerprint = ? AND service = ?", (fingerprint, service)
        return self._rows(
            f"SELECT data FROM entries WHERE {sql} ORDER BY created DESC",  # noqa: S608
            args,
        )

    def page(self, search: str = "", offset: int = 0, limit: int = -1) -> list[Row]:
        """Newest first; `search` matches the name, case-insensitively."""
        return self._rows(
            "SELECT data FROM entries WHERE instr(name, ?) > 0 "
            "ORDER BY created DESC LIMIT ? OFFSET ?",
            (search.lower(), limit, max(0, offset)),
        )

    def listing(self) -> list[ListRow]:
        """(id, name, created, job id) of every entry, newest first: what a list shows, with
        no record parsed (read once, then kept up to date by put and remove)."""
        with self._lock:
            if self._listed is None:
                found = self._db.execute(
                    "SELECT id, title, created, job_id FROM entries ORDER BY created DESC"
                ).fetchall()
                self._listed = [
                    (str(i), str(t), float(c), str(j)) for i, t, c, j in found if valid_id(str(i))
                ]
                self._listed_ids = {r[0] for r in self._listed}
            return list(self._listed)

    def count(self) -> int:
        with self._lock:
            found = self._db.execute("SELECT COUNT(*) FROM entries").fetchone()
        return int(found[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
