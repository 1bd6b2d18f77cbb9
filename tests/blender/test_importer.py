"""The GLB importer in real Blender, on GLB files that Blender itself exports for the test."""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import bpy
import pytest
from mathutils import Vector

from tests.blender.conftest import ADDON_MODULE
from tests.media import png_bytes

TOLERANCE = 1e-4


@dataclass(frozen=True)
class Glb:
    path: Path
    size: tuple[float, float, float]  # world bounding-box size of the source scene
    objects: int  # objects in the file
    top_level: int  # objects without a parent


def world_bounds(objects: Iterable[bpy.types.Object]) -> tuple[Vector, Vector]:
    """Bounds over every vertex in world space, computed independently of the importer."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    low = Vector((float("inf"),) * 3)
    high = Vector((float("-inf"),) * 3)
    for obj in objects:
        if obj.type != "MESH":
            continue
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        for vertex in mesh.vertices:
            world = obj.matrix_world @ vertex.co
            for axis in range(3):
                low[axis] = min(low[axis], world[axis])
                high[axis] = max(high[axis], world[axis])
        evaluated.to_mesh_clear()
    return low, high


def _image(folder: Path, name: str, data: bytes, *, non_color: bool = False) -> bpy.types.Image:
    path = folder / f"{name}.png"
    path.write_bytes(data)
    image = bpy.data.images.load(str(path))
    if non_color:
        image.colorspace_settings.name = "Non-Color"
    return image


def _textured_material(folder: Path) -> bpy.types.Material:
    mat = bpy.data.materials.new("Painted")
    tree = importlib.import_module(f"{ADDON_MODULE}.blender.compat").node_tree(mat)
    bsdf = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
    color = tree.nodes.new("ShaderNodeTexImage")
    color.image = _image(folder, "color", png_bytes(64, 64))
    tree.links.new(color.outputs["Color"], bsdf.inputs["Base Color"])
    normal_tex = tree.nodes.new("ShaderNodeTexImage")
    normal_tex.image = _image(
        folder,
        "normal",
        png_bytes(32, 32, pixel=lambda x, y: (128, 128 + x % 7, 255)),
        non_color=True,
    )
    normal_map = tree.nodes.new("ShaderNodeNormalMap")
    tree.links.new(normal_tex.outputs["Color"], normal_map.inputs["Color"])
    tree.links.new(normal_map.outputs["Normal"], bsdf.inputs["Normal"])
    return mat


def _export(path: Path) -> Glb:
    objects = list(bpy.context.scene.objects)
    low, high = world_bounds(objects)
    result = bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB")
    assert result == {"FINISHED"}
    size = high - low
    return Glb(
        path=path,
        size=(size.x, size.y, size.z),
        objects=len(objects),
        top_level=sum(1 for o in objects if o.parent is None),
    )


@pytest.fixture(scope="session")
def glbs(addon: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Glb]:
    """GLBs made by Blender: textured (colour + normal map), multi-object, untextured, large."""
    folder = tmp_path_factory.mktemp("glb")
    made: dict[str, Glb] = {}

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_cube_add(size=1, location=(3, -2, 5))
    cube = bpy.context.object
    cube.scale = (2, 1, 0.5)
    assert cube.data.uv_layers, "the cube needs UVs for its texture"
    cube.data.materials.append(_textured_material(folder))
    bpy.context.view_layer.update()
    made["textured"] = _export(folder / "textured.glb")

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_cube_add(size=1, location=(-1, 0, 0))
    parent = bpy.context.object
    bpy.ops.mesh.primitive_cylinder_add(radius=0.5, depth=1, location=(1.5, 0.5, 0.5))
    bpy.ops.mesh.primitive_cube_add(size=0.5, location=(-1, 0, 1))
    child = bpy.context.object
    child.parent = parent
    child.matrix_parent_inverse = parent.matrix_world.inverted()
    bpy.context.view_layer.update()
    made["multi"] = _export(folder / "multi.glb")

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_ico_sphere_add(radius=0.75, location=(0, 0, 2))
    bpy.context.view_layer.update()
    made["plain"] = _export(folder / "plain.glb")

    # About 100k triangles, like a real result.
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_grid_add(x_subdivisions=224, y_subdivisions=224, size=4)
    grid = bpy.context.object
    grid.location = (0, 0, -7)
    assert len(grid.data.polygons) * 2 >= 95_000
    bpy.context.view_layer.update()
    made["large"] = _export(folder / "large.glb")

    bpy.ops.wm.read_homefile(use_empty=True)
    return made


@pytest.fixture
def importer(addon: ModuleType) -> ModuleType:
    """The importer module of the installed extension."""
    import importlib

    return importlib.import_module(f"{ADDON_MODULE}.blender.scene.importer")


def _counts() -> dict[str, int]:
    return {
        kind: len(getattr(bpy.data, kind))
        for kind in ("objects", "meshes", "materials", "images", "collections", "node_groups")
    }


def _base_color_image(mat: bpy.types.Material) -> bpy.types.Image | None:
    bsdf = next(n for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
    links = bsdf.inputs["Base Color"].links
    if not links or links[0].from_node.bl_idname != "ShaderNodeTexImage":
        return None
    return links[0].from_node.image


def _assert_on(low: Vector, high: Vector, target: tuple[float, float, float]) -> None:
    assert (low.x + high.x) / 2 == pytest.approx(target[0], abs=TOLERANCE)
    assert (low.y + high.y) / 2 == pytest.approx(target[1], abs=TOLERANCE)
    assert low.z == pytest.approx(target[2], abs=TOLERANCE)


def test_textured_glb_one_collection_one_root_on_cursor(importer, glbs) -> None:
    glb = glbs["textured"]
    bpy.context.scene.cursor.location = (1.0, 2.0, 3.0)
    result = importer.import_glb(bpy.context, str(glb.path), name="Chair")

    assert result.collection.name == "Chair"
    assert result.collection.name in bpy.context.scene.collection.children
    assert {o.name for o in result.collection.objects} == {o.name for o in result.objects}
    assert all(list(o.users_collection) == [result.collection] for o in result.objects)
    assert len(result.objects) == glb.objects == 1
    assert result.root == result.objects[0] and result.root.name == "Chair"
    assert result.root.parent is None

    low, high = world_bounds(result.objects)
    _assert_on(low, high, (1.0, 2.0, 3.0))
    assert tuple(high - low) == pytest.approx(glb.size, abs=TOLERANCE)  # real size kept


def test_textured_glb_keeps_its_packed_textures(importer, glbs) -> None:
    result = importer.import_glb(bpy.context, str(glbs["textured"].path), name="Painted")

    mat = result.root.material_slots[0].material
    image = _base_color_image(mat)
    assert image is not None, "Base Color should be fed by an Image Texture node"
    assert image.packed_file is not None and image.packed_file.size > 0
    assert tuple(image.size) == (64, 64)
    normal_nodes = [n for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeNormalMap"]
    assert normal_nodes and normal_nodes[0].inputs["Color"].links
    assert all(img.packed_file is not None for img in bpy.data.images)
    # The test runs headless: the only viewport is in Solid shading.
    assert importer.SHADING_WARNING in result.warnings


def test_material_preview_viewport_needs_no_warning(importer, glbs) -> None:
    spaces = [
        space
        for area in bpy.context.screen.areas
        for space in area.spaces
        if space.type == "VIEW_3D"
    ]
    assert spaces, "the empty home file still has a 3D viewport"
    for space in spaces:
        space.shading.type = "MATERIAL"
    result = importer.import_glb(bpy.context, str(glbs["textured"].path), name="Seen")
    assert importer.SHADING_WARNING not in result.warnings


def test_stamps_job_images_params_and_no_credentials(importer, glbs, addon) -> None:
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.api_key, prefs.api_secret = "key-ABCDEFGH-1234", "secret-XYZ-987654321"
    try:
        result = importer.import_glb(bpy.context, str(glbs["textured"].path), name="Stamped")
        # The session hands the scene code the strings to scrub (issue 9: scene code never
        # reads the preferences): the ones in the preferences are among them.
        runtime = importlib.import_module(f"{ADDON_MODULE}.blender.session.runtime")
        importer.stamp(
            result.root,
            {
                "job_id": "job_123",
                "images": ["/photos/front.png", "/photos/side.jpg"],
                "params": {"modelGenerator": "FAST_TRUE", "polycount": 100000, "token": "t"},
                "cost": 40,
                "seed": 2**40,
                "source": {"kind": "library", "path": "x.glb"},
                "api_secret": "secret-XYZ-987654321",
                "note": "made with key-ABCDEFGH-1234",
            },
            runtime.secrets(bpy.context),
        )
    finally:
        prefs.api_key = prefs.api_secret = ""
    root = result.root
    assert root["yvo3d_job_id"] == "job_123"
    assert list(root["yvo3d_images"]) == ["front.png", "side.jpg"]
    assert json.loads(root["yvo3d_params"]) == {"modelGenerator": "FAST_TRUE", "polycount": 100000}
    assert root["yvo3d_cost"] == 40
    assert root["yvo3d_seed"] == str(2**40)
    assert json.loads(root["yvo3d_source"]) == {"kind": "library", "path": "x.glb"}
    assert "yvo3d_api_secret" not in root and "yvo3d_note" not in root
    every_value = json.dumps({k: str(root[k]) for k in root.keys()})
    assert "secret-XYZ" not in every_value and "key-ABCDEFGH" not in every_value


def test_multi_object_glb_gets_an_empty_parent(importer, glbs) -> None:
    glb = glbs["multi"]
    before = {o.name for o in bpy.data.objects}
    result = importer.import_glb(bpy.context, str(glb.path), name="Set", location=(-4.0, 5.0, 0.25))

    root = result.root
    assert root.type == "EMPTY" and root.name == "Set" and root.parent is None
    assert len(result.objects) == glb.objects + 1
    assert {o.name for o in bpy.data.objects} - before == {o.name for o in result.objects}
    assert len([o for o in result.objects if o.parent == root]) == glb.top_level == 2
    assert all(o.parent is not None for o in result.objects if o != root)
    assert {o.name for o in result.collection.objects} == {o.name for o in result.objects}

    low, high = world_bounds(result.objects)
    _assert_on(low, high, (-4.0, 5.0, 0.25))
    assert tuple(high - low) == pytest.approx(glb.size, abs=TOLERANCE)
    # The root sits at the base of the model, so moving it moves the model as one.
    assert tuple(root.matrix_world.translation) == pytest.approx((-4.0, 5.0, 0.25), abs=TOLERANCE)


def test_shape_only_uses_the_plain_material_and_drops_textures(importer, glbs) -> None:
    before = _counts()
    result = importer.import_glb(
        bpy.context, str(glbs["textured"].path), name="Shape", shape_only=True
    )
    meshes = [o for o in result.objects if o.type == "MESH"]
    assert meshes
    for obj in meshes:
        assert [s.material.name for s in obj.material_slots] == [importer.SHAPE_MATERIAL_NAME]
    mat = bpy.data.materials[importer.SHAPE_MATERIAL_NAME]
    bsdf = next(n for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
    colour = tuple(bsdf.inputs["Base Color"].default_value)
    assert colour[:3] == pytest.approx((0.7, 0.7, 0.7)) and not bsdf.inputs["Base Color"].links
    after = _counts()
    assert after["images"] == before["images"], "the GLB's textures should not stay behind"
    assert after["materials"] == before["materials"] + 1
    assert importer.SHADING_WARNING not in result.warnings


def test_untextured_glb_gets_the_plain_material_once(importer, glbs) -> None:
    first = importer.import_glb(bpy.context, str(glbs["plain"].path), name="Ball")
    second = importer.import_glb(bpy.context, str(glbs["plain"].path), name="Ball")
    for result in (first, second):
        assert [s.material.name for s in result.root.material_slots] == [
            importer.SHAPE_MATERIAL_NAME
        ]
    assert second.collection != first.collection
    assert len([m for m in bpy.data.materials if m.name.startswith("YVO3D Shape")]) == 1


def test_selection_and_active_object(importer, glbs) -> None:
    bpy.ops.mesh.primitive_cube_add(size=1)
    other = bpy.context.object
    assert other.select_get()
    result = importer.import_glb(bpy.context, str(glbs["multi"].path), name="Picked")
    assert not other.select_get()
    assert {o.name for o in bpy.context.selected_objects} == {o.name for o in result.objects}
    assert bpy.context.view_layer.objects.active == result.root


def test_never_changes_the_users_mode(importer, glbs) -> None:
    """Issue 12: an import outside Object Mode is refused (the caller holds the model until
    the user is back); the mode and the scene stay exactly as they were."""
    bpy.ops.mesh.primitive_cube_add(size=1)
    bpy.ops.object.mode_set(mode="EDIT")
    assert bpy.context.mode == "EDIT_MESH"
    before = _counts()
    with pytest.raises(RuntimeError, match="Object Mode"):
        importer.import_glb(bpy.context, str(glbs["plain"].path), name="Ball")
    assert bpy.context.mode == "EDIT_MESH"
    assert _counts() == before
    bpy.ops.object.mode_set(mode="OBJECT")


def _assert_nothing_left(before: dict[str, int], target: Path, data: bytes) -> None:
    assert _counts() == before
    assert target.read_bytes() == data  # the file on disk is untouched


def test_corrupt_glb_raises_and_leaves_nothing(importer, tmp_path) -> None:
    bad = tmp_path / "broken.glb"
    data = b"glTF\x02\x00\x00\x00" + os.urandom(64)
    bad.write_bytes(data)
    before = _counts()
    with pytest.raises(RuntimeError, match="broken.glb"):
        importer.import_glb(bpy.context, str(bad), name="Broken")
    _assert_nothing_left(before, bad, data)


def test_truncated_glb_raises_and_leaves_nothing(importer, glbs, tmp_path) -> None:
    cut = tmp_path / "cut.glb"
    data = glbs["textured"].path.read_bytes()[:-100]
    cut.write_bytes(data)
    before = _counts()
    with pytest.raises(RuntimeError, match="cut.glb"):
        importer.import_glb(bpy.context, str(cut), name="Cut")
    _assert_nothing_left(before, cut, data)


def test_failure_after_import_removes_everything_it_made(importer, glbs, tmp_path) -> None:
    # The glTF import succeeds, then saving textures fails (textures/ is a file):
    # every object, mesh, material, image and the collection must go again.
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
    (tmp_path / "textures").write_text("in the way")
    glb = glbs["textured"].path
    data = glb.read_bytes()
    before = _counts()
    with pytest.raises(RuntimeError, match="textured.glb"):
        importer.import_glb(bpy.context, str(glb), name="Doomed", images_mode="BESIDE")
    _assert_nothing_left(before, glb, data)
    assert "Doomed" not in bpy.data.collections


def test_missing_file_raises(importer, tmp_path) -> None:
    with pytest.raises(RuntimeError, match="does not exist"):
        importer.import_glb(bpy.context, str(tmp_path / "nope.glb"), name="Nope")


def test_images_beside_the_saved_blend(importer, glbs, tmp_path) -> None:
    blend = tmp_path / "project" / "scene.blend"
    blend.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    result = importer.import_glb(
        bpy.context, str(glbs["textured"].path), name="Beside", images_mode="BESIDE"
    )
    image = _base_color_image(result.root.material_slots[0].material)
    assert image is not None and image.packed_file is None
    assert image.filepath.startswith("//textures/")
    on_disk = Path(bpy.path.abspath(image.filepath))
    assert on_disk.parent == blend.parent / "textures"
    assert on_disk.read_bytes().startswith(b"\x89PNG")
    assert tuple(image.size) == (64, 64)  # Blender reads the saved file back
    assert importer.UNSAVED_BESIDE_WARNING not in result.warnings


def test_images_beside_an_unsaved_blend_are_packed_with_a_warning(importer, glbs) -> None:
    assert not bpy.data.filepath
    result = importer.import_glb(
        bpy.context, str(glbs["textured"].path), name="Unsaved", images_mode="BESIDE"
    )
    assert importer.UNSAVED_BESIDE_WARNING in result.warnings
    assert bpy.data.images and all(img.packed_file is not None for img in bpy.data.images)


def test_large_mesh_imports_quickly(importer, glbs) -> None:
    # About 100k triangles: placement must not crawl over the vertices in Python.
    started = time.perf_counter()
    result = importer.import_glb(bpy.context, str(glbs["large"].path), name="Large")
    elapsed = time.perf_counter() - started
    low, high = world_bounds(result.objects)
    _assert_on(low, high, (0.0, 0.0, 0.0))
    assert tuple(high - low) == pytest.approx(glbs["large"].size, abs=TOLERANCE)
    assert elapsed < 10, f"import took {elapsed:.1f} s"
