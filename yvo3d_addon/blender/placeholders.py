"""Blender layer: placeholders: a result takes an object's place and size; takes, swap back, re-fit.

Plain functions over bpy data (no operators, no network). The bookkeeping lives in custom
properties, so it is saved with the .blend and survives renames:

- on a placeholder: `yvo3d_uuid` (stable id), `yvo3d_takes` (JSON list of takes),
  `yvo3d_active_take`, `yvo3d_swapped_back`, `yvo3d_fit`, `yvo3d_visibility` (its own
  visibility before it was hidden, restored on swap back) and `yvo3d_archived` (takes put away
  by Keep: their models stay in the library);
- on a take's root: `yvo3d_placeholder` (the placeholder's name, readable),
  `yvo3d_placeholder_uuid`, `yvo3d_take_id` and `yvo3d_fit_basis` (its matrix as imported,
  so a re-fit starts afresh);
- on the collection holding a placeholder's takes: `yvo3d_takes_of` (the placeholder's uuid).
"""

import json
import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast

import bpy
from mathutils import Matrix, Vector

if TYPE_CHECKING:
    from .importer import ImportResult

PLACEHOLDER_ID = "yvo3d_uuid"
TAKES = "yvo3d_takes"
ACTIVE_TAKE = "yvo3d_active_take"
SWAPPED = "yvo3d_swapped_back"
FIT = "yvo3d_fit"
VISIBILITY = "yvo3d_visibility"
ARCHIVED = "yvo3d_archived"
RESULT_OF = "yvo3d_placeholder_uuid"
RESULT_NAME = "yvo3d_placeholder"
TAKE_ID = "yvo3d_take_id"
BASIS = "yvo3d_fit_basis"
GROUP_OF = "yvo3d_takes_of"
JOB_STAMP = "yvo3d_job_id"  # the importer's stamp: every generated root carries it

FIT_MODES = ("LONGEST", "HEIGHT", "FOOTPRINT")
FIT_LABELS = {"LONGEST": "Longest Side", "HEIGHT": "Height", "FOOTPRINT": "Footprint"}
MAX_TAKES = 8
_EPS = 1e-9
_GEOMETRY_TYPES = frozenset(
    {"MESH", "CURVE", "SURFACE", "META", "FONT", "CURVES", "POINTCLOUD", "VOLUME"}
)


@dataclass
class Take:
    """One result of a placeholder, as the placeholder records it."""

    id: str
    """The take's uuid (also on its root as `yvo3d_take_id`)."""
    root: str
    """The root object's name when last seen (a hint: the id decides)."""
    job: str = ""
    """Local job id (the Jobs panel, the job store)."""
    library: str = ""
    """Library entry id: the model stays there after Keep archives the take."""
    name: str = ""
    """The take's collection name."""


def _new_uuid() -> str:
    import uuid  # late: enabling the add-on must stay cheap (docs/performance.md)

    return uuid.uuid4().hex


# -- geometry ---------------------------------------------------------------------------------


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


def hierarchy(obj: bpy.types.Object) -> list[bpy.types.Object]:
    """The object and every object parented under it."""
    return [obj, *obj.children_recursive]


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
    from .importer import axis_bounds, mesh_coords  # late: enabling the add-on stays cheap

    pre = pre if pre is not None else Matrix.Identity(4)
    low = [math.inf] * 3
    high = [-math.inf] * 3
    for obj in objects:
        if obj.type not in _GEOMETRY_TYPES:
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


# -- what is what -----------------------------------------------------------------------------


def idprops(obj: Any) -> Any:
    """An ID's custom properties, typed loosely (the stubs say `get` returns None)."""
    return cast(Any, obj)


def result_root(obj: bpy.types.Object | None) -> bpy.types.Object | None:
    """The generated model's root that `obj` belongs to (itself or an ancestor), or None."""
    while obj is not None:
        if JOB_STAMP in idprops(obj):
            return obj
        obj = obj.parent
    return None


def is_result(obj: bpy.types.Object | None) -> bool:
    return result_root(obj) is not None


def is_placeholder(obj: bpy.types.Object | None) -> bool:
    """A placeholder that has (or had) takes."""
    return obj is not None and TAKES in idprops(obj) and PLACEHOLDER_ID in idprops(obj)


