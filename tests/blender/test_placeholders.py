"""Placeholders in real Blender against the stand-in: replace and fit, swap back, re-fit, takes,
the right-click menu; a failed job or import leaves the placeholder exactly as it was."""

from __future__ import annotations

import math
import os
from types import SimpleNamespace
from typing import Any

import bpy
import pytest
from mathutils import Matrix, Vector

from tests.blender.test_generate import (
    Reports,
    add_images,
    mod,
    new_objects,
    server_fixture,  # noqa: F401 - the `server` fixture, used by `yvo`
    settings,
    wait_for,
    write_png,
    yvo_fixture,  # noqa: F401 - the `yvo` fixture
)
from tests.blender.test_panels import Recorder, draw

REL = 1e-3  # 0.1 %


@pytest.fixture(scope="module")
def popup() -> Any:
    """A layout to draw into (a popup that is never shown: see test_panels)."""
    return bpy.context.window_manager.popmenu_begin__internal("YVO3D placeholders", icon="NONE")


# -- helpers ----------------------------------------------------------------------------------


def cube(
    name: str,
    location: tuple[float, float, float] = (0.0, 0.0, 0.0),
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0),
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> bpy.types.Object:
    """A 2 x 2 x 2 cube (times `scale`), the usual blockout."""
    bpy.ops.mesh.primitive_cube_add(size=2, location=location, rotation=rotation)
    obj = bpy.context.active_object
    obj.name = obj.data.name = name
    obj.scale = scale
    bpy.context.view_layer.update()
    return obj


def select_only(*objects: bpy.types.Object) -> None:
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    for obj in objects:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = objects[0] if objects else None


def frame(obj: bpy.types.Object) -> Matrix:
    location, rotation, _ = obj.matrix_world.decompose()
    return Matrix.LocRotScale(location, rotation, None)


def box(objects: list[bpy.types.Object], space: Matrix | None = None) -> tuple[Vector, Vector]:
    """Bounds of the evaluated mesh vertices, in world space or in `space` (a frame)."""
    bpy.context.view_layer.update()
    to_space = space.inverted() if space is not None else Matrix.Identity(4)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    low = Vector((math.inf,) * 3)
    high = Vector((-math.inf,) * 3)
    for obj in objects:
        if obj.type != "MESH":
            continue
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        for vertex in mesh.vertices:
            point = to_space @ obj.matrix_world @ vertex.co
            for axis in range(3):
                low[axis] = min(low[axis], point[axis])
                high[axis] = max(high[axis], point[axis])
        evaluated.to_mesh_clear()
    return low, high


def close(a: float, b: float, scale: float) -> bool:
    """a and b agree within 0.1 % of `scale` (a size of the box they belong to)."""
    return abs(a - b) <= REL * abs(scale)


def tree(root: bpy.types.Object) -> list[bpy.types.Object]:
    return [root, *root.children_recursive]


def shown(obj: bpy.types.Object) -> bool:
    return not obj.hide_get() and not obj.hide_render


def takes_of(placeholder: bpy.types.Object) -> list[bpy.types.Object]:
    return [root for _, root in mod("placeholders").live_takes(placeholder)]


def snapshot(obj: bpy.types.Object) -> dict[str, Any]:
    """Everything about a placeholder a failed job must leave alone (its new uuid aside)."""
    mesh = obj.data
    return {
        "name": obj.name,
        "matrix_world": [tuple(row) for row in obj.matrix_world],
        "hide": obj.hide_get(),
        "hide_viewport": obj.hide_viewport,
        "hide_render": obj.hide_render,
        "parent": obj.parent.name if obj.parent else None,
        "collections": sorted(c.name for c in obj.users_collection),
        "data": mesh.name,
        "vertices": [tuple(v.co) for v in mesh.vertices],
        "modifiers": [m.name for m in obj.modifiers],
        "props": {k: obj[k] for k in obj.keys() if k != "yvo3d_uuid"},
    }


