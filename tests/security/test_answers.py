"""Classes 2, 3, 4 and 8 of issue 11 against a lying service (the stand-in with hostile answers):
secrets never come back through the server, nothing from the network reaches a path or a URL
unchecked, text is terminal-safe, malformed answers end clearly and resumably in seconds."""

from __future__ import annotations

import base64
import json
import logging
import os
import time

import pytest

from tests.security import hostile
from tests.security.conftest import FAST_POLL, client_for, manager_for
from tests.standin.server import StandIn
from yvo3d_addon.core import errors, sanitize
from yvo3d_addon.core.batch import Item, StateFile
from yvo3d_addon.core.jobs import Stage
from yvo3d_addon.core.library import Library, new_entry
from yvo3d_addon.core.params import DEFAULT_TABLE

KEY, SECRET = hostile.SECRET_KEY, hostile.SECRET_VALUE
TOKEN = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
LEAKS = (KEY.encode(), SECRET.encode(), TOKEN.encode())
ESCAPES = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x1b[31mred\x1b[0m\r\x08\x9b1m"


@pytest.fixture
def server():
    stand = StandIn(api_key=KEY, api_secret=SECRET).start()
    try:
        yield stand
    finally:
        stand.stop()


def _run(manager, photo, stages=(Stage.FAILED, Stage.STALLED, Stage.READY, Stage.UNKNOWN)):
    rec = manager.submit(name="Vase", images=[photo], settings=DEFAULT_TABLE.defaults())
    started = time.monotonic()
    while (manager.get(rec.id) or rec).stage not in stages:
        assert time.monotonic() - started < 20, manager.get(rec.id)
        time.sleep(0.02)
    return manager.get(rec.id), time.monotonic() - started


def _wait(manager, local_id, stages):
    started = time.monotonic()
    while (manager.get(local_id)).stage not in stages:
        assert time.monotonic() - started < 20, manager.get(local_id)
        time.sleep(0.02)
    return manager.get(local_id)


# -- 2. secrets never come back through the server -------------------------------------------


def test_a_server_echoing_the_credentials_leaves_them_nowhere(server, tmp_path, photo, caplog):
    caplog.set_level(logging.DEBUG)
    server.script_job(
        outcome="failure",
        error=f"bad credentials {KEY}:{SECRET} (Authorization: Basic {TOKEN})",
        hint=f"your secret is {SECRET}",
    )
    manager = manager_for(server, str(tmp_path))
    done, _ = _run(manager, photo)
    manager.shutdown()
    assert done.stage == Stage.FAILED and "bad credentials" in done.message
    # every byte the add-on wrote (job store and its WAL, library) and logged
    written = hostile.every_file_bytes(str(tmp_path)) + caplog.text.encode()
    written += (done.message + done.error + done.hint).encode()
    assert not [leak for leak in LEAKS if leak in written]
    # the batch state file, and a library entry holding service text
    state = StateFile(str(tmp_path / "out" / "yvo3d-batch.json"))
    item = Item(key="a", name="a", images=[photo], settings={}, error=done.error + SECRET)
    state.save([item])
    lib = Library(str(tmp_path / "lib"))
    entry = new_entry(
        id="yj_abc", name=f"n {KEY}", job_id="j", asset_ids=[], glb_asset_id="g",
        fingerprint="f", settings={"note": SECRET}, body={},
    )  # fmt: skip
    with open(lib.glb_dest(entry.id), "wb") as fh:
        fh.write(hostile.pack_glb(*hostile.textured()))
    lib.add(entry, [])
    written = hostile.every_file_bytes(str(tmp_path))
    assert not [leak for leak in LEAKS if leak in written]


def test_an_error_body_with_the_secret_is_scrubbed_everywhere(server, photo):
    server.fault("upload", status=400, body={"reason": f"key {KEY} secret {SECRET} " + ESCAPES})
    client = client_for(server)
    with pytest.raises(errors.InvalidRequestError) as caught:
        client.upload_image(photo)
    text = caught.value.user_text() + repr(caught.value) + str(caught.value)
    assert KEY not in text and SECRET not in text and "\x1b" not in text
    assert "[redacted]" in text


# -- 3. nothing from the network reaches a path or a URL unchecked ------------------------------


def test_a_job_id_with_dots_and_slashes_never_changes_a_request_path(server, tmp_path, photo):
    server.fault("generate", status=200, body={"job": {"jobId": "../../assets/asset_x?y=1"}})
    manager = manager_for(server, str(tmp_path))
    done, _ = _run(manager, photo)
    manager.shutdown()
    assert done.stage == Stage.UNKNOWN and done.job_id == ""
    assert not [e for e in server.log if ".." in e["path"] or "asset_x" in e["path"]]
    client = client_for(server)
    before = client.requests_sent
    for bad in ("../x", "a/b", "..", "a?b", "", "x" * 300):
        with pytest.raises(errors.InvalidResponseError):
            client.get_job(bad)
        with pytest.raises(errors.InvalidResponseError):
            client.get_asset(bad)
    assert client.requests_sent == before


def test_asset_ids_that_would_escape_end_resumable(server, tmp_path, photo):
    body = {"job": {"status": "success", "progress": 1, "metadata": {"assetIds": ["../../x"]}}}
    server.fault("job", status=200, body=body, times=None)
    manager = manager_for(server, str(tmp_path))
    done, took = _run(manager, photo)
    assert done.stage == Stage.STALLED and "malformed result id" in done.message, done
    assert took < 10
    server.clear_faults()
    manager.resume(done.id)
    assert _wait(manager, done.id, {Stage.READY, Stage.FAILED}).stage == Stage.READY
    manager.shutdown()


def test_a_tampered_library_reads_and_deletes_nothing_outside_it(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    lib = Library(str(tmp_path / "lib"))
    folder = tmp_path / "lib" / "yj_evil"
    folder.mkdir()
    (folder / "model.glb").write_bytes(b"glTF")
    data = {"id": "../victim", "name": "x", "created": 0, "job_id": "", "asset_ids": [],
            "glb_asset_id": "", "fingerprint": "", "settings": {}, "body": {}}  # fmt: skip
    (folder / "entry.json").write_text(json.dumps(data))
    assert lib.get("yj_evil") is None  # its id is not its folder's
    data |= {"id": "yj_evil", "preview": "../../victim/keep.txt"}
    (folder / "entry.json").write_text(json.dumps(data))
    assert lib.get("yj_evil") is None  # a file name leaving the folder
    for bad in ("../victim", "..", str(victim), "a/../../victim"):
        with pytest.raises(errors.InvalidResponseError):
            lib.delete(bad)
        with pytest.raises(errors.InvalidResponseError):
            lib.glb_dest(bad)
        assert lib.get(bad) is None
    os.symlink(victim, tmp_path / "lib" / "yj_link")
    with pytest.raises(errors.InvalidResponseError):
        lib.delete("yj_link")
    assert (victim / "keep.txt").read_text() == "precious"


# -- 4. text from the network is printed safely -------------------------------------------------


def test_escape_sequences_from_the_service_never_reach_a_record(server, tmp_path, photo):
    server.script_job(outcome="failure", error="Failed" + ESCAPES, hint="Hint" + ESCAPES)
    manager = manager_for(server, str(tmp_path))
    done, _ = _run(manager, photo)
    manager.shutdown()
    assert done.stage == Stage.FAILED
    for text in (done.message, done.error, done.hint):
        assert sanitize.printable(text) == text and "\x1b" not in text and "\x9b" not in text
    assert "Failed" in done.error and "red" in done.error


def test_printable_removes_every_terminal_control():
    text = sanitize.printable("a" + ESCAPES + "\u202eb\x00c")
    assert text == "a]52;c;cm0gLXJmIH4=red bc".replace("]52;c;cm0gLXJmIH4=", "")


# -- 8. malformed answers end clearly, resumable, in seconds --------------------------------------


@pytest.mark.parametrize(
    ("job", "said"),
    [
        ({"status": 5, "progress": 0.5}, "malformed"),
        ({"status": ["success"], "progress": 1}, "malformed"),
        ({"status": "success", "metadata": {"assetIds": "asset_abc"}}, "malformed"),
        ({"status": "success", "metadata": {"assetIds": {"a": 1}}}, "malformed"),
        ({"status": "thinking-forever", "progress": 0.5}, "does not know"),
    ],
)
def test_malformed_job_answers_end_resumable_in_seconds(server, tmp_path, photo, job, said):
    server.fault("job", status=200, body={"job": job}, times=None)
    manager = manager_for(server, str(tmp_path), poll=FAST_POLL)
    done, took = _run(manager, photo)
    assert done.stage == Stage.STALLED and said in done.message, done
    assert "Resume" in done.hint and took < 10
    assert server.paid_requests == 1
    server.clear_faults()
    manager.resume(done.id)
    assert _wait(manager, done.id, {Stage.READY, Stage.FAILED}).stage == Stage.READY
    manager.shutdown()
    assert server.paid_requests == 1