def _by_key(key: str, value: str, hint: str = "") -> bpy.types.Object | None:
    if not value:
        return None
    named = bpy.data.objects.get(hint) if hint else None
    if named is not None and idprops(named).get(key) == value:
        return named  # the usual case: no scan
    found = [o for o in bpy.data.objects if idprops(o).get(key) == value]
    return found[0] if found else None


def placeholder_of(obj: bpy.types.Object | None) -> bpy.types.Object | None:
    """The placeholder `obj` is, or whose take it belongs to (None: neither)."""
    if obj is None:
        return None
    if is_placeholder(obj):
        return obj
    root = result_root(obj)
    if root is None:
        return None
    props = idprops(root)
    found = _by_key(PLACEHOLDER_ID, str(props.get(RESULT_OF, "")), str(props.get(RESULT_NAME, "")))
    return found if is_placeholder(found) else None


def find(placement: dict[str, Any]) -> bpy.types.Object | None:
    """The placeholder a job's placement names: by uuid, else (older jobs) by name."""
    wanted = str(placement.get("uuid", ""))
    hint = str(placement.get("object", ""))
    if wanted:
        return _by_key(PLACEHOLDER_ID, wanted, hint)
    return bpy.data.objects.get(hint) if hint else None


def _load(obj: Any, key: str) -> list[Take]:
    try:
        data = json.loads(str(obj.get(key, "[]")))
    except ValueError:
        return []
    known = set(Take.__dataclass_fields__)
    return [
        Take(**{k: str(v) for k, v in item.items() if k in known})
        for item in data
        if isinstance(item, dict) and item.get("id")
    ]


def _save(obj: Any, key: str, takes: list[Take]) -> None:
    obj[key] = json.dumps([asdict(t) for t in takes])


def takes(placeholder: bpy.types.Object) -> list[Take]:
    """The placeholder's takes in order (some may have been deleted by the user)."""
    return _load(idprops(placeholder), TAKES)


def archived(placeholder: bpy.types.Object) -> list[Take]:
    """Takes Keep put away: no longer in the scene, still in the library."""
    return _load(idprops(placeholder), ARCHIVED)


def take_root(take: Take) -> bpy.types.Object | None:
    return _by_key(TAKE_ID, take.id, take.root)


def live_takes(placeholder: bpy.types.Object) -> list[tuple[Take, bpy.types.Object]]:
    """The takes whose model is still in the file, with their roots (no writes)."""
    found = []
    for take in takes(placeholder):
        root = take_root(take)
        if root is not None:
            found.append((take, root))
    return found


def active_index(placeholder: bpy.types.Object) -> int:
    """Index (into live_takes) of the take shown in place, or last shown when swapped back."""
    count = len(live_takes(placeholder))
    index = int(idprops(placeholder).get(ACTIVE_TAKE, 0))
    return min(max(index, 0), max(count - 1, 0))


def swapped_back(placeholder: bpy.types.Object) -> bool:
    """The placeholder is shown, not a take."""
    return bool(idprops(placeholder).get(SWAPPED, False)) or not live_takes(placeholder)


def fit_mode(placeholder: bpy.types.Object) -> str:
    mode = str(idprops(placeholder).get(FIT, "LONGEST"))
    return mode if mode in FIT_MODES else "LONGEST"


def prune(placeholder: bpy.types.Object) -> list[tuple[Take, bpy.types.Object]]:
    """Drop takes the user deleted and refresh the recorded names; returns the live ones."""
    live = live_takes(placeholder)
    props = idprops(placeholder)
    before = len(takes(placeholder))
    active = int(props.get(ACTIVE_TAKE, 0))
    for take, root in live:
        take.root = root.name
        rprops = idprops(root)
        if rprops.get(RESULT_NAME) != placeholder.name:
            rprops[RESULT_NAME] = placeholder.name
    _save(props, TAKES, [t for t, _ in live])
    if len(live) != before:
        props[ACTIVE_TAKE] = min(max(active, 0), max(len(live) - 1, 0))
    return live


