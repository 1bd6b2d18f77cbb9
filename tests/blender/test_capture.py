"""Capture as reference image in real Blender: the pixels of the PNG, the framing, the slot, and
a scene left exactly as it was; an Image Editor image used as reference."""

from __future__ import annotations

import os
from array import array
from pathlib import Path
from types import ModuleType
from typing import Any

import bmesh
import bpy
import pytest
from mathutils import Euler, Matrix

from tests.blender import test_panels
from tests.blender.test_generate import core, mod, settings
from tests.blender.test_panels import draw
from tests.media import png_bytes

SIZE = 128
MARGIN = 0.1
popup = test_panels.popup  # the fixture: a real UILayout to draw into


@pytest.fixture
def user_dir(addon: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("YVO3D_USER_DIR", str(tmp_path / "user"))
    return tmp_path / "user"


def box(name: str, size: tuple[float, float, float], location: tuple[float, float, float]) -> Any:
    bm = bmesh.new()
    bmesh.ops.create_cube(bm, size=1.0)
    data = bpy.data.meshes.new(name)
    bm.to_mesh(data)
    bm.free()
    data.transform(Matrix.Diagonal((*size, 1.0)) @ Matrix.Translation((0, 0, 0.5)))
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    obj.location = location
    return obj


def staged_scene() -> Any:
    """A box to capture, with a floor, a ball beside it and a camera that must not show."""
    target = box("Blockout", (1.0, 0.5, 2.0), (3.0, 1.0, 0.0))
    box("Floor", (20.0, 20.0, 0.01), (0.0, 0.0, -0.02))
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.4, location=(4.1, 1.0, 1.0))
    cam_data = bpy.data.cameras.new("Shot")
    cam = bpy.data.objects.new("Shot", cam_data)
    bpy.context.scene.collection.objects.link(cam)
    cam.location = (9.0, -7.0, 5.0)
    cam.rotation_euler = Euler((1.1, 0.0, 0.9))
    scene = bpy.context.scene
    scene.camera = cam
    scene.render.engine = mod("compat").eevee_engine()
    scene.render.resolution_x, scene.render.resolution_y = 1920, 1080
    scene.render.film_transparent = False
    scene.render.filepath = "//renders/shot_"
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    target.select_set(True)
    bpy.context.view_layer.objects.active = target
    bpy.context.view_layer.update()
    return target


def snapshot() -> dict[str, Any]:
    """Everything of the user's file a capture could disturb."""
    scene = bpy.context.scene
    layer = bpy.context.view_layer
    render = scene.render
    data = {
        kind: sorted(b.name for b in getattr(bpy.data, kind))
        for kind in (
            "objects",
            "scenes",
            "cameras",
            "lights",
            "worlds",
            "meshes",
            "materials",
            "collections",
            "images",
        )
    }
    data["objects_state"] = {
        o.name: (
            o.hide_render,
            o.hide_viewport,
            o.hide_get(),
            o.select_get(),
            sorted(c.name for c in o.users_collection),
            [tuple(row) for row in o.matrix_world],
            o.users,
        )
        for o in layer.objects
    }
    data["scene"] = (
        scene.name,
        scene.camera.name if scene.camera else None,
        scene.world.name if scene.world else None,
        scene.frame_current,
        render.engine,
        render.resolution_x,
        render.resolution_y,
        render.resolution_percentage,
        render.film_transparent,
        render.filepath,
        render.image_settings.file_format,
        scene.view_settings.view_transform,
        layer.objects.active.name if layer.objects.active else None,
        bpy.context.window.scene.name if bpy.context.window else None,
    )
    return data


def pixels(path: str) -> tuple[int, int, array[float]]:
    image = bpy.data.images.load(path, check_existing=False)
    try:
        width, height = image.size[:]
        values = array("f", bytes(16 * width * height))
        image.pixels.foreach_get(values)
    finally:
        bpy.data.images.remove(image)
    return width, height, values


