"""Demo: the placeholder and iteration workflows in headless Blender, one picture per step.

    .venv-bpy50/bin/python demo/workflows.py --zip dist/yvo3d-0.1.0.zip --out out/workflows

Builds a small blockout scene, installs the built extension, and against a local stand-in of
Scenario's API (started here; nothing leaves the machine, nothing is paid) runs each workflow
through the add-on's own operators, rendering each step with Cycles on the CPU:

    placeholders_before.png  the blockout: three grey boxes
    placeholders_after.png   each box replaced by a model fitted to it (longest side, height,
                             footprint), the boxes hidden and kept
    capture_reference.png    the reference image Capture Selected rendered from a blockout lamp
                             (transparent, shown over a checker)
    capture_result.png       the model generated from that capture, in the lamp's place
    takes.png                three takes of one placeholder, shown in turn with Next Take
    cleanup_rotate.png       a result lying on its side, before and after Turn X +90

`--out docs/workflows` refreshes the pictures of docs/workflows.md. The stand-in returns a
lathed model textured with the reference image; this script asks it for a different shape per
job (vase, bottle, planter, lamp, ...) so the pictures show different models, as the real
service's results differ. It checks what each workflow did and exits non-zero if a step did not
do what docs/workflows.md says.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import math
import os
import shutil
import struct
import sys
import tempfile
import time
import zlib
from array import array
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ADDON_MODULE = "bl_ext.user_default.yvo3d"
WIDE = (640, 360)
TILE = (320, 360)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--zip", required=True, type=Path, help="the built extension zip")
    parser.add_argument("--out", default=Path("out/workflows"), type=Path, help="output folder")
    parser.add_argument("--samples", type=int, default=16, help="Cycles samples")
    return parser.parse_args(argv)


def step(text: str) -> None:
    print(f"[workflows] {text}", flush=True)


class StepFailedError(Exception):
    """A workflow did not do what the guide says it does."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise StepFailedError(what)


def addon(name: str) -> ModuleType:
    """A module of the installed add-on (its Blender layer)."""
    return importlib.import_module(f"{ADDON_MODULE}.blender.{name}")


# -- the stand-in's models: one lathe, many profiles ---------------------------------------------

# (height in metres, radius in metres at height fraction t)
PROFILES: dict[str, tuple[float, Callable[[float], float]]] = {
    "bottle": (
        0.62,
        lambda t: (
            0.095
            - 0.062 * _smooth((t - 0.52) / 0.22)
            + 0.008 * math.exp(-(((t - 1.0) / 0.04) ** 2))
        ),
    ),
    "planter": (
        0.3,
        lambda t: 0.13 + 0.07 * t + 0.012 * math.exp(-(((t - 0.93) / 0.05) ** 2)),
    ),
    "jar": (
        0.36,
        lambda t: (
            0.12 + 0.035 * math.sin(math.pi * min(t / 0.8, 1.0)) - 0.05 * _smooth((t - 0.8) / 0.1)
        ),
    ),
    "amphora": (
        0.55,
        lambda t: (
            0.035
            + 0.095 * math.exp(-(((t - 0.55) / 0.25) ** 2))
            + 0.03 * math.exp(-(((t - 1.0) / 0.06) ** 2))
        ),
    ),
    "lamp": (
        0.8,
        lambda t: 0.15 if t < 0.04 else 0.02 if t < 0.6 else 0.19 - 0.075 * (t - 0.6) / 0.4,
    ),
}