def ensure_id(placeholder: bpy.types.Object) -> str:
    """The placeholder's uuid, made on first use. A copy (Shift+D copies custom properties)
    gets an id of its own and starts without takes."""
    props = idprops(placeholder)
    current = str(props.get(PLACEHOLDER_ID, ""))
    if current:
        twins = [
            o
            for o in bpy.data.objects
            if o != placeholder and idprops(o).get(PLACEHOLDER_ID) == current
        ]
        owners = {
            str(idprops(o).get(RESULT_NAME, ""))
            for o in bpy.data.objects
            if idprops(o).get(RESULT_OF) == current
        }
        if not twins or placeholder.name in owners or not owners & {t.name for t in twins}:
            return current
        for key in (TAKES, ACTIVE_TAKE, SWAPPED, VISIBILITY, ARCHIVED):
            if key in props:
                del props[key]
    current = _new_uuid()
    props[PLACEHOLDER_ID] = current
    return current


# -- visibility -------------------------------------------------------------------------------


def _set_shown(objects: Iterable[bpy.types.Object], shown: bool) -> None:
    for obj in objects:
        try:
            obj.hide_set(not shown)
        except RuntimeError:
            pass  # not in the current view layer: its render visibility still follows
        obj.hide_render = not shown


def shown(obj: bpy.types.Object) -> bool:
    """Visible in the viewport of the current view layer and in renders."""
    try:
        hidden = obj.hide_get()
    except RuntimeError:
        hidden = True
    return not hidden and not obj.hide_viewport and not obj.hide_render


def _hide_placeholder(placeholder: bpy.types.Object) -> None:
    props = idprops(placeholder)
    parts = [o for o in hierarchy(placeholder) if not is_result(o)]
    if VISIBILITY not in props:
        saved: dict[str, list[bool]] = {}
        for index, obj in enumerate(parts):
            try:
                hidden = bool(obj.hide_get())
            except RuntimeError:
                hidden = False
            saved["" if index == 0 else obj.name] = [hidden, bool(obj.hide_render)]
        props[VISIBILITY] = json.dumps(saved)
    _set_shown(parts, False)


def _restore_placeholder(placeholder: bpy.types.Object) -> None:
    props = idprops(placeholder)
    parts = [o for o in hierarchy(placeholder) if not is_result(o)]
    try:
        saved = json.loads(str(props.get(VISIBILITY, "{}")))
    except ValueError:
        saved = {}
    for index, obj in enumerate(parts):
        hidden, hide_render = saved.get("" if index == 0 else obj.name, [False, False])
        try:
            obj.hide_set(bool(hidden))
        except RuntimeError:
            pass
        obj.hide_render = bool(hide_render)
    if VISIBILITY in props:
        del props[VISIBILITY]


def _activate(context: bpy.types.Context, obj: bpy.types.Object) -> None:
    view_layer = context.view_layer
    if view_layer is None or view_layer.objects.get(obj.name) != obj:
        return
    for other in context.selected_objects:
        other.select_set(False)
    try:
        obj.select_set(True)
    except RuntimeError:
        pass
    view_layer.objects.active = obj


def show_take(context: bpy.types.Context, placeholder: bpy.types.Object, index: int) -> bool:
    """Show take `index` in place (the placeholder and the other takes hidden)."""
    live = prune(placeholder)
    if not live:
        return False
    index %= len(live)
    for position, (_, root) in enumerate(live):
        if position != index:
            _set_shown(hierarchy(root), False)
    root = live[index][1]
    _set_shown(hierarchy(root), True)
    _hide_placeholder(placeholder)
    props = idprops(placeholder)
    props[ACTIVE_TAKE] = index
    props[SWAPPED] = False
    _activate(context, root)
    return True


def swap_back(context: bpy.types.Context, placeholder: bpy.types.Object) -> None:
    """Show the placeholder as it was, hide every take (nothing is deleted)."""
    for _, root in prune(placeholder):
        _set_shown(hierarchy(root), False)
    _restore_placeholder(placeholder)
    idprops(placeholder)[SWAPPED] = True
    _activate(context, placeholder)


def toggle(context: bpy.types.Context, placeholder: bpy.types.Object) -> bool:
    """Swap back to the placeholder, or show its take again; True when a take is shown now."""
    if swapped_back(placeholder):
        return show_take(context, placeholder, active_index(placeholder))
    swap_back(context, placeholder)
    return False


def step(context: bpy.types.Context, placeholder: bpy.types.Object, delta: int) -> int:
    """Show the next (+1) or previous (-1) take; returns the index shown."""
    index = active_index(placeholder)
    if not swapped_back(placeholder):
        index += delta
    show_take(context, placeholder, index)
    return active_index(placeholder)


