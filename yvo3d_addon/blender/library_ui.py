"""Blender layer: the Library panel: every downloaded result, with its thumbnail and provenance.

The list is read from disk by `refresh` (an operator, a timer, never draw) into a window-manager
collection that a UIList shows; draw reads only that collection and an in-memory cache of the
entries. Thumbnails are previews of the entry's preview.png or its first input copy, loaded
lazily by Blender and cached by entry.
"""

import os
import time
from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    FloatProperty,
    IntProperty,
    StringProperty,
)
from bpy.types import Operator, Panel, UIList

from ..core import errors, glbcheck, images
from ..core.library import LibraryEntry
from . import properties, runtime

if TYPE_CHECKING:
    import bpy.utils.previews
    from bpy.stub_internal.rna_enums import OperatorReturnItems

Result = set["OperatorReturnItems"]

_previews: "bpy.utils.previews.ImagePreviewCollection | None" = None
"""Made on the first thumbnail (bpy.utils.previews is imported then, not at enable time)."""
_entries: dict[str, LibraryEntry] = {}
"""The entries of the last refresh, by id (draw reads these, never the disk)."""
_NEVER = object()
_seen: object = _NEVER
"""`_signature()` at the last refresh: a change (a new download, another library folder, the
manager gone after a restart) means the list is out of date."""


def _format_date(created: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(created))


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


def thumbnail_path(entry: LibraryEntry) -> str:
    """The picture for the entry: the service's preview, else its first input copy ("")."""
    candidates = [entry.preview] if entry.preview else []
    candidates += [str(i.get("copy", "")) for i in entry.images if i.get("copy")]
    for name in candidates:
        path = os.path.join(entry.folder, name)
        # Decoded whole by Blender: a shared library's 30000x30000 picture is never loaded.
        if os.path.isfile(path) and glbcheck.picture_ok(path, images.MAX_SIDE):
            return path
    return ""


def _input_paths(entry: LibraryEntry) -> list[str]:
    paths = []
    for image in entry.images:
        copy = str(image.get("copy", ""))
        path = os.path.join(entry.folder, copy) if copy else ""
        paths.append(path if path and os.path.isfile(path) else "")
    return paths


def _load_preview(key: str, path: str) -> None:
    global _previews
    if _previews is None:
        from bpy.utils import previews

        _previews = previews.new()
    if key in _previews:
        return
    try:
        _previews.load(key, path, "IMAGE")  # Blender reads the file when first drawn
    except (KeyError, RuntimeError):
        pass  # no thumbnail: the list shows an icon instead


def preview(key: str) -> bpy.types.ImagePreview | None:
    """The cached thumbnail for `key` (an entry id, or "<entry id>/input<n>"), if any."""
    if _previews is None or key not in _previews:
        return None
    return _previews[key]


def thumb_icon(key: str) -> int:
    """The icon id of a loaded thumbnail, 0 when there is none (no I/O)."""
    if _previews is None or key not in _previews:
        return 0
    return int(_previews[key].icon_id)


def _signature() -> object:
    """What the list depends on, from memory only (None while there is no job manager)."""
    manager = runtime.existing_manager()
    if manager is None:
        return None
    return (
        id(manager),
        manager.library.root,
        tuple(
            (record.id, str(record.stage), record.library_id)
            for record in manager.jobs()
            if record.library_id
        ),
    )


def refresh(context: bpy.types.Context) -> int:
    """Read the library from disk into the list (keeps the selection when it still exists);
    returns how many entries there are."""
    global _seen
    data = state(context)
    if data is None:
        return 0
    selected = ""
    if 0 <= data.index < len(data.items):
        selected = data.items[data.index].entry_id
    entries = runtime.manager(context).library.entries()
    _entries.clear()
    data.items.clear()
    for entry in entries:
        _entries[entry.id] = entry
        item = data.items.add()
        item.name = entry.name
        item.entry_id = entry.id
        item.created = entry.created
        item.date = _format_date(entry.created)
        item.job_id = entry.job_id
        thumb = thumbnail_path(entry)
        if thumb:
            _load_preview(entry.id, thumb)
        for index, path in enumerate(_input_paths(entry)):
            if path:
                _load_preview(f"{entry.id}/input{index}", path)
    ids = [item.entry_id for item in data.items]
    data.index = ids.index(selected) if selected in ids else 0
    _seen = _signature()
    return len(entries)


