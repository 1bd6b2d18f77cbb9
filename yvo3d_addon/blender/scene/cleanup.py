"""Scene layer: the clean-up steps run on an imported result (origin at the bottom, apply scale,
merge by distance, auto smooth, decimate, texture cap) and turning a result about its bounds."""

import math
from array import array
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

import bmesh
import bpy
from mathutils import Matrix, Vector

from ..settings.import_options import Options

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems


Result = set["OperatorReturnItems"]


STAMP_KEY = "yvo3d_job_id"
"""Every imported result's root carries it (importer._stamp)."""


DECIMATE_NAME = "YVO3D Decimate"


_GEOMETRY = frozenset({"MESH", "CURVE", "SURFACE", "META", "FONT"})


def result_root(obj: bpy.types.Object | None) -> bpy.types.Object | None:
    """The stamped root of the YVO3D result `obj` belongs to (the top-most stamped ancestor)."""
    found = None
    while obj is not None:
        if STAMP_KEY in cast(Any, obj).keys():
            found = obj
        obj = obj.parent
    return found


def hierarchy(root: bpy.types.Object) -> list[bpy.types.Object]:
    """The root and all its descendants, parents before children."""
    return [root, *sorted(root.children_recursive, key=_depth)]


def _depth(obj: bpy.types.Object) -> int:
    depth = 0
    while obj.parent is not None:
        obj = obj.parent
        depth += 1
    return depth


def _meshes(objects: Iterable[bpy.types.Object]) -> dict[str, tuple[bpy.types.Mesh, list[Any]]]:
    """Each mesh data block once, with the objects that use it."""
    found: dict[str, tuple[bpy.types.Mesh, list[Any]]] = {}
    for obj in objects:
        if obj.type == "MESH" and obj.data is not None:
            mesh = cast(bpy.types.Mesh, obj.data)
            found.setdefault(mesh.name, (mesh, []))[1].append(obj)
    return found


def world_bounds(
    objects: Iterable[bpy.types.Object], depsgraph: bpy.types.Depsgraph
) -> tuple[Vector, Vector] | None:
    """World-space bounds of the evaluated geometry (None without any)."""
    from .bounds import axis_bounds, mesh_coords

    low = [math.inf] * 3
    high = [-math.inf] * 3
    for obj in objects:
        if obj.type not in _GEOMETRY:
            continue
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        if mesh is None:
            continue
        try:
            mesh.transform(obj.matrix_world)
            coords = mesh_coords(mesh)
        finally:
            evaluated.to_mesh_clear()
        # In C (numpy): Python's min() and max() over a 100k-triangle result took ~15 ms.
        found = axis_bounds(coords)
        if found is not None:
            for axis in range(3):
                low[axis] = min(low[axis], found[0][axis])
                high[axis] = max(high[axis], found[1][axis])
    if low[0] == math.inf:
        return None
    return Vector(low), Vector(high)


def triangle_count(objects: Iterable[bpy.types.Object]) -> int:
    """Triangles of the objects' mesh data as rendered (an instanced mesh counts each time)."""
    total = 0
    for mesh, users in _meshes(objects).values():
        total += _mesh_triangles(mesh) * len(users)
    return total


def _mesh_triangles(mesh: bpy.types.Mesh) -> int:
    sizes = array("i", bytes(4 * len(mesh.polygons)))
    mesh.polygons.foreach_get("loop_total", sizes)
    return sum(sizes) - 2 * len(sizes)


def result_images(objects: Iterable[bpy.types.Object]) -> list[bpy.types.Image]:
    """The images the objects' materials use (image texture nodes, node groups included)."""
    found: dict[str, bpy.types.Image] = {}
    seen: set[str] = set()

    def walk(tree: Any) -> None:
        if tree is None or tree.name_full in seen:
            return
        seen.add(tree.name_full)
        for node in tree.nodes:
            image = getattr(node, "image", None)
            if isinstance(image, bpy.types.Image):
                found[image.name_full] = image
            walk(getattr(node, "node_tree", None))

    for obj in objects:
        for slot in getattr(obj, "material_slots", ()):
            material = slot.material
            if material is not None:
                walk(material.node_tree)
    return list(found.values())


def _update(context: bpy.types.Context) -> None:
    layer = context.view_layer
    if layer is not None:
        layer.update()


