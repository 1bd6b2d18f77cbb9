"""The library's index: lookups and listings without walking the folder, rebuilt from the
entry.json files when it is missing, damaged or out of date, and never a path from a bad id."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest

from yvo3d_addon.core.library import Library
from yvo3d_addon.core.library_index import INDEX_NAME

from .test_store_library import _entry


def _filled(tmp_path, count: int) -> Library:
    lib = Library(str(tmp_path / "lib"))
    for n in range(count):
        lib.add(_entry(lib, f"e{n:04d}", f"Model {n}", f"fp{n % 50}", float(n)), [])
    return lib


@pytest.fixture
def opens(monkeypatch):
    """Counts the entry.json files read."""
    seen: list[str] = []
    real = Library.get

    def counted(self, entry_id):
        seen.append(entry_id)
        return real(self, entry_id)

    monkeypatch.setattr(Library, "get", counted)
    return seen


def test_find_list_search_and_pages_read_no_entry_file(tmp_path, opens):
    """At N = 200 a lookup, a listing, a search and a page open no entry.json at all: a return
    of the folder walk (N files per Generate, items x library per batch) fails here."""
    lib = _filled(tmp_path, 200)
    opens.clear()
    assert [e.id for e in lib.find("fp7")] == [f"e{n:04d}" for n in (157, 107, 57, 7)]
    assert lib.find("fp7", service="https://other") == []
    listed = lib.entries()
    assert len(listed) == 200 and listed[0].id == "e0199" and listed[-1].id == "e0000"
    assert [e.id for e in lib.entries("model 19")] == ["e0199", "e0198", "e0197", "e0196"] + [
        f"e{n:04d}" for n in (195, 194, 193, 192, 191, 190, 19)
    ]
    assert [e.id for e in lib.entries(offset=10, limit=3)] == ["e0189", "e0188", "e0187"]
    assert lib.index.count() == 200
    assert listed[0].glb_path == os.path.join(lib.root, "e0199", "model.glb")
    assert opens == []


def test_missing_or_damaged_index_is_rebuilt_from_entry_files(tmp_path):
    lib = _filled(tmp_path, 5)
    lib.index.close()
    os.remove(os.path.join(lib.root, INDEX_NAME))
    again = Library(lib.root)
    assert again.index.rebuilds == 1
    assert [e.id for e in again.find("fp3")] == ["e0003"]
    again.index.close()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(os.path.join(lib.root, INDEX_NAME + suffix)):
            os.remove(os.path.join(lib.root, INDEX_NAME + suffix))
    with open(os.path.join(lib.root, INDEX_NAME), "wb") as fh:
        fh.write(b"not a database" * 100)
    third = Library(lib.root)
    assert third.index.rebuilds == 1 and len(third.entries()) == 5


def test_folders_changed_by_hand_are_picked_up(tmp_path):
    lib = _filled(tmp_path, 3)
    other = _filled(tmp_path / "other", 1)
    shutil.copytree(os.path.join(other.root, "e0000"), os.path.join(lib.root, "copied"))
    entry_file = os.path.join(lib.root, "copied", "entry.json")
    with open(entry_file, encoding="utf-8") as fh:
        data = json.load(fh)
    data.update(id="copied", created=99.0, fingerprint="fp-copied")
    with open(entry_file, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    shutil.rmtree(os.path.join(lib.root, "e0001"))
    os.makedirs(os.path.join(lib.root, "downloading"))  # no entry.json yet: not listed
    # The folder's mtime may not tick on a coarse clock: make sure it differs.
    stat = os.stat(lib.root)
    os.utime(lib.root, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert lib.find("fp1") == []  # its file is gone: never offered as a free import
    # Seen on reconcile (the Refresh button) ...
    lib.index.reconcile()
    assert [e.id for e in lib.entries()] == ["copied", "e0002", "e0000"]
    assert [row[0] for row in lib.index.listing()] == ["copied", "e0002", "e0000"]
    assert [e.id for e in lib.find("fp-copied")] == ["copied"]
    # ... and when the library is opened after the folder changed.
    shutil.rmtree(os.path.join(lib.root, "copied"))
    stat = os.stat(lib.root)
    os.utime(lib.root, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2 * 10**9))
    assert [e.id for e in Library(lib.root).entries()] == ["e0002", "e0000"]
    assert lib.index.rebuilds == 1  # made once, empty, with the library; reconciled since


def test_an_id_that_is_not_a_plain_name_never_comes_back(tmp_path):
    lib = _filled(tmp_path, 1)
    db = sqlite3.connect(os.path.join(lib.root, INDEX_NAME))
    for bad in ("../outside", "/etc", "a/b", ".."):
        row = {"id": bad, "name": "x", "created": 5.0, "fingerprint": "fp0", "service": ""}
        db.execute(
            "INSERT INTO entries VALUES (?, 'x', 'x', '', 5.0, 'fp0', '', ?)",
            (bad, json.dumps(row)),
        )
    db.commit()
    db.close()
    assert [e.id for e in lib.find("fp0")] == ["e0000"]
    assert [e.id for e in lib.entries()] == ["e0000"]
    assert [row[0] for row in lib.index.listing()] == ["e0000"]
