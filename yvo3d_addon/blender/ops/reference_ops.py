"""Operators layer: the reference image slots beyond adding files: pick the active slot, paste an
image from the clipboard, check a reference locally and crop it to its subject.

Nothing here talks to Scenario or costs credits.
"""

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import bpy
from bpy.props import BoolProperty, IntProperty
from bpy.types import Operator

from ...core import errors
from ..scene import reference
from ..scene.capture import new_capture_path, use_as_reference
from ..scene.image_files import save_png
from ..session import runtime
from ..settings import properties
from .common import Result, scene_settings

NO_CLIPBOARD_IMAGE = (
    "The clipboard holds no image: copy the picture itself (not its file), or use Add Photos"
)


def check_slot(slot: Any) -> Any:
    """Check a slot's picture locally, keep the result for the panel and return it (None when
    the slot is empty or unreadable: the panel then shows no check)."""
    key = properties.slot_key(slot)
    if not key:
        return None
    image = slot.image
    loaded = None
    try:
        if image is None:
            image = loaded = reference.load(properties.slot_path(slot))
        found = reference.check_image(image)
    except errors.Yvo3dError:
        found = None
    finally:
        if loaded is not None:
            bpy.data.images.remove(loaded)
    runtime.remember_check(key, found)
    return found


def check_used(settings: Any) -> None:
    """Check every filled slot that has no check yet (after images were added)."""
    for slot in properties.used_slots(settings):
        if runtime.reference_check(properties.slot_key(slot)) is None:
            check_slot(slot)


class YVO3D_OT_set_active_image(Operator):
    """Make this the active reference image: captures, pastes and crops go into it"""

    bl_idname = "yvo3d.set_active_image"
    bl_label = "Select Reference Image"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    index: IntProperty(name="Index", default=0, min=0, options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> Result:
        settings = scene_settings(context)
        if settings is None or not 0 <= self.index < len(settings.images):
            return {"CANCELLED"}
        settings.active_image = self.index
        return {"FINISHED"}


@contextlib.contextmanager
def _image_editor(context: bpy.types.Context) -> Iterator[dict[str, Any]]:
    """An override for Blender's image operators: an Image Editor of this screen, else this
    area shown as one for the call (restored after), else nothing (headless)."""
    screen = getattr(context, "screen", None)
    for area in getattr(screen, "areas", ()):
        if area.type == "IMAGE_EDITOR":
            yield {"area": area}
            return
    area = getattr(context, "area", None)
    if area is None:
        yield {}
        return
    before = area.ui_type
    area.ui_type = "IMAGE_EDITOR"
    try:
        yield {"area": area}
    finally:
        area.ui_type = before


def paste_from_clipboard(context: bpy.types.Context) -> bpy.types.Image | None:
    """The image on the clipboard as a new Blender image (Blender's own Paste Image), or None
    where there is none or the platform offers no image clipboard."""
    before = set(bpy.data.images)
    with _image_editor(context) as override, context.temp_override(**override):
        try:
            paste: Any = bpy.ops.image.clipboard_paste
            if paste.poll():
                paste()
        except RuntimeError:
            return None
    made = [image for image in bpy.data.images if image not in before]
    return made[0] if made else None


def use_pasted(context: bpy.types.Context, image: bpy.types.Image, *, new_slot: bool) -> int:
    """Put a pasted image into the active slot (or a new one) as a PNG in the captures folder;
    returns the slot index. InputError when the image is no usable reference."""
    path = save_png(image, new_capture_path(runtime.captures_dir(), "pasted"))
    index = use_as_reference(context, path, new_slot=new_slot)
    runtime.load_thumbnail(path)
    check_slot(scene_settings(context).images[index])
    return index


class YVO3D_OT_paste_image(Operator):
    """Paste an image from the clipboard as a reference image"""

    bl_idname = "yvo3d.paste_image"
    bl_label = "Paste Reference Image"
    bl_options = {"REGISTER", "UNDO"}

    new_slot: BoolProperty(
        name="As New View",
        description="Add the image as another view instead of replacing the active image",
        default=True,
        options={"SKIP_SAVE"},
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return scene_settings(context) is not None

    def execute(self, context: bpy.types.Context) -> Result:
        image = paste_from_clipboard(context)
        if image is None:
            self.report({"ERROR"}, NO_CLIPBOARD_IMAGE)
            return {"CANCELLED"}
        try:
            index = use_pasted(context, image, new_slot=self.new_slot)
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        finally:
            bpy.data.images.remove(image)
        runtime.request_price(context)
        self.report({"INFO"}, f"Pasted as reference image {index + 1}")
        return {"FINISHED"}


def _active_slot(context: bpy.types.Context) -> Any:
    settings = scene_settings(context)
    if settings is None:
        return None
    index = int(settings.active_image)
    if 0 <= index < len(settings.images):
        slot = settings.images[index]
        if properties.slot_key(slot):
            return slot
    return None


class YVO3D_OT_check_reference(Operator):
    """Check the active reference image here, for free: subject framing, transparency, size"""

    bl_idname = "yvo3d.check_reference"
    bl_label = "Check Reference Image"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if _active_slot(context) is None:
            cls.poll_message_set("Add a reference image first")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> Result:
        found = check_slot(_active_slot(context))
        if found is None:
            self.report({"ERROR"}, "The reference image could not be read")
            return {"CANCELLED"}
        self.report({"INFO"} if found.ok else {"WARNING"}, found.summary())
        return {"FINISHED"}


class YVO3D_OT_crop_reference(Operator):
    """Crop the active reference image to its subject with a margin and pad it to a square, as a
    new image (the original is kept)"""

    bl_idname = "yvo3d.crop_reference"
    bl_label = "Crop to Subject"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if _active_slot(context) is None:
            cls.poll_message_set("Add a reference image first")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> Result:
        slot = _active_slot(context)
        source = slot.image
        loaded = None
        try:
            if source is None:
                source = loaded = reference.load(properties.slot_path(slot))
            found = reference.check_image(source)
            cropped = reference.crop_to_subject(source, found)
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        finally:
            if loaded is not None:
                bpy.data.images.remove(loaded)
        stem = f"{os.path.splitext(properties.slot_label(slot))[0]}-cropped"
        try:
            path = save_png(cropped, new_capture_path(runtime.captures_dir(), stem))
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        finally:
            side = cropped.size[0]
            bpy.data.images.remove(cropped)
        slot.image = None
        slot.filepath = path  # a new file: the original image or file is untouched
        runtime.load_thumbnail(path)
        check_slot(slot)
        runtime.request_price(context)
        self.report({"INFO"}, f"Cropped to {side}×{side}: {os.path.basename(path)}")
        return {"FINISHED"}


classes = (
    YVO3D_OT_set_active_image,
    YVO3D_OT_paste_image,
    YVO3D_OT_check_reference,
    YVO3D_OT_crop_reference,
)