def remove_objects(objects: Iterable[bpy.types.Object]) -> None:
    """Delete objects, then their data, materials and images that nothing else uses, then
    collections they leave empty."""
    objects = list(objects)
    meshes = {o.data for o in objects if o.type == "MESH" and o.data is not None}
    materials = {s.material for o in objects for s in o.material_slots if s.material is not None}
    collections = {c for o in objects for c in o.users_collection}
    for obj in objects:
        try:
            bpy.data.objects.remove(obj, do_unlink=True)
        except ReferenceError:
            pass
    for mesh in meshes:
        mesh = cast(bpy.types.Mesh, mesh)
        materials.update(m for m in mesh.materials if m is not None)
        if mesh.users == 0:
            bpy.data.meshes.remove(mesh)
    images: set[bpy.types.Image] = set()
    for material in materials:
        if material.users != 0:
            continue
        tree = material.node_tree
        if tree is not None:
            nodes: list[Any] = [n for n in tree.nodes if n.bl_idname == "ShaderNodeTexImage"]
            images.update(n.image for n in nodes if n.image is not None)
        bpy.data.materials.remove(material)
    for image in images:
        if image.users == 0:
            bpy.data.images.remove(image)
    for coll in collections:
        if coll.name in bpy.data.collections and not coll.all_objects and not coll.children:
            bpy.data.collections.remove(coll)


# -- placing a result -------------------------------------------------------------------------


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


def keep(context: bpy.types.Context, placeholder: bpy.types.Object) -> list[Take]:
    """Keep the active take; the others leave the scene (their models stay in the library,
    listed on the placeholder as archived). Returns the takes archived."""
    live = prune(placeholder)
    if len(live) < 2:
        return []
    index = active_index(placeholder)
    kept, gone = live[index], [lr for i, lr in enumerate(live) if i != index]
    props = idprops(placeholder)
    _save(props, ARCHIVED, archived(placeholder) + [t for t, _ in gone])
    for _, root in gone:
        remove_objects(hierarchy(root))
    _save(props, TAKES, [kept[0]])
    props[ACTIVE_TAKE] = 0
    if not swapped_back(placeholder):
        show_take(context, placeholder, 0)
    return [t for t, _ in gone]


# -- Generate: which objects, how many jobs ---------------------------------------------------


def _candidate(obj: bpy.types.Object | None) -> bpy.types.Object | None:
    """What an object stands for when Generate replaces the selection: a take stands for its
    placeholder; any other generated object for nothing; a mesh for itself."""
    if obj is None:
        return None
    if is_result(obj):
        return placeholder_of(obj)
    if is_placeholder(obj) or any(o.type in _GEOMETRY_TYPES for o in hierarchy(obj)):
        return obj  # a mesh, or a blockout of several parts under one parent
    return None


def targets(context: bpy.types.Context, settings: Any) -> list[bpy.types.Object]:
    """The placeholders Generate replaces: the picked one, else every selected mesh that is
    not a generated model (a selected take stands for its placeholder), else the active one."""
    if settings is None or settings.placement != "PLACEHOLDER":
        return []
    picked = getattr(settings, "placeholder", None)
    if picked is not None:
        found = _candidate(picked)
        return [found] if found is not None else []
    selected = list(getattr(context, "selected_objects", None) or ())
    if not selected:
        active = getattr(context, "active_object", None)
        selected = [active] if active is not None else []
    chosen: dict[str, bpy.types.Object] = {}
    for obj in selected:
        found = _candidate(obj)
        if found is not None:
            chosen.setdefault(found.name, found)
    members = set(chosen.values())
    # A part of a selected blockout belongs to that placeholder, not to one of its own.
    return [o for name, o in sorted(chosen.items()) if not any(p in members for p in _ancestors(o))]


def _ancestors(obj: bpy.types.Object) -> list[bpy.types.Object]:
    found = []
    parent = obj.parent
    while parent is not None:
        found.append(parent)
        parent = parent.parent
    return found


def take_count(settings: Any) -> int:
    return max(1, min(MAX_TAKES, int(getattr(settings, "takes", 1) or 1)))


def job_count(context: bpy.types.Context, settings: Any) -> int:
    """How many paid jobs Generate starts now: placeholders x takes (no placeholder: takes)."""
    if settings is None:
        return 0
    count = take_count(settings)
    if settings.placement == "PLACEHOLDER":
        return len(targets(context, settings)) * count
    return count


