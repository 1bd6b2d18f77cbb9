"""Secrets in real Blender: the API key and secret never reach a saved .blend, the job store, the
library, a log line at any level, a report, a message, a repr or a traceback; download URLs
never get the Authorization header; plain http is refused off loopback; with online access off
not one request leaves Blender.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import bpy
import pytest

from tests.blender.test_generate import (
    Reports,
    add_images,
    core,
    mod,
    point_at,
    prefs,
    server_fixture,  # noqa: F401 - the `server` fixture, used by `yvo`
    settings,
    store_record,
    wait_for,
    write_png,
    yvo_fixture,  # noqa: F401 - the `yvo` fixture
)
from tests.blender.test_operators import job, start_job
from tests.core.test_secrets import LogCapture, Needles, reprs_of, tracebacks_of
from tests.standin.server import StandIn


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    with LogCapture() as capture:
        yield capture


def raised_by(call: Any) -> RuntimeError:
    with pytest.raises(RuntimeError) as info:
        call()
    return info.value


def runtime_objects() -> list[Any]:
    """Everything the add-on's runtime holds, and a client made from its snapshot."""
    runtime = mod("session.runtime")
    held = [
        value
        for name, value in vars(runtime).items()
        if not name.startswith("__") and not callable(value) and not isinstance(value, type)
    ]
    manager = runtime.existing_manager()
    extra: list[Any] = [runtime.credentials(), prefs(), settings()]
    if manager is not None:
        extra += [manager, manager.jobs(), manager.library.entries()]
    if runtime.credentials() is not None and runtime.credentials().online:
        extra.append(runtime.make_client())
    return held + extra


