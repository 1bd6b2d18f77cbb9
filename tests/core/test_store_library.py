"""The job store and the library on disk, without the network."""

from __future__ import annotations

import os
import threading

import pytest

from yvo3d_addon.core import errors
from yvo3d_addon.core import store as store_module
from yvo3d_addon.core.library import Library, new_entry
from yvo3d_addon.core.store import VERIFIED_SUFFIX, JobRecord, JobStore


def glb_bytes() -> bytes:
    body = b'{"asset":{"version":"2.0"}}  '
    chunk = len(body).to_bytes(4, "little") + b"JSON" + body
    total = 12 + len(chunk)
    return b"glTF" + (2).to_bytes(4, "little") + total.to_bytes(4, "little") + chunk


def test_store_round_trip_and_order(tmp_path):
    store = JobStore(str(tmp_path / "jobs.sqlite"))
    a = JobRecord(id="a", name="A", stage="queued", job_id="job_1", settings={"x": 1})
    store.put(a)
    b = JobRecord(id="b", name="B", stage="ready")
    store.put(b)
    again = JobStore(str(tmp_path / "jobs.sqlite"))
    assert [r.id for r in again.all()] == ["b", "a"]
    assert again.get("a") == a
    assert [r.id for r in again.by_stage({"queued"})] == ["a"]
    again.delete("a")
    assert again.get("a") is None


def test_store_ignores_unknown_fields_from_a_newer_version(tmp_path):
    record = JobRecord(id="a", name="A", stage="queued")
    text = record.to_json().replace('"name"', '"future_field": 1, "name"')
    assert JobRecord.from_json(text) == record


def test_store_is_safe_across_threads(tmp_path):
    store = JobStore(str(tmp_path / "jobs.sqlite"))

    def writer(n: int) -> None:
        for i in range(50):
            store.put(JobRecord(id=f"{n}-{i}", name="x", stage="queued"))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.all()) == 200


@pytest.mark.parametrize(
    "damage",
    [b"garbage" * 500, b"SQLite format 3\x00" + b"\xff" * 4000],
    ids=["not-sqlite", "damaged-header"],
)
def test_corrupt_store_is_backed_up_and_recreated(tmp_path, damage):
    path = tmp_path / "jobs.sqlite"
    path.write_bytes(damage)
    store = JobStore(str(path))
    assert store.recovered_from
    assert open(store.recovered_from, "rb").read() == damage
    store.put(JobRecord(id="a", name="A", stage="queued"))
    assert store.get("a") is not None


def _new_session():
    """What a new Blender process knows: nothing checked yet in memory."""
    store_module._VERIFIED.clear()  # noqa: SLF001


def test_a_start_after_a_clean_quit_skips_the_check_and_a_start_after_a_crash_runs_it(tmp_path):
    path = str(tmp_path / "jobs.sqlite")
    store = JobStore(path)
    assert store.checked_at_open
    store.put(JobRecord(id="a", name="A", stage="queued", job_id="job_1"))
    store.close()  # a clean quit leaves the mark
    assert os.path.isfile(path + VERIFIED_SUFFIX)

    _new_session()
    store = JobStore(path)
    assert not store.checked_at_open and store.get("a") is not None
    assert not os.path.exists(path + VERIFIED_SUFFIX), "consumed: a crash now leaves none"
    store.put(JobRecord(id="b", name="B", stage="queued", job_id="job_2"))
    # The process dies here (no close): the next start checks the whole store.
    _new_session()
    again = JobStore(path)
    assert again.checked_at_open and again.get("b") is not None
    again.close()


def test_a_store_changed_after_its_clean_close_is_checked_and_its_damage_found(tmp_path):
    path = str(tmp_path / "jobs.sqlite")
    store = JobStore(path)
    store.put(JobRecord(id="a", name="A", stage="queued", job_id="job_1"))
    store.close()
    # Something else wrote the file after the mark was left (a tampered or damaged copy).
    with open(path, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff" * 4000)
    _new_session()
    store = JobStore(path)
    assert store.checked_at_open and store.recovered_from
    store.close()


@pytest.mark.parametrize("mark", ["[1, 2]", "not json", '{"size": 1}', "[1.5, 2]"])
def test_a_wrong_or_unreadable_mark_means_a_check(tmp_path, mark):
    path = str(tmp_path / "jobs.sqlite")
    JobStore(path).close()
    with open(path + VERIFIED_SUFFIX, "w") as fh:
        fh.write(mark)
    _new_session()
    store = JobStore(path)
    assert store.checked_at_open
    store.close()


def _entry(lib: Library, entry_id: str, name: str, fingerprint: str, created: float):
    with open(lib.glb_dest(entry_id), "wb") as fh:
        fh.write(glb_bytes())
    return new_entry(
        id=entry_id,
        name=name,
        job_id="job_" + entry_id,
        asset_ids=["a1"],
        glb_asset_id="a1",
        fingerprint=fingerprint,
        settings={},
        body={},
        images=[{"name": "in.png", "sha256": "h"}],
        created=created,
    )


def test_library_add_find_search_delete(tmp_path):
    lib = Library(str(tmp_path / "lib"))
    src = tmp_path / "in.png"
    src.write_bytes(b"\x89PNG fake")
    lib.add(_entry(lib, "e1", "Wooden Chair", "fp1", 1.0), [str(src)])
    lib.add(_entry(lib, "e2", "Lamp", "fp2", 2.0), [str(src)])
    os.makedirs(os.path.join(lib.root, "half-written"))  # no entry.json: not listed
    assert [e.id for e in lib.entries()] == ["e2", "e1"]
    assert [e.id for e in lib.entries("chair")] == ["e1"]
    assert [e.id for e in lib.find("fp1")] == ["e1"]
    assert lib.find("") == [] and lib.find("nope") == []
    entry = lib.get("e1")
    assert entry.glb_size == len(glb_bytes()) and entry.images[0]["copy"] == "input_0.png"
    assert os.path.exists(os.path.join(entry.folder, "input_0.png"))
    lib.delete("e1")
    assert lib.get("e1") is None and [e.id for e in lib.entries()] == ["e2"]


def test_library_refuses_to_add_a_missing_glb(tmp_path):
    lib = Library(str(tmp_path / "lib"))
    entry = new_entry(
        id="x",
        name="x",
        job_id="j",
        asset_ids=[],
        glb_asset_id="",
        fingerprint="",
        settings={},
        body={},
    )
    with pytest.raises(errors.DownloadError):
        lib.add(entry, [])


def test_library_folder_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(errors.ConfigError, match="cannot be created"):
        Library(str(blocker / "lib"))
