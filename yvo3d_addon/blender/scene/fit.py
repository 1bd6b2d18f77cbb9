"""Scene layer: fitting a result in a placeholder's stead: fit by longest side, height or footprint
in the placeholder's frame, parent and collections, re-fit."""

import json
import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import bpy
from mathutils import Matrix, Vector

from .bounds import GEOMETRY_TYPES, hierarchy
from .takes import (
    _EPS,
    BASIS,
    FIT,
    FIT_MODES,
    GROUP_OF,
    PLACEHOLDER_ID,
    RESULT_NAME,
    RESULT_OF,
    TAKE_ID,
    TAKES,
    Take,
    _activate,
    _new_uuid,
    _set_shown,
    active_index,
    ensure_id,
    fit_mode,
    idprops,
    is_result,
    prune,
    remove_objects,
    show_take,
    swapped_back,
    takes,
)

if TYPE_CHECKING:
    from .importer import ImportResult


def fit_scale(model: Sequence[float], target: Sequence[float], mode: str) -> float:
    """The uniform scale that fits a model of size `model` (x, y, z) to a box of size `target`.

    LONGEST matches the longest sides, HEIGHT the heights, FOOTPRINT fits inside the floor
    area. A box flat along the measured axes falls back to LONGEST; nothing to measure: 1."""
    if mode == "HEIGHT":
        pairs = [(target[2], model[2])]
    elif mode == "FOOTPRINT":
        pairs = [(target[0], model[0]), (target[1], model[1])]
    else:
        pairs = [(max(target), max(model))]
    scales = [t / m for t, m in pairs if t > _EPS and m > _EPS]
    if not scales:
        return fit_scale(model, target, "LONGEST") if mode in ("HEIGHT", "FOOTPRINT") else 1.0
    scale = min(scales)
    return scale if math.isfinite(scale) and scale > 0 else 1.0


def frame_of(obj: bpy.types.Object) -> Matrix:
    """The object's world location and rotation, without its scale."""
    location, rotation, _ = obj.matrix_world.decompose()
    return Matrix.LocRotScale(location, rotation, None)


def bounds(
    objects: Iterable[bpy.types.Object],
    depsgraph: bpy.types.Depsgraph,
    pre: Matrix | None = None,
) -> tuple[Vector, Vector] | None:
    """Bounds of the evaluated geometry (modifiers applied) of `objects`, each point mapped by
    `pre @ matrix_world` (default: world space). None when there is no geometry."""
    from .bounds import axis_bounds, mesh_coords

    pre = pre if pre is not None else Matrix.Identity(4)
    low = [math.inf] * 3
    high = [-math.inf] * 3
    for obj in objects:
        if obj.type not in GEOMETRY_TYPES:
            continue
        matrix = pre @ obj.matrix_world
        evaluated = obj.evaluated_get(depsgraph)
        if obj.type == "MESH":
            # A temporary evaluated copy transformed in C: fast on a 100k-triangle result.
            mesh = evaluated.to_mesh()
            try:
                mesh.transform(matrix)
                coords = mesh_coords(mesh)
            finally:
                evaluated.to_mesh_clear()
        else:
            corners = [matrix @ Vector(corner) for corner in evaluated.bound_box]
            coords = array("f", (v for c in corners for v in (c.x, c.y, c.z)))
        found = axis_bounds(coords)
        if found is not None:
            for axis in range(3):
                low[axis] = min(low[axis], found[0][axis])
                high[axis] = max(high[axis], found[1][axis])
    if low[0] == math.inf:
        return None
    return Vector(low), Vector(high)


def placeholder_box(
    placeholder: bpy.types.Object, depsgraph: bpy.types.Depsgraph
) -> tuple[Matrix, Vector, Vector]:
    """The placeholder's frame (location and rotation) and its geometry's box in that frame.

    Its whole hierarchy counts (a blockout of several parts); an object with no geometry (an
    Empty) is a zero-size box at its origin."""
    frame = frame_of(placeholder)
    parts = [o for o in hierarchy(placeholder) if not is_result(o)]
    box = bounds(parts, depsgraph, frame.inverted_safe())
    if box is None:
        return frame, Vector((0.0, 0.0, 0.0)), Vector((0.0, 0.0, 0.0))
    return frame, box[0], box[1]


