"""UI layer: the YVO3D sidebar of the 3D Viewport.

A calm default: the images and the settings most people change (generator, texture and its
resolution); everything else in closed sub-panels (Capture from Scene, Geometry, Texture
Options, Ultima Prime, Placement, whose header shows where the model goes); then Generate with
Name, Takes and the price; then the panels of the selection (Placeholder, Selected Model) and
the Jobs list.

Options that do not apply are greyed out with one short line saying why. Draw code reads only
memory (scene settings, the job manager's snapshot, the pricer's quote): no file access, no
network, nothing created.
"""

from typing import Any

import bpy
from bpy.types import Panel

from ...core.params import Param
from ..ops import common, generate
from ..scene import targets
from ..session import runtime
from ..settings import preferences, properties
from .images_ui import draw_images
from .text import wrapped

CATEGORY = common.SIDEBAR_CATEGORY
FIRST_RUN_KEY = "Add your Scenario API key to start"
FIRST_RUN_ONLINE = "Blender's online access is off"
MAIN_PARAMS = ("modelGenerator", "texture", "textureResolution")
PRIME_PARAMS = ("highdetails", "autopoly")
TEXTURE_OPTIONS = tuple(
    name
    for name, param in properties.TABLE.params.items()
    if param.scope == "textured" and name not in MAIN_PARAMS
)
GEOMETRY_PARAMS = tuple(
    name
    for name in properties.TABLE.params
    if name not in MAIN_PARAMS + PRIME_PARAMS + TEXTURE_OPTIONS
)
SHORT_REASONS = {
    "single": "Single image only",
    "textured": "Needs Texture on and a single image",
    "shape": "Shape only: Texture off or 2-4 views",
    "prime": "Ultima Prime generator only",
}
AUTOPOLY_SHORT = "Set by Auto Poly"


class _Sidebar:
    bl_space_type: Any = "VIEW_3D"
    bl_region_type: Any = "UI"
    bl_category = CATEGORY


def _split(layout: Any) -> Any:
    column = layout.column()
    column.use_property_split = True
    column.use_property_decorate = False
    return column


def draw_first_run(layout: Any, context: bpy.types.Context) -> None:
    """A fresh Blender: online access off, no key. One click for each."""
    if not bpy.app.online_access:
        box = layout.box()
        box.label(text=FIRST_RUN_ONLINE, icon="ERROR")
        box.operator("extensions.userpref_allow_online", text="Allow Online Access", icon="URL")
    if preferences.credentials(context) is None:
        box = layout.box()
        box.label(text=FIRST_RUN_KEY, icon="ERROR")
        row = box.row(align=True)
        row.operator(
            "wm.url_open", text="Open API Keys Page", icon="URL"
        ).url = preferences.KEYS_URL
        op = row.operator("preferences.addon_show", text="", icon="PREFERENCES")
        op.module = preferences.BASE_PACKAGE
    if runtime.connection.state in ("testing", "error"):
        wrapped(
            layout,
            context,
            runtime.connection.message,
            icon="INFO" if runtime.connection.state == "testing" else "ERROR",
            alert=runtime.connection.state == "error",
        )


def _short_reason(param: Param, values: dict[str, object], count: int) -> str:
    applies, reason = properties.TABLE.applies(param.name, values, count)
    if applies:
        return ""
    if param.name == "polycount" and "Auto Poly" in reason:
        return AUTOPOLY_SHORT
    multi = count > 1
    if param.scope == "textured" and multi:
        return SHORT_REASONS["single"]
    return SHORT_REASONS.get(param.scope, reason)


def draw_params(
    layout: Any, context: bpy.types.Context, settings: Any, names: tuple[str, ...]
) -> None:
    """The parameters: greyed with one short line per run of the same reason; errors below."""
    values = properties.settings_dict(settings)
    count = properties.image_count(settings)
    problems: dict[str, list[str]] = {}
    for problem in properties.TABLE.validate(values, count):
        problems.setdefault(problem.field, []).append(problem.message)
    column = _split(layout)
    last = ""
    for name in names:
        param = properties.TABLE.params[name]
        reason = _short_reason(param, values, count)
        row = column.row()
        row.enabled = not reason
        row.prop(settings, name)
        if reason and reason != last:
            column.label(text=reason, icon="INFO")
        last = reason
        for message in problems.get(name, ()):
            wrapped(column, context, message, icon="ERROR", alert=True)


class YVO3D_PT_main(_Sidebar, Panel):
    """Turn 1-4 photos into a 3D model with Scenario YVO3D"""

    bl_idname = "YVO3D_PT_main"
    bl_label = "Image to 3D"

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        draw_first_run(layout, context)
        settings = common.scene_settings(context)
        if settings is None:
            return
        draw_images(layout, context, settings)
        count = properties.image_count(settings)
        column = _split(layout)
        column.prop(settings, "modelGenerator")
        if count <= 1:
            column.prop(settings, "texture")
            if settings.texture:
                column.prop(settings, "textureResolution")