def _smooth(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def shaped_glb(shape: str, photo: bytes | None) -> bytes:
    """The stand-in's textured vase re-lathed to `shape` ("sideways": the vase lying on its
    side, its top towards the viewer's back, as a result that came out the wrong way)."""
    from tests.standin import glb

    base = glb.vase_mesh(8000)
    positions = array("f", base.positions)
    normals = array("f", base.normals)
    height_now = max(positions[1::3])
    if shape in PROFILES:
        height, radius = PROFILES[shape]
        for i in range(0, len(positions), 3):
            t = positions[i + 1] / height_now
            scale = radius(t) / glb.profile_radius(t)
            positions[i] *= scale
            positions[i + 1] = t * height
            positions[i + 2] *= scale
        # The clean-up preset recomputes the normals (Shade Auto Smooth) on import.
    elif shape == "sideways":
        # glTF (x, y, z) -> (x, z, -y): the vase's up (+Y) becomes glTF -Z, Blender's +Y.
        for values in (positions, normals):
            for i in range(0, len(values), 3):
                y, z = values[i + 1], values[i + 2]
                values[i + 1], values[i + 2] = z, -y
    mesh = glb.Mesh(positions, normals, base.uvs, base.indices)
    colour = photo if photo is not None else glb.base_color_png(256)
    textures = (colour, glb.normal_png(256), glb.metallic_roughness_png(256))
    return glb._build(mesh, textures, shape.title())


def shaped_standin(**options: Any) -> Any:
    """The stand-in of Scenario's API, with a queue of (shape, texture or None: the reference
    image) for the next jobs' models."""
    from tests.standin.server import StandIn

    class ShapedStandIn(StandIn):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.shapes: collections.deque[tuple[str, bytes | None]] = collections.deque()

        def _make_outputs(self, job: Any) -> None:
            super()._make_outputs(job)
            if not self.shapes:
                return
            shape, photo = self.shapes.popleft()
            first = self._assets[job.input["images"][0]]
            if photo is None and first.mime == "image/png":
                photo = first.content()
            for asset_id in job.asset_ids:
                asset = self._assets[asset_id]
                if asset.filename == "model.glb":
                    asset.content = lambda s=shape, p=photo: shaped_glb(s, p)

    return ShapedStandIn(**options)


# -- reference images made in code ----------------------------------------------------------------


def glaze(base: tuple[int, int, int], band: tuple[int, int, int], bands: int) -> Any:
    """A pixel function: a glazed-pottery surface (the stand-in wraps the image round its
    model, top of the image at the lip)."""

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        t = y / 255
        stripe = 0.5 + 0.5 * math.cos(2 * math.pi * bands * t)
        weight = stripe**6
        shade = 0.88 + 0.12 * math.sin(2 * math.pi * x / 255 * 3 + 4 * t)
        return tuple(  # type: ignore[return-value]
            min(255, int((b * (1 - weight) + s * weight) * shade))
            for b, s in zip(base, band, strict=True)
        )

    return pixel


REFERENCES = {
    "terracotta.png": glaze((196, 98, 52), (92, 40, 22), 5),
    "porcelain.png": glaze((232, 232, 226), (28, 58, 150), 7),
    "celadon.png": glaze((140, 178, 150), (70, 110, 84), 4),
    "amber.png": glaze((214, 150, 40), (120, 60, 12), 6),
}


def write_references(folder: Path) -> dict[str, str]:
    from tests.media import png_bytes

    paths = {}
    for name, pixel in REFERENCES.items():
        path = folder / name
        path.write_bytes(png_bytes(256, 256, pixel=pixel))
        paths[name] = str(path)
    return paths


# -- the scene ----------------------------------------------------------------------------------


def material(bpy: Any, name: str, colour: tuple[float, float, float], **inputs: float) -> Any:
    mat = bpy.data.materials.new(name)
    if mat.node_tree is None:
        mat.use_nodes = True
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
    for key, value in inputs.items():
        bsdf.inputs[key].default_value = value
    mat.diffuse_color = (*colour, 1.0)
    return mat


def box(bpy: Any, name: str, size: tuple[float, float, float], x: float, mat: Any) -> Any:
    """A box standing on the floor at (x, 0)."""
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(x, 0.0, size[2] / 2))
    obj = bpy.context.active_object
    obj.name = obj.data.name = name
    obj.scale = size
    obj.data.materials.append(mat)
    return obj


