"""Operators layer: the reference image slots: add from files, from Blender images or by drag and
drop; remove; clear."""

import os
from typing import Any

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, IntProperty, StringProperty
from bpy.types import Operator, OperatorFileListElement

# The image checks, the importer and the client are imported by the functions that use them:
# enabling the add-on imports this module and must stay cheap (docs/performance.md).
from ...core import errors
from ...core.params import MAX_IMAGES
from ..scene import image_files
from ..session import runtime
from ..settings import properties
from .common import Result, _wm, scene_settings
from .reference_ops import check_used

IMAGE_EXTENSIONS = ".png;.jpg;.jpeg;.webp;.gif;.tif;.tiff;.bmp;.tga;.exr;.hdr;.avif;.heic"


IMAGE_GLOB = ";".join("*" + ext for ext in IMAGE_EXTENSIONS.split(";"))


def _free_slot(settings: Any) -> Any:
    for slot in settings.images:
        if slot.image is None and not slot.filepath.strip():
            return slot
    if len(settings.images) >= MAX_IMAGES:
        return None
    return settings.images.add()


def _slot_paths(settings: Any) -> set[str]:
    return {properties.slot_path(s) for s in properties.used_slots(settings)} - {""}


class AddImages:
    """Adds image files to the slots: the file browser, dropped files or a scripted path (the
    base of every operator that starts by picking photos)."""

    report: Any  # the Operator's, in the classes that mix this in

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE", "HIDDEN"})
    directory: StringProperty(subtype="DIR_PATH", options={"SKIP_SAVE", "HIDDEN"})
    files: CollectionProperty(type=OperatorFileListElement, options={"SKIP_SAVE", "HIDDEN"})
    filter_image: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_folder: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_glob: StringProperty(default=IMAGE_GLOB, options={"HIDDEN", "SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return getattr(getattr(context, "scene", None), "yvo3d", None) is not None

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if (self.directory and len(self.files) > 0) or self.filepath:
            return self.execute(context)  # dropped files (FileHandler) or a scripted call
        _wm(context).fileselect_add(self)
        return {"RUNNING_MODAL"}

    def _paths(self) -> list[str]:
        names = [f.name for f in self.files if f.name]
        if self.directory and names:
            return [os.path.join(self.directory, n) for n in names]
        return [self.filepath] if self.filepath else []

    def execute(self, context: bpy.types.Context) -> Result:
        from ...core import images

        settings = scene_settings(context)
        added: list[str] = []
        refused: list[str] = []
        existing = _slot_paths(settings)
        for raw in self._paths():
            path = os.path.normpath(bpy.path.abspath(raw))
            name = os.path.basename(path)
            if path in existing:
                refused.append(f'"{name}" is already a reference image')
                continue
            try:
                _, notes = images.check(path)
            except errors.Yvo3dError as exc:
                refused.append(exc.user_text())
                continue
            slot = _free_slot(settings)
            if slot is None:
                refused.append(
                    f'"{name}" was not added: at most {MAX_IMAGES} reference images are used'
                )
                continue
            slot.image = None
            slot.filepath = path
            slot.view = ""
            existing.add(path)
            runtime.load_thumbnail(path)
            added.append(name)
            for note in notes:
                self.report({"WARNING"}, note)
        settings.active_image = max(0, len(settings.images) - 1)
        for text in refused:
            self.report({"WARNING"} if added else {"ERROR"}, text)
        if not added:
            return {"CANCELLED"}
        check_used(settings)
        self.report({"INFO"}, "Added " + ", ".join(added))
        return {"FINISHED"}


class YVO3D_OT_add_images(AddImages, Operator):
    """Add reference photos (1 to 4; several are views of one subject from different angles)"""

    bl_idname = "yvo3d.add_images"
    bl_label = "Add Reference Images"
    bl_options = {"REGISTER", "UNDO"}


_image_items: list[tuple[str, str, str, int, int]] = []


def _blender_image_items(
    self: object, context: bpy.types.Context | None
) -> list[tuple[str, str, str, int, int]]:
    # Blender keeps only pointers to the strings: the list must outlive this call.
    _image_items[:] = [
        (img.name, img.name, f"{img.type.replace('_', ' ').title()} {img.name}", 0, index)
        for index, img in enumerate(bpy.data.images)
    ]
    if not _image_items:
        _image_items.append(("", "No images", "There are no images in this file", 0, 0))
    return _image_items


class YVO3D_OT_add_blender_image(Operator):
    """Use an image from this file (a render, a painted or loaded image) as reference"""

    bl_idname = "yvo3d.add_blender_image"
    bl_label = "Add Blender Image"
    bl_options = {"REGISTER", "UNDO"}
    bl_property = "image"

    image: EnumProperty(name="Image", items=_blender_image_items, options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return getattr(getattr(context, "scene", None), "yvo3d", None) is not None

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        _wm(context).invoke_search_popup(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> Result:
        from ...core import images

        settings = scene_settings(context)
        image = bpy.data.images.get(self.image) if self.image else None
        if image is None:
            self.report({"ERROR"}, "Pick an image")
            return {"CANCELLED"}
        if any(s.image == image for s in properties.used_slots(settings)):
            self.report({"ERROR"}, f'"{image.name}" is already a reference image')
            return {"CANCELLED"}
        try:
            path = properties.image_file(image)
            if not path or not os.path.isfile(path):
                # The pixels in memory are what the user sees, even when the file is gone.
                path = image_files.save_image_copy(image, runtime.temp_dir())
            _, notes = images.check(path)
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        slot = _free_slot(settings)
        if slot is None:
            self.report({"ERROR"}, f"At most {MAX_IMAGES} reference images are used")
            return {"CANCELLED"}
        slot.filepath = ""
        slot.view = ""
        slot.image = image
        settings.active_image = list(settings.images).index(slot)
        for note in notes:
            self.report({"WARNING"}, note)
        check_used(settings)
        self.report({"INFO"}, f"Added {image.name}")
        return {"FINISHED"}


class YVO3D_OT_remove_image(Operator):
    """Remove this reference image"""

    bl_idname = "yvo3d.remove_image"
    bl_label = "Remove Image"
    bl_options = {"REGISTER", "UNDO"}

    index: IntProperty(name="Index", default=-1, options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> Result:
        settings = scene_settings(context)
        index = self.index if self.index >= 0 else settings.active_image
        if not 0 <= index < len(settings.images):
            return {"CANCELLED"}
        settings.images.remove(index)
        settings.active_image = min(settings.active_image, max(0, len(settings.images) - 1))
        runtime.request_price(context)
        return {"FINISHED"}


class YVO3D_OT_clear_images(Operator):
    """Remove every reference image"""

    bl_idname = "yvo3d.clear_images"
    bl_label = "Clear Images"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> Result:
        settings = scene_settings(context)
        settings.images.clear()
        settings.active_image = 0
        runtime.request_price(context)
        return {"FINISHED"}


class YVO3D_FH_reference_images(bpy.types.FileHandler):
    """Drop image files on the 3D Viewport to add them as YVO3D reference images."""

    bl_idname = "YVO3D_FH_reference_images"
    bl_label = "YVO3D reference images"
    bl_import_operator = "yvo3d.add_images"
    bl_file_extensions = IMAGE_EXTENSIONS

    @classmethod
    def poll_drop(cls, context: bpy.types.Context) -> bool:
        area = getattr(context, "area", None)
        return area is not None and area.type == "VIEW_3D"


def unregister() -> None:
    _image_items.clear()


classes = (
    YVO3D_OT_add_images,
    YVO3D_OT_add_blender_image,
    YVO3D_OT_remove_image,
    YVO3D_OT_clear_images,
    YVO3D_FH_reference_images,
)