def prepare(yvo: SimpleNamespace, image: str = "chair.png", tint: int = 0, **values: Any) -> None:
    add_images([write_png(yvo.images, image, tint=tint)])
    s = settings()
    s.name = values.pop("name", "Chair")
    s.placement = "PLACEHOLDER"
    for key, value in values.items():
        setattr(s, key, value)


def check_fit(result: bpy.types.Object, placeholder: bpy.types.Object, mode: str) -> None:
    """The result's box in the placeholder's frame against the placeholder's box (0.1 %)."""
    space = frame(placeholder)
    p_low, p_high = box(tree(placeholder), space)
    r_low, r_high = box(tree(result), space)
    p_size, r_size = p_high - p_low, r_high - r_low
    if mode == "LONGEST":
        assert close(max(r_size), max(p_size), max(p_size)), (r_size, p_size)
    elif mode == "HEIGHT":
        assert close(r_size.z, p_size.z, p_size.z), (r_size, p_size)
    else:  # inside the footprint, touching it on one side
        ratios = (r_size.x / p_size.x, r_size.y / p_size.y)
        assert close(max(ratios), 1.0, 1.0) and min(ratios) <= 1.0 + REL, ratios
    scale = max(p_size)
    assert close(r_low.z, p_low.z, scale), "not standing on the placeholder's floor"
    for axis in (0, 1):
        assert close((r_low[axis] + r_high[axis]) / 2, (p_low[axis] + p_high[axis]) / 2, scale)
    # Uniform scale, the placeholder's rotation.
    sx, sy, sz = result.matrix_world.to_scale()
    assert close(sx, sy, sx) and close(sy, sz, sx), (sx, sy, sz)
    turn = result.matrix_world.to_quaternion().rotation_difference(
        placeholder.matrix_world.to_quaternion()
    )
    assert turn.angle < 1e-4


# -- replacing placeholders -------------------------------------------------------------------


@pytest.mark.smoke
@pytest.mark.parametrize("mode", ["LONGEST", "HEIGHT", "FOOTPRINT"])
def test_one_placeholder_in_each_fit_mode(yvo: SimpleNamespace, mode: str) -> None:
    block = cube("Block", location=(3.0, 1.0, 1.0), rotation=(0, 0, 0.5), scale=(0.5, 1.5, 1.0))
    select_only(block)
    prepare(yvo, fit_mode=mode)
    before = {o.name for o in bpy.data.objects}

    assert bpy.ops.yvo3d.generate() == {"FINISHED"}

    roots = [o for o in new_objects(before) if o.parent is None]
    assert len(roots) == 1
    root = roots[0]
    check_fit(root, block, mode)
    placeholders = mod("placeholders")
    assert root["yvo3d_placeholder"] == "Block"
    assert root["yvo3d_placeholder_uuid"] == block["yvo3d_uuid"]
    assert takes_of(block) == [root]
    assert not shown(block) and block.name in bpy.data.objects  # hidden, kept
    assert shown(root)
    assert placeholders.fit_mode(block) == mode
    assert yvo.server.paid_requests == 1


