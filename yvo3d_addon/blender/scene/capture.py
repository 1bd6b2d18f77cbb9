"""Scene layer: render the selected objects (or take an Image Editor image) as a reference image
file.

The render happens in a temporary scene that links the chosen objects, with its own camera,
world and render settings, so the user's scene, its camera, visibility and render settings are
never touched; everything temporary is removed afterwards. The camera frames the objects'
evaluated geometry so that it fills the image up to the margin on its longer axis.
"""

import math
import os
import re
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import bpy
from mathutils import Euler, Matrix, Vector

from ...core import errors
from ...core.params import MAX_IMAGES
from .. import compat
from ..settings import properties
from ..settings.capture_options import Shot
from . import image_files

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems


Result = set["OperatorReturnItems"]


TEMP_NAME = "YVO3D Capture"


AUTO_LENS = 70.0  # mm on a 36 mm sensor: little perspective distortion, like a product photo


AUTO_SENSOR = 36.0


ELEVATION = math.radians(20.0)


_GEOMETRY = frozenset({"MESH", "CURVE", "SURFACE", "META", "FONT"})


def _orientation(shot: Shot, camera: bpy.types.Object | None) -> Matrix:
    if shot.view == "CAMERA":
        if camera is None:
            raise errors.InputError(
                "The scene has no active camera.",
                fix="Add a camera and make it active (Ctrl Numpad 0), or pick another view.",
            )
        return camera.matrix_world.to_quaternion().to_matrix()
    if shot.view == "FRONT":
        return Euler((math.pi / 2, 0.0, 0.0)).to_matrix()
    return Euler((math.pi / 2 - ELEVATION, 0.0, math.radians(45.0))).to_matrix()


def _extremes(depsgraph: bpy.types.Depsgraph, functionals: list[Vector]) -> list[float]:
    """max(p . v) over every evaluated vertex p (world space) for each vector v.

    Mesh.transform does the arithmetic in C: three functionals at a time become the rows of one
    matrix, and the maxima of the transformed coordinates are the answers."""
    best = [-math.inf] * len(functionals)
    groups = [functionals[i : i + 3] for i in range(0, len(functionals), 3)]
    for instance in depsgraph.object_instances:
        obj: Any = instance.object
        if obj.type not in _GEOMETRY:
            continue
        mesh = obj.to_mesh()
        if mesh is None or not mesh.vertices:
            obj.to_mesh_clear()
            continue
        try:
            count = len(mesh.vertices)
            local = array("f", bytes(12 * count))
            mesh.vertices.foreach_get("co", local)
            out = array("f", bytes(12 * count))
            world = instance.matrix_world.copy()
            for index, group in enumerate(groups):
                rows: Any = [*group, *([Vector((0.0, 0.0, 0.0))] * (3 - len(group)))]
                if index:
                    mesh.vertices.foreach_set("co", local)
                mesh.transform(Matrix((*rows,)).to_4x4() @ world)
                mesh.vertices.foreach_get("co", out)
                for k in range(len(group)):
                    slot = index * 3 + k
                    best[slot] = max(best[slot], max(out[k::3]))
        finally:
            obj.to_mesh_clear()
    return best


@dataclass
class Framing:
    location: Vector
    ortho_scale: float
    clip_start: float
    clip_end: float


