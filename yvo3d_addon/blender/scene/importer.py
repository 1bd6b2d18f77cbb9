"""Scene layer: GLB -> objects in one collection under one root, placed on a point, materials
stored, stamped; nothing half-imported stays on failure."""

import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import bpy
from mathutils import Matrix, Vector

from ...core import errors, glbcheck, sanitize
from .. import compat
from .bounds import _world_bounds

SHAPE_MATERIAL_NAME = "YVO3D Shape"


SHAPE_MATERIAL_TAG = "yvo3d_shape_material"


SHAPE_COLOR = (0.7, 0.7, 0.7, 1.0)


SHADING_WARNING = (
    "Textures show in Material Preview: press Z in the viewport and pick Material Preview"
)


UNSAVED_BESIDE_WARNING = (
    "Textures were packed into the .blend: save the .blend first to keep them in a "
    "textures/ folder beside it"
)


IMAGES_MODES = ("PACK", "BESIDE")


# Every kind of data block the glTF importer can create: all are removed if the import fails.
# Objects go first so the data they use is free to go; collections go last.
_TRACKED = (
    "objects",
    "meshes",
    "materials",
    "images",
    "textures",
    "node_groups",
    "armatures",
    "actions",
    "cameras",
    "lights",
    "curves",
    "collections",
)


# Keys that may carry credentials: never stamped on an object, at any depth.
_SECRET_KEY = re.compile(r"secret|password|passwd|api_?key|token|authori[sz]ation|credential", re.I)


_INT32 = (-(2**31), 2**31 - 1)


_EXTENSIONS = {
    "PNG": ".png",
    "JPEG": ".jpg",
    "WEBP": ".webp",
    "TARGA": ".tga",
    "OPEN_EXR": ".exr",
    "HDR": ".hdr",
    "TIFF": ".tif",
    "BMP": ".bmp",
}


@dataclass
class ImportResult:
    """What one import put into the scene."""

    root: bpy.types.Object
    """The single parent (an Empty) or the single imported object."""
    objects: list[bpy.types.Object]
    """Every new object, root included."""
    collection: bpy.types.Collection
    """The new collection holding every new object."""
    warnings: list[str] = field(default_factory=list)
    """User-facing notes, e.g. how to see textures in a Solid viewport."""


def import_glb(
    context: bpy.types.Context,
    path: str,
    *,
    name: str,
    location: tuple[float, float, float] | None = None,
    shape_only: bool = False,
    images_mode: str = "PACK",
) -> ImportResult:
    """Import the GLB at `path`, bottom centre on `location` (default: the 3D cursor).

    On any failure every data block the import created is removed again and a RuntimeError
    with a readable message is raised; the file itself is never modified.
    """
    if images_mode not in IMAGES_MODES:
        raise ValueError(f"images_mode must be one of {IMAGES_MODES}, not {images_mode!r}")
    path = os.path.abspath(path)
    label = os.path.basename(path)
    if not os.path.isfile(path):
        raise RuntimeError(f"Could not import {label}: the file does not exist ({path})")
    try:
        # Before Blender's importer reads it: a uri outside the file would be packed into the
        # scene (userpref.blend holds the API key), a huge texture would exhaust memory.
        glbcheck.check(path)
    except errors.Yvo3dError as exc:
        raise RuntimeError(f"Refused to import {label}: {exc.user_text()}") from None
    name = sanitize.clean(name, limit=60).strip() or os.path.splitext(label)[0]
    scene, _ = _scene_and_layer(context)
    target = Vector(location) if location is not None else scene.cursor.location.copy()

    _require_object_mode(context)
    before = _snapshot()
    try:
        return _import(context, path, name, target, shape_only, images_mode, before)
    except Exception as exc:
        _remove_new(before)
        raise RuntimeError(f"Could not import {label}: {_reason(exc)}") from exc


def _import(
    context: bpy.types.Context,
    path: str,
    name: str,
    target: Vector,
    shape_only: bool,
    images_mode: str,
    before: dict[str, set[int]],
) -> ImportResult:
    scene, view_layer = _scene_and_layer(context)
    result = cast(set[str], bpy.ops.import_scene.gltf(filepath=path))
    if "FINISHED" not in result:
        raise RuntimeError("Blender's glTF importer did not finish")
    imported: list[bpy.types.Object] = _new(before, "objects")
    if not imported:
        raise RuntimeError("the file holds no objects")

    collection = bpy.data.collections.new(name)
    scene.collection.children.link(collection)
    for obj in imported:
        for owner in list(obj.users_collection):
            owner.objects.unlink(obj)
        collection.objects.link(obj)
    _remove_empty_new_collections(before, keep=collection)
    view_layer.update()

    low, high = _world_bounds(imported, context.evaluated_depsgraph_get())
    base = Vector(((low.x + high.x) / 2, (low.y + high.y) / 2, low.z))
    root = _make_root(imported, name, collection, base, high - low)
    objects = imported if root in imported else [root, *imported]
    view_layer.update()
    # Move the root so the base of the bounds lands on the target; size is left alone.
    moved = root.matrix_world.copy()
    moved.translation += target - base
    root.matrix_world = moved
    view_layer.update()

    _apply_materials(imported, shape_only, before)
    warnings: list[str] = []
    images: list[bpy.types.Image] = _new(before, "images")
    _store_images(images, images_mode, name, warnings)
    if images and not _viewport_shows_textures(context):
        warnings.append(SHADING_WARNING)

    for obj in view_layer.objects:
        if obj.select_get():
            obj.select_set(False)
    for obj in objects:
        obj.select_set(True)
    view_layer.objects.active = root
    return ImportResult(root=root, objects=objects, collection=collection, warnings=warnings)