def test_three_placeholders_one_job_each(yvo: SimpleNamespace) -> None:
    blocks = [
        cube("Crate", location=(0.0, 0.0, 0.5), scale=(0.5, 0.5, 0.5)),
        cube("Tall", location=(4.0, 0.0, 2.0), scale=(0.3, 0.3, 2.0)),
        cube("Wide", location=(-4.0, 2.0, 0.25), scale=(2.0, 1.0, 0.25)),
    ]
    bpy.ops.object.empty_add(location=(9, 9, 9))  # selected too, but not a placeholder
    select_only(*blocks, bpy.context.active_object)
    prepare(yvo, fit_mode="LONGEST")
    ops, placeholders = mod("operators"), mod("placeholders")
    assert placeholders.job_count(bpy.context, settings()) == 3
    assert "3 jobs, 3 x 40 = 120 credits" in placeholders.confirm_message(
        bpy.context, settings(), 40.0
    )
    assert ops.generate_blocker(bpy.context) == ""

    assert bpy.ops.yvo3d.generate() == {"FINISHED"}

    assert yvo.server.paid_requests == 3
    records = mod("runtime").existing_manager().jobs()
    assert sorted(r.name for r in records) == ["Chair (Crate)", "Chair (Tall)", "Chair (Wide)"]
    for block in blocks:
        (root,) = takes_of(block)
        record = next(r for r in records if r.placement["uuid"] == block["yvo3d_uuid"])
        assert root["yvo3d_local_id"] == record.id and record.stage == "imported"
        # Unrotated placeholders: the world boxes themselves agree.
        p_low, p_high = box([block])
        r_low, r_high = box(tree(root))
        p_size, r_size = p_high - p_low, r_high - r_low
        assert close(max(r_size), max(p_size), max(p_size))
        assert close(r_low.z, p_low.z, max(p_size))
        assert close(r_low.x + r_high.x, p_low.x + p_high.x, max(p_size))
        assert close(r_low.y + r_high.y, p_low.y + p_high.y, max(p_size))
        assert not shown(block)


def test_parent_and_collections_are_inherited(yvo: SimpleNamespace) -> None:
    scene = bpy.context.scene
    props = bpy.data.collections.new("Props")
    stage = bpy.data.collections.new("Set")
    scene.collection.children.link(props)
    scene.collection.children.link(stage)
    rig = bpy.data.objects.new("Rig", None)
    scene.collection.objects.link(rig)
    rig.location = (1.0, 2.0, 0.0)
    rig.rotation_euler = (0.0, 0.0, 0.3)
    rig.scale = (2.0, 2.0, 2.0)
    block = cube("Shelf", location=(0.0, 0.0, 0.0), scale=(0.4, 0.2, 0.8))
    for owner in list(block.users_collection):
        owner.objects.unlink(block)
    props.objects.link(block)
    stage.objects.link(block)
    block.parent = rig
    block.location = (0.5, 0.0, 0.8)
    block.rotation_euler = (0.0, 0.0, 0.2)
    bpy.context.view_layer.update()
    prepare(yvo, fit_mode="HEIGHT", placeholder=block)
    select_only(rig)  # the picked placeholder wins over the selection

    assert bpy.ops.yvo3d.generate() == {"FINISHED"}

    (root,) = takes_of(block)
    assert root.parent == rig
    check_fit(root, block, "HEIGHT")
    for owner in (props, stage):
        assert root.name in owner.all_objects
    group = next(c for c in bpy.data.collections if c.get("yvo3d_takes_of") == block["yvo3d_uuid"])
    assert {c.name for c in bpy.data.collections if group.name in c.children} == {"Props", "Set"}
    assert group.name not in scene.collection.children
    assert root.users_collection[0].name in group.children
    # Parented for real: moving the rig moves the result with it.
    before = root.matrix_world.translation.copy()
    rig.location.x += 1.0
    bpy.context.view_layer.update()
    assert abs(root.matrix_world.translation.x - before.x - 1.0) < 1e-5