def build_scene(bpy: Any) -> dict[str, Any]:
    """Floor, wall, light, camera; the blockout boxes, a blockout lamp (three parts under its
    base) further right. Returns the objects by role."""
    scene = bpy.context.scene
    floor_mat = material(bpy, "Floor", (0.42, 0.38, 0.34), Roughness=0.75)
    wall_mat = material(bpy, "Wall", (0.62, 0.63, 0.66), Roughness=0.9)
    grey = material(bpy, "Blockout", (0.32, 0.33, 0.35), Roughness=0.6)

    bpy.ops.mesh.primitive_plane_add(size=40.0, location=(0.0, 0.0, 0.0))
    floor = bpy.context.active_object
    floor.name = "Floor"
    floor.data.materials.append(floor_mat)
    bpy.ops.mesh.primitive_plane_add(
        size=40.0, location=(0.0, 1.6, 0.0), rotation=(math.radians(90), 0.0, 0.0)
    )
    wall = bpy.context.active_object
    wall.name = "Wall"
    wall.data.materials.append(wall_mat)

    boxes = {
        "Crate": box(bpy, "Crate", (0.5, 0.5, 0.5), -1.25, grey),
        "Column": box(bpy, "Column", (0.32, 0.32, 1.1), 0.0, grey),
        "Bench": box(bpy, "Bench", (1.0, 0.55, 0.38), 1.3, grey),
    }

    bronze = material(bpy, "Lamp Base", (0.3, 0.2, 0.1), Metallic=0.6, Roughness=0.35)
    linen = material(bpy, "Lamp Shade", (0.92, 0.86, 0.7), Roughness=0.8)
    lamp_x = 4.6
    bpy.ops.mesh.primitive_cylinder_add(radius=0.15, depth=0.04, location=(lamp_x, 0.0, 0.02))
    lamp = bpy.context.active_object
    lamp.name = "Lamp"
    lamp.data.materials.append(bronze)
    bpy.ops.mesh.primitive_cylinder_add(radius=0.02, depth=0.46, location=(lamp_x, 0.0, 0.27))
    stem = bpy.context.active_object
    stem.name = "Lamp Stem"
    stem.data.materials.append(bronze)
    bpy.ops.mesh.primitive_cone_add(
        radius1=0.19, radius2=0.11, depth=0.3, location=(lamp_x, 0.0, 0.64)
    )
    shade = bpy.context.active_object
    shade.name = "Lamp Shade"
    shade.data.materials.append(linen)
    for part in (stem, shade):
        matrix = part.matrix_world.copy()
        part.parent = lamp
        part.matrix_world = matrix  # a blockout of three parts, moved as one

    camera_data = bpy.data.cameras.new("Camera")
    camera_data.lens = 50
    camera_data.sensor_fit = "HORIZONTAL"
    camera_data.sensor_width = 36
    camera = bpy.data.objects.new("Camera", camera_data)
    scene.collection.objects.link(camera)
    scene.camera = camera

    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", type="SUN"))
    sun.data.energy = 2.8
    sun.data.angle = math.radians(8)
    sun.rotation_euler = (math.radians(48), math.radians(0), math.radians(-32))
    scene.collection.objects.link(sun)
    fill = bpy.data.objects.new("Fill", bpy.data.lights.new("Fill", type="AREA"))
    fill.data.energy = 400.0
    fill.data.size = 4.0
    fill.location = (-2.0, -5.0, 3.5)
    fill.rotation_euler = (math.radians(55), 0.0, math.radians(-20))
    scene.collection.objects.link(fill)

    from demo.run_demo import sky

    sky(bpy, scene, 0.5)
    bpy.context.view_layer.update()
    return {"boxes": boxes, "lamp": lamp, "camera": camera}


def corners(objects: list[Any]) -> list[Any]:
    """World-space bounding-box corners of the objects' geometry (hidden ones too)."""
    from mathutils import Vector

    return [
        o.matrix_world @ Vector(c)
        for o in objects
        if o.type == "MESH"
        for c in o.bound_box  # type: ignore[attr-defined]
    ]


