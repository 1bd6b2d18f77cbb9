"""UI layer: text helpers every panel shares (Blender labels do not wrap)."""

import textwrap
from typing import Any

import bpy


def _chars(context: bpy.types.Context) -> int:
    """About how many characters fit on a line of the sidebar."""
    region = getattr(context, "region", None)
    width = getattr(region, "width", 0) or 300
    prefs = getattr(context, "preferences", None)
    scale = (prefs.system.ui_scale if prefs is not None else 0.0) or 1.0  # 0 without a window
    return max(24, int(width / (6.5 * scale)) - 6)


def wrapped(
    layout: Any,
    context: bpy.types.Context,
    text: str,
    *,
    icon: str = "NONE",
    alert: bool = False,
) -> None:
    """A paragraph as several labels."""
    column = layout.column(align=True)
    column.alert = alert
    lines = textwrap.wrap(text, _chars(context)) or [""]
    for index, line in enumerate(lines):
        column.label(
            text=line, icon=icon if index == 0 else ("BLANK1" if icon != "NONE" else "NONE")
        )
