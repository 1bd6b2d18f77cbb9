"""Scene layer: the local check of a reference image and the crop to its subject, on the pixels
of Blender images. Nothing here sends anything or costs credits; the original image is never
changed (a crop is a new image)."""

from array import array
from typing import Any, cast

import bpy

from ...core import errors, reference

SAMPLE_SIDE = 128
"""The check reads a copy scaled to at most this many pixels on its longer side."""


def _pixels(image: bpy.types.Image) -> "array[float]":
    width, height = image.size[:]
    data = array("f", bytes(16 * width * height))
    cast(Any, image.pixels).foreach_get(data)
    return data


def load(path: str) -> bpy.types.Image:
    """A file as a new Blender image (the caller removes it); InputError when unreadable."""
    try:
        return bpy.data.images.load(path, check_existing=False)
    except RuntimeError:
        raise errors.InputError(f'"{path}" could not be read as an image.') from None


def check_image(image: bpy.types.Image) -> reference.Check:
    """The check of a Blender image, from a small copy (the image itself is not changed)."""
    width, height = image.size[:]
    if width == 0 or height == 0 or not image.has_data:
        raise errors.InputError(f'Image "{image.name}" has no pixels.')
    scale = min(1.0, SAMPLE_SIDE / max(width, height))
    small_w, small_h = max(1, round(width * scale)), max(1, round(height * scale))
    copy = image.copy()
    try:
        if (small_w, small_h) != (width, height):
            copy.scale(small_w, small_h)
        pixels = _pixels(copy)
    finally:
        bpy.data.images.remove(copy)
    return reference.check(small_w, small_h, pixels, full_width=width, full_height=height)


def crop_to_subject(
    image: bpy.types.Image, found: reference.Check, margin: float = reference.MARGIN
) -> bpy.types.Image:
    """A new square image: the subject with `margin` on each side, padded (transparent, or the
    background colour of an opaque picture) where the square reaches past the image."""
    if found.subject is None:
        raise errors.InputError(
            "No subject stands out from the background, so there is nothing to crop to.",
            fix="Use a photo with a plain or transparent background.",
        )
    width, height = image.size[:]
    left, bottom, side = reference.crop_square(found.subject, margin)
    source = _pixels(image)
    fill = [0.0, 0.0, 0.0, 0.0]
    if not found.transparent:
        fill = [float(v) for v in source[0:4]]  # the bottom-left corner: the background
    out = array("f", fill * (side * side))
    x0, x1 = max(0, left), min(width, left + side)
    for y in range(max(0, bottom), min(height, bottom + side)):
        start = 4 * (y * width + x0)
        target = 4 * ((y - bottom) * side + (x0 - left))
        out[target : target + 4 * (x1 - x0)] = source[start : start + 4 * (x1 - x0)]
    name = f"{image.name} (cropped)"
    made = bpy.data.images.new(name, side, side, alpha=True, float_buffer=image.is_float)
    cast(Any, made).colorspace_settings.name = cast(Any, image).colorspace_settings.name
    cast(Any, made.pixels).foreach_set(out)
    made.update()
    return made
