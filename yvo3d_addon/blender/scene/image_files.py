"""Scene layer: Blender images as files: save an image's pixels (Render Result included) as a PNG,
convert an odd format (EXR, 16-bit, CMYK, TGA) to an 8-bit PNG, into a folder the caller gives."""

from __future__ import annotations

import os
import re
from array import array
from typing import TYPE_CHECKING, Any, cast

import bpy

from ...core import errors
from ..settings import properties

if TYPE_CHECKING:
    import bpy.utils.previews


def _safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("._")[:40] or "image"


def save_png(image: bpy.types.Image, path: str) -> str:
    """The pixels of a Blender image (Render Result included) as a PNG at `path`, as they are in
    memory: painted, generated or loaded. InputError when it has no pixels to save."""
    if image.type == "RENDER_RESULT":
        try:
            image.save_render(filepath=path)
        except RuntimeError:
            raise errors.InputError(
                f'"{image.name}" is empty: nothing has been rendered yet.',
                fix="Render first (F12), then use the Render Result again.",
            ) from None
        return path
    if image.size[0] == 0 or image.size[1] == 0 or not image.has_data:
        raise errors.InputError(
            f'Image "{image.name}" has no pixels (its file is missing or it was never '
            "loaded or painted).",
            fix="Reload or repaint the image, or pick another one.",
        )
    width, height = image.size[:]
    pixels = array("f", bytes(16 * width * height))
    cast(Any, image.pixels).foreach_get(pixels)
    # A new image holding the pixels in memory: `image.copy()` of a generated image is
    # generated again (blank) when saved, losing what was painted on it.
    copy = bpy.data.images.new(
        f"YVO3D copy {image.name}", width, height, alpha=True, float_buffer=image.is_float
    )
    try:
        cast(Any, copy).colorspace_settings.name = cast(Any, image).colorspace_settings.name
        cast(Any, copy.pixels).foreach_set(pixels)
        copy.filepath_raw = path
        copy.file_format = "PNG"
        copy.save()
    except (RuntimeError, TypeError) as exc:
        raise errors.InputError(
            f'Image "{image.name}" could not be saved as PNG ({exc}).',
            fix="Save the image to a file and add that file instead.",
        ) from None
    finally:
        bpy.data.images.remove(copy)
    if not os.path.isfile(path):
        raise errors.InputError(f'Image "{image.name}" could not be saved as PNG.')
    return path


def save_image_copy(image: bpy.types.Image, folder: str) -> str:
    """Save a Blender image (Render Result included) to a new PNG under the extension's
    `folder` and return its path; InputError when the image has no pixels to save."""
    import uuid

    path = os.path.join(folder, f"{_safe_name(image.name)}-{uuid.uuid4().hex[:8]}.png")
    save_png(image, path)
    properties.remember_copy(image.name, path)
    return path


def convert_to_png(path: str, folder: str) -> str:
    """An 8-bit PNG copy of an image file Blender can read (EXR, 16-bit, CMYK, TGA, ...)."""
    import uuid

    out = os.path.join(
        folder,
        f"{_safe_name(os.path.splitext(os.path.basename(path))[0])}-{uuid.uuid4().hex[:8]}.png",
    )
    scene: Any = bpy.context.scene
    fmt, view = scene.render.image_settings, scene.view_settings
    saved_fmt = (fmt.file_format, fmt.color_depth, fmt.color_mode)
    saved_view = (view.view_transform, view.look, view.exposure, view.gamma)
    image = None
    try:
        image = bpy.data.images.load(path, check_existing=False)
        fmt.file_format = "PNG"
        fmt.color_depth = "8"
        fmt.color_mode = "RGBA" if image.alpha_mode != "NONE" else "RGB"
        # A plain sRGB conversion: the scene's look (AgX, Filmic, exposure) must not
        # change the photo's colours.
        view.view_transform, view.look, view.exposure, view.gamma = "Standard", "None", 0.0, 1.0
        image.save_render(filepath=out, scene=scene)
    except (RuntimeError, TypeError) as exc:
        raise errors.InputError(
            f'"{os.path.basename(path)}" could not be converted to PNG ({exc}).',
            fix="Open it in an image editor and save it as an 8-bit PNG or JPEG.",
        ) from None
    finally:
        fmt.file_format, fmt.color_depth, fmt.color_mode = saved_fmt
        view.view_transform, view.look, view.exposure, view.gamma = saved_view
        if image is not None:
            bpy.data.images.remove(image)
    return out