def coverage(path: str) -> tuple[int, int, int, int, array[float]]:
    """Bounding box (x0, y0, x1, y1), inclusive, of the pixels with alpha over one half."""
    width, height, values = pixels(path)
    xs, ys = [], []
    for y in range(height):
        row = values[4 * width * y + 3 : 4 * width * (y + 1) : 4]
        inside = [x for x, a in enumerate(row) if a > 0.5]
        if inside:
            ys.append(y)
            xs += [inside[0], inside[-1]]
    assert xs, "nothing was rendered"
    return min(xs), min(ys), max(xs), max(ys), values


def corners(values: array[float], width: int, height: int) -> list[tuple[float, ...]]:
    spots = [(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)]
    return [tuple(values[4 * (y * width + x) : 4 * (y * width + x) + 4]) for x, y in spots]


def set_capture(**values: Any) -> Any:
    group = bpy.context.scene.yvo3d_capture
    values.setdefault("resolution", SIZE)
    values.setdefault("margin", MARGIN)
    values.setdefault("engine", "WORKBENCH")
    for key, value in values.items():
        setattr(group, key, value)
    return group


@pytest.mark.parametrize("view", ["FRONT", "THREE_QUARTER", "CAMERA"])
def test_capture_frames_only_the_selection_on_transparent(user_dir: Path, view: str) -> None:
    staged_scene()
    set_capture(view=view, background="TRANSPARENT")
    before = snapshot()

    assert bpy.ops.yvo3d.capture_reference() == {"FINISHED"}

    assert snapshot() == before  # the user's scene, camera and render settings untouched
    slot = settings().images[settings().active_image]
    path = slot.filepath
    assert path.startswith(str(user_dir / "captures")) and path.endswith(".png")
    info, _ = core("images").check(path)
    assert (info.width, info.height) == (SIZE, SIZE) and info.has_alpha

    x0, y0, x1, y1, values = coverage(path)
    assert all(c[3] == 0.0 for c in corners(values, SIZE, SIZE))
    spans = (x1 - x0 + 1, y1 - y0 + 1)
    # The object's longer axis in the picture fills the frame up to the margin on each side.
    assert abs(max(spans) - (1 - 2 * MARGIN) * SIZE) <= 2.5, spans
    long_axis = 0 if spans[0] >= spans[1] else 1
    low, high = ((x0, x1), (y0, y1))[long_axis]
    assert abs(low - MARGIN * SIZE) <= 2.5 and abs((SIZE - 1 - high) - MARGIN * SIZE) <= 2.5
    if view == "FRONT":
        # Just the 1 x 2 box: the ball beside it and the floor are not in the picture.
        assert long_axis == 1
        assert abs(spans[0] - spans[1] / 2) <= 3, spans


def test_plain_background_and_cycles(user_dir: Path) -> None:
    staged_scene()
    set_capture(view="FRONT", background="PLAIN", color=(0.2, 0.4, 0.6))
    assert bpy.ops.yvo3d.capture_reference() == {"FINISHED"}
    path = settings().images[0].filepath
    width, height, values = pixels(path)
    srgb = [
        (12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055) for c in (0.2, 0.4, 0.6)
    ]
    for corner in corners(values, width, height):
        assert corner[3] == 1.0
        assert all(abs(a - b) < 0.02 for a, b in zip(corner[:3], srgb, strict=True)), corner

    set_capture(view="FRONT", background="TRANSPARENT", engine="CYCLES", samples=4, resolution=64)
    assert bpy.ops.yvo3d.capture_reference(new_slot=True) == {"FINISHED"}
    assert len(settings().images) == 2 and settings().active_image == 1
    x0, y0, x1, y1, values = coverage(settings().images[1].filepath)
    assert all(c[3] == 0.0 for c in corners(values, 64, 64))
    assert abs((y1 - y0 + 1) - (1 - 2 * MARGIN) * 64) <= 2.5
    # Lit, not a black silhouette: the box's pixels have colour.
    centre = 4 * (32 * 64 + 32)
    assert max(values[centre : centre + 3]) > 0.1