def select(context: bpy.types.Context, entry_id: str) -> bool:
    data = state(context)
    if data is None:
        return False
    for index, item in enumerate(data.items):
        if item.entry_id == entry_id:
            data.index = index
            return True
    return False


def _refresh_timer() -> None:
    global _seen
    try:
        refresh(bpy.context)
    except errors.Yvo3dError:
        # The panel shows the list it has; the refresh button reports the problem. No retry
        # on every redraw: only a change of what the list depends on asks again.
        _seen = _signature()
        return
    wm: Any = bpy.context.window_manager
    for window in getattr(wm, "windows", ()):
        for area in window.screen.areas if window.screen else ():
            if area.type == "VIEW_3D":
                area.tag_redraw()


def _refresh_soon() -> None:
    """From draw: a refresh right after (draw may neither read files nor write ID data)."""
    if not bpy.app.timers.is_registered(_refresh_timer):
        bpy.app.timers.register(_refresh_timer, first_interval=0.0)


def active_entry(context: bpy.types.Context) -> LibraryEntry | None:
    data = state(context)
    if data is None or not 0 <= data.index < len(data.items):
        return None
    return _entries.get(data.items[data.index].entry_id)


def _entry(context: bpy.types.Context, entry_id: str) -> LibraryEntry | None:
    if not entry_id:
        return active_entry(context)
    return _entries.get(entry_id) or runtime.manager(context).library.get(entry_id)


# -- the list -----------------------------------------------------------------------------------


class YVO3D_UL_library(UIList):
    """Downloaded results, newest first."""

    def draw_item(
        self,
        context: bpy.types.Context,
        layout: Any,
        data: Any,
        item: Any,
        icon: int | None,
        active_data: Any,
        active_property: str | None,
        index: int | None = 0,
        flt_flag: int | None = 0,
    ) -> None:
        thumb = thumb_icon(item.entry_id)
        row = layout.row(align=True)
        if thumb:
            row.label(text=item.name, icon_value=thumb)
        else:
            row.label(text=item.name, icon="MESH_MONKEY")
        sub = row.row()
        sub.alignment = "RIGHT"
        sub.label(text=item.date)

    # The stubs declare no return value; Blender reads (flags, order) from this method.
    def filter_items(  # type: ignore[override]
        self, context: bpy.types.Context, data: Any, prop: str
    ) -> tuple[list[int], list[int]]:
        items = getattr(data, prop)
        text = str(getattr(state(context), "search", "") or self.filter_name).lower()
        flags = [
            self.bitflag_filter_item if not text or text in item.name.lower() else 0
            for item in items
        ]
        # Newest first, whatever order the collection holds.
        order = sorted(range(len(items)), key=lambda i: -items[i].created)
        ranks = [0] * len(items)
        for rank, index in enumerate(order):
            ranks[index] = rank
        return flags, ranks


# -- operators ----------------------------------------------------------------------------------


class YVO3D_OT_library_refresh(Operator):
    """Read the library folder again"""

    bl_idname = "yvo3d.library_refresh"
    bl_label = "Refresh Library"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> Result:
        try:
            count = refresh(context)
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        self.report({"INFO"}, f"{count} result(s) in the library")
        return {"FINISHED"}


def recall(settings: Any, entry: LibraryEntry, *, with_images: bool = False) -> list[str]:
    """Put the entry's parameters (and name, and with `with_images` its input copies) into the
    scene's settings; returns the parameters that could not be set."""
    skipped = []
    for name, param in properties.TABLE.params.items():
        if name not in entry.settings:
            continue
        value = entry.settings[name]
        try:
            if param.kind in ("bool", "onoff"):
                setattr(settings, name, bool(value))
            elif param.kind == "int":
                setattr(settings, name, int(value))
            elif param.kind == "enum":
                setattr(settings, name, str(value))
            else:
                setattr(settings, name, float(value))
        except (TypeError, ValueError):
            skipped.append(name)
    settings.name = entry.name
    if with_images:
        paths = [p for p in _input_paths(entry) if p]
        if paths:
            settings.images.clear()
            for path in paths:
                slot = settings.images.add()
                slot.filepath = path
                runtime.load_thumbnail(path)
            settings.active_image = 0
    return skipped