def fitted_matrix(
    frame: Matrix,
    box: tuple[Vector, Vector],
    model: tuple[Vector, Vector],
    basis: Matrix,
    mode: str,
) -> Matrix:
    """The root matrix putting a model (bounds `model` in world space when its root has
    `basis`) in the placeholder's box: its rotation, uniform fit, bottom on its floor, centred."""
    low, high = box
    m_low, m_high = model
    size, target = m_high - m_low, high - low
    factor = fit_scale((size.x, size.y, size.z), (target.x, target.y, target.z), mode)
    base = frame @ Vector(((low.x + high.x) / 2, (low.y + high.y) / 2, low.z))
    m_base = Vector(((m_low.x + m_high.x) / 2, (m_low.y + m_high.y) / 2, m_low.z))
    rotation = frame.to_quaternion().to_matrix().to_4x4()
    return (
        Matrix.Translation(base)
        @ rotation
        @ Matrix.Scale(factor, 4)
        @ Matrix.Translation(-m_base)
        @ basis
    )


def _parents(coll: bpy.types.Collection) -> list[bpy.types.Collection]:
    found = [c for c in bpy.data.collections if c.children.get(coll.name) == coll]
    found += [s.collection for s in bpy.data.scenes if s.collection.children.get(coll.name) == coll]
    return found


def takes_collection(
    context: bpy.types.Context, placeholder: bpy.types.Object
) -> bpy.types.Collection:
    """The collection keeping a placeholder's takes together, made on first use, and always a
    child of exactly the placeholder's own collections (so the takes inherit them)."""
    uid = ensure_id(placeholder)
    group = next(
        (c for c in bpy.data.collections if idprops(c).get(GROUP_OF) == uid and c.library is None),
        None,
    )
    if group is None:
        group = bpy.data.collections.new(f"{placeholder.name} Takes")
        idprops(group)[GROUP_OF] = uid
    owners = list(placeholder.users_collection)
    if not owners:
        scene: Any = context.scene
        owners = [scene.collection]
    for parent in _parents(group):
        if parent not in owners:
            parent.children.unlink(group)
    for owner in owners:
        if owner.children.get(group.name) != group:
            owner.children.link(group)
    return group


def _move_collection(coll: bpy.types.Collection, into: bpy.types.Collection) -> None:
    for parent in _parents(coll):
        if parent != into:
            parent.children.unlink(coll)
    if into.children.get(coll.name) != coll:
        into.children.link(coll)


def _set_parent(root: bpy.types.Object, placeholder: bpy.types.Object, world: Matrix) -> None:
    """Give `root` the placeholder's parent (object or bone), keeping `world` as its matrix."""
    parent = placeholder.parent
    if root.parent != parent or (
        parent is not None and root.parent_bone != placeholder.parent_bone
    ):
        root.parent = parent
        if parent is not None:
            root.parent_type = placeholder.parent_type
            if placeholder.parent_type == "BONE":
                root.parent_bone = placeholder.parent_bone
        root.matrix_parent_inverse = Matrix.Identity(4)
    root.matrix_world = world


def _basis(root: bpy.types.Object) -> Matrix:
    values = idprops(root).get(BASIS)
    try:
        flat = [float(v) for v in values]
    except (TypeError, ValueError):
        flat = []
    if len(flat) != 16:
        return root.matrix_world.copy()
    return Matrix([flat[0:4], flat[4:8], flat[8:12], flat[12:16]])


def _fit_root(
    context: bpy.types.Context,
    root: bpy.types.Object,
    placeholder: bpy.types.Object,
    mode: str,
) -> None:
    """Put a take's root into the placeholder's current box (starting from its import matrix)."""
    depsgraph = context.evaluated_depsgraph_get()
    basis = _basis(root)
    # Maps the model as it is now back to how it was imported (children follow the root).
    pre = basis @ root.matrix_world.inverted_safe()
    model = bounds(hierarchy(root), depsgraph, pre)
    if model is None:
        origin = basis.translation
        model = (origin.copy(), origin.copy())
    frame, low, high = placeholder_box(placeholder, depsgraph)
    _set_parent(root, placeholder, fitted_matrix(frame, (low, high), model, basis, mode))


