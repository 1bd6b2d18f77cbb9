"""UI layer: the Placeholder sub-panel and the object's right-click YVO3D menu."""

from typing import Any

import bpy
from bpy.types import Menu, Panel

from ..scene import takes
from ..scene.takes import active_placeholder, active_root

MENU_ICON = "MESH_MONKEY"


def draw_actions(layout: Any, context: bpy.types.Context) -> None:
    """The actions that apply to the active object (the menu and the panel share them)."""
    root = active_root(context)
    placeholder = active_placeholder(context)
    if root is not None:
        layout.operator("yvo3d.regenerate", text="Regenerate (New Take)", icon="FILE_REFRESH")
        layout.operator("yvo3d.variation", text="Variation…", icon="PRESET")
    if placeholder is not None and takes.live_takes(placeholder):
        back = takes.swapped_back(placeholder)
        layout.operator(
            "yvo3d.swap_back",
            text="Show Generated Model" if back else "Swap Back to Placeholder",
            icon="UV_SYNC_SELECT",
        )
        if len(takes.live_takes(placeholder)) > 1:
            layout.operator("yvo3d.previous_take", icon="TRIA_LEFT")
            layout.operator("yvo3d.next_take", icon="TRIA_RIGHT")
            layout.operator("yvo3d.keep_take", icon="CHECKMARK")
        layout.operator("yvo3d.refit", text="Re-fit to Placeholder", icon="FULLSCREEN_ENTER")
    if root is not None:
        layout.operator("yvo3d.job_details", text="Job Details", icon="INFO")


def applies(context: bpy.types.Context) -> bool:
    """Whether the active object is a generated model or a placeholder with takes."""
    return active_root(context) is not None or active_placeholder(context) is not None


class YVO3D_MT_object(Menu):
    """YVO3D actions for a generated model or its placeholder"""

    bl_idname = "YVO3D_MT_object"
    bl_label = "YVO3D"

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        draw_actions(layout, context)
        if applies(context):
            layout.separator()
        layout.operator("yvo3d.capture_reference", icon="RESTRICT_RENDER_OFF")
        layout.operator("yvo3d.capture_views", icon="VIEW_ORTHO")
        layout.operator("yvo3d.follow_job_id", text="Follow Job by ID…", icon="URL")


def draw_context_menu(self: Any, context: bpy.types.Context) -> None:
    """Appended to the viewport's object context menu: shown only where it applies."""
    if not applies(context):
        return
    layout = self.layout
    layout.separator()
    layout.menu(YVO3D_MT_object.bl_idname, icon=MENU_ICON)


class YVO3D_PT_placeholder(Panel):
    """The active placeholder: its takes, swap back, fit"""

    bl_idname = "YVO3D_PT_placeholder"
    bl_label = "Placeholder"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "YVO3D"
    bl_parent_id = "YVO3D_PT_main"
    bl_order = 60

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return active_placeholder(context) is not None

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        placeholder = active_placeholder(context)
        if placeholder is None:
            return
        live = takes.live_takes(placeholder)
        back = takes.swapped_back(placeholder)
        layout.label(text=f"Placeholder: {placeholder.name}", icon="MESH_CUBE")
        if not live:
            layout.label(text="No generated take in the scene", icon="INFO")
        else:
            index = takes.active_index(placeholder)
            row = layout.row(align=True)
            row.operator("yvo3d.previous_take", text="", icon="TRIA_LEFT")
            shown = f"Take {index + 1} of {len(live)}"
            row.label(text=f"{shown} (placeholder shown)" if back else shown)
            row.operator("yvo3d.next_take", text="", icon="TRIA_RIGHT")
            keep = layout.row()
            keep.enabled = len(live) > 1
            keep.operator("yvo3d.keep_take", icon="CHECKMARK")
            layout.operator(
                "yvo3d.swap_back",
                text="Show Generated Model" if back else "Swap Back to Placeholder",
                icon="UV_SYNC_SELECT",
            )
            current = takes.fit_mode(placeholder)
            layout.label(text="Fit")
            fits = layout.row(align=True)
            for mode in takes.FIT_MODES:
                op = fits.operator(
                    "yvo3d.refit", text=takes.FIT_LABELS[mode], depress=mode == current
                )
                op.fit = mode
            layout.operator("yvo3d.refit", text="Re-fit to Placeholder", icon="FULLSCREEN_ENTER")
        gone = takes.archived(placeholder)
        if gone:
            layout.label(text=f"{len(gone)} archived take(s) in the library", icon="ASSET_MANAGER")


def register() -> None:
    bpy.types.VIEW3D_MT_object_context_menu.append(draw_context_menu)


def unregister() -> None:
    bpy.types.VIEW3D_MT_object_context_menu.remove(draw_context_menu)


classes = (
    YVO3D_MT_object,
    YVO3D_PT_placeholder,
)