def blocker(context: bpy.types.Context, settings: Any) -> str:
    """Why Generate cannot replace placeholders now ("" when it can)."""
    if settings is not None and settings.placement == "PLACEHOLDER":
        if not targets(context, settings):
            return "Select the objects to replace (meshes), or pick a placeholder"
    return ""


def confirm_message(context: bpy.types.Context, settings: Any, cost: float | None) -> str:
    """The question asked before several paid jobs start ("" when one job needs no question)."""
    count = job_count(context, settings)
    replacing = settings is not None and settings.placement == "PLACEHOLDER"
    if count <= 1 and not replacing:
        return ""
    takes_each = take_count(settings)
    if replacing:
        places = len(targets(context, settings))
        what = f"Replace {places} placeholder{'s' if places != 1 else ''}"
        if takes_each > 1:
            what += f" with {takes_each} takes each"
    else:
        what = f"Generate {takes_each} takes"
    if cost is None:
        price = "the price is not known yet; each job is priced when it starts"
    else:
        price = f"{count} x {cost:g} = {count * cost:g} credits"
    return f"{what}: {count} job{'s' if count != 1 else ''}, {price}."


def plan(
    context: bpy.types.Context, settings: Any, cursor: Sequence[float], base_name: str
) -> list[tuple[str, dict[str, Any]]]:
    """One (job name, placement) per job Generate starts: takes x placeholders, or takes at
    the cursor. Gives each placeholder its uuid (the only change before a result arrives)."""
    location = [float(v) for v in cursor]
    count = take_count(settings)
    if settings.placement != "PLACEHOLDER":
        if count == 1:
            return [(base_name, {"mode": "CURSOR", "location": location})]
        batch = _new_uuid()
        return [
            (
                f"{base_name} #{i + 1}",
                {
                    "mode": "PLACEHOLDER",
                    "anchor": True,
                    "uuid": batch,
                    "object": f"{base_name} Takes",
                    "fit": "LONGEST",
                    "take": i,
                    "takes": count,
                    "show": i == 0,
                    "name": base_name,
                    "location": location,
                },
            )
            for i in range(count)
        ]
    found = targets(context, settings)
    jobs = []
    for placeholder in found:
        uid = ensure_id(placeholder)
        first = len(takes(placeholder)) if is_placeholder(placeholder) else 0
        for i in range(count):
            name = base_name if len(found) == 1 else f"{base_name} ({placeholder.name})"
            if count > 1:
                name += f" #{first + i + 1}"
            jobs.append(
                (
                    name,
                    {
                        "mode": "PLACEHOLDER",
                        "object": placeholder.name,
                        "uuid": uid,
                        "fit": str(settings.fit_mode),
                        "take": first + i,
                        "takes": count,
                        "show": i == 0,
                        "name": base_name,
                        "location": location,
                    },
                )
            )
    return jobs


def same_target(placement: dict[str, Any], context: bpy.types.Context, settings: Any) -> bool:
    """Whether a running job aims where Generate would now (a second click), as opposed to
    another placeholder with the same inputs. Reads only: a refused Generate changes nothing."""
    if placement.get("mode", "CURSOR") != "PLACEHOLDER" or placement.get("anchor"):
        return bool(settings.placement != "PLACEHOLDER")
    wanted = str(placement.get("uuid", ""))
    return any(
        str(idprops(t).get(PLACEHOLDER_ID, "")) == wanted for t in targets(context, settings)
    )


def price_texts(jobs: int, cost: float) -> tuple[str, str]:
    """The panel's price line and Generate button text for `jobs` jobs at `cost` each."""
    if jobs <= 1:
        return f"Price: {cost:g} credits", f"Generate ({cost:g} credits)"
    total = jobs * cost
    return f"Price: {jobs} x {cost:g} = {total:g} credits", f"Generate {jobs} ({total:g} credits)"


def targets_line(context: bpy.types.Context, settings: Any) -> str:
    """What Generate will replace, for the panel ("" when a placeholder is picked)."""
    if settings is None or settings.placement != "PLACEHOLDER" or settings.placeholder is not None:
        return ""
    found = targets(context, settings)
    if not found:
        return "Pick a placeholder, or select the objects to replace"
    names = ", ".join(o.name for o in found[:3]) + (
        f" (+{len(found) - 3})" if len(found) > 3 else ""
    )
    return f"Replaces {names}"