def _draw_options(layout: Any, context: bpy.types.Context, names: tuple[str, ...]) -> None:
    settings = common.scene_settings(context)
    if settings is not None:
        draw_params(layout, context, settings, names)


class _Options(_Sidebar, Panel):
    bl_parent_id = "YVO3D_PT_main"
    bl_options = {"DEFAULT_CLOSED"}


class YVO3D_PT_geometry(_Options):
    """Polygon count, creativity and UVs"""

    bl_idname = "YVO3D_PT_geometry"
    bl_label = "Geometry"
    bl_order = 20

    def draw(self, context: bpy.types.Context) -> None:
        _draw_options(self.layout, context, GEOMETRY_PARAMS)


class YVO3D_PT_texture_options(_Options):
    """Texture finishing options (single image with texture only)"""

    bl_idname = "YVO3D_PT_texture_options"
    bl_label = "Texture Options"
    bl_order = 30

    def draw(self, context: bpy.types.Context) -> None:
        _draw_options(self.layout, context, TEXTURE_OPTIONS)


class YVO3D_PT_prime(_Options):
    """Options of the Ultima Prime generator"""

    bl_idname = "YVO3D_PT_prime"
    bl_label = "Ultima Prime"
    bl_order = 40

    def draw(self, context: bpy.types.Context) -> None:
        _draw_options(self.layout, context, PRIME_PARAMS)


class YVO3D_PT_placement(_Sidebar, Panel):
    """Where the new model goes: on the 3D cursor, or in place of the selected objects"""

    bl_idname = "YVO3D_PT_placement"
    bl_label = "Placement"
    bl_parent_id = "YVO3D_PT_main"
    bl_options = {"DEFAULT_CLOSED"}
    bl_order = 45

    def draw_header_preset(self, context: bpy.types.Context) -> None:
        settings = common.scene_settings(context)
        if settings is not None:
            layout: Any = self.layout
            items = settings.bl_rna.properties["placement"].enum_items
            layout.label(text=items[settings.placement].name)

    def draw(self, context: bpy.types.Context) -> None:
        settings = common.scene_settings(context)
        if settings is None:
            return
        column = _split(self.layout)
        column.prop(settings, "placement")
        if settings.placement == "PLACEHOLDER":
            column.prop(settings, "placeholder")
            column.prop(settings, "fit_mode")
            line = targets.targets_line(context, settings)
            if line:
                column.label(text=line, icon="INFO")


def _draw_price(layout: Any, context: bpy.types.Context, blocker: str) -> str:
    """The price line; returns the Generate button's text."""
    quote = runtime.quote()
    text = "Generate"
    row = layout.row(align=True)
    if quote.state == "ok" and quote.cost is not None:
        jobs = targets.job_count(context, common.scene_settings(context))
        line, text = targets.price_texts(jobs, quote.cost)
        row.label(text=line, icon="FUND")
    elif quote.state == "pending":
        row.label(text="Pricing…", icon="SORTTIME")
    elif quote.state == "error":
        row.label(text="Price unavailable", icon="ERROR")
        row.operator("yvo3d.refresh_price", text="", icon="FILE_REFRESH")
    elif not blocker:
        row.label(text="Price: not checked yet", icon="FUND")
    if quote.state == "error" and quote.message:
        wrapped(layout, context, quote.message, alert=True)
    return text


class YVO3D_PT_generate(_Sidebar, Panel):
    """Name, takes, the price of the current settings and the Generate button"""

    bl_idname = "YVO3D_PT_generate"
    bl_label = "Generate"
    bl_parent_id = "YVO3D_PT_main"
    bl_options = {"HIDE_HEADER"}
    bl_order = 50

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        settings = common.scene_settings(context)
        if settings is None:
            return
        row = layout.row(align=True)
        row.prop(settings, "name", text="")
        row.prop(settings, "takes")
        blocker = generate.generate_blocker(context)
        text = _draw_price(layout, context, blocker)
        big = layout.row()
        big.scale_y = 1.6
        big.operator("yvo3d.generate", text=text, icon="MESH_MONKEY")
        if blocker:
            wrapped(layout, context, blocker, icon="ERROR", alert=True)
        match = runtime.library_match
        if match.get("entry"):
            box = layout.box()
            box.label(text=f"In the library: {match.get('name', '')}", icon="ASSET_MANAGER")
            row = box.row(align=True)
            op = row.operator("yvo3d.import_job", text="Import from Library (free)", icon="IMPORT")
            op.library_id = match["entry"]
            again = row.operator("yvo3d.generate", text="Generate Anyway", icon="FILE_REFRESH")
            again.force = True


classes = (
    YVO3D_PT_main,
    YVO3D_PT_geometry,
    YVO3D_PT_texture_options,
    YVO3D_PT_prime,
    YVO3D_PT_placement,
    YVO3D_PT_generate,
)
