"""The inputs the sidebar offers beyond files: the clipboard, multi-view capture of a blockout,
the local reference check and crop; the ways in from Blender's menus, F3 and the keymap; the
Polycount snap; following a job by its Scenario job id. Real Blender, real pixels."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import bpy
import pytest

from tests.blender.test_capture import box, coverage, pixels, set_capture, user_dir  # noqa: F401
from tests.blender.test_generate import (
    add_images,
    core,
    mod,
    server_fixture,  # noqa: F401 - the `server` fixture, used by `yvo`
    settings,
    wait_for,
    yvo_fixture,  # noqa: F401 - the `yvo` fixture
)
from tests.blender.test_operators import job, start_job
from tests.media import png_bytes


def subject_png(folder: Path, name: str, size: int, box: tuple[int, int, int, int]) -> str:
    """An opaque grey picture with a red rectangle (left, bottom, right, top; PNG rows run
    top-down, so `bottom` counts from the bottom)."""
    left, bottom, right, top = box

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        up = size - 1 - y
        return (220, 30, 30) if left <= x < right and bottom <= up < top else (128, 128, 128)

    path = folder / name
    path.write_bytes(png_bytes(size, size, pixel=pixel))
    return str(path)


# -- clipboard ---------------------------------------------------------------------------------


def test_paste_without_an_image_on_the_clipboard_is_refused(user_dir: Path) -> None:  # noqa: F811
    before = len(bpy.data.images)
    with pytest.raises(RuntimeError, match="The clipboard holds no image"):
        bpy.ops.yvo3d.paste_image()
    assert len(settings().images) == 0 and len(bpy.data.images) == before


def test_a_pasted_image_becomes_a_checked_reference(user_dir: Path) -> None:  # noqa: F811
    # What Blender's Paste Image gives: a new image in memory, no file behind it.
    side = 512
    pasted = bpy.data.images.new("Pasted", side, side, alpha=True)
    values = [0.0] * (side * side * 4)
    for y in range(128, 384):
        values[4 * (y * side + 128) : 4 * (y * side + 384)] = [0.2, 0.6, 0.9, 1.0] * 256
    pasted.pixels.foreach_set(values)
    ops = mod("ops.reference_ops")
    index = ops.use_pasted(bpy.context, pasted, new_slot=True)
    slot = settings().images[index]
    assert Path(slot.filepath).is_file() and Path(slot.filepath).parent == user_dir / "captures"
    width, height, written = pixels(slot.filepath)
    assert (width, height) == (side, side)
    assert written[4 * (256 * side + 256) + 2] == pytest.approx(0.9, abs=0.01)
    found = mod("session.runtime").reference_check(mod("settings.properties").slot_key(slot))
    assert found is not None and found.transparent and found.ok, found


def test_manifest_declares_the_clipboard(addon: ModuleType) -> None:
    manifest = Path(addon.__file__).with_name("blender_manifest.toml").read_text()
    assert "clipboard = " in manifest


# -- reference check and crop --------------------------------------------------------------------


def test_check_finds_a_small_off_centre_subject_and_crop_pads_it_square(
    user_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    # A 40 x 20 pixel subject in a 200 x 200 opaque grey picture: too small.
    source = subject_png(tmp_path, "small.png", 200, (20, 130, 60, 150))
    original = source and Path(source).read_bytes()
    add_images([source])
    slot = settings().images[0]
    found = mod("session.runtime").reference_check(mod("settings.properties").slot_key(slot))
    assert found is not None and not found.transparent
    assert "fills only" in found.summary()
    assert any("small image" in p for p in found.problems)
    subject = found.subject
    assert abs(subject.left - 20) <= 2 and abs(subject.right - 60) <= 2
    assert abs(subject.bottom - 130) <= 2 and abs(subject.top - 150) <= 2

    assert bpy.ops.yvo3d.crop_reference() == {"FINISHED"}
    assert Path(source).read_bytes() == original  # the original is untouched
    cropped = settings().images[0].filepath
    assert cropped != source and Path(cropped).is_file()
    width, height, values = pixels(cropped)
    margin = core("reference").MARGIN
    assert width == height
    assert abs(width - 40 / (1 - 2 * margin)) <= 2  # the longer side, 40, plus the margins
    red = [
        (x, y)
        for y in range(height)
        for x in range(width)
        if values[4 * (y * width + x)] > 0.6 and values[4 * (y * width + x) + 1] < 0.3
    ]
    xs, ys = [x for x, _ in red], [y for _, y in red]
    # The subject in the middle, the margin on its longer sides, grey (not black) padding.
    assert abs(min(xs) - (width - 1 - max(xs))) <= 2 and abs(min(ys) - (height - 1 - max(ys))) <= 2
    assert abs(min(xs) - round(width * margin)) <= 2
    assert values[0] == pytest.approx(values[4 * (width // 2)], abs=0.02)  # the background
    after = mod("session.runtime").reference_check(
        mod("settings.properties").slot_key(settings().images[0])
    )
    assert after is not None and "fills only" not in after.summary()


def test_check_of_a_subject_touching_the_edge(user_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    add_images([subject_png(tmp_path, "edge.png", 600, (0, 100, 300, 500))])
    slot = settings().images[0]
    found = mod("session.runtime").reference_check(mod("settings.properties").slot_key(slot))
    assert found.summary().endswith("the subject touches the edge")


# -- multi-view capture ----------------------------------------------------------------------


def test_multi_view_capture_shares_one_scale_and_centre(user_dir: Path) -> None:  # noqa: F811
    # 1 wide (X), 0.5 deep (Y), 2 tall: the front and back see 1 x 2, the side 0.5 x 2.
    target = box("Blockout", (1.0, 0.5, 2.0), (3.0, 1.0, 0.0))
    box("Elsewhere", (5.0, 5.0, 5.0), (-20.0, 0.0, 0.0))  # not selected: not in the frame
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj == target)
    bpy.context.view_layer.objects.active = target
    set_capture(resolution=128, margin=0.1, background="TRANSPARENT")
    assert bpy.ops.yvo3d.capture_views() == {"FINISHED"}
    slots = list(settings().images)
    assert [s.view for s in slots] == ["Front", "Right", "Back"]
    boxes = [coverage(s.filepath)[:4] for s in slots]
    heights = [y1 - y0 for _, y0, _, y1 in boxes]
    bottoms = [y0 for _, y0, _, _ in boxes]
    centres = [(x0 + x1) / 2 for x0, _, x1, _ in boxes]
    widths = [x1 - x0 for x0, _, x1, _ in boxes]
    assert max(heights) - min(heights) <= 1, boxes  # one scale
    assert max(bottoms) - min(bottoms) <= 1, boxes  # one height
    assert max(centres) - min(centres) <= 1, boxes  # one centre
    assert abs(widths[0] - 2 * widths[1]) <= 2 and abs(widths[0] - widths[2]) <= 1, boxes
    # The tallest side fills the frame up to the margin.
    assert heights[0] == pytest.approx(128 * 0.8, abs=2)
    # Three views: a multi-view request, shape only.
    values = mod("settings.properties").settings_dict(settings())
    assert not core("params").DEFAULT_TABLE.is_textured(values, 3)


def test_multi_view_capture_with_a_fourth_view(user_dir: Path) -> None:  # noqa: F811
    target = box("Blockout", (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    bpy.context.view_layer.objects.active = target
    target.select_set(True)
    set_capture(resolution=64)
    assert bpy.ops.yvo3d.capture_views(fourth=True) == {"FINISHED"}
    assert [s.view for s in settings().images] == ["Front", "Right", "Back", "Left"]


# -- menus, F3, keymap -----------------------------------------------------------------------


class _Menu:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **_: Any) -> Any:
            self.calls.append((name, args))
            return SimpleNamespace()

        return record


def _menu_entries(menu: str) -> list[tuple[str, tuple[Any, ...]]]:
    layout = _Menu()
    for draw in getattr(bpy.types, menu)._dyn_ui_initialize():
        if getattr(draw, "__module__", "").startswith("bl_ext.") and "yvo3d" in draw.__module__:
            draw(SimpleNamespace(layout=layout), bpy.context)
    return layout.calls


def test_add_mesh_and_object_menus_list_yvo3d(addon: ModuleType) -> None:
    assert ("operator", ("yvo3d.model_from_image",)) in _menu_entries("VIEW3D_MT_mesh_add")
    assert ("menu", ("YVO3D_MT_object",)) in _menu_entries("VIEW3D_MT_object")
    layout = _Menu()
    bpy.types.YVO3D_MT_object.draw(SimpleNamespace(layout=layout), bpy.context)
    ops = [args[0] for name, args in layout.calls if name == "operator"]
    assert {"yvo3d.capture_reference", "yvo3d.capture_views", "yvo3d.follow_job_id"} <= set(ops)


def test_every_user_facing_operator_is_found_by_f3(addon: ModuleType) -> None:
    hidden = {"yvo3d.set_active_image", "yvo3d.select_job", "yvo3d.copy_job_id"}
    hidden |= {"yvo3d.open_in_scenario", "yvo3d.cancel_job", "yvo3d.resume_job"}
    hidden |= {"yvo3d.dismiss_job", "yvo3d.follow_jobs", "yvo3d.refresh_price"}
    hidden |= {"yvo3d.library_refresh", "yvo3d.library_reveal", "yvo3d.library_delete"}
    hidden |= {"yvo3d.library_more"}  # the list's own button, like Refresh
    hidden |= {"yvo3d.show_jobs"}  # buttons of one job, slot or entry; the follower
    for cls in addon.all_classes():
        if not issubclass(cls, bpy.types.Operator) or cls.bl_idname in hidden:
            continue
        assert "INTERNAL" not in getattr(cls, "bl_options", set()), cls.bl_idname
        assert cls.bl_label and cls.bl_label != cls.bl_idname, cls.bl_idname


def test_model_from_image_adds_photos_like_add_photos(yvo: SimpleNamespace) -> None:
    path = subject_png(yvo.images, "mug.png", 256, (60, 60, 200, 200))
    assert bpy.ops.yvo3d.model_from_image(filepath=path) == {"FINISHED"}
    assert [Path(s.filepath).name for s in settings().images] == ["mug.png"]


def test_keymap_has_previous_and_next_take(addon: ModuleType) -> None:
    keymap = bpy.context.window_manager.keyconfigs.addon.keymaps["3D View"]
    found = {item.idname: item for item in keymap.keymap_items if item.idname.startswith("yvo3d")}
    assert found["yvo3d.previous_take"].type == "LEFT_BRACKET"
    assert found["yvo3d.next_take"].type == "RIGHT_BRACKET"
    assert found["yvo3d.next_take"].ctrl and found["yvo3d.next_take"].alt


# -- Polycount snap ----------------------------------------------------------------------------


def test_polycount_snaps_to_the_models_step(addon: ModuleType) -> None:
    s = settings()
    param = core("params").DEFAULT_TABLE.params["polycount"]
    assert param.step == 1000
    s.polycount = 12345
    assert s.polycount == 12000
    s.polycount = 12500
    assert s.polycount in (12000, 13000)
    s.polycount = 40000
    assert s.polycount == 40000
    problems = core("params").DEFAULT_TABLE.validate(mod("settings.properties").settings_dict(s), 2)
    assert not [p for p in problems if p.field == "polycount"]


# -- follow by job id ----------------------------------------------------------------------------


def test_follow_a_job_by_its_scenario_job_id(yvo: SimpleNamespace) -> None:
    record = start_job(yvo, "Elsewhere")
    manager = mod("session.runtime").existing_manager()
    wait_for(lambda: job(record.id).stage in ("ready", "imported"), timeout=30)
    job_id = job(record.id).job_id
    paid = yvo.server.paid_requests
    with pytest.raises(RuntimeError, match="not a Scenario job id"):
        bpy.ops.yvo3d.follow_job_id(job_id="../../etc/passwd")
    assert bpy.ops.yvo3d.follow_job_id(job_id=job_id) == {"CANCELLED"}  # already listed
    manager.forget(record.id)  # as if it was started on another computer
    before = set(bpy.data.objects)
    # Headless it follows to the end and imports; the job is Scenario's: nothing is paid.
    assert bpy.ops.yvo3d.follow_job_id(job_id=job_id) == {"FINISHED"}
    assert yvo.server.paid_requests == paid
    adopted = [r for r in manager.jobs() if r.job_id == job_id]
    assert len(adopted) == 1 and adopted[0].stage == "imported"
    assert set(bpy.data.objects) - before
    assert settings().active_job == adopted[0].id


# -- what to do about a failed job ------------------------------------------------------------


def test_every_error_class_has_an_action(addon: ModuleType) -> None:
    errors = core("errors")
    jobs_panel = mod("ui.jobs_panel")
    classes = [errors.Yvo3dError]
    codes = set()
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        codes.add(cls.code)
    codes -= {"error", "cancelled"}  # the base class; a cancel is no failure
    assert codes - set(jobs_panel.ACTIONS) == set()
    assert {"not_found", "invalid_request"} <= set(jobs_panel.ACTIONS)  # 404 and 422
    for text in jobs_panel.ACTIONS.values():
        assert len(text) <= 44 and not text.endswith("."), text  # one short line


# -- the active slot and the viewport ------------------------------------------------------------


def test_capture_goes_into_the_slot_the_user_picked(user_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    add_images([subject_png(tmp_path, f"{n}.png", 256, (60, 60, 200, 200)) for n in "ab"])
    assert settings().active_image == 1  # the last one added
    assert bpy.ops.yvo3d.set_active_image(index=0) == {"FINISHED"}
    target = box("Blockout", (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    bpy.context.view_layer.objects.active = target
    target.select_set(True)
    set_capture(resolution=64)
    assert bpy.ops.yvo3d.capture_reference() == {"FINISHED"}
    names = [Path(s.filepath).name for s in settings().images]
    assert names[1] == "b.png" and names[0].startswith("Blockout-")  # slot 1 replaced


def test_show_textures_switches_the_viewports_to_material_preview(addon: ModuleType) -> None:
    views = [
        space
        for area in bpy.context.screen.areas
        for space in area.spaces
        if space.type == "VIEW_3D"
    ]
    assert views
    for view in views:
        view.shading.type = "SOLID"
    assert bpy.ops.yvo3d.show_textures() == {"FINISHED"}
    assert {view.shading.type for view in views} == {"MATERIAL"}
