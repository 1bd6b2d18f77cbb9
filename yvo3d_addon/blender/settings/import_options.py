"""Settings layer: the import clean-up preset (origin, scale, merge, smooth, decimate, texture cap,
asset marking) as a property group, plain data and its drawing.

The preset lives in the add-on preferences; a scene may override it for its imports
(`Scene.yvo3d_import`, the "Import Options" sub-panel).
"""

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

TEXTURE_CAPS = ("256", "512", "1024", "2048", "4096")


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
        name="Origin at Bottom Center",
        description="Put the model's origin at the bottom center of its bounds",
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


def snapshot(options: Options) -> dict[str, Any]:
    """The options as plain data, to keep with a job (JSON)."""
    return asdict(options)


def from_snapshot(data: object) -> Options | None:
    """Options kept with a job, or None when there are none (an older job): unknown keys are
    ignored, missing ones take their defaults, values of the wrong type are refused."""
    if not isinstance(data, dict):
        return None
    values: dict[str, Any] = {}
    for item in fields(Options):
        if item.name not in data:
            continue
        value, default = data[item.name], getattr(_DEFAULTS, item.name)
        if isinstance(default, bool) != isinstance(value, bool):
            continue
        if isinstance(default, int | float) and not isinstance(value, int | float):
            continue
        if isinstance(default, str) and not isinstance(value, str):
            continue
        values[item.name] = type(default)(value)
    return Options(**values)


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


def register() -> None:
    scene_type: Any = bpy.types.Scene
    props: Any = bpy.props  # the stubs' PointerProperty returns None
    scene_type.yvo3d_import = props.PointerProperty(
        type=YVO3D_PG_import_options, name="YVO3D Import Options"
    )


def unregister() -> None:
    if hasattr(bpy.types.Scene, "yvo3d_import"):
        del bpy.types.Scene.yvo3d_import