def frame(
    depsgraph: bpy.types.Depsgraph,
    rotation: Matrix,
    *,
    ortho: bool,
    half_tan: float,
    margin: float,
) -> Framing:
    """Where a camera with `rotation` must stand so the geometry fills a square frame up to
    `margin` on its longer axis. `half_tan`: tangent of half the field of view (perspective)."""
    right, up = rotation.col[0].copy(), rotation.col[1].copy()
    forward = -rotation.col[2].copy()
    fill = max(0.05, 1.0 - 2.0 * margin)
    t = half_tan * fill
    values = _extremes(
        depsgraph,
        [
            right - t * forward,
            -right - t * forward,
            up - t * forward,
            -up - t * forward,
            forward,
            -forward,
            right,
            -right,
            up,
            -up,
        ],
    )
    if values[0] == -math.inf:
        raise errors.InputError(
            "The selection has no geometry to capture.",
            fix="Select a mesh, curve or text object (or a collection instance).",
        )
    a, b, c, d, z_max, neg_z_min, x_max, neg_x_min, y_max, neg_y_min = values
    z_min = -neg_z_min
    width, height, depth = x_max + neg_x_min, y_max + neg_y_min, z_max - z_min
    size = max(width, height)
    if size < 1e-7:
        raise errors.InputError(
            "The selection has no size to capture (a single point or a flat line seen edge on).",
            fix="Pick another view or select an object with some extent.",
        )
    if ortho:
        cx, cy = (x_max - neg_x_min) / 2, (y_max - neg_y_min) / 2
        back = max(size, depth, 0.1)
        cz = z_min - back
        return Framing(
            location=cx * right + cy * up + cz * forward,
            ortho_scale=size / fill,
            clip_start=back * 0.01,
            clip_end=z_max - cz + back,
        )
    # Each pair of opposite frustum planes touches the geometry on both sides: the pair that
    # needs the camera further back sets the distance, and that axis spans exactly `fill`.
    cz = min(-(a + b) / (2 * t), -(c + d) / (2 * t))
    cx, cy = (a - b) / 2, (c - d) / 2
    return Framing(
        location=cx * right + cy * up + cz * forward,
        ortho_scale=1.0,
        clip_start=max(1e-4, (z_min - cz) * 0.5),
        clip_end=(z_max - cz) * 1.5 + 1e-3,
    )


def with_children(objects: Iterable[bpy.types.Object]) -> list[bpy.types.Object]:
    """The objects and all their descendants, each once."""
    found: dict[int, bpy.types.Object] = {}
    for obj in objects:
        for item in (obj, *obj.children_recursive):
            found.setdefault(item.as_pointer(), item)
    return list(found.values())


def _camera_lens(camera: bpy.types.Object | None, shot: Shot) -> tuple[str, float, float]:
    """(type, lens mm, sensor mm) of the capture camera."""
    if shot.view == "CAMERA" and camera is not None and camera.type == "CAMERA":
        data: Any = camera.data
        if data.type == "ORTHO":
            return "ORTHO", AUTO_LENS, AUTO_SENSOR
        if data.type == "PERSP":
            sensor = data.sensor_height if data.sensor_fit == "VERTICAL" else data.sensor_width
            return "PERSP", float(data.lens), float(sensor)
    return "PERSP", AUTO_LENS, AUTO_SENSOR


def _light_for_cycles(scene: Any, made: list[Any], rotation: Matrix, shot: Shot) -> None:
    world = scene.world
    tree = compat.node_tree(world)
    tree.nodes.clear()
    output = tree.nodes.new("ShaderNodeOutputWorld")
    light = tree.nodes.new("ShaderNodeBackground")
    light.inputs["Color"].default_value = (0.3, 0.3, 0.3, 1.0)
    if shot.transparent:
        tree.links.new(light.outputs["Background"], output.inputs["Surface"])
    else:
        # Camera rays see the plain colour; everything else is lit by the soft grey.
        plain = tree.nodes.new("ShaderNodeBackground")
        plain.inputs["Color"].default_value = (*shot.color, 1.0)
        path = tree.nodes.new("ShaderNodeLightPath")
        mix = tree.nodes.new("ShaderNodeMixShader")
        tree.links.new(path.outputs["Is Camera Ray"], mix.inputs["Fac"])
        tree.links.new(light.outputs["Background"], mix.inputs[1])
        tree.links.new(plain.outputs["Background"], mix.inputs[2])
        tree.links.new(mix.outputs["Shader"], output.inputs["Surface"])
    sun_data: Any = bpy.data.lights.new(TEMP_NAME, "SUN")
    made.append((bpy.data.lights, sun_data))
    sun_data.energy = 0.9  # with the grey world: a white material just short of clipping
    sun_data.angle = math.radians(10.0)
    sun = bpy.data.objects.new(TEMP_NAME + " Light", sun_data)
    made.insert(0, (bpy.data.objects, sun))
    # A key light from above the camera's left shoulder.
    key = rotation @ Euler((math.radians(-35.0), math.radians(-30.0), 0.0)).to_matrix()
    sun.matrix_world = key.to_4x4()
    scene.collection.objects.link(sun)


