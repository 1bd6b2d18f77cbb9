"""Blender layer: the import clean-up preset (origin, scale, merge, smooth, decimate, texture cap).

The preset lives in the add-on preferences; a scene may override it for its imports (the
"Import Options" sub-panel). `after_import` runs it on every fresh import, then marks the result
as an asset when asked. The Result panel turns a model that faces the wrong way by 90 degrees.

This module imports no other module of the Blender layer at load time: preferences.py builds its
pointer to `YVO3D_PG_import_options` from here.
"""

import math
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import bmesh
import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy.types import Operator, Panel
from mathutils import Matrix, Vector

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

    from .importer import ImportResult

Result = set["OperatorReturnItems"]

STAMP_KEY = "yvo3d_job_id"
"""Every imported result's root carries it (importer._stamp)."""
DECIMATE_NAME = "YVO3D Decimate"
TEXTURE_CAPS = ("256", "512", "1024", "2048", "4096")
_GEOMETRY = frozenset({"MESH", "CURVE", "SURFACE", "META", "FONT"})


@dataclass
class Options:
    """The clean-up preset as plain data (what one import uses).

    On by default: the cheap steps that keep the model as generated (origin, scale, smoothing
    by angle: a few milliseconds on a 100k-triangle result). Merging by distance changes the
    topology and costs about as much as the glTF import itself, so it is asked for."""

    origin_bottom: bool = True
    apply_scale: bool = True
    merge: bool = False
    merge_distance: float = 0.0001
    auto_smooth: bool = True
    smooth_angle: float = math.radians(30.0)
    decimate: bool = False
    triangle_budget: int = 50000
    cap_textures: bool = False
    texture_cap: int = 2048
    mark_asset: bool = False
    save_asset: bool = False
    asset_library: str = ""


_DEFAULTS = Options()


class YVO3D_PG_import_options(bpy.types.PropertyGroup):
    """Clean-up applied to each imported model, and whether it becomes an asset."""

    use_override: BoolProperty(
        name="Override Preferences",
        description=(
            "Use these options for imports into this scene instead of the clean-up preset "
            "in Preferences > Add-ons > YVO3D"
        ),
        default=False,
    )
    origin_bottom: BoolProperty(
        name="Origin at Bottom Centre",
        description="Put the model's origin at the bottom centre of its bounds",
        default=_DEFAULTS.origin_bottom,
    )
    apply_scale: BoolProperty(
        name="Apply Scale",
        description="Bake the scale into the mesh data so every object has a scale of 1",
        default=_DEFAULTS.apply_scale,
    )
    merge: BoolProperty(
        name="Merge by Distance",
        description="Merge vertices closer than the distance (glTF splits them at seams)",
        default=_DEFAULTS.merge,
    )
    merge_distance: FloatProperty(
        name="Merge Distance",
        description="Vertices closer than this are merged",
        default=_DEFAULTS.merge_distance,
        min=0.0,
        max=0.1,
        precision=5,
        subtype="DISTANCE",
    )
    auto_smooth: BoolProperty(
        name="Shade Auto Smooth",
        description="Smooth shading, with sharp edges where faces meet at more than the angle",
        default=_DEFAULTS.auto_smooth,
    )
    smooth_angle: FloatProperty(
        name="Angle",
        description="Edges between faces at more than this angle stay sharp",
        default=_DEFAULTS.smooth_angle,
        min=0.0,
        max=math.pi,
        subtype="ANGLE",
    )
    decimate: BoolProperty(
        name="Decimate",
        description="Reduce the model to at most the triangle budget",
        default=_DEFAULTS.decimate,
    )
    triangle_budget: IntProperty(
        name="Triangle Budget",
        description="Most triangles the whole model may have after decimation",
        default=_DEFAULTS.triangle_budget,
        min=100,
        soft_max=1000000,
    )
    cap_textures: BoolProperty(
        name="Cap Texture Size",
        description="Scale down textures larger than the cap",
        default=_DEFAULTS.cap_textures,
    )
    texture_cap: EnumProperty(
        name="Largest Texture",
        description="Largest texture side in pixels",
        items=[
            (v, f"{v} px", f"Textures at most {v} pixels on their longer side")
            for v in TEXTURE_CAPS
        ],
        default=str(_DEFAULTS.texture_cap),
    )
    mark_asset: BoolProperty(
        name="Mark as Asset",
        description="Mark each imported model as an asset with a preview and its provenance",
        default=_DEFAULTS.mark_asset,
    )
    save_asset: BoolProperty(
        name="Save to Asset Library",
        description="Also save each marked model into an asset library folder (a .blend per model)",
        default=_DEFAULTS.save_asset,
    )
    asset_library: StringProperty(
        name="Asset Library",
        description=(
            "Name of the asset library (Preferences > File Paths > Asset Libraries) the model "
            "is saved into; empty: the first one"
        ),
        default="",
    )