def _anchor(context: bpy.types.Context, placement: dict[str, Any]) -> bpy.types.Object:
    """The Empty that holds the takes of a batch generated at the 3D cursor."""
    name = str(placement.get("object") or "YVO3D Takes")
    anchor = bpy.data.objects.new(name, None)
    anchor.empty_display_type = "PLAIN_AXES"
    anchor.empty_display_size = 0.1
    recorded = placement.get("location")
    scene: Any = context.scene
    location = (
        Vector(tuple(float(v) for v in recorded[:3]))
        if isinstance(recorded, list | tuple) and len(recorded) >= 3
        else scene.cursor.location.copy()
    )
    anchor.matrix_world = Matrix.Translation(location)
    scene.collection.objects.link(anchor)
    props = idprops(anchor)
    props[PLACEHOLDER_ID] = str(placement.get("uuid") or _new_uuid())
    props[TAKES] = "[]"
    return anchor


def place(
    context: bpy.types.Context,
    result: "ImportResult",
    placeholder: bpy.types.Object | None,
    placement: dict[str, Any],
) -> None:
    """Put a freshly imported result into its placeholder as a new take, after the import
    succeeded: placed, fitted, parented, in the placeholder's collections, then shown (the
    placeholder hidden, kept) or kept hidden behind the take already shown.

    A missing placeholder puts the model where it was imported, with a warning; a batch
    generated at the cursor gets an Empty holding its takes. On failure the result is removed
    again and the placeholder is untouched (RuntimeError)."""
    made_anchor = None
    if placeholder is None:
        if not placement.get("anchor"):
            result.warnings.append(
                f"The placeholder {placement.get('object', '')!r} is gone: the model was put "
                "on the 3D cursor instead"
            )
            return
        made_anchor = _anchor(context, placement)
        placeholder = made_anchor
    mode = str(placement.get("fit", "LONGEST"))
    mode = mode if mode in FIT_MODES else "LONGEST"
    root = result.root
    try:
        view_layer = context.view_layer
        if view_layer is not None:
            view_layer.update()
        matrix = root.matrix_world
        idprops(root)[BASIS] = [matrix[i][j] for i in range(4) for j in range(4)]
        _fit_root(context, root, placeholder, mode)
        _move_collection(result.collection, takes_collection(context, placeholder))
    except Exception as exc:
        uid = str(idprops(placeholder).get(PLACEHOLDER_ID, ""))
        remove_objects(result.objects)
        if made_anchor is not None:
            remove_objects([made_anchor])
        for coll in list(bpy.data.collections):
            if uid and idprops(coll).get(GROUP_OF) == uid and not coll.all_objects:
                bpy.data.collections.remove(coll)  # a group made for this take only
        raise RuntimeError(f"the model could not be put in its placeholder: {exc}") from exc

    props = idprops(placeholder)
    was_shown = not swapped_back(placeholder)
    take = Take(
        id=_new_uuid(),
        root=root.name,
        job=str(idprops(root).get("yvo3d_local_id", "")),
        library=str(idprops(root).get("yvo3d_library_id", "")),
        name=result.collection.name,
    )
    rprops = idprops(root)
    rprops[RESULT_OF] = ensure_id(placeholder)
    rprops[RESULT_NAME] = placeholder.name
    rprops[TAKE_ID] = take.id
    props[TAKES] = json.dumps([asdict(t) for t in takes(placeholder)] + [asdict(take)])
    props[FIT] = mode
    live = prune(placeholder)
    index = next(i for i, (t, _) in enumerate(live) if t.id == take.id)
    if placement.get("show") or not was_shown:
        show_take(context, placeholder, index)
    else:
        # Another take is on show: this one waits, hidden, for Next/Previous.
        _set_shown(hierarchy(root), False)
        current = live[active_index(placeholder)][1]
        _activate(context, current)
        result.warnings.append(
            f"{result.collection.name}: take {index + 1} of {len(live)} is ready (hidden): "
            "use Next Take to see it"
        )


def refit(
    context: bpy.types.Context, placeholder: bpy.types.Object, mode: str | None = None
) -> int:
    """Fit every take again to the placeholder as it is now (after the user edited it), with
    `mode` or the placeholder's fit mode, then show the active take. Returns the takes fitted."""
    if mode is not None and mode in FIT_MODES:
        idprops(placeholder)[FIT] = mode
    mode = fit_mode(placeholder)
    live = prune(placeholder)
    view_layer = context.view_layer
    for _, root in live:
        if view_layer is not None:
            view_layer.update()
        _fit_root(context, root, placeholder, mode)
    if live:
        takes_collection(context, placeholder)
        show_take(context, placeholder, active_index(placeholder))
    return len(live)
