"""Operators layer: turn a result by 90 degrees, run the clean-up preset on it again."""

import math
from typing import Any

import bpy
from bpy.props import EnumProperty, FloatProperty
from bpy.types import Operator

from ..scene.cleanup import _active_root, apply, hierarchy, rotate, triangle_count
from ..settings import preferences
from .common import Result


def _poll_result(cls: Any, context: bpy.types.Context) -> bool:
    if getattr(context, "mode", "OBJECT") != "OBJECT":
        cls.poll_message_set("Switch to Object mode")
        return False
    if _active_root(context) is None:
        cls.poll_message_set("Select a model made by YVO3D")
        return False
    return True


class YVO3D_OT_rotate_result(Operator):
    """Turn the selected YVO3D model by 90 degrees (for a result that faces the wrong way)"""

    bl_idname = "yvo3d.rotate_result"
    bl_label = "Rotate Model"
    bl_options = {"REGISTER", "UNDO"}

    axis: EnumProperty(
        name="Axis",
        description="The world axis to turn about",
        items=(
            ("X", "X", "Turn about the X axis (tip forwards or backwards)"),
            ("Y", "Y", "Turn about the Y axis (tip sideways)"),
            ("Z", "Z", "Turn about the vertical axis (face another way)"),
        ),
        default="Z",
    )
    angle: FloatProperty(
        name="Angle",
        description="How far to turn (positive: counter-clockwise looking down the axis)",
        subtype="ANGLE",
        default=math.pi / 2,
        min=-2 * math.pi,
        max=2 * math.pi,
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_result(cls, context)

    def execute(self, context: bpy.types.Context) -> Result:
        root = _active_root(context)
        if root is None:
            return {"CANCELLED"}
        rotate(context, root, self.axis, math.degrees(self.angle))
        return {"FINISHED"}


class YVO3D_OT_clean_up_result(Operator):
    """Run the import clean-up on the selected YVO3D model again (current options)"""

    bl_idname = "yvo3d.clean_up_result"
    bl_label = "Clean Up Model"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_result(cls, context)

    def execute(self, context: bpy.types.Context) -> Result:
        root = _active_root(context)
        if root is None:
            return {"CANCELLED"}
        options = preferences.effective_import_options(context)
        options.mark_asset = False  # marking has its own button
        before = triangle_count(hierarchy(root))
        try:
            notes = apply(context, root, options)
        except (RuntimeError, ValueError) as exc:
            self.report({"ERROR"}, f"Clean-up stopped: {exc}")
            return {"CANCELLED"}
        for note in notes:
            self.report({"WARNING"}, note)
        after = triangle_count(hierarchy(root))
        self.report({"INFO"}, f"{root.name}: cleaned up ({before} -> {after} triangles)")
        return {"FINISHED"}


classes = (
    YVO3D_OT_rotate_result,
    YVO3D_OT_clean_up_result,
)
