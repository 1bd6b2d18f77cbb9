"""Scene layer: placeholders and their takes: stable ids, which take is shown, swap back, keep; the
stamps that link a result to its placeholder."""

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, cast

import bpy

from .bounds import hierarchy

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


# -- what the active object is ----


def _active(context: bpy.types.Context) -> bpy.types.Object | None:
    return getattr(context, "active_object", None)


def active_placeholder(context: bpy.types.Context) -> bpy.types.Object | None:
    """The placeholder the active object is, or whose take it is."""
    return placeholder_of(_active(context))


def active_root(context: bpy.types.Context) -> bpy.types.Object | None:
    """The generated model the active object stands for: its own root, or, on a placeholder,
    the take shown (or last shown) in its place."""
    obj = _active(context)
    root = result_root(obj)
    if root is not None:
        return root
    placeholder = placeholder_of(obj)
    if placeholder is None:
        return None
    live = live_takes(placeholder)
    return live[active_index(placeholder)][1] if live else None
