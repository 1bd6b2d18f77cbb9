"""UI layer: YVO3D in Blender's own menus: Add > Mesh > 3D Model from Image (YVO3D), and
Object > YVO3D with the selection's operations (the right-click menu shows the same menu)."""

from typing import Any

import bpy
from bpy.types import Menu

from .placeholder_panel import MENU_ICON, YVO3D_MT_object

MODEL_FROM_IMAGE = "yvo3d.model_from_image"


def draw_add_mesh(self: Any, context: bpy.types.Context) -> None:
    """Appended to Add > Mesh."""
    layout = self.layout
    layout.separator()
    layout.operator(MODEL_FROM_IMAGE, icon=MENU_ICON)


def draw_object_menu(self: Any, context: bpy.types.Context) -> None:
    """Appended to the 3D Viewport's Object menu."""
    layout = self.layout
    layout.separator()
    layout.menu(YVO3D_MT_object.bl_idname, icon=MENU_ICON)


class YVO3D_MT_add_image(Menu):
    """More ways to add a reference image"""

    bl_idname = "YVO3D_MT_add_image"
    bl_label = "Add Reference Image"

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        layout.operator("yvo3d.add_blender_image", text="Blender Image…", icon="IMAGE_DATA")
        layout.operator("yvo3d.capture_reference", icon="RESTRICT_RENDER_OFF")
        layout.operator("yvo3d.capture_views", icon="VIEW_ORTHO")
        layout.separator()
        layout.operator("yvo3d.check_reference", icon="VIEWZOOM")
        layout.operator("yvo3d.crop_reference", icon="SELECT_SUBTRACT")
        layout.separator()
        layout.operator("yvo3d.clear_images", text="Clear Images", icon="TRASH")


_APPENDED = (
    ("VIEW3D_MT_mesh_add", draw_add_mesh),
    ("VIEW3D_MT_object", draw_object_menu),
)


def register() -> None:
    for menu, draw in _APPENDED:
        getattr(bpy.types, menu).append(draw)


def unregister() -> None:
    for menu, draw in _APPENDED:
        getattr(bpy.types, menu).remove(draw)


classes = (YVO3D_MT_add_image,)