def _single_user(obj: bpy.types.Object) -> bpy.types.Mesh:
    mesh = cast(bpy.types.Mesh, obj.data)
    if mesh.users > 1:
        mesh = mesh.copy()
        obj.data = mesh
    return mesh


def apply_scale(objects: list[bpy.types.Object]) -> None:
    """Bake every object's world scale into its data; world positions stay where they were.

    Objects are taken parents first, so each child is set against its parent's new, unscaled
    world matrix (with an identity parent inverse)."""
    worlds = {obj.as_pointer(): obj.matrix_world.copy() for obj in objects}
    for obj in sorted(objects, key=_depth):
        location, rotation, scale = worlds[obj.as_pointer()].decompose()
        if obj.type == "MESH" and obj.data is not None:
            if any(abs(s - 1.0) > 1e-6 for s in (scale.x, scale.y, scale.z)):
                mesh = _single_user(obj)
                mesh.transform(Matrix.Diagonal(Vector((scale.x, scale.y, scale.z, 1.0))))
                if scale.x * scale.y * scale.z < 0:
                    mesh.flip_normals()  # a mirrored scale turned the faces inside out
        elif obj.type == "EMPTY":
            obj.empty_display_size *= max(abs(scale.x), abs(scale.y), abs(scale.z))
        if obj.parent is not None:
            obj.matrix_parent_inverse = Matrix.Identity(4)
        obj.matrix_world = Matrix.LocRotScale(location, rotation, None)


def merge_by_distance(objects: list[bpy.types.Object], distance: float) -> int:
    """Merge vertices closer than `distance` in every mesh; returns how many were removed."""
    removed = 0
    for mesh, _users in _meshes(objects).values():
        before = len(mesh.vertices)
        bm = bmesh.new()
        try:
            bm.from_mesh(mesh)
            bmesh.ops.remove_doubles(bm, verts=list(bm.verts), dist=distance)
            bm.to_mesh(mesh)
        finally:
            bm.free()
        mesh.update()
        removed += before - len(mesh.vertices)
    return removed


def _clear_custom_normals(obj: bpy.types.Object) -> None:
    mesh = cast(bpy.types.Mesh, obj.data)
    if not mesh.has_custom_normals:
        return
    # The glTF importer stores the file's normals as custom normals; they would override the
    # smoothing by angle. An operator is the one API that clears them on 4.2 and 5.0 alike.
    with bpy.context.temp_override(object=obj, active_object=obj):
        bpy.ops.mesh.customdata_custom_splitnormals_clear()


def auto_smooth(objects: list[bpy.types.Object], angle: float) -> None:
    """Smooth shading with sharp edges above `angle` (Shade Auto Smooth, baked into the data)."""
    for mesh, users in _meshes(objects).values():
        _clear_custom_normals(users[0])
        mesh.set_sharp_from_angle(angle=angle)


def decimate(
    context: bpy.types.Context, objects: list[bpy.types.Object], budget: int
) -> tuple[int, int]:
    """Collapse-decimate every mesh by one ratio until the model has at most `budget`
    triangles; returns (triangles before, after)."""
    before = triangle_count(objects)
    total = before
    for _attempt in range(6):
        if total <= budget:
            break
        # A collapse lands near, not on, the ratio: aim a little low, shrink again if over.
        ratio = max(0.0001, min(1.0, budget / total * 0.98))
        for mesh, users in _meshes(objects).values():
            _decimate_mesh(context, mesh, users, ratio)
        total = triangle_count(objects)
    return before, total


def _decimate_mesh(
    context: bpy.types.Context, mesh: bpy.types.Mesh, users: list[Any], ratio: float
) -> None:
    obj = users[0]
    if mesh.shape_keys is not None:
        raise RuntimeError(f"{obj.name} has shape keys, which decimation would lose")
    others = [m for m in obj.modifiers if m.show_viewport]
    for modifier in others:
        modifier.show_viewport = False  # only the decimation is baked
    modifier = obj.modifiers.new(DECIMATE_NAME, "DECIMATE")
    try:
        modifier.decimate_type = "COLLAPSE"
        modifier.ratio = ratio
        modifier.use_collapse_triangulate = True
        depsgraph = context.evaluated_depsgraph_get()
        depsgraph.update()
        baked = bpy.data.meshes.new_from_object(
            obj.evaluated_get(depsgraph), preserve_all_data_layers=True, depsgraph=depsgraph
        )
    finally:
        obj.modifiers.remove(modifier)
        for other in others:
            other.show_viewport = True
    name = mesh.name
    for user in users:
        user.data = baked
    if mesh.users == 0:
        bpy.data.meshes.remove(mesh)
    baked.name = name