def render_objects(
    context: bpy.types.Context,
    objects: list[bpy.types.Object],
    shot: Shot,
    path: str,
    *,
    fixed: tuple[Matrix, Framing] | None = None,
) -> str:
    """Render just `objects` (children included by the caller) framed as `shot` says into the
    PNG at `path`; InputError when there is nothing to see. The user's scene is not changed.
    `fixed`: an orthographic camera's rotation and framing to use as they are (multi-view)."""
    if not objects:
        raise errors.InputError("Nothing is selected.", fix="Select the object to capture.")
    user_scene: Any = context.scene
    camera = user_scene.camera if user_scene is not None else None
    if fixed is not None:
        rotation = fixed[0]
        kind, lens, sensor = "ORTHO", AUTO_LENS, AUTO_SENSOR
    else:
        rotation = _orientation(shot, camera)
        kind, lens, sensor = _camera_lens(camera, shot)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    had_render_result = bpy.data.images.get("Render Result") is not None

    scene: Any = bpy.data.scenes.new(TEMP_NAME)
    made: list[tuple[Any, Any]] = []  # (collection, data block), removed in this order
    try:
        for obj in objects:
            scene.collection.objects.link(obj)
        if user_scene is not None:
            scene.frame_current = user_scene.frame_current
            scene.unit_settings.scale_length = user_scene.unit_settings.scale_length
        view_layer = scene.view_layers[0]
        with bpy.context.temp_override(scene=scene, view_layer=view_layer):
            depsgraph = bpy.context.evaluated_depsgraph_get()
            framing = (
                fixed[1]
                if fixed is not None
                else frame(
                    depsgraph,
                    rotation,
                    ortho=kind == "ORTHO",
                    half_tan=sensor / 2 / lens,
                    margin=shot.margin,
                )
            )

        cam_data: Any = bpy.data.cameras.new(TEMP_NAME)
        made.append((bpy.data.cameras, cam_data))
        cam_data.type = kind
        cam_data.lens = lens
        cam_data.sensor_width = sensor
        cam_data.sensor_fit = "AUTO"
        cam_data.ortho_scale = framing.ortho_scale
        cam_data.clip_start = framing.clip_start
        cam_data.clip_end = framing.clip_end
        cam = bpy.data.objects.new(TEMP_NAME, cam_data)
        made.insert(0, (bpy.data.objects, cam))
        cam.matrix_world = Matrix.LocRotScale(framing.location, rotation.to_quaternion(), None)
        scene.collection.objects.link(cam)
        scene.camera = cam

        world: Any = bpy.data.worlds.new(TEMP_NAME)
        made.append((bpy.data.worlds, world))
        world.color = shot.color
        scene.world = world

        render = scene.render
        render.resolution_x = render.resolution_y = shot.resolution
        render.resolution_percentage = 100
        render.pixel_aspect_x = render.pixel_aspect_y = 1.0
        render.use_border = False
        render.film_transparent = shot.transparent
        render.image_settings.file_format = "PNG"
        render.image_settings.color_mode = "RGBA" if shot.transparent else "RGB"
        render.image_settings.color_depth = "8"
        render.filepath = path
        render.use_file_extension = False
        # Plain sRGB: the reference shows the colours the user picked, not a film look.
        scene.view_settings.view_transform = "Standard"
        scene.view_settings.look = "None"
        if shot.engine == "CYCLES":
            render.engine = "CYCLES"
            scene.cycles.device = "CPU"
            scene.cycles.samples = shot.samples
            scene.cycles.use_denoising = False
            scene.cycles.use_adaptive_sampling = False
            _light_for_cycles(scene, made, rotation, shot)
        else:
            render.engine = "BLENDER_WORKBENCH"
            shading = scene.display.shading
            shading.light = "STUDIO"
            shading.color_type = "TEXTURE"  # image textures where there are, else material
            shading.show_cavity = False
            shading.show_shadows = False
        bpy.ops.render.render(write_still=True, scene=scene.name)
    finally:
        for collection, block in made:
            collection.remove(block)
        bpy.data.scenes.remove(scene)
        if not had_render_result:
            result = bpy.data.images.get("Render Result")
            if result is not None:
                bpy.data.images.remove(result)
    if not os.path.isfile(path):
        raise errors.InputError("The capture was not written (the render failed).")
    if shot.transparent and _all_transparent(path):
        raise errors.InputError(
            "Nothing visible was captured: the selection does not show in renders.",
            fix="Check the objects' 'Disable in Renders' setting and their materials.",
        )
    return path


