"""Operators layer: Mark as Asset (and save into an asset library)."""

from typing import Any, cast

import bpy
from bpy.props import BoolProperty, EnumProperty
from bpy.types import Operator

from ...core import errors
from ...core.library import LibraryEntry
from ..scene import cleanup
from ..scene.assets import libraries, library_folder, mark_as_asset, save_to_library
from ..session import runtime
from .common import Result


def _entry(context: bpy.types.Context, library_id: str) -> LibraryEntry | None:
    if not library_id:
        return None
    try:
        return runtime.manager(context).library.get(library_id)
    except errors.Yvo3dError:
        return None


_library_items: list[tuple[str, str, str]] = []


def _library_enum(self: object, context: bpy.types.Context | None) -> list[tuple[str, str, str]]:
    # Blender keeps only pointers to the strings: the list must outlive this call.
    found = libraries(context or bpy.context)
    _library_items[:] = [(name, name, folder) for name, folder in found if name]
    if not _library_items:
        _library_items.append(("", "No asset library", "Add one in Preferences > File Paths"))
    return _library_items


class YVO3D_OT_mark_asset(Operator):
    """Mark the selected YVO3D model as an asset (preview, provenance), optionally saved into an
    asset library"""

    bl_idname = "yvo3d.mark_asset"
    bl_label = "Mark as Asset"
    bl_options = {"REGISTER", "UNDO"}

    save: BoolProperty(
        name="Save to Asset Library",
        description="Also write the model into a .blend in the chosen asset library folder",
        default=False,
    )
    library: EnumProperty(
        name="Asset Library", description="Where the model is saved", items=_library_enum
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if cleanup.result_root(getattr(context, "active_object", None)) is None:
            cls.poll_message_set("Select a model made by YVO3D")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> Result:
        root = cleanup.result_root(context.active_object)
        if root is None:
            return {"CANCELLED"}
        entry = _entry(context, str(cast(Any, root).get("yvo3d_library_id", "")))
        try:
            target = mark_as_asset(
                root, entry, context=context, render_folder=runtime.captures_dir()
            )
            if self.save:
                path = save_to_library(root, library_folder(context, self.library))
                self.report({"INFO"}, f"{target.name}: marked as an asset and saved to {path}")
                return {"FINISHED"}
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        self.report({"INFO"}, f"{target.name}: marked as an asset")
        return {"FINISHED"}


def unregister() -> None:
    _library_items.clear()


classes = (YVO3D_OT_mark_asset,)