def options_of(group: Any) -> Options:
    """The plain options a property group holds."""
    return Options(
        origin_bottom=bool(group.origin_bottom),
        apply_scale=bool(group.apply_scale),
        merge=bool(group.merge),
        merge_distance=float(group.merge_distance),
        auto_smooth=bool(group.auto_smooth),
        smooth_angle=float(group.smooth_angle),
        decimate=bool(group.decimate),
        triangle_budget=int(group.triangle_budget),
        cap_textures=bool(group.cap_textures),
        texture_cap=int(group.texture_cap),
        mark_asset=bool(group.mark_asset),
        save_asset=bool(group.save_asset),
        asset_library=str(group.asset_library),
    )


def effective(context: bpy.types.Context) -> Options:
    """The options an import into the context's scene uses: the scene's override, else the
    preset in the preferences, else the defaults."""
    scene = getattr(context, "scene", None)
    override = getattr(scene, "yvo3d_import", None) if scene is not None else None
    if override is not None and override.use_override:
        return options_of(override)
    from . import preferences  # late: preferences imports this module

    prefs = preferences.get_prefs(context)
    group = getattr(prefs, "import_options", None) if prefs is not None else None
    return options_of(group) if group is not None else Options()


# -- the result's objects -----------------------------------------------------------------------


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
    from .importer import axis_bounds, mesh_coords  # late: see the module's docstring

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


# -- the steps ----------------------------------------------------------------------------------


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


def after_import(
    context: bpy.types.Context, result: "ImportResult", stamp: Mapping[str, object]
) -> list[str]:
    """The clean-up preset, then asset marking, on a fresh import; notes for the user. Never
    raises: the model is in the scene and stays there whatever a step does."""
    options = effective(context)
    notes: list[str] = []
    try:
        notes += apply(context, result.root, options)
    except (RuntimeError, ValueError, ReferenceError) as exc:
        notes.append(f"Clean-up stopped: {exc}")
    if options.mark_asset:
        from . import assets  # late: assets imports the runtime, which imports preferences

        notes += assets.mark_imported(context, result, stamp, options)
    return notes


# -- operators and panels -----------------------------------------------------------------------


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


def _poll_result(cls: Any, context: bpy.types.Context) -> bool:
    if getattr(context, "mode", "OBJECT") != "OBJECT":
        cls.poll_message_set("Switch to Object mode")
        return False
    if _active_root(context) is None:
        cls.poll_message_set("Select a model made by YVO3D")
        return False
    return True


