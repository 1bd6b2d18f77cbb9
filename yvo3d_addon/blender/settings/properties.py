"""Blender layer: the scene settings (image slots, one property per model parameter, UI state)."""

import math
import os
from collections.abc import Callable
from typing import Any

import bpy
from bpy.props import PointerProperty, StringProperty

from ...core.params import DEFAULT_TABLE, MAX_IMAGES, Param

# The settings class is built from data, where the stubs' "returns None" for bpy.props
# functions does not fit: call them through an untyped handle.
props: Any = bpy.props

TABLE = DEFAULT_TABLE
"""The table the properties are generated from (the built-in one: properties are static)."""
DEFAULT_NAME = "YVO3D Model"


_on_change: Callable[[bpy.types.Context], None] | None = None
"""The one hook a change of the settings calls: the session's live price (`on_change`). The
settings never import the session: it plugs itself in when the add-on is registered."""


def on_change(hook: Callable[[bpy.types.Context], None] | None) -> None:
    """Set (or with None clear) what a change of the scene's settings calls."""
    global _on_change
    _on_change = hook


def _settings_changed(self: Any, context: bpy.types.Context) -> None:
    if _on_change is not None:
        _on_change(context)


class YVO3D_PG_image(bpy.types.PropertyGroup):
    """One reference image: a file on disk or a Blender image (Render Result included)."""

    filepath: StringProperty(
        name="File",
        description="A reference photo on disk (PNG, JPEG, WebP, ...)",
        default="",
        subtype="FILE_PATH",
        update=_settings_changed,
    )
    view: StringProperty(
        name="View",
        description="Which side of the subject this image shows (set by Capture Views)",
        default="",
    )
    image: PointerProperty(
        name="Image",
        description=(
            "A Blender image used as reference (saved to a temporary PNG when you press Generate)"
        ),
        type=bpy.types.Image,
        update=_settings_changed,
    )


