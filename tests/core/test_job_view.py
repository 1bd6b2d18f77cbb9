"""What the Jobs panel and the status bar read: the unfinished and recently finished jobs, kept
by events, and a resume that touches only the unfinished jobs, however long the history."""

from __future__ import annotations

import copy
import sqlite3
import time

from yvo3d_addon.core import jobs
from yvo3d_addon.core.jobs import JobManager, Stage
from yvo3d_addon.core.library import Library
from yvo3d_addon.core.store import JobRecord, JobStore


def _no_client(wait: float = 0.0):
    raise AssertionError("nothing here may reach the network")


def _history(tmp_path, finished: int) -> JobStore:
    store = JobStore(str(tmp_path / "jobs.sqlite"))
    old = time.time() - 3 * 24 * 3600
    for n in range(finished):
        store.put(
            JobRecord(
                id=f"old{n}", name=f"Old {n}", stage=Stage.IMPORTED, created=old, finished_at=old
            )
        )
    # Written three days ago (put stamps "updated" with now).
    store._db.execute("UPDATE jobs SET updated = ? WHERE id LIKE 'old%'", (old,))
    store.put(JobRecord(id="recent", name="Recent", stage=Stage.IMPORTED, finished_at=time.time()))
    store.put(JobRecord(id="waiting", name="Waiting", stage=Stage.READY))
    store.put(JobRecord(id="cut", name="Cut short", stage=Stage.UPLOADING))
    return store


def test_view_holds_only_what_is_shown_and_follows_events(tmp_path):
    manager = JobManager(_history(tmp_path, 300), Library(str(tmp_path / "lib")), _no_client)
    assert {r.id for r in manager.shown()} == {"recent", "waiting", "cut"}
    assert {r.id for r in manager.shown(with_finished=False)} == {"waiting", "cut"}
    assert [r.id for r in manager.active()] == ["cut"]
    version = manager.view.version
    manager.mark_imported("waiting", "Waiting.001")
    assert manager.view.version > version
    assert [r.id for r in manager.active()] == ["cut"]
    assert {r.id for r in manager.shown(with_finished=False)} == {"cut"}
    manager.forget("recent")
    assert {r.id for r in manager.shown()} == {"waiting", "cut"}


def test_old_finished_jobs_are_read_when_asked_never_held(tmp_path):
    manager = JobManager(_history(tmp_path, 300), Library(str(tmp_path / "lib")), _no_client)
    assert set(manager._records) == {"recent", "waiting", "cut"}  # not the 300 old ones
    assert manager.get("old7").name == "Old 7"  # from the store, on demand
    assert len(manager.jobs()) == 303
    assert {r.id for r in manager.jobs_since(time.time() - 3600)} == {"recent", "waiting", "cut"}


def test_resume_copies_only_unfinished_jobs(tmp_path, monkeypatch):
    """300 finished jobs in the history: a resume (each file load) looks at the three others
    only; a return of the copy of every record fails here."""
    manager = JobManager(_history(tmp_path, 300), Library(str(tmp_path / "lib")), _no_client)
    copied: list[str] = []
    real = copy.deepcopy

    def counted(value, *args):
        if isinstance(value, JobRecord):
            copied.append(value.id)
        return real(value, *args)

    monkeypatch.setattr(jobs.copy, "deepcopy", counted)
    assert manager.resume() == []  # the upload cut short ends unpaid; nothing to follow
    assert set(copied) == {"cut"}
    assert manager.get("cut").stage == Stage.FAILED
    assert manager.get("cut").error_code == "interrupted"


def test_a_damaged_record_is_still_caught_when_the_store_opens(tmp_path):
    """The start-up check reads no record in Python, yet a record that is not JSON still moves
    the store aside (the add-on never loads with a store it cannot read)."""
    store = _history(tmp_path, 3)
    store.close()
    again = JobStore(store.path)  # unchanged since this process closed it: not checked again
    assert not again.recovered_from and len(again.all()) == 6
    again.close()
    damage = sqlite3.connect(store.path)  # another hand (a disk fault, a tool) damages it
    damage.execute("UPDATE jobs SET data = '{\"id\": \"old1\", broken' WHERE id = 'old1'")
    damage.commit()
    damage.close()
    again = JobStore(store.path)
    assert again.recovered_from and again.all() == []
