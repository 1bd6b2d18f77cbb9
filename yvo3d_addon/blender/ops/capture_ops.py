"""Operators layer: capture the selection, or use the Image Editor's image, as a reference image."""

import os
from typing import Any

import bpy
from bpy.props import (
    BoolProperty,
    StringProperty,
)
from bpy.types import Operator

from ...core import errors
from ..scene.capture import (
    _editor_image,
    _targets,
    image_as_file,
    new_capture_path,
    render_objects,
    use_as_reference,
)
from ..session import runtime
from ..settings.capture_options import shot_of
from .common import Result
from .reference_ops import check_slot


class YVO3D_OT_capture_reference(Operator):
    """Render just the selected objects, framed, and use the picture as the reference image"""

    bl_idname = "yvo3d.capture_reference"
    bl_label = "Capture Selected"
    bl_options = {"REGISTER", "UNDO"}

    new_slot: BoolProperty(
        name="As New View",
        description="Add the picture as another view instead of replacing the active image",
        default=False,
        options={"SKIP_SAVE"},
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        scene = getattr(context, "scene", None)
        if getattr(scene, "yvo3d_capture", None) is None:
            return False
        if getattr(context, "mode", "OBJECT") != "OBJECT":
            cls.poll_message_set("Switch to Object mode to capture")
            return False
        # Cheap for every redraw: the children are gathered only when the operator runs.
        chosen = list(getattr(context, "selected_objects", None) or ())
        active = getattr(context, "active_object", None)
        if not any(o.type not in ("CAMERA", "LIGHT") for o in chosen or [active] if o):
            cls.poll_message_set("Select the object to capture")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> Result:
        scene: Any = context.scene
        shot = shot_of(scene.yvo3d_capture)
        objects = _targets(context)
        active = getattr(context, "active_object", None)
        stem = f"{(active or objects[0]).name}-{shot.view.lower()}"
        try:
            path = render_objects(
                context, objects, shot, new_capture_path(runtime.captures_dir(), stem)
            )
            index = use_as_reference(context, path, new_slot=self.new_slot)
            runtime.load_thumbnail(path)
            check_slot(scene.yvo3d.images[index])
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        except RuntimeError as exc:
            self.report({"ERROR"}, f"The capture failed: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Captured {os.path.basename(path)} as reference image {index + 1}")
        return {"FINISHED"}


class YVO3D_OT_capture_views(Operator):
    """Render the selection from the front, right side and back (optionally the left) with one
    framing, as reference images 1-3 (4) in place of the current ones: a multi-view request,
    shape only"""

    bl_idname = "yvo3d.capture_views"
    bl_label = "Capture Views"
    bl_options = {"REGISTER", "UNDO"}

    fourth: BoolProperty(
        name="Left Side Too",
        description="Capture a fourth view from the left side",
        default=False,
    )

    poll = YVO3D_OT_capture_reference.poll

    def execute(self, context: bpy.types.Context) -> Result:
        from ..scene import multiview

        scene: Any = context.scene
        shot = shot_of(scene.yvo3d_capture)
        objects = _targets(context)
        active = getattr(context, "active_object", None)
        stem = (active or objects[0]).name if objects else "capture"
        try:
            shots = multiview.capture_views(
                context, objects, shot, runtime.captures_dir(), stem, 4 if self.fourth else 3
            )
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        except RuntimeError as exc:
            self.report({"ERROR"}, f"The capture failed: {exc}")
            return {"CANCELLED"}
        settings = scene.yvo3d
        settings.images.clear()
        for label, path in shots:
            slot = settings.images.add()
            slot.filepath = path
            slot.view = label
            runtime.load_thumbnail(path)
            check_slot(slot)
        settings.active_image = 0
        runtime.request_price(context)
        names = ", ".join(label for label, _ in shots)
        self.report({"INFO"}, f"Captured {names}: a multi-view request (shape only)")
        return {"FINISHED"}


class YVO3D_OT_use_editor_image(Operator):
    """Use this image (a painting, a sketch, a render) as the YVO3D reference image"""

    bl_idname = "yvo3d.use_editor_image"
    bl_label = "Use as Reference Image"
    bl_options = {"REGISTER", "UNDO"}

    image: StringProperty(
        name="Image",
        description="The image to use (empty: the one shown in the Image Editor)",
        options={"SKIP_SAVE"},
    )
    new_slot: BoolProperty(
        name="As New View",
        description="Add the image as another view instead of replacing the active image",
        default=False,
        options={"SKIP_SAVE"},
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if getattr(getattr(context, "scene", None), "yvo3d", None) is None:
            return False
        return True

    def execute(self, context: bpy.types.Context) -> Result:
        image = bpy.data.images.get(self.image) if self.image else _editor_image(context)
        if image is None:
            self.report({"ERROR"}, "Open an image in the Image Editor first")
            return {"CANCELLED"}
        try:
            path = image_as_file(image, runtime.captures_dir())
            index = use_as_reference(context, path, new_slot=self.new_slot)
            runtime.load_thumbnail(path)
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        self.report({"INFO"}, f'"{image.name}" is reference image {index + 1}')
        return {"FINISHED"}


classes = (
    YVO3D_OT_capture_reference,
    YVO3D_OT_capture_views,
    YVO3D_OT_use_editor_image,
)
