"""Settings layer: the Library panel's list and its state (window-manager session data, rebuilt
from the library on disk)."""

from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    FloatProperty,
    IntProperty,
    StringProperty,
)

if TYPE_CHECKING:
    import bpy.utils.previews


class YVO3D_PG_library_item(bpy.types.PropertyGroup):
    """One library entry as the list shows it."""

    entry_id: StringProperty(name="Entry")
    created: FloatProperty(name="Created")
    date: StringProperty(name="Date")
    job_id: StringProperty(name="Job")


class YVO3D_PG_library(bpy.types.PropertyGroup):
    """The Library panel's list and its state (session data, rebuilt from disk)."""

    items: CollectionProperty(type=YVO3D_PG_library_item, name="Results")
    index: IntProperty(name="Selected Result", default=0, min=0)
    search: StringProperty(
        name="Search",
        description="Show only results whose name contains this text",
        default="",
        options={"TEXTEDIT_UPDATE"},
    )
    show_params: BoolProperty(name="Parameters", description="Show the parameters", default=False)


def state(context: bpy.types.Context) -> Any:
    wm = getattr(context, "window_manager", None)
    return getattr(wm, "yvo3d_library", None) if wm is not None else None


def register() -> None:
    wm_type: Any = bpy.types.WindowManager
    props: Any = bpy.props  # the stubs' PointerProperty returns None
    wm_type.yvo3d_library = props.PointerProperty(type=YVO3D_PG_library, name="YVO3D Library")


def unregister() -> None:
    if hasattr(bpy.types.WindowManager, "yvo3d_library"):
        del bpy.types.WindowManager.yvo3d_library


classes = (
    YVO3D_PG_library_item,
    YVO3D_PG_library,
)
