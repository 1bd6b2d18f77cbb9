"""The job engine over real loopback HTTP: stages, cancel at each stage, restart recovery,
re-import without network, identical requests, and no secret anywhere on disk or in logs."""

from __future__ import annotations

import logging
import os
import time

import pytest

from tests.media import png_bytes
from tests.standin.fixtures import standin  # noqa: F401
from yvo3d_addon.core.assets import check_glb
from yvo3d_addon.core.client import RetryPolicy, ScenarioClient
from yvo3d_addon.core.jobs import JobManager, PollPolicy, Stage
from yvo3d_addon.core.library import Library
from yvo3d_addon.core.params import DEFAULT_TABLE
from yvo3d_addon.core.store import JobStore

FAST_POLL = PollPolicy(first=0.05, factor=1.5, cap=0.2, overall_timeout=60)


def make_manager(standin, root, poll=FAST_POLL):  # noqa: F811
    def factory(wait):
        return ScenarioClient(
            standin.base_url,
            standin.api_key,
            standin.api_secret,
            retry=RetryPolicy(attempts=3, base=0.01, cap=0.05),
            timeout=(2.0, 3.0),
            wait=wait,
        )

    store = JobStore(os.path.join(root, "jobs.sqlite"))
    return JobManager(store, Library(os.path.join(root, "library")), factory, poll=poll)


@pytest.fixture
def images_dir(tmp_path):
    folder = tmp_path / "in put"
    folder.mkdir()
    paths = []
    for i in range(4):
        path = folder / f"view_{i}.png"
        path.write_bytes(png_bytes(96 + i, 96))
        paths.append(str(path))
    return paths


def submit(manager, paths, **settings):
    merged = DEFAULT_TABLE.defaults() | settings
    return manager.submit(name="Chair", images=paths, settings=merged)