def _scene_and_layer(context: bpy.types.Context) -> tuple[bpy.types.Scene, bpy.types.ViewLayer]:
    scene, view_layer = context.scene, context.view_layer
    if scene is None or view_layer is None:
        raise RuntimeError("Could not import: there is no active scene")
    return scene, view_layer


def _require_object_mode(context: bpy.types.Context) -> None:
    """The importer never changes the user's mode (issue 12): outside Object Mode it refuses,
    and the caller keeps the model until the user is back."""
    mode = str(getattr(context, "mode", "OBJECT"))
    if mode != "OBJECT":
        raise RuntimeError(
            f"you are in {mode.replace('_', ' ').title()} mode: switch to Object Mode and "
            "import it then"
        )


def _snapshot() -> dict[str, set[int]]:
    return {kind: {block.as_pointer() for block in getattr(bpy.data, kind)} for kind in _TRACKED}


def _new(before: Mapping[str, set[int]], kind: str) -> list[Any]:
    known = before[kind]
    return [block for block in getattr(bpy.data, kind) if block.as_pointer() not in known]


def _remove_new(before: Mapping[str, set[int]]) -> None:
    for kind in _TRACKED:
        blocks = getattr(bpy.data, kind)
        for block in _new(before, kind):
            try:
                blocks.remove(block, do_unlink=True)
            except (ReferenceError, RuntimeError):
                pass  # already gone with its owner; keep cleaning the rest


def _remove_empty_new_collections(
    before: Mapping[str, set[int]], keep: bpy.types.Collection
) -> None:
    # Newer glTF importers may wrap the scene in a collection of their own; ours replaces it.
    for coll in _new(before, "collections"):
        if coll != keep and not coll.all_objects and not coll.children:
            bpy.data.collections.remove(coll)


def _reason(exc: BaseException) -> str:
    # bpy.ops errors read "Error: <message>" or end with the importer's traceback.
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[-1] if lines else type(exc).__name__
    return text.removeprefix("Error:").strip() or type(exc).__name__


def _make_root(
    imported: list[bpy.types.Object],
    name: str,
    collection: bpy.types.Collection,
    base: Vector,
    size: Vector,
) -> bpy.types.Object:
    members = {obj.as_pointer() for obj in imported}
    tops = [obj for obj in imported if obj.parent is None or obj.parent.as_pointer() not in members]
    if len(tops) == 1:
        root = tops[0]
        root.name = name
        return root
    # Several top-level objects: one Empty at the base of the bounds parents them all.
    root = bpy.data.objects.new(name, None)
    root.empty_display_type = "PLAIN_AXES"
    root.empty_display_size = max(size.x, size.y, size.z, 0.02) / 2
    root.matrix_world = Matrix.Translation(base)
    collection.objects.link(root)
    for obj in tops:
        world = obj.matrix_world.copy()
        obj.parent = root
        # Identity inverse: the children's own transforms read relative to the root.
        obj.matrix_parent_inverse = Matrix.Identity(4)
        obj.matrix_world = world
    return root


def _scrub(value: object) -> object:
    if isinstance(value, Mapping):
        return {str(k): _scrub(v) for k, v in value.items() if not _SECRET_KEY.search(str(k))}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _encode(value: object) -> object:
    if isinstance(value, bool | float | str):
        return value
    if isinstance(value, int):
        # ID properties hold 32-bit ints; larger ones (seeds) keep their value as text.
        return value if _INT32[0] <= value <= _INT32[1] else str(value)
    return json.dumps(_scrub(value), sort_keys=True, default=str)


