"""UI layer: running YVO3D jobs in the status bar, with their progress and a button that opens the
sidebar."""

from typing import Any

import bpy

from ...core.jobs import LABELS, Stage
from ..ops import common
from ..ops.statusbar_ops import YVO3D_OT_show_jobs
from ..session import runtime

CATEGORY = common.SIDEBAR_CATEGORY


def summary() -> tuple[int, float, str] | None:
    """(running jobs, mean progress, text) for the status bar, or None when nothing runs."""
    manager = runtime.existing_manager()
    if manager is None:
        return None
    running = manager.active()
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


def register() -> None:
    bpy.types.STATUSBAR_HT_header.append(draw_status)


def unregister() -> None:
    bpy.types.STATUSBAR_HT_header.remove(draw_status)
