"""Operators layer: open the sidebar's YVO3D tab from the status bar."""

from typing import Any

import bpy
from bpy.types import Operator

from .common import SIDEBAR_CATEGORY


class YVO3D_OT_show_jobs(Operator):
    """Open the 3D Viewport sidebar, where the YVO3D tab shows the Jobs panel"""

    bl_idname = "yvo3d.show_jobs"
    bl_label = "Show YVO3D Jobs"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> Any:
        opened = 0
        wm: Any = context.window_manager
        for window in wm.windows:
            for area in window.screen.areas:
                if area.type != "VIEW_3D":
                    continue
                space: Any = area.spaces.active
                space.show_region_ui = True
                for region in area.regions:
                    if region.type == "UI":
                        region.tag_redraw()
                opened += 1
        if not opened:
            self.report({"WARNING"}, "Open a 3D Viewport to see the YVO3D Jobs panel")
            return {"CANCELLED"}
        # Blender gives add-ons no way to pick the sidebar's tab: say which one it is.
        self.report({"INFO"}, f"Sidebar opened: the Jobs are in its {SIDEBAR_CATEGORY} tab")
        return {"FINISHED"}


classes = (YVO3D_OT_show_jobs,)