def stamp(
    root: bpy.types.Object, fields: Mapping[str, object], secrets: Sequence[str] = ()
) -> None:
    """Write the job id, source image names, parameters and cost on the result's root as
    custom properties; never a key that looks like a credential, nor a value that holds one of
    `secrets` (too short ones are ignored: they would match ordinary text)."""
    secrets = [value for value in secrets if len(value) >= 8]
    values: dict[str, object] = {"job_id": "", "images": [], "params": {}}
    values.update(fields)
    for key, value in values.items():
        bare = key.removeprefix("yvo3d_")
        if value is None or _SECRET_KEY.search(bare):
            continue
        encoded: object
        if bare == "images":
            items = value if isinstance(value, list | tuple) else [value]
            encoded = [os.path.basename(str(item)) for item in items]
        elif bare == "params" and not isinstance(value, str):
            encoded = json.dumps(_scrub(value), sort_keys=True, default=str)
        else:
            encoded = _encode(value)
        if any(secret in str(encoded) for secret in secrets):
            continue
        root[f"yvo3d_{bare}"] = encoded


def _shape_material() -> bpy.types.Material:
    for mat in bpy.data.materials:
        if cast(Any, mat).get(SHAPE_MATERIAL_TAG) and mat.library is None:
            return mat
    mat = bpy.data.materials.new(SHAPE_MATERIAL_NAME)
    mat[SHAPE_MATERIAL_TAG] = True
    tree = compat.node_tree(mat)
    if tree is None:
        raise RuntimeError("Blender did not give the shape material a node tree")
    nodes = tree.nodes
    bsdf: Any = next((n for n in nodes if n.bl_idname == "ShaderNodeBsdfPrincipled"), None)
    if bsdf is None:
        nodes.clear()
        bsdf = nodes.new("ShaderNodeBsdfPrincipled")
        output = nodes.new("ShaderNodeOutputMaterial")
        output.location = (300, 0)
        tree.links.new(bsdf.outputs["BSDF"], output.inputs["Surface"])
    bsdf.inputs["Base Color"].default_value = SHAPE_COLOR
    bsdf.inputs["Roughness"].default_value = 0.6
    mat.diffuse_color = SHAPE_COLOR  # what the Solid viewport shows
    return mat


def _apply_materials(
    imported: list[bpy.types.Object], shape_only: bool, before: Mapping[str, set[int]]
) -> None:
    for obj in imported:
        if obj.type != "MESH":
            continue
        if shape_only or not any(slot.material for slot in obj.material_slots):
            mesh = cast(bpy.types.Mesh, obj.data)
            mesh.materials.clear()
            mesh.materials.append(_shape_material())
    if shape_only:
        # The GLB's own materials and textures are unused now: do not keep them in the .blend.
        for mat in _new(before, "materials"):
            if mat.users == 0:
                bpy.data.materials.remove(mat)
        for img in _new(before, "images"):
            if img.users == 0:
                bpy.data.images.remove(img)


def _store_images(
    images: list[bpy.types.Image], images_mode: str, name: str, warnings: list[str]
) -> None:
    if images_mode == "BESIDE" and bpy.data.filepath:
        _save_beside(images, name, warnings)
        return
    if images_mode == "BESIDE" and images:
        warnings.append(UNSAVED_BESIDE_WARNING)
    for img in images:
        if img.packed_file is None and img.source in {"FILE", "GENERATED"}:
            try:
                img.pack()
            except RuntimeError as exc:
                warnings.append(f"Texture {img.name} could not be packed: {_reason(exc)}")


def _safe_filename(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("._") or "texture"


def _save_beside(images: list[bpy.types.Image], name: str, warnings: list[str]) -> None:
    folder = os.path.join(os.path.dirname(bpy.data.filepath), "textures")
    os.makedirs(folder, exist_ok=True)
    for img in images:
        if img.source != "FILE":
            continue
        source = bpy.path.abspath(img.filepath) if img.filepath else ""
        ext = os.path.splitext(source)[1] or _EXTENSIONS.get(img.file_format, ".png")
        stem = _safe_filename(f"{name}_{os.path.splitext(img.name)[0]}")
        target = os.path.join(folder, stem + ext)
        counter = 1
        while os.path.exists(target):  # never overwrite another model's texture
            target = os.path.join(folder, f"{stem}_{counter}{ext}")
            counter += 1
        if img.packed_file is not None:
            with open(target, "wb") as handle:
                handle.write(cast(bytes, img.packed_file.data))
        elif os.path.isfile(source):
            shutil.copyfile(source, target)
        else:
            warnings.append(f"Texture {img.name} has no data to save beside the .blend")
            continue
        img.filepath = bpy.path.relpath(target)
        if img.packed_file is not None:
            # Drop the packed copy; the image now reads the file just written.
            img.unpack(method="REMOVE")


def _viewport_shows_textures(context: bpy.types.Context) -> bool:
    screens = [context.screen] if context.screen else []
    if context.window_manager is not None:
        screens += [win.screen for win in context.window_manager.windows if win.screen]
    for screen in screens:
        for area in screen.areas:
            for space in area.spaces:
                if space.type != "VIEW_3D":
                    continue
                if cast(bpy.types.SpaceView3D, space).shading.type in {"MATERIAL", "RENDERED"}:
                    return True
    return False
