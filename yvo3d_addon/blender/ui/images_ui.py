"""UI layer: the reference images at the top of the sidebar: one row per slot (the active one
highlighted, click to pick it), a larger preview of the active image with its local check, and
the ways to add one (files, clipboard, the menu of the rest)."""

from typing import Any

import bpy

from ...core.params import MAX_IMAGES
from ..session import runtime
from ..settings import properties

MULTI_VIEW_LINE = "Multi-view: shape only, no texture"
PREVIEW_SCALE = 6.0


def _icon(layout: Any, slot: Any) -> int:
    if slot.image is not None:
        return int(layout.icon(slot.image))
    if slot.filepath.strip():
        return runtime.thumbnail_icon(properties.slot_path(slot))
    return 0


def slot_title(slot: Any, number: int, multi: bool) -> str:
    name = properties.slot_label(slot)
    if slot.view:
        return f"{slot.view}: {name}"
    return f"View {number}: {name}" if multi else name


def draw_images(layout: Any, context: bpy.types.Context, settings: Any) -> None:
    count = properties.image_count(settings)
    multi = count >= 2
    column = layout.column(align=True)
    active = int(settings.active_image)
    for index, slot in enumerate(settings.images):
        row = column.row(align=True)
        pick = row.operator(
            "yvo3d.set_active_image",
            text=slot_title(slot, index + 1, multi),
            icon="IMAGE_DATA" if properties.slot_key(slot) else "IMAGE",
            depress=index == active,
        )
        pick.index = index
        remove = row.operator("yvo3d.remove_image", text="", icon="X")
        remove.index = index
    if multi:
        layout.label(text=MULTI_VIEW_LINE, icon="INFO")
    if count > MAX_IMAGES:
        layout.label(text=f"Too many images: {count} of at most {MAX_IMAGES}", icon="ERROR")
    _draw_preview(layout, settings)
    row = layout.row(align=True)
    row.enabled = len(settings.images) < MAX_IMAGES or count < len(settings.images)
    row.operator("yvo3d.add_images", text="Add Photos", icon="FILEBROWSER")
    row.operator("yvo3d.paste_image", text="", icon="PASTEDOWN")
    row.menu("YVO3D_MT_add_image", text="", icon="DOWNARROW_HLT")


def _draw_preview(layout: Any, settings: Any) -> None:
    index = int(settings.active_image)
    if not 0 <= index < len(settings.images):
        if not settings.images:
            layout.label(text="Add a photo of the subject, or 2-4 views", icon="INFO")
        return
    slot = settings.images[index]
    icon = _icon(layout, slot)
    if icon:
        layout.template_icon(icon_value=icon, scale=PREVIEW_SCALE)
    found = runtime.reference_check(properties.slot_key(slot))
    if found is None:
        return
    row = layout.row(align=True)
    row.label(text=found.summary(), icon="CHECKMARK" if found.ok else "ERROR")
    if not found.ok and found.subject is not None:
        row.operator("yvo3d.crop_reference", text="", icon="SELECT_SUBTRACT")