def _all_transparent(path: str) -> bool:
    image = bpy.data.images.load(path, check_existing=False)
    try:
        width, height = image.size[:]
        pixels = array("f", bytes(16 * width * height))
        cast(Any, image.pixels).foreach_get(pixels)
        return max(pixels[3::4], default=0.0) <= 0.0
    finally:
        bpy.data.images.remove(image)


def _safe(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("._")[:40] or "capture"


def new_capture_path(folder: str, stem: str) -> str:
    """A new PNG path in `folder` (made when missing), named after `stem` and the time."""
    import uuid  # late, like the image checks: enabling the add-on must stay cheap

    os.makedirs(folder, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return os.path.join(folder, f"{_safe(stem)}-{stamp}-{uuid.uuid4().hex[:6]}.png")


def use_as_reference(context: bpy.types.Context, path: str, *, new_slot: bool = False) -> int:
    """Put the image file into the active slot (or a new one); returns the slot index.
    InputError when the file is no usable reference or every slot is taken."""
    from ...core import images

    settings: Any = context.scene.yvo3d  # type: ignore[union-attr]
    _, notes = images.check(path)
    index = int(settings.active_image)
    if new_slot or not 0 <= index < len(settings.images):
        empty = [i for i, s in enumerate(settings.images) if s.image is None and not s.filepath]
        if empty:
            index = empty[0]
        elif len(settings.images) < MAX_IMAGES:
            settings.images.add()
            index = len(settings.images) - 1
        else:
            raise errors.InputError(
                f"Every reference image slot is taken ({MAX_IMAGES}).",
                fix="Remove an image first, or capture into the active slot.",
            )
    slot = settings.images[index]
    slot.image = None
    slot.filepath = path
    slot.view = ""
    settings.active_image = index
    return index


def image_as_file(image: bpy.types.Image, folder: str) -> str:
    """The image's own file when it is unmodified on disk, else a PNG copy in `folder`."""
    path = properties.image_file(image)
    if path and os.path.isfile(path):
        return path
    return image_files.save_png(image, new_capture_path(folder, image.name))


def _targets(context: bpy.types.Context) -> list[bpy.types.Object]:
    chosen = list(getattr(context, "selected_objects", None) or ())
    active = getattr(context, "active_object", None)
    if not chosen and active is not None:
        chosen = [active]
    return with_children(o for o in chosen if o.type != "CAMERA" and o.type != "LIGHT")


def _editor_image(context: bpy.types.Context) -> bpy.types.Image | None:
    space = getattr(context, "space_data", None)
    if space is not None and getattr(space, "type", "") == "IMAGE_EDITOR":
        image = getattr(space, "image", None)
        return image if isinstance(image, bpy.types.Image) else None
    return None