def aim(
    bpy: Any,
    camera: Any,
    points: list[Any],
    size: tuple[int, int],
    direction: tuple[float, float, float] = (0.38, -1.0, 0.5),
    fill: float = 0.82,
) -> None:
    """Put the camera along `direction` from the points' centre, far enough back that every
    point is inside `fill` of the frame."""
    from mathutils import Vector

    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = size
    low = Vector(tuple(min(p[i] for p in points) for i in range(3)))
    high = Vector(tuple(max(p[i] for p in points) for i in range(3)))
    centre = (low + high) / 2
    back = Vector(direction).normalized()
    rotation = (-back).to_track_quat("-Z", "Y").to_matrix()
    right, up, forward = rotation.col[0], rotation.col[1], -rotation.col[2]
    tan_h = camera.data.sensor_width / 2 / camera.data.lens * fill
    tan_v = tan_h * size[1] / size[0]
    box_corners = [
        Vector((x, y, z)) for x in (low.x, high.x) for y in (low.y, high.y) for z in (low.z, high.z)
    ]
    distance = max(
        max(abs((c - centre) @ right) / tan_h, abs((c - centre) @ up) / tan_v)
        - (c - centre) @ forward
        for c in box_corners
    )
    camera.location = centre + back * distance
    camera.rotation_euler = rotation.to_euler()
    camera.data.clip_end = distance * 4


def render(bpy: Any, path: Path, samples: int) -> None:
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_adaptive_sampling = True
    try:
        scene.cycles.use_denoising = True
        scene.cycles.denoiser = "OPENIMAGEDENOISE"
        # The high-quality denoiser takes 15 s a frame on 2 cores; the fast one 1-2 s.
        scene.cycles.denoising_quality = "FAST"
        scene.cycles.denoising_prefilter = "FAST"
    except (AttributeError, TypeError):
        scene.cycles.use_denoising = False  # no denoiser in this build: plain samples
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False
    settings = scene.render.image_settings
    settings.file_format = "PNG"
    settings.color_mode = "RGB"
    settings.color_depth = "8"
    settings.compression = 100
    scene.render.filepath = str(path)
    started = time.monotonic()
    bpy.ops.render.render(write_still=True)
    step(f"rendered {path.name} ({time.monotonic() - started:.1f} s)")


# -- pictures from pictures ---------------------------------------------------------------------


