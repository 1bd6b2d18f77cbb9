"""Operators layer: the ways in from Blender's own menus and keymap: Add > Mesh > 3D Model from
Image (pick photos, then the YVO3D sidebar opens), and the keymap entries for the takes."""

import contextlib
from typing import Any

import bpy
from bpy.types import Operator

from .common import Result
from .images import AddImages

KEYMAP = (
    # (operator, key, Ctrl, Alt, Shift): found in Preferences > Keymap under 3D View
    ("yvo3d.previous_take", "LEFT_BRACKET", True, True, False),
    ("yvo3d.next_take", "RIGHT_BRACKET", True, True, False),
)
_keymap_items: list[tuple[Any, Any]] = []


def show_sidebar(context: bpy.types.Context) -> bool:
    """Open the 3D Viewport's sidebar on the YVO3D tab; False without a viewport."""
    space: Any = getattr(context, "space_data", None)
    if getattr(space, "type", "") != "VIEW_3D":
        return False
    space.show_region_ui = True
    for region in getattr(context.area, "regions", ()):
        if region.type == "UI":
            with contextlib.suppress(AttributeError, TypeError):
                region.active_panel_category = "YVO3D"
    return True


class YVO3D_OT_model_from_image(AddImages, Operator):
    """Pick 1-4 photos of a subject, then set up and generate its 3D model in the YVO3D
    sidebar"""

    bl_idname = "yvo3d.model_from_image"
    bl_label = "3D Model from Image (YVO3D)"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> Result:
        result: Result = super().execute(context)
        show_sidebar(context)
        return result


def register() -> None:
    manager: Any = bpy.context.window_manager
    keyconfig = manager.keyconfigs.addon if manager is not None else None
    if keyconfig is None:  # the bpy module without a window manager's add-on keymap
        return
    keymap: Any = keyconfig.keymaps.new(name="3D View", space_type="VIEW_3D")
    for idname, key, ctrl, alt, shift in KEYMAP:
        item = keymap.keymap_items.new(idname, key, "PRESS", ctrl=ctrl, alt=alt, shift=shift)
        _keymap_items.append((keymap, item))


def unregister() -> None:
    for keymap, item in _keymap_items:
        with contextlib.suppress(ReferenceError, RuntimeError):
            keymap.keymap_items.remove(item)
    _keymap_items.clear()


classes = (YVO3D_OT_model_from_image,)
