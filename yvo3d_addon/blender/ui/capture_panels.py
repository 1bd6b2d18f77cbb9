"""UI layer: the Capture from Scene sub-panel and the Image Editor's YVO3D panel."""

from typing import Any

import bpy
from bpy.types import Panel

from ..ops.capture_ops import YVO3D_OT_capture_reference, YVO3D_OT_use_editor_image
from ..scene.capture import _editor_image


class YVO3D_PT_capture(Panel):
    """Render the selected objects as the reference image (a blockout becomes a model)"""

    bl_idname = "YVO3D_PT_capture"
    bl_label = "Capture from Scene"
    bl_space_type: Any = "VIEW_3D"
    bl_region_type: Any = "UI"
    bl_category = "YVO3D"
    bl_parent_id = "YVO3D_PT_main"
    bl_options = {"DEFAULT_CLOSED"}
    bl_order = 10

    def draw(self, context: bpy.types.Context) -> None:
        group = getattr(context.scene, "yvo3d_capture", None)
        if group is None:
            return
        layout: Any = self.layout
        column = layout.column()
        column.use_property_split = True
        column.use_property_decorate = False
        column.prop(group, "view")
        column.prop(group, "margin")
        column.prop(group, "background")
        if group.background == "PLAIN":
            column.prop(group, "color")
        column.prop(group, "resolution")
        column.prop(group, "engine")
        if group.engine == "CYCLES":
            column.prop(group, "samples")
        row = layout.row(align=True)
        row.scale_y = 1.3
        row.operator(YVO3D_OT_capture_reference.bl_idname, icon="RESTRICT_RENDER_OFF")
        add = row.operator(YVO3D_OT_capture_reference.bl_idname, text="", icon="ADD")
        add.new_slot = True
        layout.label(text="Into the active image, or + for a new one")
        views = layout.row(align=True)
        views.operator("yvo3d.capture_views", text="Capture Front, Right, Back", icon="VIEW_ORTHO")
        four = views.operator("yvo3d.capture_views", text="", icon="ADD")
        four.fourth = True
        layout.label(text="Views give a shape-only model", icon="INFO")


class YVO3D_PT_image_editor(Panel):
    """Use the image shown here as the YVO3D reference image"""

    bl_idname = "YVO3D_PT_image_editor"
    bl_label = "YVO3D"
    bl_space_type: Any = "IMAGE_EDITOR"
    bl_region_type: Any = "UI"
    bl_category = "YVO3D"

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        image = _editor_image(context)
        if image is None:
            layout.label(text="Open or paint an image", icon="INFO")
            return
        layout.label(text=image.name, icon="IMAGE_DATA")
        row = layout.row(align=True)
        row.operator(YVO3D_OT_use_editor_image.bl_idname, icon="EXPORT")
        add = row.operator(YVO3D_OT_use_editor_image.bl_idname, text="", icon="ADD")
        add.new_slot = True


classes = (
    YVO3D_PT_capture,
    YVO3D_PT_image_editor,
)