def proxy_everything_through(server: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any plain-http request, wherever it goes, would be counted by the stand-in."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, server.root_url)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------------------------- tests


def test_no_secret_in_the_blend_files_logs_reports_reprs_or_tracebacks(
    yvo: SimpleNamespace, logs: LogCapture, capfd: pytest.CaptureFixture[str]
) -> None:
    server = yvo.server
    wrong = "secret-WRONG-" + secrets.token_hex(12)
    needles = Needles((server.api_key, server.api_secret), (server.api_key, wrong))
    reports = Reports()
    errors_raised: list[BaseException] = []

    # A happy job, through the Generate button.
    add_images([write_png(yvo.images, "chair.png")])
    settings().name = "Chair"
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    assert bpy.ops.yvo3d.test_connection() == {"FINISHED"}

    # A job that crashes in its worker (an answer it does not expect): a logged traceback,
    # then Resume finishes it.
    server.fault(
        "job",
        status=200,
        body={"job": {"jobId": "job_x", "status": "in-progress", "metadata": ["odd"]}},
        times=None,  # until cleared: the job stalls (resumable), then Resume finishes it
    )
    record = start_job(yvo, "Stool")
    manager = mod("runtime").existing_manager()
    ops = mod("operators")
    assert manager.wait(20, lambda e: ops.handle_event(bpy.context, e, reports), [record.id])
    assert job(record.id).stage in ("stalled", "failed", "imported")
    stalled_code = job(record.id).error_code  # why it stalled (cleared by the resume)
    assert stalled_code == "invalid_response"
    server.clear_faults()
    if job(record.id).stage == "stalled":
        assert bpy.ops.yvo3d.resume_job(job_id=record.id) == {"FINISHED"}, job(record.id)
    assert job(record.id).stage == "imported"

    # Refused credentials: Generate, the price and Test Connection all fail, with messages.
    prefs().api_secret = wrong
    bpy.ops.yvo3d.clear_images()
    add_images([write_png(yvo.images, "lamp.png", tint=60)])
    errors_raised.append(raised_by(bpy.ops.yvo3d.generate))
    assert "refused the API key" in str(errors_raised[-1])
    errors_raised.append(raised_by(bpy.ops.yvo3d.test_connection))
    runtime = mod("runtime")
    runtime.request_price(bpy.context)
    wait_for(lambda: runtime.quote().state not in ("pending", "idle"), timeout=20)
    assert runtime.quote().state == "error"
    reports.items.append(("ERROR", runtime.quote().message))
    reports.items += mod("runtime").take_messages()
    for record_ in manager.jobs():
        reports.items.append(("INFO", f"{record_.message} {record_.error} {record_.hint}"))

    # Everything that was written, said, logged or held.
    blend = yvo.tmp / "scene.blend"
    assert bpy.ops.wm.save_as_mainfile(filepath=str(blend), compress=False) == {"FINISHED"}
    data = blend.read_bytes()
    assert b"yvo3d_job_id" in data  # the file holds the results, so the search is real
    needles.check(data, "the saved .blend")
    assert needles.check_folder(yvo.tmp / "user") >= 5
    assert logs.records and any(r.name.startswith("urllib3") for r in logs.records)
    assert any(r.exc_info for r in logs.records) or stalled_code
    needles.check(logs.text(), "the logs")
    for level, text in reports.items:
        needles.check(text, f"a {level} report")
    for exc in errors_raised:
        needles.check(tracebacks_of(exc), "a traceback")
    for text in reprs_of(runtime_objects()):
        needles.check(text, "a repr")
    captured = capfd.readouterr()
    assert "Chair" in captured.out  # Blender's own report lines and the progress lines
    needles.check(captured.out + captured.err, "Blender's console output")
    downloads = [e for e in server.log if e["route"].startswith("download")]
    assert downloads and not any(e["had_auth"] for e in downloads)
    # Every API call carried it (but the connection test's first, unauthenticated probe).
    api = [e for e in server.log if e["path"].startswith("/v1/") and e["path"] != "/v1/"]
    assert api and all(e["had_auth"] for e in api)
    prefs().api_secret = server.api_secret


def test_plain_http_off_loopback_is_refused_without_any_request(
    yvo: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    server = yvo.server
    proxy_everything_through(server, monkeypatch)
    prefs().service_url = "http://example.com/v1"
    add_images([write_png(yvo.images, "cup.png")])

    refusal = raised_by(bpy.ops.yvo3d.generate)
    assert "Plain http is refused" in str(refusal)
    connection = raised_by(bpy.ops.yvo3d.test_connection)
    assert "Plain http" in str(connection)
    runtime = mod("runtime")
    runtime.request_price(bpy.context)
    wait_for(lambda: runtime.quote().state not in ("pending", "idle"), timeout=10)
    assert runtime.quote().state in ("error", "idle")
    time.sleep(0.2)

    assert server.counts() == {} and server.paid_requests == 0
    needles = Needles((server.api_key, server.api_secret))
    needles.check(str(refusal) + str(connection) + logs.text(), "the refusal")


def test_online_access_off_sends_nothing_at_all(
    yvo: SimpleNamespace, online: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = yvo.server
    server.script_job(seconds=2.0)
    runtime = mod("runtime")
    handlers = mod("handlers")
    record = start_job(yvo, "Crate")  # a job left behind, as by a previous session
    wait_for(lambda: job(record.id).job_id != "")
    assert runtime.shutdown() == []
    proxy_everything_through(server, monkeypatch)
    online(False)
    before = server.counts()
    add_images([write_png(yvo.images, "box.png", tint=20)])

    assert handlers.resume_pending(bpy.context) == []
    bpy.ops.wm.read_homefile(use_empty=True)  # load_post: not resumed either
    add_images([write_png(yvo.images, "box2.png", tint=30)])
    runtime.request_price(bpy.context)
    for name in ("generate", "refresh_price", "test_connection", "resume_job"):
        operator = getattr(bpy.ops.yvo3d, name)
        assert not operator.poll(), name
        assert "Allow Online Access" in str(raised_by(operator)), name
    with pytest.raises(core("errors").ConfigError, match="online access is off"):
        runtime.make_client()
    time.sleep(0.3)  # anything started by mistake would have sent its first request by now

    assert server.counts() == before
    assert [t.name for t in threading.enumerate() if t.name.startswith("yvo3d")] == []
    assert store_record(yvo.tmp, record.id).stage in ("queued", "running")

    # Back online: the job left behind is followed to its end, paid once.
    online(True)
    point_at(server)
    resumed = handlers.resume_pending(bpy.context)
    assert [r.id for r in resumed] == [record.id]
    reports = Reports()
    assert mod("operators").run_to_end(bpy.context, [record.id], reports) == {"FINISHED"}
    assert server.paid_requests == 1


def test_turning_online_access_off_stops_a_running_job_sending(
    yvo: SimpleNamespace, online: Any
) -> None:
    server = yvo.server
    server.script_job(statuses=["in-progress", "in-progress", "success"], seconds=4.5)
    record = start_job(yvo, "Barrel")
    wait_for(lambda: server.count("job") >= 2)
    online(False)
    reports = Reports()
    ops = mod("operators")
    ops.tick(bpy.context, reports)  # the follower's next tick sees the new setting
    wait_for(lambda: job(record.id).stage == "stalled", timeout=5)
    polls = server.count("job")
    time.sleep(0.5)  # several poll intervals (0.1 s in these tests)
    assert server.count("job") == polls, "the worker kept polling with online access off"
    stalled = job(record.id)
    assert "online access is off" in stalled.message and "Resume" in stalled.hint
    assert [t.name for t in threading.enumerate() if t.name.startswith("yvo3d-job")] == []

    # Back online, Resume follows it to the end: paid once.
    online(True)
    ops.tick(bpy.context, reports)
    assert bpy.ops.yvo3d.resume_job(job_id=record.id) == {"FINISHED"}
    assert store_record(yvo.tmp, record.id).stage == "imported"
    assert server.paid_requests == 1
