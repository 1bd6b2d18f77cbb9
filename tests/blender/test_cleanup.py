"""The import clean-up preset in real Blender: each step checked by the numbers, through the
import path the add-on uses (operators.import_result), and the rotate-by-90 buttons."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType
from typing import Any

import bmesh
import bpy
import pytest
from mathutils import Euler, Matrix, Vector

from tests.blender import test_panels
from tests.blender.test_generate import core, mesh_bounds, mod, prefs
from tests.blender.test_panels import Recorder, draw
from tests.standin import glb

TOL = 1e-4
popup = test_panels.popup  # the fixture: a real UILayout to draw into
ALL_OFF = dict(
    origin_bottom=False,
    apply_scale=False,
    merge=False,
    auto_smooth=False,
    decimate=False,
    cap_textures=False,
    mark_asset=False,
)


def write_glb(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


def override(**values: Any) -> Any:
    """Turn on the scene's override with every step off except `values`."""
    group = bpy.context.scene.yvo3d_import
    group.use_override = True
    for key, value in {**ALL_OFF, **values}.items():
        setattr(group, key, value)
    return group


def import_model(path: str, name: str = "Vase") -> Any:
    """Import the way a finished job is imported (the clean-up runs at its end)."""
    return mod("operators").import_result(
        bpy.context,
        glb_path=path,
        name=name,
        settings=core("params").DEFAULT_TABLE.defaults(),
        image_names=["photo.png"],
        placement={"mode": "CURSOR"},
        stamp={"job_id": "job-cleanup", "images": ["photo.png"], "params": {}},
        use_recorded_location=False,
    )


def meshes(result: Any) -> list[bpy.types.Object]:
    return [o for o in result.objects if o.type == "MESH"]


def vertex_count(objects: list[bpy.types.Object]) -> int:
    return sum(len(o.data.vertices) for o in objects if o.type == "MESH")


def world_vertices(obj: bpy.types.Object) -> list[Vector]:
    return [obj.matrix_world @ v.co for v in obj.data.vertices]


@pytest.fixture
def cleanup(addon: ModuleType, tmp_path: Path) -> ModuleType:
    return mod("cleanup")


@pytest.fixture
def vase(tmp_path: Path) -> str:
    return write_glb(tmp_path, "vase.glb", glb.textured_glb(triangles=2000, texture_size=64))


def test_preferences_preset_runs_on_every_import(cleanup: ModuleType, tmp_path: Path) -> None:
    big = write_glb(tmp_path, "big.glb", glb.textured_glb(triangles=6000, texture_size=64))
    preset = prefs().import_options
    defaults = cleanup.Options()
    # The preset as shipped: the cheap steps on (origin, scale, smoothing); merging by distance
    # (topology, about the glTF import's own time), decimate and the texture cap asked for.
    assert (preset.origin_bottom, preset.apply_scale, preset.auto_smooth) == (True, True, True)
    assert not preset.merge and not preset.decimate and not preset.cap_textures
    assert not preset.mark_asset
    effective = mod("preferences").effective_import_options(bpy.context)
    for key, value in vars(defaults).items():
        assert getattr(effective, key) == pytest.approx(value), key
    try:
        preset.decimate = True
        preset.triangle_budget = 2000
        bpy.context.scene.cursor.location = (1.0, 2.0, 0.5)
        result = import_model(big)
        assert cleanup.triangle_count(result.objects) <= 2000
        root = result.root
        low, high = mesh_bounds(result.objects)
        base = Vector(((low.x + high.x) / 2, (low.y + high.y) / 2, low.z))
        assert (root.matrix_world.translation - base).length < TOL
        # Still on the cursor (decimation moves the bounds by a hair, not more).
        assert (base - Vector((1.0, 2.0, 0.5))).length < 2e-3

        # A scene override wins over the preset: the next import is not decimated.
        override(origin_bottom=True)
        again = import_model(big, "Vase Full")
        assert cleanup.triangle_count(again.objects) == glb.vase_mesh(6000).triangle_count
    finally:
        preset.decimate = False
        preset.triangle_budget = defaults.triangle_budget


def corner_normals(mesh: bpy.types.Mesh) -> list[Vector]:
    return [Vector(c.vector) for c in mesh.corner_normals]


def test_default_preset_keeps_the_files_vertices_and_shades_them_smooth(
    cleanup: ModuleType, vase: str
) -> None:
    # The preferences' preset as shipped (no scene override): no merge, smoothing by angle.
    shipped = meshes(import_model(vase, "Shipped"))[0].data
    override(merge=True, auto_smooth=True)
    merged = meshes(import_model(vase, "Merged"))[0].data  # the preset before it was changed

    assert len(shipped.vertices) == glb.vase_mesh(2000).vertex_count > len(merged.vertices)
    assert not shipped.has_custom_normals and all(p.use_smooth for p in shipped.polygons)
    # glTF splits vertices at seams; unmerged, a seam vertex takes its normal from the faces
    # on its own side. On this coarse vase that moves a corner a few degrees at most from the
    # merged shading (0.6 degrees on a 100k-triangle result): no visible seam.
    turns = [
        math.degrees(a.angle(b, 0.0))
        for a, b in zip(corner_normals(shipped), corner_normals(merged), strict=True)
    ]
    assert max(turns) < 5.0
    assert sum(t > 0.5 for t in turns) < len(turns) / 10  # the seams, not the whole surface