class YVO3D_OT_rotate_result(Operator):
    """Turn the selected YVO3D model by 90 degrees (for a result that faces the wrong way)"""

    bl_idname = "yvo3d.rotate_result"
    bl_label = "Rotate Model"
    bl_options = {"REGISTER", "UNDO"}

    axis: EnumProperty(
        name="Axis",
        description="The world axis to turn about",
        items=(
            ("X", "X", "Turn about the X axis (tip forwards or backwards)"),
            ("Y", "Y", "Turn about the Y axis (tip sideways)"),
            ("Z", "Z", "Turn about the vertical axis (face another way)"),
        ),
        default="Z",
    )
    angle: FloatProperty(
        name="Angle",
        description="Degrees to turn (positive: counter-clockwise looking down the axis)",
        default=90.0,
        min=-360.0,
        max=360.0,
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_result(cls, context)

    def execute(self, context: bpy.types.Context) -> Result:
        root = _active_root(context)
        if root is None:
            return {"CANCELLED"}
        rotate(context, root, self.axis, self.angle)
        return {"FINISHED"}


class YVO3D_OT_clean_up_result(Operator):
    """Run the import clean-up on the selected YVO3D model again (current options)"""

    bl_idname = "yvo3d.clean_up_result"
    bl_label = "Clean Up Model"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_result(cls, context)

    def execute(self, context: bpy.types.Context) -> Result:
        root = _active_root(context)
        if root is None:
            return {"CANCELLED"}
        options = effective(context)
        options.mark_asset = False  # marking has its own button
        before = triangle_count(hierarchy(root))
        try:
            notes = apply(context, root, options)
        except (RuntimeError, ValueError) as exc:
            self.report({"ERROR"}, f"Clean-up stopped: {exc}")
            return {"CANCELLED"}
        for note in notes:
            self.report({"WARNING"}, note)
        after = triangle_count(hierarchy(root))
        self.report({"INFO"}, f"{root.name}: cleaned up ({before} -> {after} triangles)")
        return {"FINISHED"}


def draw_options(layout: Any, group: Any, *, scene: bool) -> None:
    """The options of one property group (the preferences' preset or a scene's override)."""
    column = layout.column()
    column.use_property_split = True
    column.use_property_decorate = False
    if scene:
        column.prop(group, "use_override")
        column = column.column()
        column.enabled = bool(group.use_override)
    column.prop(group, "origin_bottom")
    column.prop(group, "apply_scale")
    row = column.row(heading="Merge by Distance")
    row.prop(group, "merge", text="")
    sub = row.row()
    sub.enabled = bool(group.merge)
    sub.prop(group, "merge_distance", text="")
    row = column.row(heading="Shade Auto Smooth")
    row.prop(group, "auto_smooth", text="")
    sub = row.row()
    sub.enabled = bool(group.auto_smooth)
    sub.prop(group, "smooth_angle", text="")
    row = column.row(heading="Decimate")
    row.prop(group, "decimate", text="")
    sub = row.row()
    sub.enabled = bool(group.decimate)
    sub.prop(group, "triangle_budget", text="")
    row = column.row(heading="Cap Textures")
    row.prop(group, "cap_textures", text="")
    sub = row.row()
    sub.enabled = bool(group.cap_textures)
    sub.prop(group, "texture_cap", text="")
    column.prop(group, "mark_asset")
    sub = column.column()
    sub.enabled = bool(group.mark_asset)
    sub.prop(group, "save_asset")
    if group.save_asset:
        sub.prop(group, "asset_library")


class YVO3D_PT_import_options(Panel):
    """How each imported model is cleaned up (overrides the preset in Preferences)"""

    bl_idname = "YVO3D_PT_import_options"
    bl_label = "Import Options"
    bl_space_type: Any = "VIEW_3D"
    bl_region_type: Any = "UI"
    bl_category = "YVO3D"
    bl_parent_id = "YVO3D_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        group = getattr(context.scene, "yvo3d_import", None)
        if group is None:
            return
        layout: Any = self.layout
        draw_options(layout, group, scene=True)
        if not group.use_override:
            layout.label(text="Using the preset from Preferences", icon="PREFERENCES")


class YVO3D_PT_result(Panel):
    """The selected YVO3D model: turn it, clean it up, mark it as an asset"""

    bl_idname = "YVO3D_PT_result"
    bl_label = "Selected Model"
    bl_space_type: Any = "VIEW_3D"
    bl_region_type: Any = "UI"
    bl_category = "YVO3D"
    bl_parent_id = "YVO3D_PT_main"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _active_root(context) is not None

    def draw(self, context: bpy.types.Context) -> None:
        root = _active_root(context)
        if root is None:
            return
        layout: Any = self.layout
        layout.label(text=root.name, icon="OBJECT_DATA")
        row = layout.row(align=True)
        row.label(text="Turn")
        for axis, degrees, icon in (
            ("Z", -90.0, "LOOP_FORWARDS"),
            ("Z", 90.0, "LOOP_BACK"),
            ("X", 90.0, "FORWARD"),
            ("Y", 90.0, "FILE_REFRESH"),
        ):
            sign = "+" if degrees > 0 else "-"
            op = row.operator(YVO3D_OT_rotate_result.bl_idname, text=f"{axis} {sign}90", icon=icon)
            op.axis = axis
            op.angle = degrees
        layout.operator(YVO3D_OT_clean_up_result.bl_idname, icon="MOD_DECIM")
        layout.operator("yvo3d.mark_asset", icon="ASSET_MANAGER")


def register() -> None:
    scene_type: Any = bpy.types.Scene
    props: Any = bpy.props  # the stubs' PointerProperty returns None
    scene_type.yvo3d_import = props.PointerProperty(
        type=YVO3D_PG_import_options, name="YVO3D Import Options"
    )


def unregister() -> None:
    if hasattr(bpy.types.Scene, "yvo3d_import"):
        del bpy.types.Scene.yvo3d_import


# YVO3D_PG_import_options is registered by preferences.py (its pointer needs it first).
classes = (
    YVO3D_OT_rotate_result,
    YVO3D_OT_clean_up_result,
    YVO3D_PT_import_options,
    YVO3D_PT_result,
)