def read_rgba(bpy: Any, path: Path) -> Any:
    """A PNG's pixels as a (height, width, 4) float array, top row first, values as stored."""
    import numpy as np

    image = bpy.data.images.load(str(path), check_existing=False)
    try:
        width, height = image.size[:]
        pixels = np.empty(width * height * 4, dtype=np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    return pixels.reshape(height, width, 4)[::-1]


def write_png(path: Path, rgb: Any) -> None:
    path.write_bytes(png_from_array(rgb))


def png_from_array(rgb: Any) -> bytes:
    """An 8-bit RGB PNG from a (height, width, 3) array of 0-1 values ('Up' filter, zlib 9)."""
    import numpy as np

    data = np.clip(np.rint(rgb * 255), 0, 255).astype(np.int16)
    height, width, _ = data.shape
    filtered = data.copy()
    filtered[1:] -= data[:-1]  # each row as its difference from the row above
    kinds = np.full((height, 1), 2, dtype=np.uint8)
    kinds[0] = 0  # the first row has nothing above it: no filter
    rows = np.concatenate([kinds, (filtered % 256).astype(np.uint8).reshape(height, -1)], axis=1)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


def row_colours(bpy: Any, capture: Path) -> bytes:
    """A texture for a lathed model from a capture: each row the mean colour of the captured
    object's pixels in that row, the rows from its top to its bottom (the model's lip to foot)."""
    import numpy as np

    rgba = read_rgba(bpy, capture)
    alpha = rgba[:, :, 3]
    weight = alpha.sum(axis=1)
    rows = np.nonzero(weight > 0.5)[0]
    colours = (rgba[:, :, :3] * alpha[..., None]).sum(axis=1) / np.maximum(weight, 1e-6)[:, None]
    picked = rows[np.linspace(0, len(rows) - 1, 256).round().astype(int)]
    return png_from_array(np.repeat(colours[picked][:, None, :], 64, axis=1))


def label(path: Path, text: str) -> None:
    """Write `text` into the picture's top-left corner."""
    annotate(path, [(text, 14, -34, False)], 22)


def annotate(path: Path, texts: list[tuple[str, float, float, bool]], size: int) -> None:
    """Write each (text, x, y, centred) into the picture, white on a dark shadow; x and y in
    pixels from the bottom left (a negative y: from the top)."""
    import blf
    import imbuf

    picture = imbuf.load(str(path))
    font = 0
    with blf.bind_imbuf(font, picture):
        blf.size(font, size)
        for text, x, y, centred in texts:
            if centred:
                x -= blf.dimensions(font, text)[0] / 2
            if y < 0:
                y += picture.size[1]
            for offset, colour in ((2, (0.0, 0.0, 0.0, 0.85)), (0, (1.0, 1.0, 1.0, 1.0))):
                blf.color(font, *colour)
                blf.position(font, x + offset, y - offset, 0)
                blf.draw_buffer(font, text)
    imbuf.write(picture, filepath=str(path))
    picture.free()


def recompress(bpy: Any, path: Path) -> None:
    """Write the picture again as a small RGB PNG (Blender's own PNG writer keeps alpha and
    compresses less)."""
    write_png(path, read_rgba(bpy, path)[:, :, :3])


def outline(bpy: Any, block: Any) -> Any:
    """A thin wire copy of a (hidden) placeholder's box, for a picture only."""
    wire = bpy.data.objects.new(f"{block.name} outline", block.data)
    bpy.context.scene.collection.objects.link(wire)
    wire.matrix_world = block.matrix_world
    modifier = wire.modifiers.new("Wire", "WIREFRAME")
    modifier.thickness = 0.008
    wire.material_slots[0].link = "OBJECT"
    line = bpy.data.materials.get("Outline") or material(bpy, "Outline", (0.95, 0.95, 0.95))
    wire.material_slots[0].material = line
    return wire


def screen(bpy: Any, point: Any, size: tuple[int, int]) -> tuple[float, float]:
    """Where a world point lands in the picture, in pixels from its bottom left."""
    from bpy_extras.object_utils import world_to_camera_view

    scene = bpy.context.scene
    x, y, _ = world_to_camera_view(scene, scene.camera, point)
    return x * size[0], y * size[1]


def tile(bpy: Any, parts: list[Path], out: Path) -> None:
    """The pictures side by side (same height), with a thin white gap between them."""
    import numpy as np

    images = [read_rgba(bpy, p)[:, :, :3] for p in parts]
    gap = np.ones((images[0].shape[0], 4, 3), dtype=np.float32)
    pieces: list[Any] = []
    for image in images:
        pieces += [gap, image] if pieces else [image]
    write_png(out, np.concatenate(pieces, axis=1))


def over_checker(bpy: Any, capture: Path, out: Path) -> None:
    """The capture (straight alpha) over a light checker, so its transparency shows."""
    import numpy as np

    rgba = read_rgba(bpy, capture)
    height, width, _ = rgba.shape
    cell = max(width // 16, 4)
    ys, xs = np.mgrid[0:height, 0:width]
    checker = np.where(((xs // cell + ys // cell) % 2)[..., None] == 0, 0.86, 0.74)
    alpha = rgba[:, :, 3:4]
    write_png(out, rgba[:, :, :3] * alpha + checker * (1 - alpha))


# -- the workflows ------------------------------------------------------------------------------


def select_only(bpy: Any, *objects: Any) -> None:
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    for obj in objects:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = objects[0] if objects else None


def use_image(bpy: Any, path: str) -> None:
    check(bpy.ops.yvo3d.clear_images() == {"FINISHED"}, "Clear Images")
    check(bpy.ops.yvo3d.add_images(filepath=path) == {"FINISHED"}, f"Add Photos: {path}")


def roots(bpy: Any) -> set[str]:
    return {o.name for o in bpy.data.objects if "yvo3d_job_id" in o.keys() and o.parent is None}


def live(placeholder: Any) -> list[Any]:
    return [root for _, root in addon("scene.takes").live_takes(placeholder)]


def shown(obj: Any) -> bool:
    return addon("scene.takes").shown(obj)


def replace_placeholders(
    bpy: Any, scene: dict[str, Any], refs: dict[str, str], standin: Any, out: Path, samples: int
) -> None:
    boxes = scene["boxes"]
    camera = scene["camera"]
    framing = corners(list(boxes.values()))
    aim(bpy, camera, framing, WIDE, fill=0.9)
    render(bpy, out / "placeholders_before.png", samples)

    settings = bpy.context.scene.yvo3d
    plan = (
        ("Crate", "Vase", "terracotta.png", "LONGEST", "vase"),
        ("Column", "Floor Bottle", "porcelain.png", "HEIGHT", "bottle"),
        ("Bench", "Planter", "celadon.png", "FOOTPRINT", "planter"),
    )
    for box_name, name, image, fit, shape in plan:
        block = boxes[box_name]
        step(f"Replace Selected: {box_name} -> {name}, fit by {fit.lower()}")
        use_image(bpy, refs[image])
        settings.name = name
        settings.placement = "PLACEHOLDER"
        settings.placeholder = None  # the selection decides
        settings.fit_mode = fit
        settings.takes = 1
        select_only(bpy, block)
        if shape != "vase":
            standin.shapes.append((shape, None))
        objects_before = {o.name for o in bpy.data.objects}
        check(bpy.ops.yvo3d.generate() == {"FINISHED"}, f"Generate for {box_name}")
        takes = live(block)
        check(len(takes) == 1 and shown(takes[0]), f"{box_name}: one take, shown")
        check(not shown(block) and block.name in bpy.data.objects, f"{box_name}: hidden, kept")
        check(objects_before <= {o.name for o in bpy.data.objects}, "nothing was deleted")
        check(addon("scene.takes").fit_mode(block) == fit, f"{box_name}: fit {fit}")

    # For this picture only: the hidden boxes as thin outlines, each named by its fit mode.
    aim(bpy, camera, framing, WIDE, fill=0.9)
    wires = [outline(bpy, boxes[box_name]) for box_name, *_ in plan]
    after = out / "placeholders_after.png"
    render(bpy, after, samples)
    for wire in wires:
        bpy.data.objects.remove(wire)
    texts = []
    for box_name, _name, _image, fit, _shape in plan:
        block = boxes[box_name]
        front = block.matrix_world.translation.copy()
        front.y -= block.dimensions.y / 2
        front.z = 0.0
        x, y = screen(bpy, front, WIDE)
        texts.append((addon("scene.takes").FIT_LABELS[fit], x, y - 26, True))
    annotate(after, texts, 17)
    recompress(bpy, after)

    # Swap back and show the model again: both one click, nothing deleted.
    crate = boxes["Crate"]
    (take,) = live(crate)
    select_only(bpy, take)
    check(bpy.ops.yvo3d.swap_back() == {"FINISHED"}, "Swap Back to Placeholder")
    check(shown(crate) and not shown(take), "swap back shows the placeholder, hides the model")
    check(bpy.ops.yvo3d.swap_back() == {"FINISHED"}, "Show Generated Model")
    check(shown(take) and not shown(crate), "the model is shown again")
    # Re-fit after the placeholder changed, then put it back.
    crate.scale = (0.5, 0.5, 0.7)
    bpy.context.view_layer.update()
    check(bpy.ops.yvo3d.refit(fit="HEIGHT") == {"FINISHED"}, "Re-fit to Placeholder")
    zs = [p.z for p in corners(addon("scene.cleanup").hierarchy(take))]
    height = max(zs) - min(zs)
    check(abs(height - 0.7) < 1e-3, f"re-fit by height: the model is 0.7 m tall ({height:.4f})")
    crate.scale = (0.5, 0.5, 0.5)
    bpy.context.view_layer.update()
    check(bpy.ops.yvo3d.refit(fit="LONGEST") == {"FINISHED"}, "Re-fit (Longest Side)")


def takes_in_place(
    bpy: Any, scene: dict[str, Any], standin: Any, tmp: Path, out: Path, samples: int
) -> None:
    crate = scene["boxes"]["Crate"]
    placeholders = addon("scene.takes")
    for shape in ("jar", "amphora"):
        select_only(bpy, live(crate)[placeholders.active_index(crate)])
        standin.shapes.append((shape, None))
        step(f"Regenerate (New Take) on {crate.name}")
        check(bpy.ops.yvo3d.regenerate() == {"FINISHED"}, "Regenerate (New Take)")
    takes = live(crate)
    check(len(takes) == 3, f"three takes of {crate.name} ({len(takes)})")
    check(placeholders.active_index(crate) == 2, "the new take is shown on arrival")

    # Every take fits the same box: frame the box once, a little wider than its tallest take.
    points = corners([crate]) + [
        p for t in takes for p in corners(addon("scene.cleanup").hierarchy(t))
    ]
    aim(bpy, scene["camera"], points, TILE, direction=(0.3, -1.0, 0.42), fill=0.8)
    parts = []
    for index in range(3):
        check(bpy.ops.yvo3d.next_take() == {"FINISHED"}, "Next Take")
        check(placeholders.active_index(crate) == index, f"Next Take shows take {index + 1}")
        visible = [t for t in takes if shown(t)]
        check(visible == [takes[index]] and not shown(crate), "one take shown at a time")
        part = tmp / f"take{index + 1}.png"
        render(bpy, part, samples)
        label(part, f"Take {index + 1} of 3")
        parts.append(part)
    tile(bpy, parts, out / "takes.png")

    check(bpy.ops.yvo3d.previous_take() == {"FINISHED"}, "Previous Take")
    kept = takes[placeholders.active_index(crate)].name
    check(bpy.ops.yvo3d.keep_take() == {"FINISHED"}, "Keep This Take")
    archived = placeholders.archived(crate)
    check([t.name for t in live(crate)] == [kept], "Keep leaves the shown take only")
    library = addon("session.runtime").manager(bpy.context).library
    check(
        len(archived) == 2 and all(library.get(t.library) is not None for t in archived),
        "the two other takes are archived, still in the library",
    )


def capture_and_generate(
    bpy: Any, scene: dict[str, Any], standin: Any, out: Path, samples: int
) -> None:
    lamp = scene["lamp"]
    settings = bpy.context.scene.yvo3d
    capture = bpy.context.scene.yvo3d_capture
    capture.engine = "CYCLES"
    capture.samples = samples
    capture.resolution = 360
    capture.background = "TRANSPARENT"
    capture.view = "THREE_QUARTER"
    check(bpy.ops.yvo3d.clear_images() == {"FINISHED"}, "Clear Images")
    select_only(bpy, lamp)
    user_scene = bpy.context.scene
    before = (user_scene.camera.name, user_scene.render.resolution_x, len(user_scene.objects))
    step("Capture Selected: the blockout lamp")
    check(bpy.ops.yvo3d.capture_reference() == {"FINISHED"}, "Capture Selected")
    after = (user_scene.camera.name, user_scene.render.resolution_x, len(user_scene.objects))
    check(before == after, "the capture leaves the user's scene as it was")
    path = Path(settings.images[settings.active_image].filepath)
    check(path.is_file(), "the capture is the reference image")
    over_checker(bpy, path, out / "capture_reference.png")

    settings.name = "Lamp"
    settings.placement = "PLACEHOLDER"
    settings.placeholder = lamp  # picked: wins over the selection
    settings.fit_mode = "HEIGHT"
    settings.takes = 1
    # The capture has a transparent background, which would paint the stand-in's model black
    # where nothing was captured: its model is painted with the capture's colours instead.
    standin.shapes.append(("lamp", row_colours(bpy, path)))
    step("Generate from the capture, in the lamp's place")
    check(bpy.ops.yvo3d.generate() == {"FINISHED"}, "Generate from the capture")
    takes = live(lamp)
    check(len(takes) == 1 and not shown(lamp), "the lamp is replaced, its parts hidden")
    check(all(not shown(p) for p in lamp.children), "every part of the blockout is hidden")
    settings.placeholder = None
    points = corners([lamp, *lamp.children]) + corners(addon("scene.cleanup").hierarchy(takes[0]))
    aim(bpy, scene["camera"], points, WIDE, direction=(0.3, -1.0, 0.35), fill=0.75)
    render(bpy, out / "capture_result.png", samples)


def rotate_result(
    bpy: Any,
    scene: dict[str, Any],
    refs: dict[str, str],
    standin: Any,
    tmp: Path,
    out: Path,
    samples: int,
) -> None:
    from mathutils import Vector

    settings = bpy.context.scene.yvo3d
    use_image(bpy, refs["amber.png"])
    settings.name = "Amber Vase"
    settings.placement = "CURSOR"
    settings.takes = 1
    bpy.context.scene.cursor.location = (-4.6, 0.0, 0.0)
    standin.shapes.append(("sideways", None))
    known = roots(bpy)
    step("Generate at the 3D cursor: a result that lies on its side")
    check(bpy.ops.yvo3d.generate() == {"FINISHED"}, "Generate at the cursor")
    (name,) = roots(bpy) - known
    root = bpy.data.objects[name]
    objects = addon("scene.cleanup").hierarchy(root)
    points = corners(objects)
    low = Vector(tuple(min(p[i] for p in points) for i in range(3)))
    high = Vector(tuple(max(p[i] for p in points) for i in range(3)))
    check(high.y - low.y > 1.3 * (high.z - low.z), "the result lies along +Y")
    # One frame for both states: a cube on the model's base as long as the model.
    length = max(high - low)
    base = Vector(((low.x + high.x) / 2, (low.y + high.y) / 2, low.z))
    frame = [
        base + Vector((dx * length / 2, dy * length / 2, dz * length))
        for dx in (-1, 1)
        for dy in (-1, 1)
        for dz in (0, 1)
    ]
    aim(bpy, scene["camera"], frame, TILE, direction=(0.55, -1.0, 0.4), fill=0.85)
    parts = [tmp / "rotate_before.png", tmp / "rotate_after.png"]
    render(bpy, parts[0], samples)
    label(parts[0], "Imported")

    select_only(bpy, root)
    step("Selected Model > Turn X +90")
    check(bpy.ops.yvo3d.rotate_result(axis="X", angle=90.0) == {"FINISHED"}, "Turn X +90")
    points = corners(objects)
    low_after = Vector(tuple(min(p[i] for p in points) for i in range(3)))
    high_after = Vector(tuple(max(p[i] for p in points) for i in range(3)))
    check(high_after.z - low_after.z > 1.3 * (high_after.y - low_after.y), "now it stands up")
    check(abs(low_after.z - low.z) < 1e-4, "still on the same floor")
    render(bpy, parts[1], samples)
    label(parts[1], "After X +90")
    tile(bpy, parts, out / "cleanup_rotate.png")


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    zip_path = args.zip.resolve()
    if not zip_path.is_file():
        raise SystemExit(f"--zip {zip_path} does not exist (build it: python build.py)")

    # Blender's user folder and the add-on's (jobs, library) are throwaway ones, set before
    # bpy is imported: stand-in results must never mix with real ones.
    tmp = Path(tempfile.mkdtemp(prefix="yvo3d-workflows-"))
    os.environ["BLENDER_USER_RESOURCES"] = str(tmp / "blender")
    os.environ["YVO3D_USER_DIR"] = str(tmp / "yvo3d")
    os.environ["YVO3D_POLL_SECONDS"] = "0.2"
    os.environ.pop("SCENARIO_BASE_URL", None)
    sys.path.insert(0, str(ROOT))  # tests.standin, tests.media, demo.run_demo
    import bpy

    from demo.run_demo import install

    standin = shaped_standin(job_seconds=0.6)
    standin.start()
    try:
        install(bpy, zip_path)
        prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
        prefs.api_key, prefs.api_secret = standin.api_key, standin.api_secret
        prefs.service_url = standin.base_url
        bpy.context.preferences.system.use_online_access = True
        step(f"using the local stand-in of Scenario's API at {standin.base_url}")

        bpy.ops.wm.read_homefile(use_empty=True)
        refs = write_references(tmp)
        scene = build_scene(bpy)
        replace_placeholders(bpy, scene, refs, standin, out, args.samples)
        takes_in_place(bpy, scene, standin, tmp, out, args.samples)
        capture_and_generate(bpy, scene, standin, out, args.samples)
        rotate_result(bpy, scene, refs, standin, tmp, out, args.samples)
    except StepFailedError as exc:
        step(f"FAILED: {exc}")
        return 1
    finally:
        import addon_utils  # Blender's own module: importable once bpy is

        if ADDON_MODULE in bpy.context.preferences.addons:
            addon_utils.disable(ADDON_MODULE)  # stops the add-on's threads
        standin.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print("YVO3D workflows summary")
    print(f"  paid jobs   {standin.paid_requests} (stand-in: nothing paid)")
    for path in sorted(out.glob("*.png")):
        print(f"  {path.name:24s}{path.stat().st_size // 1024:5d} KB")
    print(f"  elapsed     {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