def test_merge_by_distance_drops_the_split_vertices(cleanup: ModuleType, vase: str) -> None:
    override()
    plain = import_model(vase, "Plain")
    override(merge=True)
    merged = import_model(vase, "Merged")

    mesh = glb.vase_mesh(2000)
    unique = {
        tuple(round(c, 5) for c in mesh.positions[i : i + 3])
        for i in range(0, len(mesh.positions), 3)
    }
    assert vertex_count(plain.objects) == mesh.vertex_count
    assert vertex_count(merged.objects) == len(unique) < mesh.vertex_count
    assert cleanup.triangle_count(merged.objects) == mesh.triangle_count
    low_a, high_a = mesh_bounds(plain.objects)
    low_b, high_b = mesh_bounds(merged.objects)
    assert ((high_a - low_a) - (high_b - low_b)).length < TOL


def test_apply_scale_keeps_the_world_shape(cleanup: ModuleType, vase: str) -> None:
    override()
    result = import_model(vase)
    root = result.root
    root.matrix_world = Matrix.LocRotScale((0.5, 0.0, 0.0), Euler((0.0, 0.0, 0.7)), (2, 2, 0.5))
    bpy.context.view_layer.update()
    before = world_vertices(root)

    cleanup.apply(bpy.context, root, cleanup.Options(**{**ALL_OFF, "apply_scale": True}))

    assert (root.matrix_world.to_scale() - Vector((1, 1, 1))).length < 1e-6
    assert abs(root.matrix_world.to_euler().z - 0.7) < 1e-6
    after = world_vertices(root)
    assert max((a - b).length for a, b in zip(before, after, strict=True)) < TOL


def test_apply_scale_down_a_hierarchy(cleanup: ModuleType) -> None:
    parent = bpy.data.objects.new("Kit", None)
    parent["yvo3d_job_id"] = "job-kit"
    bpy.context.scene.collection.objects.link(parent)
    parent.scale = (3.0, 3.0, 3.0)
    bm = bmesh.new()
    bmesh.ops.create_cube(bm, size=1.0)
    data = bpy.data.meshes.new("Part")
    bm.to_mesh(data)
    bm.free()
    child = bpy.data.objects.new("Part", data)
    bpy.context.scene.collection.objects.link(child)
    child.parent = parent
    child.location = (1.0, 0.0, 0.0)
    child.scale = (1.0, 2.0, 1.0)
    bpy.context.view_layer.update()
    before = world_vertices(child)

    cleanup.apply(bpy.context, parent, cleanup.Options(**{**ALL_OFF, "apply_scale": True}))
    bpy.context.view_layer.update()

    for obj in (parent, child):
        assert (obj.matrix_world.to_scale() - Vector((1, 1, 1))).length < 1e-6, obj.name
        assert (obj.scale - Vector((1, 1, 1))).length < 1e-6, obj.name
    after = world_vertices(child)
    assert max((a - b).length for a, b in zip(before, after, strict=True)) < TOL
    assert parent.empty_display_size == pytest.approx(3.0)


def test_origin_goes_to_the_bottom_centre(cleanup: ModuleType, vase: str) -> None:
    override()
    result = import_model(vase)
    root = result.root
    # Push the geometry off its origin, as many GLBs arrive.
    root.data.transform(Matrix.Translation((0.3, -0.2, 0.15)))
    bpy.context.view_layer.update()
    low, high = mesh_bounds(result.objects)
    base = Vector(((low.x + high.x) / 2, (low.y + high.y) / 2, low.z))
    assert (root.matrix_world.translation - base).length > 0.1

    assert cleanup.origin_to_bottom(bpy.context, root)

    assert (root.matrix_world.translation - base).length < TOL
    low2, high2 = mesh_bounds(result.objects)
    assert (low2 - low).length < TOL and (high2 - high).length < TOL


def test_shade_auto_smooth_by_angle(cleanup: ModuleType, vase: str) -> None:
    override(merge=True, auto_smooth=True, smooth_angle=math.radians(30.0))
    result = import_model(vase)
    mesh = meshes(result)[0].data
    assert not mesh.has_custom_normals  # the file's normals no longer override the smoothing
    assert all(p.use_smooth for p in mesh.polygons)
    bm = bmesh.new()
    bm.from_mesh(mesh)
    expected = {
        e.index
        for e in bm.edges
        if e.is_manifold and e.calc_face_angle(0.0) > math.radians(30.0) + 1e-4
    }
    bm.free()
    sharp = mesh.attributes.get("sharp_edge")
    marked = {i for i, v in enumerate(sharp.data) if v.value} if sharp is not None else set()
    assert expected and expected <= marked  # the vase's foot and lip edges stay sharp
    # Smooth edges are not marked: every marked edge is above the angle or a boundary/seam.
    assert len(marked) < len(mesh.edges) / 2


