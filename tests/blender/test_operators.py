"""The UI operators in real Blender: the modal tick, cancel, re-import, image slots, resume."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import bpy
import pytest

from tests.blender.test_generate import (
    Reports,
    add_images,
    core,
    mesh_bounds,
    mod,
    new_objects,
    point_at,
    server_fixture,  # noqa: F401 - the `server` fixture, used by `yvo`
    settings,
    store_record,
    wait_for,
    write_png,
    yvo_fixture,  # noqa: F401 - the `yvo` fixture
)

TIMER = SimpleNamespace(type="TIMER", value="NOTHING")
ESCAPE = SimpleNamespace(type="ESC", value="PRESS")


def start_job(yvo: SimpleNamespace, name: str = "Job", png: str = "") -> Any:
    """A job started the way Generate starts it, without blocking (background mode would)."""
    runtime = mod("runtime")
    runtime.take_snapshot(bpy.context)
    manager = runtime.manager(bpy.context)
    path = png or write_png(yvo.images, f"{name.lower()}.png")
    defaults = core("params").DEFAULT_TABLE.defaults()
    return manager.submit(name=name, images=[path], settings=defaults)


def job(record_id: str) -> Any:
    return mod("runtime").existing_manager().get(record_id)


def test_tick_and_modal_return_at_once_while_a_job_runs(yvo: SimpleNamespace) -> None:
    yvo.server.script_job(seconds=2.0)
    ops = mod("operators")
    runtime = mod("runtime")
    record = start_job(yvo, "Stool")
    manager = runtime.existing_manager()
    fake = SimpleNamespace(report=Reports(), _timer=None)
    runtime.follower_active = True  # as the operator's invoke would have set it
    tick_times: list[float] = []
    modal_times: list[float] = []
    result: set[str] = set()
    deadline = time.monotonic() + 20
    while result != {"FINISHED"}:
        assert time.monotonic() < deadline, "the follower never finished"
        running = record.id in manager.running()
        imported_before = len(fake.report.texts("INFO"))
        started = time.perf_counter()
        result = ops.YVO3D_OT_generate.modal(fake, bpy.context, TIMER)
        elapsed = time.perf_counter() - started
        imported = len(fake.report.texts("INFO")) > imported_before
        if running and not imported:  # an import is real work; everything else is instant
            modal_times.append(elapsed)
        # Keys pass through untouched: a stray Esc never stops a paid job.
        assert ops.YVO3D_OT_generate.modal(fake, bpy.context, ESCAPE) == {"PASS_THROUGH"}
        if running and result != {"FINISHED"}:
            started = time.perf_counter()
            ops.tick(bpy.context, fake.report)
            if len(fake.report.texts("INFO")) == imported_before:
                tick_times.append(time.perf_counter() - started)
        time.sleep(0.05)
    assert len(modal_times) >= 5 and len(tick_times) >= 5
    assert max(modal_times) < 0.05, modal_times
    assert max(tick_times) < 0.05, tick_times
    assert runtime.follower_active is False
    assert job(record.id).stage == "imported"
    assert "Stool" in bpy.data.collections
    assert any("Stool: imported" in t for t in fake.report.texts("INFO"))
    assert yvo.server.paid_requests == 1


def test_cancel_after_payment_is_dont_import(yvo: SimpleNamespace) -> None:
    """Real API: Scenario refuses to cancel custom jobs such as YVO3D's (400 "Cannot cancel
    this type of job. Action not permitted.", scenario_sdk resources/jobs.py: only inference
    jobs). The old test expected an accepted cancel; now the paid job is followed to its end,
    kept in the library and not put in the scene, and the user is told it is charged."""
    server = yvo.server
    server.script_job(seconds=1.5)
    ops = mod("operators")
    record = start_job(yvo, "Crate")
    wait_for(lambda: job(record.id).job_id != "")

    assert bpy.ops.yvo3d.cancel_job(job_id=record.id) == {"FINISHED"}
    reports = Reports()
    manager = mod("runtime").existing_manager()
    assert manager.wait(15, lambda e: ops.handle_event(bpy.context, e, reports), ids=[record.id])

    done = job(record.id)
    assert done.stage == "ready" and done.cancel_requested
    assert store_record(yvo.tmp, record.id).stage == "ready"
    assert "Crate" not in bpy.data.collections, "not put in the scene"
    assert manager.library.get(done.library_id) is not None, "kept in the library"
    assert server.count("cancel") == 1 and server.paid_requests == 1
    assert any("not imported" in t for t in reports.texts("INFO"))
    # Nothing left to cancel: said plainly, not an error.
    assert bpy.ops.yvo3d.cancel_job(job_id=record.id) == {"CANCELLED"}


def test_cancel_before_payment_stops_locally(yvo: SimpleNamespace) -> None:
    server = yvo.server
    server.fault("upload", delay=1.5)
    ops = mod("operators")
    record = start_job(yvo, "Box")
    wait_for(lambda: job(record.id).stage == "uploading")
    assert bpy.ops.yvo3d.cancel_job(job_id=record.id) == {"FINISHED"}
    reports = Reports()
    manager = mod("runtime").existing_manager()
    assert manager.wait(15, lambda e: ops.handle_event(bpy.context, e, reports), ids=[record.id])
    assert job(record.id).stage == "cancelled" and server.paid_requests == 0
    assert any("nothing was paid" in t for t in reports.texts("INFO"))


def test_import_job_reimports_from_the_library_without_any_request(yvo: SimpleNamespace) -> None:
    server = yvo.server
    add_images([write_png(yvo.images, "chair.png")])
    settings().name = "Chair"
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    local_id = bpy.data.collections["Chair"].all_objects[0]["yvo3d_local_id"]
    server.reset()
    before = {o.name for o in bpy.data.objects}
    bpy.context.scene.cursor.location = (4.0, 0.0, 0.0)

    assert bpy.ops.yvo3d.import_job(job_id=local_id) == {"FINISHED"}

    again = new_objects(before)
    assert again and all(o.users_collection[0].name == "Chair.001" for o in again)
    root = next(o for o in again if o.parent is None)
    assert root["yvo3d_local_id"] == local_id
    assert server.counts() == {}
    with pytest.raises(RuntimeError, match="no downloaded model"):
        bpy.ops.yvo3d.import_job(job_id="yj_missing")


def test_add_images_refuses_a_text_file_named_png(
    yvo: SimpleNamespace, capfd: pytest.CaptureFixture[str]
) -> None:
    fake = yvo.images / "notes.png"
    fake.write_text("shopping list\nmilk\neggs\n")
    with pytest.raises(RuntimeError, match=r'"[^"]*notes\.png" is not an image'):
        bpy.ops.yvo3d.add_images(filepath=str(fake))
    assert len(settings().images) == 0

    # Several files at once (the file browser, or a drop on the viewport): the good one is
    # added, the bad one reported as a warning.
    good = write_png(yvo.images, "good.png")
    result = bpy.ops.yvo3d.add_images(
        directory=str(yvo.images), files=[{"name": "notes.png"}, {"name": "good.png"}]
    )
    assert result == {"FINISHED"}
    assert [s.filepath for s in settings().images] == [good]
    assert "is not an image" in capfd.readouterr().out

    extra = [write_png(yvo.images, f"v{i}.png", tint=i * 30) for i in range(4)]
    add_images(extra[:3])
    with pytest.raises(RuntimeError, match="at most 4 reference images"):
        bpy.ops.yvo3d.add_images(filepath=extra[3])
    assert len(settings().images) == 4


def test_blender_images_as_references(yvo: SimpleNamespace, tmp_path: Any) -> None:
    bpy.ops.wm.read_homefile()  # the default scene: a camera, a cube, an empty Render Result
    point_at(yvo.server)
    rendered = bpy.data.images.get("Render Result")
    assert rendered is not None and not rendered.has_data
    with pytest.raises(RuntimeError, match="nothing has been rendered yet"):
        bpy.ops.yvo3d.add_blender_image(image="Render Result")
    ghost = bpy.data.images.new("Ghost", 64, 64)
    ghost.source = "FILE"
    ghost.filepath = str(tmp_path / "missing.png")
    with pytest.raises(RuntimeError, match='"Ghost" has no pixels'):
        bpy.ops.yvo3d.add_blender_image(image="Ghost")
    assert len(settings().images) == 0

    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 1
    scene.render.resolution_x = scene.render.resolution_y = 64
    scene.render.resolution_percentage = 100
    bpy.ops.render.render()
    assert bpy.ops.yvo3d.add_blender_image(image="Render Result") == {"FINISHED"}
    slot = settings().images[0]
    assert slot.image == rendered and slot.filepath == ""
    copies = mod("properties").image_paths(settings())
    assert len(copies) == 1 and copies[0].startswith(str(yvo.tmp / "user" / "tmp"))
    core("images").check(copies[0])  # a real PNG of the render

    settings().name = "Rendered"
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    assert "Rendered" in bpy.data.collections
    assert yvo.server.paid_requests == 1


def test_a_painted_image_is_sent_as_painted_not_blank(yvo: SimpleNamespace) -> None:
    # A generated image painted on (a quick sketch): `Image.copy()` would be generated again,
    # blank, when saved, and a blank picture would go to a paid job. The copy keeps the paint.
    sketch = bpy.data.images.new("Sketch", 64, 64, alpha=True)
    red = [1.0, 0.0, 0.0, 1.0] * (64 * 64)
    sketch.pixels.foreach_set(red)
    assert bpy.ops.yvo3d.add_blender_image(image="Sketch") == {"FINISHED"}
    [copy] = mod("properties").image_paths(settings())
    saved = bpy.data.images.load(copy)
    try:
        assert [round(v, 3) for v in saved.pixels[:4]] == [1.0, 0.0, 0.0, 1.0]
        assert saved.size[:] == (64, 64)
    finally:
        bpy.data.images.remove(saved)
    assert not [i for i in bpy.data.images if i.name.startswith("YVO3D copy")]


def test_a_second_click_while_the_same_job_runs_pays_nothing(yvo: SimpleNamespace) -> None:
    server = yvo.server
    server.script_job(seconds=2.0)
    png = write_png(yvo.images, "twice.png")
    add_images([png])
    record = start_job(yvo, "Twice", png=png)
    wait_for(lambda: job(record.id).fingerprint != "")

    assert bpy.ops.yvo3d.generate() == {"CANCELLED"}  # "already running": a warning

    reports = Reports()
    assert mod("operators").run_to_end(bpy.context, [record.id], reports) == {"FINISHED"}
    assert server.paid_requests == 1


def test_a_price_check_the_service_took_for_a_generation_is_followed_and_never_paid_again(
    yvo: SimpleNamespace,
) -> None:
    # A service or proxy that ignores dryRun: the panel's price check starts a paid job. The
    # job is followed, known by its request, so pressing Generate for that request pays
    # nothing; and no other price check is sent (each would start another paid job).
    server = yvo.server
    server.ignore_dry_run = True
    server.script_job(seconds=2.0)
    runtime = mod("runtime")
    add_images([write_png(yvo.images, "priced.png")])
    runtime.request_price(bpy.context)
    wait_for(lambda: runtime.quote().state not in ("pending", "idle"), timeout=20)
    assert "followed in the Jobs panel" in runtime.quote().message
    manager = runtime.existing_manager()
    [adopted] = manager.jobs()
    assert adopted.job_id == server.job_ids()[0] and adopted.fingerprint
    assert server.paid_requests == 1

    assert bpy.ops.yvo3d.generate() == {"CANCELLED"}  # "already running": nothing sent
    bpy.ops.mesh.primitive_cube_add()
    settings().placement = "PLACEHOLDER"  # aimed at a placeholder: still the same paid request
    settings().placeholder = bpy.context.active_object
    assert bpy.ops.yvo3d.generate() == {"CANCELLED"}
    settings().placement = "CURSOR"
    settings().textureResolution = "4K"
    runtime.request_price(bpy.context)
    wait_for(lambda: runtime.quote().state not in ("pending", "idle"), timeout=20)
    assert "no more price checks are sent" in runtime.quote().message
    assert server.paid_requests == 1 and server.count("generate") == 1

    reports = Reports()
    assert mod("operators").run_to_end(bpy.context, [adopted.id], reports) == {"FINISHED"}
    assert job(adopted.id).stage == "imported"


def test_a_library_folder_that_cannot_be_used_never_breaks_a_price_check(
    yvo: SimpleNamespace,
) -> None:
    # The price is asked for on every settings change (a property update): a library folder
    # that cannot be made must not turn that into a traceback; the price still comes.
    runtime = mod("runtime")
    (yvo.tmp / "user").mkdir(exist_ok=True)
    (yvo.tmp / "user" / "library").write_text("a file where the folder should be")
    add_images([write_png(yvo.images, "priced.png")])
    runtime.request_price(bpy.context)
    assert runtime.existing_manager() is None
    wait_for(lambda: runtime.quote().state not in ("pending", "idle"), timeout=20)
    assert runtime.quote().state == "ok" and yvo.server.paid_requests == 0


def test_load_post_resumes_unfinished_jobs(yvo: SimpleNamespace, online: Any) -> None:
    server = yvo.server
    server.script_job(seconds=2.0)
    runtime = mod("runtime")
    record = start_job(yvo, "Shelf")
    wait_for(lambda: job(record.id).job_id != "")
    assert runtime.shutdown() == []  # Blender quits: workers stop, the store keeps the job
    assert runtime.existing_manager() is None

    online(False)
    bpy.ops.wm.read_homefile(use_empty=True)  # load_post: nothing may go online now
    assert runtime.existing_manager() is None
    assert store_record(yvo.tmp, record.id).stage in ("queued", "running")

    online(True)
    bpy.ops.wm.read_homefile(use_empty=True)
    manager = runtime.existing_manager()
    assert manager is not None and manager.running() == [record.id]
    reports = Reports()
    assert mod("operators").run_to_end(bpy.context, [record.id], reports) == {"FINISHED"}
    assert "Shelf" in bpy.data.collections
    assert server.paid_requests == 1


def test_connection_test_reports_success_and_bad_keys(yvo: SimpleNamespace) -> None:
    assert bpy.ops.yvo3d.test_connection() == {"FINISHED"}
    runtime = mod("runtime")
    assert runtime.connection.state == "ok"
    bpy.context.preferences.addons[
        mod("preferences").BASE_PACKAGE
    ].preferences.api_secret = "wrong-secret-value"
    with pytest.raises(RuntimeError):
        bpy.ops.yvo3d.test_connection()
    assert runtime.connection.state == "error"
    assert "wrong-secret-value" not in runtime.connection.message
    assert yvo.server.count("model") == 2


def test_file_handler_takes_image_drops_in_the_viewport(addon: Any) -> None:
    handler = getattr(bpy.types, "YVO3D_FH_reference_images", None)
    assert handler is not None
    assert handler.bl_import_operator == "yvo3d.add_images"
    assert {".png", ".jpg", ".webp"} <= set(handler.bl_file_extensions.split(";"))
    assert not handler.poll_drop(SimpleNamespace(area=None))
    assert handler.poll_drop(SimpleNamespace(area=SimpleNamespace(type="VIEW_3D")))
    assert not handler.poll_drop(SimpleNamespace(area=SimpleNamespace(type="NODE_EDITOR")))


def test_windowed_generate_starts_one_modal_follower(
    yvo: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops = mod("operators")
    runtime = mod("runtime")
    monkeypatch.setattr(ops, "headless", lambda: False)  # take the path a user's click takes
    server = yvo.server
    add_images([write_png(yvo.images, "first.png")])

    # Module mode runs an INVOKE as execute: the token is the yes of the price confirmation
    # a click shows (issue 12: no credits without a yes; test_artist_flow drives the dialog).
    yes = mod("ops.consent").grant
    assert bpy.ops.yvo3d.generate("INVOKE_DEFAULT", token=yes()) == {"RUNNING_MODAL"}
    assert runtime.follower_active
    # A second Generate (another image) only submits: one follower follows every job.
    settings().images[0].filepath = write_png(yvo.images, "second.png", tint=60)
    assert bpy.ops.yvo3d.generate("INVOKE_DEFAULT", token=yes()) == {"FINISHED"}
    manager = runtime.existing_manager()
    assert len(manager.jobs()) == 2

    # Timers never fire without a display: run the follower's tick by hand.
    reports = Reports()
    wait_for(lambda: not ops.tick(bpy.context, reports), timeout=20, step=0.05)
    assert sorted(r.stage for r in manager.jobs()) == ["imported", "imported"]
    assert len([t for t in reports.texts("INFO") if ": imported" in t]) == 2
    assert server.paid_requests == 2


def test_placeholder_is_replaced_in_place(yvo: SimpleNamespace) -> None:
    bpy.ops.mesh.primitive_cube_add(size=2, location=(3.0, 1.0, 0.5), rotation=(0, 0, 0.5))
    cube = bpy.context.active_object
    cube.scale = (0.5, 0.5, 1.5)  # 1 x 1 x 3, bottom at z = -1
    add_images([write_png(yvo.images, "chair.png")])
    s = settings()
    s.name = "Swapped"
    s.placement = "PLACEHOLDER"
    s.placeholder = cube
    s.fit_mode = "HEIGHT"

    assert bpy.ops.yvo3d.generate() == {"FINISHED"}

    objects = list(bpy.data.collections["Swapped"].all_objects)
    low, high = mesh_bounds(objects)
    assert abs((high.z - low.z) - 3.0) < 1e-3  # scaled to the placeholder's height
    assert abs(low.z + 1.0) < 1e-3  # standing on the placeholder's floor
    assert abs((low.x + high.x) / 2 - 3.0) < 0.05 and abs((low.y + high.y) / 2 - 1.0) < 0.05
    root = next(o for o in objects if o.parent is None)
    assert abs(root.matrix_world.to_euler().z - 0.5) < 1e-4
    assert root["yvo3d_placeholder"] == cube.name
    assert cube.hide_get() and cube.hide_render  # hidden, not deleted
    assert cube.name in bpy.data.objects
