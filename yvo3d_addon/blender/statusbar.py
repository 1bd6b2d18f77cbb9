"""Blender layer: running jobs in the status bar, with a click that opens the Jobs panel.

The draw function reads only the job manager's in-memory snapshot: no I/O, no network.
"""

import time
from typing import Any

import bpy
from bpy.types import Operator

from ..core.jobs import ACTIVE, LABELS, Stage
from . import runtime

CATEGORY = "YVO3D"
LONG_AGO = 60.0
"""A job that lands this many seconds after it was started is announced by name and age."""


def summary() -> tuple[int, float, str] | None:
    """(running jobs, mean progress, text) for the status bar, or None when nothing runs."""
    manager = runtime.existing_manager()
    if manager is None:
        return None
    running = [r for r in manager.jobs() if r.stage in ACTIVE]
    if not running:
        return None
    progress = sum(r.progress for r in running) / len(running)
    if len(running) == 1:
        record = running[0]
        try:
            label = LABELS[Stage(record.stage)]
        except ValueError:
            label = record.stage
        text = f"YVO3D {record.name}: {label} {record.progress * 100:.0f}%"
    else:
        text = f"YVO3D: {len(running)} jobs {progress * 100:.0f}%"
    return len(running), progress, text


def landed_text(name: str, created: float, now: float | None = None) -> str:
    """The report for a model that is in the scene; names the wait when it was a long one."""
    age = (now if now is not None else time.time()) - created
    if age < LONG_AGO:
        return f"{name}: imported"
    minutes = age / 60
    ago = f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"
    return f"{name} is ready and imported (started {ago} ago)"


def draw_status(self: bpy.types.Header, context: bpy.types.Context) -> None:
    found = summary()
    if found is None:
        return
    _, progress, text = found
    layout: Any = self.layout
    row = layout.row(align=True)
    if hasattr(row, "progress"):  # Blender 4.0+
        row.progress(factor=progress, type="BAR", text=text)
    else:  # pragma: no cover - older Blender has no progress widget
        row.label(text=text)
    row.operator(YVO3D_OT_show_jobs.bl_idname, text="", icon="WINDOW")


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
        self.report({"INFO"}, f"Sidebar opened: the Jobs are in its {CATEGORY} tab")
        return {"FINISHED"}


classes = (YVO3D_OT_show_jobs,)


def register() -> None:
    bpy.types.STATUSBAR_HT_header.append(draw_status)


def unregister() -> None:
    bpy.types.STATUSBAR_HT_header.remove(draw_status)
