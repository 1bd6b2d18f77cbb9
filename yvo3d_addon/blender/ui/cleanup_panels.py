"""UI layer: the Import Options and Selected Model sub-panels."""

import math
from typing import Any

import bpy
from bpy.types import Panel

from ..ops.cleanup_ops import YVO3D_OT_clean_up_result, YVO3D_OT_rotate_result
from ..scene.cleanup import _active_root
from ..settings.import_options import draw_options


class YVO3D_PT_import_options(Panel):
    """How each imported model is cleaned up (overrides the preset in Preferences)"""

    bl_idname = "YVO3D_PT_import_options"
    bl_label = "Import Options"
    bl_space_type: Any = "VIEW_3D"
    bl_region_type: Any = "UI"
    bl_category = "YVO3D"
    bl_parent_id = "YVO3D_PT_main"
    bl_options = {"DEFAULT_CLOSED"}
    bl_order = 90

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
    bl_order = 70

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
            op.angle = math.radians(degrees)
        layout.operator(YVO3D_OT_clean_up_result.bl_idname, icon="MOD_DECIM")
        layout.operator("yvo3d.mark_asset", icon="ASSET_MANAGER")
        space = getattr(context, "space_data", None)
        shading = getattr(getattr(space, "shading", None), "type", "")
        if shading in ("SOLID", "WIREFRAME"):
            row = layout.row(align=True)
            row.label(text="Textures show in Material Preview", icon="SHADING_TEXTURE")
            row.operator("yvo3d.show_textures", text="", icon="SHADING_TEXTURE")


classes = (
    YVO3D_PT_import_options,
    YVO3D_PT_result,
)