def test_decimate_meets_the_triangle_budget(cleanup: ModuleType, tmp_path: Path) -> None:
    dense = write_glb(tmp_path, "dense.glb", glb.textured_glb(triangles=20000, texture_size=64))
    override(decimate=True, triangle_budget=3000)
    result = import_model(dense)
    count = cleanup.triangle_count(result.objects)
    assert 0.7 * 3000 <= count <= 3000
    obj = meshes(result)[0]
    assert obj.material_slots and obj.material_slots[0].material is not None
    assert not obj.modifiers  # the decimation is baked, not left as a modifier
    assert obj.data.name == "Vase" or obj.data.users == 1


def test_textures_are_capped(cleanup: ModuleType, tmp_path: Path) -> None:
    path = write_glb(tmp_path, "sharp.glb", glb.textured_glb(triangles=500, texture_size=512))
    override(cap_textures=True, texture_cap="256")
    result = import_model(path)
    images = cleanup.result_images(result.objects)
    assert len(images) == 3
    for image in images:
        assert max(image.size[:]) <= 256, image.name
        assert image.packed_file is not None
        image.reload()  # read back from the packed data: the packed copy was scaled too
        assert tuple(image.size[:]) == (256, 256), image.name


def stamped_box(size: tuple[float, float, float]) -> bpy.types.Object:
    bm = bmesh.new()
    bmesh.ops.create_cube(bm, size=1.0)
    bm.to_mesh(data := bpy.data.meshes.new("Box"))
    bm.free()
    data.transform(Matrix.Diagonal((*size, 1.0)) @ Matrix.Translation((0, 0, 0.5)))
    box = bpy.data.objects.new("Box", data)
    box["yvo3d_job_id"] = "job-box"
    bpy.context.scene.collection.objects.link(box)
    box.location = (2.0, -1.0, 0.25)
    bpy.context.view_layer.objects.active = box
    box.select_set(True)
    bpy.context.view_layer.update()
    return box


def dims(obj: bpy.types.Object) -> Vector:
    low, high = mesh_bounds([obj])
    return high - low


def base_of(obj: bpy.types.Object) -> Vector:
    low, high = mesh_bounds([obj])
    return Vector(((low.x + high.x) / 2, (low.y + high.y) / 2, low.z))


def test_rotate_by_90_keeps_the_model_on_its_floor(addon: ModuleType) -> None:
    box = stamped_box((1.0, 2.0, 3.0))
    start = box.matrix_world.copy()
    base = base_of(box)

    assert bpy.ops.yvo3d.rotate_result(axis="Z", angle=math.radians(90.0)) == {"FINISHED"}
    assert (dims(box) - Vector((2.0, 1.0, 3.0))).length < TOL
    assert (base_of(box) - base).length < TOL

    assert bpy.ops.yvo3d.rotate_result(axis="X", angle=math.radians(90.0)) == {"FINISHED"}
    assert (dims(box) - Vector((2.0, 3.0, 1.0))).length < TOL
    assert (base_of(box) - base).length < TOL  # tipped over, still standing at the same spot

    assert bpy.ops.yvo3d.rotate_result(axis="X", angle=math.radians(-90.0)) == {"FINISHED"}
    assert bpy.ops.yvo3d.rotate_result(axis="Z", angle=math.radians(-90.0)) == {"FINISHED"}
    moved = box.matrix_world
    assert max(abs(moved[i][j] - start[i][j]) for i in range(4) for j in range(4)) < TOL

    plain = bpy.data.objects.new("NotOurs", None)
    bpy.context.scene.collection.objects.link(plain)
    bpy.context.view_layer.objects.active = plain
    assert not bpy.ops.yvo3d.rotate_result.poll()


def test_panels_show_the_options_and_the_result_actions(
    cleanup: ModuleType, popup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = draw(popup, monkeypatch, "YVO3D_PT_import_options")
    props = drawn.props()
    for name in ("use_override", "origin_bottom", "apply_scale", "merge", "decimate"):
        assert name in props
    assert props["decimate"].disabled  # greyed out until the override is on
    assert "Using the preset from Preferences" in drawn.labels()

    box = stamped_box((1.0, 1.0, 1.0))
    assert mod("cleanup").result_root(box) == box
    drawn = draw(popup, monkeypatch, "YVO3D_PT_result")
    turns = drawn.operators("yvo3d.rotate_result")
    assert [c.text for c in turns] == ["Z -90", "Z +90", "X +90", "Y +90"]
    assert drawn.operators("yvo3d.clean_up_result") and drawn.operators("yvo3d.mark_asset")

    # The preferences draw the same options (without the scene's override switch).
    calls: list[Any] = []
    mod("cleanup").draw_options(
        Recorder(popup.layout.column(), calls), prefs().import_options, scene=False
    )
    names = {c.args[1] for c in calls if c.name == "prop"}
    assert {"origin_bottom", "triangle_budget", "mark_asset"} <= names
    assert "use_override" not in names