def test_capture_refusals(user_dir: Path) -> None:
    target = staged_scene()
    set_capture(view="CAMERA")
    bpy.context.scene.camera = None
    with pytest.raises(RuntimeError, match="no active camera"):
        bpy.ops.yvo3d.capture_reference()
    set_capture(view="FRONT")
    target.hide_render = True
    before = snapshot()
    with pytest.raises(RuntimeError, match="Nothing visible"):
        bpy.ops.yvo3d.capture_reference()
    assert snapshot() == before
    assert len(settings().images) == 0
    target.select_set(False)
    bpy.context.view_layer.objects.active = None
    assert not bpy.ops.yvo3d.capture_reference.poll()


def test_framing_math_for_a_known_box(user_dir: Path) -> None:
    capture = mod("capture")
    target = box("Unit", (2.0, 2.0, 2.0), (0.0, 0.0, -1.0))  # a cube centred on the origin
    rotation = Euler((1.5707963, 0.0, 0.0)).to_matrix()  # looking along +Y
    depsgraph = bpy.context.evaluated_depsgraph_get()
    framing = capture.frame(depsgraph, rotation, ortho=True, half_tan=0.25, margin=0.1)
    assert framing.ortho_scale == pytest.approx(2.0 / 0.8, rel=1e-5)
    assert framing.location.x == pytest.approx(0.0, abs=1e-5)
    assert framing.location.z == pytest.approx(0.0, abs=1e-5)
    persp = capture.frame(depsgraph, rotation, ortho=False, half_tan=0.25, margin=0.1)
    # The near face (y = -1) spans x in [-1, 1]: it must sit at tan = 0.25 * 0.8 from the axis.
    distance = -1.0 - persp.location.y
    assert 1.0 / distance == pytest.approx(0.25 * 0.8, rel=1e-4)
    assert target.name == "Unit"


def test_image_editor_image_becomes_the_reference(user_dir: Path, tmp_path: Path) -> None:
    sketch = bpy.data.images.new("Sketch", 96, 80)
    painted = array("f", [0.9, 0.2, 0.1, 1.0] * (96 * 80))
    sketch.pixels.foreach_set(painted)
    assert bpy.ops.yvo3d.use_editor_image(image="Sketch") == {"FINISHED"}
    path = settings().images[0].filepath
    assert path.startswith(str(user_dir / "captures")) and os.path.isfile(path)
    width, height, values = pixels(path)
    assert (width, height) == (96, 80)
    assert values[0] == pytest.approx(0.9, abs=0.01) and values[2] == pytest.approx(0.1, abs=0.01)

    # An unmodified image file is used as it is, not copied; into a new slot when asked.
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(80, 80))
    loaded = bpy.data.images.load(str(photo))
    assert bpy.ops.yvo3d.use_editor_image(image=loaded.name, new_slot=True) == {"FINISHED"}
    assert settings().images[1].filepath == str(photo)
    assert settings().active_image == 1

    empty = bpy.data.images.new("Blank", 1, 1)
    empty.source = "FILE"
    empty.filepath = str(tmp_path / "gone.png")
    with pytest.raises(RuntimeError, match="no pixels"):
        bpy.ops.yvo3d.use_editor_image(image="Blank")


def test_panels_draw_the_capture_options(
    user_dir: Path, popup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged_scene()
    set_capture(background="PLAIN", engine="CYCLES")
    drawn = draw(popup, monkeypatch, "YVO3D_PT_capture")
    props = drawn.props()
    assert {"view", "margin", "background", "color", "resolution", "engine", "samples"} <= set(
        props
    )
    buttons = drawn.operators("yvo3d.capture_reference")
    assert [c.text for c in buttons] == ["", ""] or len(buttons) == 2
    drawn = draw(popup, monkeypatch, "YVO3D_PT_image_editor")
    assert "Open or paint an image" in drawn.labels()  # no Image Editor in this context