def snapped(param: Param, value: int) -> int:
    """`value` on the parameter's grid (the nearest step from its minimum), within its range."""
    step = int(param.step or 1)
    base = int(param.minimum or 0)
    value = base + round((value - base) / step) * step
    if param.maximum is not None:
        value = min(value, base + (int(param.maximum) - base) // step * step)
    return max(base, value)


def _snapper(param: Param) -> Callable[[Any, bpy.types.Context], None]:
    """An update that moves a value typed off the model's grid onto it (Polycount in
    thousands), instead of a refusal at Generate time."""

    def update(self: Any, context: bpy.types.Context) -> None:
        value = int(getattr(self, param.name))
        grid = snapped(param, value)
        if grid != value:
            setattr(self, param.name, grid)  # runs this update again, on the grid: no loop
            return
        _settings_changed(self, context)

    return update


def _param_property(param: Param) -> object:
    """The bpy property for one parameter, built from the table row."""
    common: dict[str, object] = {
        "name": param.label,
        # Blender's tooltips end without a full stop.
        "description": param.description.rstrip().rstrip("."),
        "update": _settings_changed,
    }
    if param.kind in ("bool", "onoff"):
        return props.BoolProperty(default=bool(param.default), **common)
    if param.kind == "enum":
        items = [(c.value, c.label, c.description or c.label) for c in param.choices]
        default = str(param.default)
        if default not in {c.value for c in param.choices}:
            default = items[0][0]
        return props.EnumProperty(items=items, default=default, **common)
    limits: dict[str, object] = {}
    if param.kind == "int":
        if param.minimum is not None:
            limits["min"] = limits["soft_min"] = int(math.ceil(param.minimum))
        if param.maximum is not None:
            limits["max"] = limits["soft_max"] = int(math.floor(param.maximum))
        if param.step:
            limits["step"] = max(1, int(param.step))
        if param.step and param.step > 1:
            common["update"] = _snapper(param)
        return props.IntProperty(default=int(param.default), **limits, **common)
    if param.minimum is not None:
        limits["min"] = limits["soft_min"] = float(param.minimum)
    if param.maximum is not None:
        limits["max"] = limits["soft_max"] = float(param.maximum)
    if param.step:
        # FloatProperty steps are in hundredths of a unit.
        limits["step"] = max(1, round(param.step * 100))
    digits = 2
    if param.step and param.step < 0.01:
        digits = min(6, max(2, -math.floor(math.log10(param.step))))
    return props.FloatProperty(
        default=float(param.default),
        precision=digits,
        **limits,
        **common,
    )


_annotations: dict[str, object] = {
    "images": props.CollectionProperty(type=YVO3D_PG_image, name="Reference Images"),
    "active_image": props.IntProperty(name="Active Image", default=0, min=0),
    "name": props.StringProperty(
        name="Name",
        description="Name of the result: its collection and root object are named after it",
        default=DEFAULT_NAME,
    ),
    "placement": props.EnumProperty(
        name="Placement",
        description="Where the new model goes",
        items=(
            ("CURSOR", "3D Cursor", "Bottom center of the model on the 3D cursor, real size"),
            (
                "PLACEHOLDER",
                "Replace Selected",
                "Replace the picked placeholder, or each selected object: the model takes its "
                "place, rotation, size, parent and collections; the object is hidden, not deleted",
            ),
        ),
        default="CURSOR",
    ),
    "placeholder": props.PointerProperty(
        name="Placeholder",
        description="The object the result replaces (empty: the active object at Generate time)",
        type=bpy.types.Object,
    ),
    "fit_mode": props.EnumProperty(
        name="Fit",
        description="How the model is scaled to fit the placeholder's bounding box",
        items=(
            ("LONGEST", "Longest Side", "Match the longest side of the placeholder"),
            ("HEIGHT", "Height", "Match the placeholder's height"),
            ("FOOTPRINT", "Footprint", "Fit inside the placeholder's floor area"),
        ),
        default="LONGEST",
    ),
    "takes": props.IntProperty(
        name="Takes",
        description=(
            "How many results to generate from the same inputs (per placeholder); each is a "
            "paid job. Cycle through them in place, then keep the one you like"
        ),
        default=1,
        min=1,
        max=8,
    ),
    "active_job": props.StringProperty(
        name="Selected Job",
        description="The job whose details the Jobs panel shows",
        default="",
        options={"SKIP_SAVE"},
    ),
    "show_finished": props.BoolProperty(
        name="Show Finished Jobs",
        description="List finished jobs of the last day as well as running ones",
        default=True,
    ),
}
for _param in TABLE.params.values():
    _annotations[_param.name] = _param_property(_param)

# Built with type(): the parameter properties come from the table, not from source text.
YVO3D_PG_settings = type(
    "YVO3D_PG_settings",
    (bpy.types.PropertyGroup,),
    {
        "__doc__": "YVO3D settings of a scene: reference images, parameters, result name.",
        "__annotations__": _annotations,
        "__module__": __name__,
    },
)


def settings_dict(settings: Any) -> dict[str, object]:
    """The parameters as the core reads them: API names, UI values (onoff as bools)."""
    values: dict[str, object] = {}
    for name, param in TABLE.params.items():
        value = getattr(settings, name)
        if param.kind in ("bool", "onoff"):
            values[name] = bool(value)
        elif param.kind == "enum":
            values[name] = str(value)
        elif param.kind == "int":
            values[name] = int(value)
        else:
            # Blender stores 32-bit floats: 0.85 reads back as 0.8500000238; the request
            # (and its fingerprint) must carry the value the user typed.
            values[name] = round(float(value), 6)
    return values


def image_file(image: bpy.types.Image) -> str:
    """The file of a Blender image when it is an unmodified image on disk, else "" (no I/O)."""
    if image.type == "IMAGE" and image.source == "FILE" and image.filepath:
        if image.packed_file is None and not image.is_dirty:
            return os.path.normpath(bpy.path.abspath(image.filepath, library=image.library))
    return ""


def slot_path(slot: Any) -> str:
    """The file a slot refers to, without I/O: a Blender image's own file when it has an
    unmodified one on disk, else the slot's path ("" for an image that needs saving first)."""
    if slot.image is not None:
        return image_file(slot.image)
    return os.path.normpath(bpy.path.abspath(slot.filepath)) if slot.filepath.strip() else ""


def slot_key(slot: Any) -> str:
    """What names a slot's picture for caches (its file, or its Blender image), no I/O."""
    if slot.image is not None:
        return f"image:{slot.image.name}"
    return slot_path(slot)


def used_slots(settings: Any) -> list[Any]:
    """The slots that hold an image or a path."""
    return [s for s in settings.images if s.image is not None or s.filepath.strip()]


def image_count(settings: Any) -> int:
    return len(used_slots(settings))


def image_paths(settings: Any) -> list[str]:
    """Files of the used slots (no I/O; Blender images without a file give their temp copy's
    path when one was made, see scene.image_files.save_image_copy)."""

    paths = []
    for slot in used_slots(settings):
        path = slot_path(slot) or temp_copy_path(slot)
        if path:
            paths.append(path)
    return paths


_temp_copies: dict[str, str] = {}
"""Blender image name -> the PNG copy saved for it (scene.image_files.save_image_copy)."""


def remember_copy(image_name: str, path: str) -> None:
    _temp_copies[image_name] = path


def temp_copy_path(slot: Any) -> str:
    image = slot.image
    if image is None:
        return ""
    path = _temp_copies.get(image.name, "")
    return path if path and os.path.isfile(path) else ""


def slot_label(slot: Any) -> str:
    if slot.image is not None:
        return str(slot.image.name)
    return os.path.basename(slot.filepath) or "(empty)"


def register() -> None:
    scene_type: Any = bpy.types.Scene
    scene_type.yvo3d = props.PointerProperty(type=YVO3D_PG_settings, name="YVO3D")


def unregister() -> None:
    if hasattr(bpy.types.Scene, "yvo3d"):
        del bpy.types.Scene.yvo3d


MAX_SLOTS = MAX_IMAGES
classes = (YVO3D_PG_image, YVO3D_PG_settings)