def wait_for(manager, local_id, stages, timeout=20.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        for event in manager.drain():
            if event.record.id == local_id:
                seen.append(event.record.stage)
        record = manager.get(local_id)
        if record is not None and record.stage in stages:
            return record, seen
        time.sleep(0.01)
    raise AssertionError(f"stage never reached {stages}; seen {seen}")


def test_happy_path_ready_in_library(standin, tmp_path, images_dir):  # noqa: F811
    manager = make_manager(standin, str(tmp_path))
    rec = submit(manager, images_dir[:1])
    done, seen = wait_for(manager, rec.id, {Stage.READY, Stage.FAILED})
    assert done.stage == Stage.READY, done.message
    order = [
        Stage.PREPARING,
        Stage.UPLOADING,
        Stage.SUBMITTING,
        Stage.QUEUED,
        Stage.DOWNLOADING,
        Stage.READY,
    ]
    positions = [seen.index(s) for s in order]
    assert positions == sorted(positions)
    assert done.job_id and done.progress == 1.0
    check_glb(done.glb_path)
    entry = manager.library.get(done.library_id)
    assert entry is not None and entry.job_id == done.job_id
    assert entry.images[0]["sha256"] == done.image_hashes[0]
    assert entry.glb_asset_id in done.asset_ids and len(done.asset_ids) >= 2
    assert standin.paid_requests == 1
    assert manager.store.get(rec.id).stage == Stage.READY
    assert manager.running() == []


def test_several_jobs_at_once(standin, tmp_path, images_dir):  # noqa: F811
    manager = make_manager(standin, str(tmp_path))
    recs = [submit(manager, [p]) for p in images_dir[:3]]
    assert manager.wait(30)
    assert [manager.get(r.id).stage for r in recs] == [Stage.READY] * 3
    assert standin.paid_requests == 3


def test_multi_view_is_shape_only_and_sends_no_texture_options(standin, tmp_path, images_dir):  # noqa: F811
    manager = make_manager(standin, str(tmp_path))
    rec = submit(manager, images_dir[:3], hyperMode=True)
    done, _ = wait_for(manager, rec.id, {Stage.READY, Stage.FAILED})
    assert done.stage == Stage.READY
    assert len(done.body["images"]) == 3
    assert "texture" not in done.body and "hyperMode" not in done.body
    assert "polycount" in done.body


def test_invalid_settings_fail_before_anything_is_sent(standin, tmp_path, images_dir):  # noqa: F811
    manager = make_manager(standin, str(tmp_path))
    rec = submit(
        manager,
        images_dir[:1],
        highdetails=True,
        lowpoly=True,
        modelGenerator="ULTIMA_PRIME",
        texture=False,
    )
    done, _ = wait_for(manager, rec.id, {Stage.FAILED})
    assert "Low Poly" in done.message or "lowpoly" in done.message.lower()
    assert standin.count("upload") == 0 and standin.paid_requests == 0


def test_price_rise_after_confirmation_pays_nothing(standin, tmp_path, images_dir):  # noqa: F811
    manager = make_manager(standin, str(tmp_path))
    rec = manager.submit(
        name="c", images=images_dir[:1], settings=DEFAULT_TABLE.defaults(), expected_cost=1.0
    )
    done, _ = wait_for(manager, rec.id, {Stage.FAILED, Stage.READY})
    assert done.stage == Stage.FAILED and "price went up" in done.message
    assert standin.paid_requests == 0


@pytest.mark.parametrize(
    "route, stage",
    [("upload", Stage.UPLOADING), ("estimate", Stage.PRICING)],
)
def test_cancel_before_payment_stops_locally(standin, tmp_path, images_dir, route, stage):  # noqa: F811
    manager = make_manager(standin, str(tmp_path))
    standin.fault(route, status=503, times=None)  # keeps the job retrying at that stage
    rec = manager.submit(
        name="c", images=images_dir[:1], settings=DEFAULT_TABLE.defaults(), expected_cost=1000.0
    )
    wait_for(manager, rec.id, {stage})
    assert manager.cancel(rec.id)
    done, _ = wait_for(manager, rec.id, {Stage.CANCELLED, Stage.FAILED})
    assert done.stage == Stage.CANCELLED and "nothing was paid" in done.message
    assert standin.paid_requests == 0 and standin.count("cancel") == 0


def test_cancel_after_payment_is_dont_import(standin, tmp_path, images_dir):  # noqa: F811
    """Real API: Scenario refuses to cancel custom jobs (400 "Cannot cancel this type of job.
    Action not permitted.", scenario_sdk resources/jobs.py: only inference jobs). The old test
    expected an accepted cancel; now the one cancel request is refused, said so, and the job
    is followed to its end: kept in the library, marked not to import, never "cancelled"."""
    standin.job_seconds = 1.5
    manager = make_manager(standin, str(tmp_path))
    rec = submit(manager, images_dir[:1])
    wait_for(manager, rec.id, {Stage.QUEUED, Stage.RUNNING})
    manager.cancel(rec.id)
    manager.cancel(rec.id)  # a second press must not send a second cancel
    done, seen = wait_for(manager, rec.id, {Stage.READY, Stage.CANCELLED, Stage.FAILED})
    assert done.stage == Stage.READY and done.cancel_requested
    assert "not imported" in done.message and os.path.isfile(done.glb_path)
    assert manager.library.get(done.library_id) is not None
    assert standin.count("cancel") == 1 and standin.paid_requests == 1
    said = [r.message for r in manager.jobs() if r.id == rec.id] + [done.message]
    assert all("before the cancel reached it" not in m for m in said)


def cancel_at(standin, tmp_path, images_dir, stage, **fault):  # noqa: F811
    """Start a job, press Cancel once it reaches `stage`; returns the manager and the job."""
    if fault:
        standin.fault(**fault)
    manager = make_manager(standin, str(tmp_path))
    rec = submit(manager, images_dir[:1])
    wait_for(manager, rec.id, {stage})
    manager.cancel(rec.id)
    return manager, rec


def test_cancel_refusal_is_reported_truthfully(standin, tmp_path, images_dir):  # noqa: F811
    standin.script_job(outcome="never")
    manager, rec = cancel_at(standin, tmp_path, images_dir, Stage.RUNNING)
    deadline = time.monotonic() + 10
    while "Cannot cancel this type of job" not in manager.get(rec.id).message:
        assert time.monotonic() < deadline, manager.get(rec.id).message
        time.sleep(0.02)
    now = manager.get(rec.id)
    assert "will finish and be charged" in now.message
    assert now.stage in (Stage.QUEUED, Stage.RUNNING)
    manager.shutdown()


def test_an_accepted_cancel_is_reported_as_such(standin, tmp_path, images_dir):  # noqa: F811
    standin.cancellable = True  # a service that could cancel (Scenario may one day)
    standin.script_job(outcome="never")
    manager, rec = cancel_at(standin, tmp_path, images_dir, Stage.RUNNING)
    done, _ = wait_for(manager, rec.id, {Stage.CANCELLED, Stage.FAILED})
    assert done.stage == Stage.CANCELLED and "accepted the cancel" in done.message
    assert "charged" in done.message


def test_cancel_during_download_still_keeps_the_paid_result(standin, tmp_path, images_dir):  # noqa: F811
    """Cancel while downloading used to end the job "cancelled" and drop its paid result; the
    job is paid and cannot be cancelled on Scenario, so the download goes on, not imported."""
    fault = {"route": "download", "delay": 1.0}
    manager, rec = cancel_at(standin, tmp_path, images_dir, Stage.DOWNLOADING, **fault)
    done, _ = wait_for(manager, rec.id, {Stage.CANCELLED, Stage.FAILED, Stage.READY})
    assert done.stage == Stage.READY and done.cancel_requested
    check_glb(done.glb_path)


def test_cancel_before_payment_stops_locally(standin, tmp_path, images_dir):  # noqa: F811
    fault = {"route": "upload", "delay": 1.0}
    manager, rec = cancel_at(standin, tmp_path, images_dir, Stage.UPLOADING, **fault)
    done, _ = wait_for(manager, rec.id, {Stage.CANCELLED, Stage.FAILED})
    assert done.stage == Stage.CANCELLED and "nothing was paid" in done.message
    assert standin.paid_requests == 0 and standin.count("cancel") == 0


def test_failed_job_carries_error_and_hint(standin, tmp_path, images_dir):  # noqa: F811
    standin.script_job(
        outcome="failure",
        error="No object found in the image",
        hint="Use a photo with one object on a plain background",
    )
    manager = make_manager(standin, str(tmp_path))
    rec = submit(manager, images_dir[:1])
    done, _ = wait_for(manager, rec.id, {Stage.FAILED})
    assert done.error_code == "job_failed"
    assert "No object found" in done.message and "plain background" in done.message


def test_job_cancelled_on_the_service_side(standin, tmp_path, images_dir):  # noqa: F811
    standin.script_job(outcome="canceled")
    manager = make_manager(standin, str(tmp_path))
    rec = submit(manager, images_dir[:1])
    done, _ = wait_for(manager, rec.id, {Stage.FAILED, Stage.CANCELLED})
    assert done.stage == Stage.FAILED and "cancelled on Scenario" in done.message


def test_unknown_statuses_count_as_running(standin, tmp_path, images_dir):  # noqa: F811
    standin.script_job(statuses=["queued", "thinking-hard", "post-processing", "success"])
    manager = make_manager(standin, str(tmp_path))
    rec = submit(manager, images_dir[:1])
    done, _ = wait_for(manager, rec.id, {Stage.READY, Stage.FAILED})
    assert done.stage == Stage.READY


def test_no_glb_among_assets_stalls_and_stays_resumable(standin, tmp_path, images_dir):  # noqa: F811
    """A paid job whose assets hold no GLB used to end FAILED for good; it is paid and its
    assets may still change (issue 10 item 3), so it stalls and Resume looks again."""
    standin.script_job(assets=("png", "obj", "fbx"))
    manager = make_manager(standin, str(tmp_path))
    rec = submit(manager, images_dir[:1])
    done, _ = wait_for(manager, rec.id, {Stage.FAILED, Stage.STALLED})
    assert done.stage == Stage.STALLED
    assert done.error_code == "no_result" and "no GLB" in done.message
    assert "Resume" in done.hint
    assert not any(e["route"] == "download" for e in standin.log), "never downloads an FBX"
    assert manager.resume(rec.id)
    again, _ = wait_for(manager, rec.id, {Stage.FAILED, Stage.STALLED})
    assert again.stage == Stage.STALLED and standin.paid_requests == 1


def test_never_ending_job_stalls_then_can_be_resumed(standin, tmp_path, images_dir):  # noqa: F811
    standin.script_job(outcome="never")
    poll = PollPolicy(first=0.05, factor=1.5, cap=0.1, overall_timeout=0.6)
    manager = make_manager(standin, str(tmp_path), poll=poll)
    rec = submit(manager, images_dir[:1])
    done, _ = wait_for(manager, rec.id, {Stage.STALLED})
    assert "still running on Scenario" in done.message and "Resume" in done.hint
    polls = standin.count("job")
    assert manager.resume(rec.id)
    wait_for(manager, rec.id, {Stage.RUNNING, Stage.QUEUED})
    time.sleep(0.3)
    assert standin.count("job") > polls
    manager.shutdown()
    assert standin.paid_requests == 1


def test_paid_request_timeout_marks_outcome_unknown_never_resends(standin, tmp_path, images_dir):  # noqa: F811
    standin.fault("generate", delay=4.0, times=None)
    manager = make_manager(standin, str(tmp_path))
    rec = submit(manager, images_dir[:1])
    done, _ = wait_for(manager, rec.id, {Stage.UNKNOWN, Stage.FAILED})
    assert done.stage == Stage.UNKNOWN and "app.scenario.com" in done.hint
    assert standin.paid_requests == 1
    assert manager.resume(rec.id) == []  # an unknown outcome is never re-sent
    time.sleep(0.2)
    assert standin.paid_requests == 1


def test_restart_follows_an_unfinished_job_to_the_end(standin, tmp_path, images_dir):  # noqa: F811
    standin.script_job(seconds=1.5)
    first = make_manager(standin, str(tmp_path))
    rec = submit(first, images_dir[:1])
    wait_for(first, rec.id, {Stage.QUEUED, Stage.RUNNING})
    assert first.shutdown() == []
    assert first.store.get(rec.id).stage in (Stage.QUEUED, Stage.RUNNING)
    second = make_manager(standin, str(tmp_path))  # a new Blender over the same store
    resumed = second.resume()
    assert [r.id for r in resumed] == [rec.id]
    done, _ = wait_for(second, rec.id, {Stage.READY, Stage.FAILED})
    assert done.stage == Stage.READY
    assert standin.paid_requests == 1


def test_restart_after_a_crash_mid_submit_is_outcome_unknown(standin, tmp_path, images_dir):  # noqa: F811
    first = make_manager(standin, str(tmp_path))
    store = first.store
    from yvo3d_addon.core.store import JobRecord

    store.put(
        JobRecord(
            id="yj_crashed",
            name="c",
            stage=Stage.SUBMITTING,
            images=images_dir[:1],
            settings=DEFAULT_TABLE.defaults(),
        )
    )
    second = make_manager(standin, str(tmp_path))
    second.resume()
    done, _ = wait_for(second, "yj_crashed", {Stage.UNKNOWN, Stage.FAILED})
    assert done.stage == Stage.UNKNOWN
    assert standin.paid_requests == 0  # never sent again


def test_restart_before_payment_ends_the_job_unpaid(standin, tmp_path, images_dir):  # noqa: F811
    first = make_manager(standin, str(tmp_path))
    from yvo3d_addon.core.store import JobRecord

    first.store.put(
        JobRecord(
            id="yj_early",
            name="c",
            stage=Stage.UPLOADING,
            images=images_dir[:1],
            settings=DEFAULT_TABLE.defaults(),
        )
    )
    second = make_manager(standin, str(tmp_path))
    assert second.resume() == []
    record = second.get("yj_early")
    assert record.stage == Stage.FAILED and "nothing was paid" in record.message
    assert standin.count("upload") == 0


def test_finished_result_reimports_without_network(standin, tmp_path, images_dir):  # noqa: F811
    manager = make_manager(standin, str(tmp_path))
    rec = submit(manager, images_dir[:1])
    done, _ = wait_for(manager, rec.id, {Stage.READY})
    manager.mark_imported(rec.id, "Chair")
    manager.shutdown()
    requests_before = len(standin.log)
    again = make_manager(standin, str(tmp_path))
    assert again.resume() == []
    record = again.get(rec.id)
    assert record.stage == Stage.IMPORTED and record.imported_as == "Chair"
    entry = again.library.get(record.library_id)
    check_glb(entry.glb_path)
    assert len(standin.log) == requests_before


def test_identical_request_is_recognised(standin, tmp_path, images_dir):  # noqa: F811
    manager = make_manager(standin, str(tmp_path))
    rec = submit(manager, images_dir[:1])
    done, _ = wait_for(manager, rec.id, {Stage.READY})
    hashes = done.image_hashes
    same = DEFAULT_TABLE.fingerprint(DEFAULT_TABLE.defaults(), hashes)
    assert [e.id for e in manager.library.find(same)] == [done.library_id]
    other = DEFAULT_TABLE.fingerprint(
        DEFAULT_TABLE.defaults() | {"textureResolution": "2K"}, hashes
    )
    assert manager.library.find(other) == []
    assert [e.id for e in manager.library.find(same, service=standin.base_url)] == [done.library_id]
    # A result from another service (the stand-in vs the real one) is never offered.
    assert manager.library.find(same, service="https://api.cloud.scenario.com/v1") == []


def test_secrets_never_on_disk_or_in_logs(standin, tmp_path, images_dir, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    standin.fault("job", status=500, times=1)
    manager = make_manager(standin, str(tmp_path))
    ok = submit(manager, images_dir[:1])
    wait_for(manager, ok.id, {Stage.READY})
    standin.fault("generate", status=401, times=1)
    bad = submit(manager, images_dir[1:2])
    failed, _ = wait_for(manager, bad.id, {Stage.FAILED})
    assert failed.error_code == "auth"
    manager.shutdown()
    secrets = [standin.api_key.encode(), standin.api_secret.encode()]
    for folder, _, files in os.walk(tmp_path):
        for name in files:
            data = open(os.path.join(folder, name), "rb").read()
            for secret in secrets:
                assert secret not in data, f"secret found in {name}"
    text = caplog.text + repr(manager.jobs())
    assert standin.api_key not in text and standin.api_secret not in text


def test_corrupt_store_is_moved_aside(tmp_path):
    path = tmp_path / "jobs.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = JobStore(str(path))
    assert store.recovered_from and os.path.exists(store.recovered_from)
    assert store.all() == []


@pytest.mark.parametrize(
    "current, age, progressed, expected",
    [
        (2.0, 5, True, 2.0),  # progress: back to the first interval
        (2.0, 5, False, 2.8),  # no progress: slower
        (14.0, 5, False, 15.0),  # capped
        (2.0, 120, True, 4.0),  # an older job is polled less often even with progress
        (2.0, 900, True, 8.0),
    ],
)
def test_poll_policy(current, age, progressed, expected):
    assert PollPolicy().next(current, age, progressed) == pytest.approx(expected)


@pytest.mark.parametrize("route", ["job", "asset", "download"])
def test_paid_job_survives_a_lasting_outage_and_resumes(standin, tmp_path, images_dir, route):  # noqa: F811
    manager = make_manager(standin, str(tmp_path))
    standin.fault(route, status=503, times=None)
    rec = submit(manager, images_dir[:1])
    stalled, _ = wait_for(manager, rec.id, {Stage.STALLED, Stage.FAILED, Stage.READY})
    assert stalled.stage == Stage.STALLED and stalled.job_id
    assert "nothing is lost" in stalled.hint and "Resume" in stalled.hint
    assert standin.paid_requests == 1
    standin.reset()  # the outage ends (and the counts start again from zero)
    assert [r.id for r in manager.resume(rec.id)] == [rec.id]
    done, _ = wait_for(manager, rec.id, {Stage.READY, Stage.FAILED})
    assert done.stage == Stage.READY
    check_glb(done.glb_path)
    assert standin.paid_requests == 0  # resuming never pays again