def test_nothing_changes_until_the_model_is_imported(
    yvo: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops = mod("operators")
    monkeypatch.setattr(ops, "headless", lambda: False)  # the windowed path: returns at once
    yvo.server.script_job(seconds=1.5)
    block = cube("Block", location=(1.0, 0.0, 1.0))
    select_only(block)
    prepare(yvo)
    before = snapshot(block)
    objects = {o.name for o in bpy.data.objects}

    assert bpy.ops.yvo3d.generate("INVOKE_DEFAULT", token=mod("ops.consent").grant()) == {
        "RUNNING_MODAL"
    }
    manager = mod("runtime").existing_manager()
    wait_for(lambda: any(r.job_id for r in manager.jobs()))
    assert snapshot(block) == before
    assert {o.name for o in bpy.data.objects} == objects

    reports = Reports()
    wait_for(lambda: not ops.tick(bpy.context, reports), timeout=20, step=0.05)
    assert not shown(block) and len(takes_of(block)) == 1


# -- failures ---------------------------------------------------------------------------------


def test_a_failed_job_leaves_the_placeholder_exactly_as_it_was(yvo: SimpleNamespace) -> None:
    yvo.server.script_job(outcome="failure", error="No object found in the image.")
    block = cube("Block", location=(1.0, 2.0, 0.5), rotation=(0.1, 0.0, 0.4))
    block.hide_render = True  # the user's own state must come back as it was, too
    select_only(block)
    prepare(yvo)
    before = snapshot(block)
    objects = {o.name for o in bpy.data.objects}
    collections = {c.name for c in bpy.data.collections}

    with pytest.raises(RuntimeError, match="No object found"):
        bpy.ops.yvo3d.generate()

    assert snapshot(block) == before
    assert {o.name for o in bpy.data.objects} == objects
    assert {c.name for c in bpy.data.collections} == collections
    assert yvo.server.paid_requests == 1


def _run_placeholder_job(yvo: SimpleNamespace, block: bpy.types.Object, on_ready: Any) -> Any:
    """A placeholder job as Generate plans it; `on_ready(record)` runs before the import."""
    runtime, ops = mod("runtime"), mod("operators")
    select_only(block)
    prepare(yvo)
    runtime.take_snapshot(bpy.context)
    manager = runtime.manager(bpy.context)
    ((name, placement),) = mod("placeholders").plan(bpy.context, settings(), (0, 0, 0), "Chair")
    path = mod("properties").image_paths(settings())[0]
    defaults = mod("properties").settings_dict(settings())
    record = manager.submit(name=name, images=[path], settings=defaults, placement=placement)
    reports = Reports()

    def on_event(event: Any) -> None:
        if event.kind == "ready":
            on_ready(event.record)
        ops.handle_event(bpy.context, event, reports)

    assert manager.wait(20, on_event, ids=[record.id])
    return manager.get(record.id), reports


def test_a_failed_import_leaves_the_placeholder_exactly_as_it_was(yvo: SimpleNamespace) -> None:
    block = cube("Block", location=(0.0, 0.0, 1.0), scale=(1.0, 0.5, 1.0))
    select_only(block)
    before = snapshot(block)
    objects = {o.name for o in bpy.data.objects}

    def damage(record: Any) -> None:
        with open(record.glb_path, "r+b") as handle:
            handle.seek(12)
            handle.write(b"\x00" * 64)  # the JSON chunk header and start: unreadable

    record, reports = _run_placeholder_job(yvo, block, damage)

    assert record.stage == "ready" and record.message.startswith("Import failed")
    # Refused by the structure check before Blender reads it: no retry is promised (issue 11).
    assert any("Refused to import" in t for t in reports.texts("ERROR"))
    assert not any("press Import to retry" in t for t in reports.texts("ERROR"))
    assert snapshot(block) == before
    assert {o.name for o in bpy.data.objects} == objects


def test_a_failed_placement_removes_the_model_and_leaves_the_placeholder(
    yvo: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    placeholders = mod("placeholders")
    block = cube("Block", location=(0.0, 0.0, 1.0))
    select_only(block)
    before = snapshot(block)
    objects = {o.name for o in bpy.data.objects}
    collections = {c.name for c in bpy.data.collections}
    meshes = {m.name for m in bpy.data.meshes}

    def broken(*_: Any) -> float:
        raise ZeroDivisionError("a bug in the fit")

    with monkeypatch.context() as patch:
        patch.setattr(placeholders, "fit_scale", broken)
        record, reports = _run_placeholder_job(yvo, block, lambda _: None)

    assert record.stage == "ready"
    assert any("could not be put in its placeholder" in t for t in reports.texts("ERROR"))
    assert snapshot(block) == before
    assert {o.name for o in bpy.data.objects} == objects
    assert {c.name for c in bpy.data.collections} == collections
    assert {m.name for m in bpy.data.meshes} == meshes
    # The download is kept: importing it again is free and now lands in the placeholder.
    yvo.server.reset()
    assert bpy.ops.yvo3d.import_job(job_id=record.id) == {"FINISHED"}
    assert len(takes_of(block)) == 1 and not shown(block)
    assert yvo.server.counts() == {}


# -- swap back, re-fit ------------------------------------------------------------------------


def test_swap_back_and_refit(yvo: SimpleNamespace) -> None:
    block = cube("Block", location=(2.0, 0.0, 1.0), rotation=(0, 0, 0.3), scale=(0.6, 0.6, 1.0))
    block.hide_render = True  # the user's render visibility before the swap
    select_only(block)
    prepare(yvo, fit_mode="HEIGHT")
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    (root,) = takes_of(block)
    assert bpy.context.view_layer.objects.active == root

    # One click swaps back: the placeholder exactly as it was, the model hidden, not deleted.
    assert bpy.ops.yvo3d.swap_back() == {"FINISHED"}
    assert not block.hide_get() and block.hide_render  # restored, render state included
    assert all(o.hide_get() and o.hide_render for o in tree(root))
    assert bpy.context.view_layer.objects.active == block
    # ... and one click (on the placeholder) shows the model again.
    assert bpy.ops.yvo3d.swap_back() == {"FINISHED"}
    assert shown(root) and block.hide_get()
    assert bpy.ops.yvo3d.swap_back() == {"FINISHED"}

    # The user edits the placeholder, then re-fits in one click.
    block.location = (-1.0, 3.0, 2.0)
    block.rotation_euler = (0.0, 0.2, 1.1)
    block.scale = (1.5, 0.7, 2.0)
    select_only(block)
    assert bpy.ops.yvo3d.refit() == {"FINISHED"}
    check_fit(root, block, "HEIGHT")
    assert shown(root) and block.hide_get()

    # Another fit mode, from the take itself while the placeholder stays hidden.
    block.scale = (1.5, 0.7, 0.5)
    select_only(root)
    assert bpy.ops.yvo3d.refit(fit="FOOTPRINT") == {"FINISHED"}
    check_fit(root, block, "FOOTPRINT")
    assert mod("placeholders").fit_mode(block) == "FOOTPRINT"
    assert bpy.ops.yvo3d.refit(fit="LONGEST") == {"FINISHED"}
    check_fit(root, block, "LONGEST")


# -- takes ------------------------------------------------------------------------------------


def test_takes_cycle_and_keep(yvo: SimpleNamespace, popup: Any, monkeypatch: Any) -> None:
    server = yvo.server
    block = cube("Block", location=(0.0, 0.0, 1.0))
    select_only(block)
    prepare(yvo, takes=3)
    placeholders = mod("placeholders")
    assert placeholders.job_count(bpy.context, settings()) == 3

    assert bpy.ops.yvo3d.generate() == {"FINISHED"}

    assert server.paid_requests == 3
    roots = takes_of(block)
    assert len(roots) == 3
    # Kept together: every take's collection sits in the placeholder's takes collection.
    groups = {r.users_collection[0].name for r in roots}
    group = bpy.data.collections["Block Takes"]
    assert groups == {c.name for c in group.children}
    assert sum(shown(r) for r in roots) == 1 and not shown(block)
    for root in roots:
        check_fit(root, block, "LONGEST")

    def on_show() -> int:
        visible = [i for i, r in enumerate(roots) if all(shown(o) for o in tree(r))]
        assert len(visible) == 1 and not shown(block)
        return visible[0]

    first = on_show()
    select_only(roots[first])
    assert bpy.ops.yvo3d.next_take() == {"FINISHED"}
    assert on_show() == (first + 1) % 3
    assert bpy.ops.yvo3d.next_take() == {"FINISHED"}
    assert bpy.ops.yvo3d.next_take() == {"FINISHED"}
    assert on_show() == first  # wraps around
    assert bpy.ops.yvo3d.previous_take() == {"FINISHED"}
    kept = on_show()
    assert kept == (first - 1) % 3
    drawn = draw(popup, monkeypatch, "YVO3D_PT_placeholder")
    assert f"Take {kept + 1} of 3" in drawn.labels()
    assert drawn.operators("yvo3d.keep_take") and drawn.operators("yvo3d.next_take")

    library = mod("runtime").existing_manager().library
    others = [r for i, r in enumerate(roots) if i != kept]
    entries = [str(r["yvo3d_library_id"]) for r in others]
    keeper = roots[kept].name
    gone = [o.name for r in others for o in tree(r)]
    assert bpy.ops.yvo3d.keep_take() == {"FINISHED"}

    assert takes_of(block) == [bpy.data.objects[keeper]]
    assert not any(name in bpy.data.objects for name in gone)
    assert len([o for o in bpy.data.objects if o.get("yvo3d_take_id")]) == 1
    assert sorted(t.library for t in placeholders.archived(block)) == sorted(entries)
    assert shown(bpy.data.objects[keeper]) and not shown(block)
    assert not bpy.ops.yvo3d.keep_take.poll()
    drawn = draw(popup, monkeypatch, "YVO3D_PT_placeholder")
    assert "2 archived take(s) in the library" in drawn.labels()
    # Archived, not lost: still in the library, imported again for free.
    server.reset()
    for entry_id in entries:
        entry = library.get(entry_id)
        assert entry is not None and os.path.isfile(entry.glb_path)
    before = {o.name for o in bpy.data.objects}
    assert bpy.ops.yvo3d.import_job(library_id=entries[0]) == {"FINISHED"}
    assert new_objects(before)
    assert server.counts() == {}


def test_takes_at_the_cursor_share_one_place(yvo: SimpleNamespace) -> None:
    add_images([write_png(yvo.images, "lamp.png")])
    s = settings()
    s.name = "Lamp"
    s.takes = 2
    bpy.context.scene.cursor.location = (1.0, -1.0, 0.5)
    before = {o.name for o in bpy.data.objects}

    assert bpy.ops.yvo3d.generate() == {"FINISHED"}

    anchor = bpy.data.objects["Lamp Takes"]
    assert anchor.name not in before and anchor.type == "EMPTY"
    roots = takes_of(anchor)
    assert len(roots) == 2 and sum(shown(r) for r in roots) == 1
    for root in roots:
        low, high = box(tree(root))  # natural size, bottom centre on the cursor
        assert abs((low.x + high.x) / 2 - 1.0) < 1e-4 and abs((low.y + high.y) / 2 + 1.0) < 1e-4
        assert abs(low.z - 0.5) < 1e-4
        assert abs(root.matrix_world.to_scale().x - 1.0) < 1e-6
    select_only(roots[0])
    assert bpy.ops.yvo3d.next_take() == {"FINISHED"}
    assert sum(shown(r) for r in roots) == 1


# -- the right-click menu and its operators ---------------------------------------------------


def test_right_click_menu_and_its_operators(
    yvo: SimpleNamespace, popup: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    server = yvo.server
    other = cube("Other", location=(5.0, 0.0, 1.0))
    block = cube("Block", location=(0.0, 0.0, 1.0))
    select_only(block)
    prepare(yvo, creativity=2)
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    (root,) = takes_of(block)
    ui = mod("placeholder_ops")
    menu = bpy.types.VIEW3D_MT_object_context_menu
    assert ui.draw_context_menu in menu._dyn_ui_initialize()

    def menu_calls(obj: bpy.types.Object) -> list[Any]:
        select_only(obj)
        calls: list[Any] = []
        ui.draw_context_menu(
            SimpleNamespace(layout=Recorder(popup.layout.column(), calls)), bpy.context
        )
        return calls

    assert menu_calls(other) == []  # only for generated objects and placeholders
    assert [c.args[0] for c in menu_calls(root) if c.name == "menu"] == ["YVO3D_MT_object"]
    calls: list[Any] = []
    bpy.types.YVO3D_MT_object.draw(
        SimpleNamespace(layout=Recorder(popup.layout.column(), calls)), bpy.context
    )
    ids = [c.args[0] for c in calls if c.name == "operator"]
    for wanted in ("regenerate", "variation", "swap_back", "refit", "job_details"):
        assert f"yvo3d.{wanted}" in ids

    # Job details: where it came from.
    capfd.readouterr()
    assert bpy.ops.yvo3d.job_details() == {"FINISHED"}
    out = capfd.readouterr().out
    assert (
        root["yvo3d_job_id"] in out
        and "chair.png" in out
        and "Creativity: 2" in out
        and "creativity=" not in out
    )
    assert "Placeholder: Block, take 1 of 1" in out

    # Variation: the panel gets this model's inputs back, aimed at its placeholder.
    s = settings()
    s.creativity = 5
    s.images.clear()
    s.placement = "CURSOR"
    assert bpy.ops.yvo3d.variation() == {"FINISHED"}
    assert s.creativity == 2 and s.placement == "PLACEHOLDER" and s.placeholder == block
    assert [os.path.basename(p.filepath) for p in s.images] == ["chair.png"]
    assert s.name == "Chair" and s.takes == 1

    # Regenerate: same inputs, a new paid take shown in place, the first one kept.
    select_only(root)
    estimates = server.count("estimate")
    assert bpy.ops.yvo3d.regenerate() == {"FINISHED"}
    assert server.paid_requests == 2
    assert server.count("estimate") == estimates + 1  # priced again before paying
    first, second = takes_of(block)
    assert first == root and shown(second) and not shown(first) and not shown(block)
    inputs = [server.job(j)["metadata"]["input"] for j in server.job_ids()]
    assert inputs[0] == inputs[1]  # the same request (same uploaded image, same parameters)
    check_fit(second, block, "LONGEST")

    # Swap back from the menu's operator.
    assert bpy.ops.yvo3d.swap_back() == {"FINISHED"}
    assert shown(block) and not shown(first) and not shown(second)


def test_generate_confirms_the_total_price_in_a_window(
    yvo: SimpleNamespace, popup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops, runtime = mod("operators"), mod("runtime")
    blocks = [cube("A", location=(0, 0, 1)), cube("B", location=(3, 0, 1))]
    select_only(*blocks)
    prepare(yvo, takes=2)
    runtime.request_price(bpy.context)
    wait_for(lambda: runtime.quote().state == "ok")
    cost = runtime.quote().cost
    drawn = draw(popup, monkeypatch, "YVO3D_PT_placement", "YVO3D_PT_generate")
    assert f"Generate 4 ({4 * cost:g} credits)" in [
        c.text for c in drawn.operators("yvo3d.generate")
    ]
    assert f"Price: 4 x {cost:g} = {4 * cost:g} credits" in drawn.labels()
    assert "Replaces A, B" in drawn.labels()

    asked: list[dict[str, Any]] = []

    class WindowManager:
        def invoke_confirm(self, op: Any, event: Any, **kwargs: Any) -> set[str]:
            asked.append(kwargs)
            return {"CANCELLED"}  # the user says no

    monkeypatch.setattr(ops, "headless", lambda: False)
    context = SimpleNamespace(
        window=object(),
        window_manager=WindowManager(),
        scene=bpy.context.scene,
        selected_objects=bpy.context.selected_objects,
        active_object=bpy.context.active_object,
    )
    fake = SimpleNamespace(force=False, report=Reports())
    assert ops.YVO3D_OT_generate.invoke(fake, context, None) == {"CANCELLED"}
    assert len(asked) == 1
    assert asked[0]["message"] == (
        f"Replace 2 placeholders with 2 takes each: 4 jobs, 4 x {cost:g} = {4 * cost:g} credits."
    )
    manager = runtime.existing_manager()
    assert yvo.server.paid_requests == 0 and (manager is None or not manager.jobs())


def test_links_survive_renames_copies_and_a_reload(
    yvo: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops = mod("operators")
    monkeypatch.setattr(ops, "headless", lambda: False)
    block = cube("Block", location=(0.0, 0.0, 1.0))
    select_only(block)
    prepare(yvo)
    assert bpy.ops.yvo3d.generate("INVOKE_DEFAULT", token=mod("ops.consent").grant()) == {
        "RUNNING_MODAL"
    }
    block.name = "Renamed"  # while the job runs: the uuid still finds it
    reports = Reports()
    wait_for(lambda: not ops.tick(bpy.context, reports), timeout=20, step=0.05)
    (root,) = takes_of(block)
    assert root["yvo3d_placeholder"] == "Renamed" and not shown(block)
    root.name = "My Chair"
    select_only(root)
    assert bpy.ops.yvo3d.swap_back() == {"FINISHED"} and shown(block)

    # A copy of the placeholder (Shift+D copies its properties) is a placeholder of its own.
    copy = block.copy()
    copy.name = "Copy"
    bpy.context.scene.collection.objects.link(copy)
    copy.location.x += 3.0
    select_only(copy)
    # force: the same image and parameters are in the library already (the first take).
    yes = mod("ops.consent").grant()  # the confirmation's yes (issue 12)
    assert bpy.ops.yvo3d.generate(force=True, token=yes) in ({"FINISHED"}, {"RUNNING_MODAL"})
    wait_for(lambda: not ops.tick(bpy.context, reports), timeout=20, step=0.05)
    assert copy["yvo3d_uuid"] != block["yvo3d_uuid"]
    assert takes_of(block) == [bpy.data.objects["My Chair"]]
    (copied,) = takes_of(copy)
    assert copied["yvo3d_placeholder"] == "Copy"
    check_fit(copied, copy, "LONGEST")

    # Saved and opened again: the links are data in the file.
    path = str(yvo.tmp / "placeholders.blend")
    assert bpy.ops.wm.save_as_mainfile(filepath=path) == {"FINISHED"}
    assert bpy.ops.wm.open_mainfile(filepath=path) == {"FINISHED"}
    block = bpy.data.objects["Renamed"]
    assert [r.name for r in takes_of(block)] == ["My Chair"]
    select_only(block)
    assert bpy.ops.yvo3d.swap_back() == {"FINISHED"}
    assert shown(bpy.data.objects["My Chair"]) and not shown(block)


def test_replace_needs_a_selection_and_regenerate_works_without_placeholder(
    yvo: SimpleNamespace,
) -> None:
    add_images([write_png(yvo.images, "stool.png")])
    s = settings()
    s.name = "Stool"
    s.placement = "PLACEHOLDER"
    select_only()
    reason = mod("operators").generate_blocker(bpy.context)
    assert reason.startswith("Select the objects to replace")
    with pytest.raises(RuntimeError, match="Select the objects to replace"):
        bpy.ops.yvo3d.generate()
    assert yvo.server.counts() == {}

    s.placement = "CURSOR"
    bpy.context.scene.cursor.location = (2.0, 1.0, 0.0)
    before = {o.name for o in bpy.data.objects}
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    (first,) = [o for o in new_objects(before) if o.parent is None]
    bpy.context.scene.cursor.location = (0.0, 0.0, 0.0)  # a new take goes where the model is
    select_only(first)
    assert bpy.ops.yvo3d.swap_back.poll() is False  # no placeholder to swap back to
    before = {o.name for o in bpy.data.objects}
    assert bpy.ops.yvo3d.regenerate() == {"FINISHED"}
    (second,) = [o for o in new_objects(before) if o.parent is None]
    assert yvo.server.paid_requests == 2
    (a_low, a_high), (b_low, b_high) = box(tree(first)), box(tree(second))
    assert (a_low - b_low).length < 1e-4 and (a_high - b_high).length < 1e-4
