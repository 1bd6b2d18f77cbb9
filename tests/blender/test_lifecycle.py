"""Add-on lifecycle while jobs run: disable and enable, reload, reinstall, loading another file,
and quitting. Workers stop or resume cleanly; nothing is registered twice; nothing is paid twice.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import addon_utils
import bpy
import pytest

from tests.blender.conftest import ADDON_MODULE
from tests.blender.test_crash_recovery import (
    Blender,
    Session,
    by_id,
    photo,
    session,  # noqa: F401 - the `session` fixture
)
from tests.blender.test_generate import (
    Reports,
    add_images,
    mod,
    point_at,
    server_fixture,  # noqa: F401 - the `server` fixture
    settings,
    store_record,
    wait_for,
    write_png,
    yvo3d_threads,
    yvo_fixture,  # noqa: F401 - the `yvo` fixture
)
from tests.blender.test_operators import job, start_job

# All of it is in the smoke subset the legs without the whole suite run (dev.py).
pytestmark = pytest.mark.smoke


def our_handlers() -> list[str]:
    """Every app handler of the add-on, as "list:module.function"."""
    found = []
    for name in dir(bpy.app.handlers):
        items = getattr(bpy.app.handlers, name)
        if isinstance(items, list):
            found += [
                f"{name}:{getattr(h, '__module__', '')}.{getattr(h, '__name__', '')}"
                for h in items
                if "yvo3d" in str(getattr(h, "__module__", ""))
            ]
    return found


def registered_classes() -> dict[str, int]:
    """Registered YVO3D_* classes by name, with how many registered classes carry each name."""
    counts: dict[str, int] = {}
    seen: set[type] = set()
    stack: list[type] = [bpy.types.bpy_struct]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub in seen:
                continue
            seen.add(sub)
            stack.append(sub)
            if sub.__name__.startswith("YVO3D_") and getattr(sub, "is_registered", False):
                counts[sub.__name__] = counts.get(sub.__name__, 0) + 1
    return counts


def assert_registered_once() -> None:
    package = sys.modules[ADDON_MODULE]
    names = sorted(c.__name__ for c in package.all_classes())
    assert registered_classes() == dict.fromkeys(names, 1)
    assert all(c.is_registered for c in package.all_classes())
    handlers = mod("handlers")
    assert our_handlers() == [f"load_post:{handlers.__name__}.on_load_post"]
    assert [h for h in bpy.app.handlers.load_post if h is handlers.on_load_post]


def assert_nothing_registered() -> None:
    handlers = mod("handlers")
    assert registered_classes() == {}
    assert our_handlers() == []
    assert not hasattr(bpy.types.Scene, "yvo3d")
    for timer in (handlers._resume_at_start, handlers._start_follower):
        assert not bpy.app.timers.is_registered(timer)


def follow_to_end(ids: list[str]) -> Reports:
    reports = Reports()
    assert mod("operators").run_to_end(bpy.context, ids, reports) == {"FINISHED"}, reports.items
    return reports


# ---------------------------------------------------------------------------------- tests


def test_disable_stops_every_thread_and_enable_resumes_the_job(
    yvo: SimpleNamespace, capfd: pytest.CaptureFixture[str]
) -> None:
    server = yvo.server
    server.script_job(seconds=3.0)
    runtime = mod("runtime")
    record = start_job(yvo, "Bench")
    wait_for(lambda: job(record.id).job_id != "")
    # More threads at the moment of the disable: a price being fetched, a connection test
    # waiting on a slow answer.
    add_images([write_png(yvo.images, "price.png", tint=50)])
    runtime.request_price(bpy.context)
    server.fault("model", delay=1.0)
    runtime.start_connection_test()
    wait_for(lambda: {"yvo3d-pricer", "yvo3d-connection-test"} <= set(yvo3d_threads()))

    problems: list[BaseException] = []
    addon_utils.disable(ADDON_MODULE, default_set=True, handle_error=problems.append)
    try:
        assert problems == []
        assert yvo3d_threads() == []
        assert_nothing_registered()
        stored = store_record(yvo.tmp, record.id)
        assert stored.stage in ("queued", "running") and stored.job_id.startswith("job_")
    finally:
        addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=problems.append)
    assert problems == []
    assert_registered_once()
    printed = capfd.readouterr()
    assert "Traceback" not in printed.out + printed.err
    point_at(server)  # a disabled add-on's preferences are reset (Blender's behaviour)

    resumed = mod("handlers").resume_pending(bpy.context)
    assert [r.id for r in resumed] == [record.id]
    follow_to_end([record.id])
    assert store_record(yvo.tmp, record.id).stage == "imported"
    assert "Bench" in bpy.data.collections
    assert server.paid_requests == 1 and server.count("generate") == 1


def test_disable_during_the_paid_request_keeps_the_job_id_that_arrives(
    yvo: SimpleNamespace,
) -> None:
    server = yvo.server
    server.script_job(seconds=1.0)
    server.fault("generate", hold=1.5)  # the job exists; its id is on its way back
    record = start_job(yvo, "Lamp")
    wait_for(lambda: job(record.id).stage == "submitting" and server.paid_requests == 1)

    addon_utils.disable(ADDON_MODULE, default_set=True)
    try:
        # The disable waited for the answer: the id is stored, and no worker outlives it.
        assert yvo3d_threads() == []
        stored = store_record(yvo.tmp, record.id)
        assert stored.stage == "queued" and stored.job_id == server.job_ids()[0]
    finally:
        addon_utils.enable(ADDON_MODULE, default_set=True)
    point_at(server)
    resumed = mod("handlers").resume_pending(bpy.context)
    assert [r.id for r in resumed] == [record.id]
    follow_to_end([record.id])
    assert store_record(yvo.tmp, record.id).stage == "imported"
    assert server.paid_requests == 1


@pytest.mark.parametrize("route", ["job", "download"])
def test_disable_cuts_a_stalled_free_request_instead_of_leaving_its_thread(
    yvo: SimpleNamespace, route: str
) -> None:
    server = yvo.server
    server.script_job(seconds=0.3 if route == "download" else 3.0)
    if route == "download":
        server.fault("download", hold=30.0)  # half the GLB, then silence
    record = start_job(yvo, "Crate")
    wait_for(lambda: job(record.id).job_id != "", timeout=20)
    if route == "job":
        server.fault("job", hold=30.0)  # the next status check gets no answer
    wait_for(lambda: any(e["fault"] for e in server.log if e["route"] == route), timeout=20)
    time.sleep(0.2)  # the worker is now blocked reading that answer

    started = time.monotonic()
    addon_utils.disable(ADDON_MODULE, default_set=True)
    took = time.monotonic() - started
    try:
        assert yvo3d_threads() == [] and took < 2.0, (took, yvo3d_threads())
        stored = store_record(yvo.tmp, record.id)
        assert stored.stage in ("queued", "running", "downloading"), stored.stage
        assert stored.error == ""  # left as it was for a resume, not failed or stalled
    finally:
        addon_utils.enable(ADDON_MODULE, default_set=True)
    point_at(server)
    resumed = mod("handlers").resume_pending(bpy.context)
    assert [r.id for r in resumed] == [record.id]
    follow_to_end([record.id])
    assert store_record(yvo.tmp, record.id).stage == "imported"
    assert server.paid_requests == 1


def test_reload_scripts_while_a_job_runs_registers_everything_once(
    yvo: SimpleNamespace, capfd: pytest.CaptureFixture[str]
) -> None:
    # What Reload Scripts (F8) does to an add-on: disable it (its preferences stay), reload its
    # package module, enable it again.
    server = yvo.server
    server.script_job(seconds=2.0)
    record = start_job(yvo, "Shelf")
    wait_for(lambda: job(record.id).job_id != "")
    package = sys.modules[ADDON_MODULE]

    addon_utils.disable(ADDON_MODULE)
    assert yvo3d_threads() == []
    assert_nothing_registered()
    importlib.reload(package)
    problems: list[BaseException] = []
    addon_utils.enable(ADDON_MODULE, handle_error=problems.append)
    assert problems == []
    assert sys.modules[ADDON_MODULE] is package
    assert_registered_once()
    # A second reload in a row changes nothing either.
    addon_utils.disable(ADDON_MODULE)
    importlib.reload(package)
    addon_utils.enable(ADDON_MODULE, handle_error=problems.append)
    assert problems == []
    assert_registered_once()
    printed = capfd.readouterr()
    assert "Traceback" not in printed.out + printed.err

    resumed = mod("handlers").resume_pending(bpy.context)
    assert [r.id for r in resumed] == [record.id]
    follow_to_end([record.id])
    assert store_record(yvo.tmp, record.id).stage == "imported"
    assert server.paid_requests == 1


def test_reinstalling_over_the_enabled_add_on_reimports_it_and_resumes_the_job(
    session: Session,  # noqa: F811
    tmp_path: Path,
) -> None:
    # Blender's update path drops every module of the package and imports the new copy: in a
    # Blender of its own, because this test process must keep the add-on module it started with.
    server = session.server
    server.script_job(statuses=["queued", "in-progress", "success"], seconds=3.0)
    args = ["--zip", str(session.zip), "--blend", str(session.blend), "--image", photo(tmp_path)]
    process = Blender(["reinstall", *args], session.env())
    session.processes.append(process)
    result = process.finish()

    checks = result["checks"]
    assert checks["reimported"] is True
    assert checks["old_still_registered"] == [] and checks["new_registered"] is True
    every_once = dict.fromkeys(checks["new_class_names"], 1)
    assert checks["before"]["classes"] == every_once
    assert checks["after"]["classes"] == every_once
    assert checks["after"]["handlers"] == checks["before"]["handlers"]
    assert len(checks["after"]["handlers"]) == 1 and checks["handler_is_new"] == [True]
    assert any(t.startswith("yvo3d-job-") for t in checks["before"]["threads"])
    assert checks["after"]["threads"] == []  # the old copy's workers stopped
    assert checks["old_manager_left"] is False
    (local_id,) = result["resumed"]
    assert by_id(result, local_id)["stage"] == "imported"
    assert result["follow"] == ["FINISHED"] and result["threads"] == []
    assert server.paid_requests == 1


def test_loading_another_file_while_a_job_runs_keeps_following_it(yvo: SimpleNamespace) -> None:
    server = yvo.server
    server.script_job(seconds=2.5)
    runtime = mod("runtime")
    ops = mod("operators")
    handlers = mod("handlers")
    other = yvo.tmp / "other.blend"
    bpy.ops.mesh.primitive_cube_add()
    assert bpy.ops.wm.save_as_mainfile(filepath=str(other)) == {"FINISHED"}
    bpy.ops.wm.read_homefile(use_empty=True)
    record = start_job(yvo, "Table")
    wait_for(lambda: job(record.id).job_id != "")
    manager = runtime.existing_manager()
    # As in a window: the modal follower runs, and Blender cancels it when a file loads.
    windowed = pytest.MonkeyPatch()
    windowed.setattr(ops, "headless", lambda: False)
    runtime.follower_active = True
    fake = SimpleNamespace(report=Reports(), _timer=None)
    try:
        ops.YVO3D_OT_follow_jobs.cancel(fake, bpy.context)
        assert runtime.follower_active is False

        assert bpy.ops.wm.open_mainfile(filepath=str(other)) == {"FINISHED"}

        # load_post: the same manager and worker go on (not a second one for the same job),
        # and the follower is started again right after the load.
        assert runtime.existing_manager() is manager
        assert record.id in manager.running()
        assert [t for t in yvo3d_threads() if t.startswith("yvo3d-job-")] == [
            f"yvo3d-job-{record.id}"
        ]
        assert bpy.app.timers.is_registered(handlers._start_follower)
        assert_registered_once()
    finally:
        if bpy.app.timers.is_registered(handlers._start_follower):
            bpy.app.timers.unregister(handlers._start_follower)
        windowed.undo()
    bpy.ops.wm.read_homefile(use_empty=True)  # and once more, headless this time

    follow_to_end([record.id])
    assert "Table" in bpy.data.collections  # imported into the file open at the end
    assert store_record(yvo.tmp, record.id).stage == "imported"
    assert server.paid_requests == 1 and server.count("generate") == 1


def test_quitting_while_a_job_runs_exits_cleanly_and_the_next_blender_finishes_it(
    session: Session,  # noqa: F811
    tmp_path: Path,
) -> None:
    server = session.server
    server.script_job(statuses=["queued", "in-progress", "success"], seconds=3.0)
    first = session.start(photo(tmp_path), "--quit-at", "queued")
    quitting = first.finish()
    assert first.proc.returncode == 0, first.output()
    assert "QUITTING" in first.out
    assert not any("Traceback" in line or "Error" in line for line in first.err), first.output()
    (record,) = quitting["jobs"]
    assert record["stage"] == "queued" and record["job_id"]
    # Blender's exit disabled the add-on, which closed the job store: no WAL file is left.
    assert (session.user_dir / "jobs.sqlite").exists()
    assert not (session.user_dir / "jobs.sqlite-wal").exists()
    assert [r["stage"] for r in session.stored()] == ["queued"]

    result = session.resume().finish()

    assert record["id"] in result["running_after_load"]
    assert by_id(result, record["id"])["stage"] == "imported"
    assert [o["local_id"] for o in result["objects"]] == [record["id"]]
    assert server.paid_requests == 1


def test_disabled_add_on_ignores_a_file_load(yvo: SimpleNamespace) -> None:
    # After a disable nothing of the add-on may run on a load (no stale handler).
    record = start_job(yvo, "Stool")
    wait_for(lambda: job(record.id).stage in ("queued", "running", "ready", "imported"))
    addon_utils.disable(ADDON_MODULE, default_set=True)
    try:
        requests = sum(yvo.server.counts().values())
        bpy.ops.wm.read_homefile(use_empty=True)
        assert yvo3d_threads() == []
        assert sum(yvo.server.counts().values()) == requests
    finally:
        addon_utils.enable(ADDON_MODULE, default_set=True)
    point_at(yvo.server)
    assert settings() is not None