class YVO3D_OT_library_recall(Operator):
    """Put this result's parameters (and name) back into the YVO3D panel"""

    bl_idname = "yvo3d.library_recall"
    bl_label = "Recall Parameters"
    bl_options = {"REGISTER", "UNDO"}

    entry_id: StringProperty(name="Entry", options={"SKIP_SAVE"})
    images: BoolProperty(
        name="Images Too",
        description="Also put the result's source images back into the image slots",
        default=False,
        options={"SKIP_SAVE"},
    )

    def execute(self, context: bpy.types.Context) -> Result:
        settings = getattr(context.scene, "yvo3d", None)
        entry = _entry(context, self.entry_id)
        if settings is None or entry is None:
            self.report({"ERROR"}, "That library entry is missing")
            return {"CANCELLED"}
        skipped = recall(settings, entry, with_images=self.images)
        if skipped:
            self.report({"WARNING"}, f"Not recalled (out of range now): {', '.join(skipped)}")
        self.report({"INFO"}, f"{entry.name}: parameters recalled")
        return {"FINISHED"}


def open_folder(path: str) -> None:
    """Show a folder in the system's file browser."""
    bpy.ops.wm.path_open(filepath=path)


class YVO3D_OT_library_reveal(Operator):
    """Show this result's folder (model.glb, its inputs, entry.json) in the file browser"""

    bl_idname = "yvo3d.library_reveal"
    bl_label = "Reveal Files"
    bl_options = {"INTERNAL"}

    entry_id: StringProperty(name="Entry", options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> Result:
        entry = _entry(context, self.entry_id)
        if entry is None or not os.path.isdir(entry.folder):
            self.report({"ERROR"}, "That library entry is missing")
            return {"CANCELLED"}
        open_folder(entry.folder)
        return {"FINISHED"}


class YVO3D_OT_library_delete(Operator):
    """Delete this result from the library (its files on disk; models in scenes stay)"""

    bl_idname = "yvo3d.library_delete"
    bl_label = "Delete from Library"
    bl_options = {"INTERNAL"}

    entry_id: StringProperty(name="Entry", options={"SKIP_SAVE"})

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        entry = _entry(context, self.entry_id)
        if entry is None:
            self.report({"ERROR"}, "That library entry is missing")
            return {"CANCELLED"}
        if context.window is None or bpy.app.background:
            return self.execute(context)
        wm: Any = context.window_manager
        confirmed: Result = wm.invoke_confirm(
            self,
            event,
            title="Delete from Library",
            message=(
                f"Delete {entry.name} from the library? Importing it again would then cost "
                "a new generation."
            ),
            confirm_text="Delete",
            icon="WARNING",
        )
        return confirmed

    def execute(self, context: bpy.types.Context) -> Result:
        entry = _entry(context, self.entry_id)
        if entry is None:
            self.report({"ERROR"}, "That library entry is missing")
            return {"CANCELLED"}
        try:
            runtime.manager(context).library.delete(entry.id)
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        if _previews is not None:
            for key in [k for k in _previews if k == entry.id or k.startswith(entry.id + "/")]:
                del _previews[key]
        if runtime.library_match.get("entry") == entry.id:
            runtime.library_match.clear()
        refresh(context)
        self.report({"INFO"}, f"{entry.name}: deleted from the library")
        return {"FINISHED"}


# -- the panel ----------------------------------------------------------------------------------


class YVO3D_PT_library(Panel):
    """Every downloaded result: import again for free, recall its parameters"""

    bl_idname = "YVO3D_PT_library"
    bl_label = "Library"
    bl_space_type: Any = "VIEW_3D"
    bl_region_type: Any = "UI"
    bl_category = "YVO3D"

    def draw_header_preset(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        layout.operator(YVO3D_OT_library_refresh.bl_idname, text="", icon="FILE_REFRESH")

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        data = state(context)
        if data is None:
            return
        if _signature() != _seen:
            _refresh_soon()
        layout.prop(data, "search", text="", icon="VIEWZOOM")
        if not data.items:
            layout.label(text="No downloaded models yet", icon="INFO")
            return
        if getattr(context, "region", None) is not None:
            layout.template_list(
                "YVO3D_UL_library", "", data, "items", data, "index", rows=4, maxrows=8
            )
        else:
            _draw_rows(layout, data)  # template_list needs a region (it crashes without one)
        entry = active_entry(context)
        if entry is None:
            return
        match = runtime.library_match.get("entry") == entry.id
        _draw_entry(layout, data, entry, match)


def _draw_rows(layout: Any, data: Any) -> None:
    """The list as plain rows, filtered like the UIList, the selected one marked."""
    text = str(data.search).lower()
    column = layout.column(align=True)
    for index, item in enumerate(data.items):
        if text and text not in item.name.lower():
            continue
        row = column.row()
        row.label(text=item.name, icon="RIGHTARROW" if index == data.index else "BLANK1")
        row.label(text=item.date)


def _draw_entry(layout: Any, data: Any, entry: LibraryEntry, match: bool) -> None:
    box = layout.box()
    head = box.row()
    thumb = thumb_icon(entry.id)
    if thumb:
        head.template_icon(icon_value=thumb, scale=5.0)
    column = head.column(align=True)
    column.label(text=entry.name)
    column.label(text=_format_date(entry.created), icon="TIME")
    column.label(text=f"Job {entry.job_id or '-'}")
    if entry.cost is not None:
        column.label(text=f"Paid {entry.cost:g} credits")
    if match:
        box.label(text="Identical to your current request", icon="CHECKMARK")
    images = box.column(align=True)
    for index, image in enumerate(entry.images):
        name = str(image.get("name", "")) or f"Image {index + 1}"
        input_icon = thumb_icon(f"{entry.id}/input{index}")
        if input_icon:
            images.label(text=name, icon_value=input_icon)
        else:
            images.label(text=name, icon="FILE_IMAGE")
    box.prop(
        data,
        "show_params",
        icon="TRIA_DOWN" if data.show_params else "TRIA_RIGHT",
        emboss=False,
    )
    if data.show_params:
        params = box.column(align=True)
        shown = {k: v for k, v in entry.body.items() if k != "images"} or entry.settings
        for key in sorted(shown):
            params.label(text=f"{key}: {shown[key]}")
    row = box.row(align=True)
    row.scale_y = 1.2
    op = row.operator("yvo3d.import_job", text="Import (free)", icon="IMPORT")
    op.library_id = entry.id
    op = row.operator(YVO3D_OT_library_recall.bl_idname, text="Recall", icon="RECOVER_LAST")
    op.entry_id = entry.id
    row = box.row(align=True)
    op = row.operator(YVO3D_OT_library_reveal.bl_idname, text="Reveal", icon="FILEBROWSER")
    op.entry_id = entry.id
    op = row.operator(YVO3D_OT_library_delete.bl_idname, text="Delete", icon="TRASH")
    op.entry_id = entry.id


def register() -> None:
    wm_type: Any = bpy.types.WindowManager
    props: Any = bpy.props  # the stubs' PointerProperty returns None
    wm_type.yvo3d_library = props.PointerProperty(type=YVO3D_PG_library, name="YVO3D Library")


def unregister() -> None:
    global _previews, _seen
    if bpy.app.timers.is_registered(_refresh_timer):
        bpy.app.timers.unregister(_refresh_timer)
    if hasattr(bpy.types.WindowManager, "yvo3d_library"):
        del bpy.types.WindowManager.yvo3d_library
    if _previews is not None:
        from bpy.utils import previews

        previews.remove(_previews)
        _previews = None
    _entries.clear()
    _seen = _NEVER


classes = (
    YVO3D_PG_library_item,
    YVO3D_PG_library,
    YVO3D_UL_library,
    YVO3D_OT_library_refresh,
    YVO3D_OT_library_recall,
    YVO3D_OT_library_reveal,
    YVO3D_OT_library_delete,
    YVO3D_PT_library,
)
