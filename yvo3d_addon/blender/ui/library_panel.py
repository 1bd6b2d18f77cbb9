"""UI layer: the Library panel: the list of downloaded results with thumbnails, search and the
selected entry's details and actions."""

from typing import TYPE_CHECKING, Any

import bpy
from bpy.types import Panel, UIList

from ...core.labels import describe
from ...core.library import LibraryEntry
from ...core.params import DEFAULT_TABLE
from ..ops.library_ops import (
    YVO3D_OT_library_delete,
    YVO3D_OT_library_more,
    YVO3D_OT_library_recall,
    YVO3D_OT_library_refresh,
    YVO3D_OT_library_reveal,
    _format_date,
    _refresh_soon,
    active_entry,
    list_filter,
    listing_counts,
    stale,
    thumb_icon,
    want_thumbnail,
)
from ..session import runtime
from ..settings.library_list import state

if TYPE_CHECKING:
    import bpy.utils.previews


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
        if not thumb:
            want_thumbnail(item.entry_id)  # read right after this draw, once
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
        # From the lists made at the last refresh: no Blender collection indexed per redraw.
        cached = list_filter(text, self.bitflag_filter_item, len(items))
        if cached is not None:
            return cached
        rows = [(item.name.lower(), item.created) for item in items]  # one pass, in order
        flags = [self.bitflag_filter_item if not text or text in n else 0 for n, _ in rows]
        # Newest first, whatever order the collection holds.
        order = sorted(range(len(rows)), key=lambda i: -rows[i][1])
        ranks = [0] * len(rows)
        for rank, index in enumerate(order):
            ranks[index] = rank
        return flags, ranks


class YVO3D_PT_library(Panel):
    """Every downloaded result: import again for free, recall its parameters"""

    bl_idname = "YVO3D_PT_library"
    bl_label = "Library"
    bl_space_type: Any = "VIEW_3D"
    bl_region_type: Any = "UI"
    bl_category = "YVO3D"
    bl_options = {"DEFAULT_CLOSED"}
    bl_order = 100

    def draw_header_preset(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        layout.operator(YVO3D_OT_library_refresh.bl_idname, text="", icon="FILE_REFRESH")

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        data = state(context)
        if data is None:
            return
        if stale(context):
            _refresh_soon()
        layout.prop(data, "search", text="", icon="VIEWZOOM")
        if not data.items:
            text = "Nothing matches the search" if data.search else "No downloaded models yet"
            layout.label(text=text, icon="INFO")
            return
        if getattr(context, "region", None) is not None:
            layout.template_list(
                "YVO3D_UL_library", "", data, "items", data, "index", rows=4, maxrows=8
            )
        else:
            _draw_rows(layout, data)  # template_list needs a region (it crashes without one)
        held, total = listing_counts()
        if total > held:
            row = layout.row(align=True)
            row.label(text=f"The newest {held:,} of {total:,}")
            row.operator(YVO3D_OT_library_more.bl_idname, text="Show More")
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
        for line in describe(DEFAULT_TABLE, shown):
            params.label(text=line)
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


classes = (
    YVO3D_UL_library,
    YVO3D_PT_library,
)