def cap_textures(objects: list[bpy.types.Object], cap: int) -> list[str]:
    """Scale down every texture larger than `cap` pixels; returns the names scaled."""
    scaled = []
    for image in result_images(objects):
        width, height = image.size[:]
        if max(width, height) <= cap:
            continue
        factor = cap / max(width, height)
        image.scale(max(1, round(width * factor)), max(1, round(height * factor)))
        if image.packed_file is not None:
            image.pack()  # the scaled pixels replace the packed original
        elif image.filepath and image.source == "FILE":
            image.save()  # the model's own copy beside the .blend (see importer)
        scaled.append(image.name)
    return scaled


def origin_to_bottom(context: bpy.types.Context, root: bpy.types.Object) -> bool:
    """Move the root's origin to the bottom centre of the model's bounds, nothing else moving."""
    objects = hierarchy(root)
    _update(context)
    box = world_bounds(objects, context.evaluated_depsgraph_get())
    if box is None:
        return False
    low, high = box
    base = Vector(((low.x + high.x) / 2, (low.y + high.y) / 2, low.z))
    local = root.matrix_world.inverted_safe() @ base
    shift = Matrix.Translation(local)
    if root.type == "MESH" and root.data is not None:
        _single_user(root).transform(Matrix.Translation(-local))
    for child in root.children:
        child.matrix_parent_inverse = shift.inverted() @ child.matrix_parent_inverse
    root.matrix_world = root.matrix_world @ shift
    return True


def apply(context: bpy.types.Context, root: bpy.types.Object, options: Options) -> list[str]:
    """Run the clean-up steps the options ask for on the result under `root`; notes for the
    user (what could not be done)."""
    notes: list[str] = []
    objects = hierarchy(root)
    if options.apply_scale:
        apply_scale(objects)
        _update(context)
    if options.merge:
        merge_by_distance(objects, options.merge_distance)
    if options.auto_smooth:
        auto_smooth(objects, options.smooth_angle)
    if options.decimate:
        try:
            _before, after = decimate(context, objects, options.triangle_budget)
        except RuntimeError as exc:
            notes.append(f"Not decimated: {exc}")
        else:
            if after > options.triangle_budget:
                notes.append(
                    f"Decimated to {after} triangles: the budget of {options.triangle_budget} "
                    "could not be reached"
                )
    if options.cap_textures:
        cap_textures(objects, options.texture_cap)
    if options.origin_bottom:
        origin_to_bottom(context, root)
    _update(context)
    return notes


def _active_root(context: bpy.types.Context) -> bpy.types.Object | None:
    return result_root(getattr(context, "active_object", None))


def rotate(context: bpy.types.Context, root: bpy.types.Object, axis: str, degrees: float) -> None:
    """Turn the model about a world axis through the centre of its bounds; its bottom centre
    stays where it was (it keeps standing on the same floor)."""
    objects = hierarchy(root)
    _update(context)
    box = world_bounds(objects, context.evaluated_depsgraph_get())
    if box is None:
        pivot = root.matrix_world.translation.copy()
        base_before = pivot
    else:
        low, high = box
        pivot = (low + high) / 2
        base_before = Vector((pivot.x, pivot.y, low.z))
    turn = Matrix.Rotation(math.radians(degrees), 4, axis)
    root.matrix_world = (
        Matrix.Translation(pivot) @ turn @ Matrix.Translation(-pivot) @ root.matrix_world
    )
    _update(context)
    box = world_bounds(objects, context.evaluated_depsgraph_get())
    if box is not None:
        low, high = box
        base_after = Vector(((low.x + high.x) / 2, (low.y + high.y) / 2, low.z))
        moved = root.matrix_world.copy()
        moved.translation += base_before - base_after
        root.matrix_world = moved
        _update(context)
