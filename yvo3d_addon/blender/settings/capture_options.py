"""Settings layer: how a capture is shot (view, margin, background, resolution, engine) as a
property group and as plain data."""

from dataclasses import dataclass
from typing import Any

import bpy
from bpy.props import (
    EnumProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
)

MIN_RESOLUTION = 64
"""core.images.MIN_SIDE, the smallest side a reference may have (written out: that module is
imported on first use, not when the add-on is enabled)."""

VIEWS = (
    ("THREE_QUARTER", "Three-Quarter", "From the front right and a little above"),
    ("FRONT", "Front", "Straight from the front (looking along +Y)"),
    ("CAMERA", "Active Camera", "From the scene camera's direction (re-framed to fit)"),
)


ENGINES = (
    ("WORKBENCH", "Workbench", "Fast: studio lighting, material and texture colors"),
    ("CYCLES", "Cycles", "Slower: the materials as rendered, lit by a soft light"),
)


@dataclass
class Shot:
    """How one capture is rendered (plain data, read from the scene's settings)."""

    view: str = "THREE_QUARTER"
    margin: float = 0.08
    """Empty border on each side, as a fraction of the image (on the longer axis)."""
    resolution: int = 1024
    transparent: bool = True
    color: tuple[float, float, float] = (0.8, 0.8, 0.8)
    """The plain background (scene linear), when not transparent."""
    engine: str = "WORKBENCH"
    samples: int = 16


class YVO3D_PG_capture(bpy.types.PropertyGroup):
    """How the scene is captured as a reference image."""

    view: EnumProperty(name="View", description="Where the picture is taken from", items=VIEWS)
    margin: FloatProperty(
        name="Margin",
        description="Empty border around the object on each side, as a fraction of the image",
        default=0.08,
        min=0.0,
        max=0.4,
        subtype="FACTOR",
    )
    background: EnumProperty(
        name="Background",
        description="What is behind the object",
        items=(
            ("TRANSPARENT", "Transparent", "A transparent background (PNG with alpha)"),
            ("PLAIN", "Plain", "A plain color"),
        ),
        default="TRANSPARENT",
    )
    color: FloatVectorProperty(
        name="Color",
        description="The plain background color",
        subtype="COLOR",
        size=3,
        min=0.0,
        max=1.0,
        default=(0.8, 0.8, 0.8),
    )
    resolution: IntProperty(
        name="Size",
        description="Width and height of the image in pixels",
        default=1024,
        min=MIN_RESOLUTION,
        max=4096,
        soft_min=256,
        soft_max=2048,
        subtype="PIXEL",
    )
    engine: EnumProperty(name="Engine", description="How it is rendered", items=ENGINES)
    samples: IntProperty(
        name="Samples",
        description="Cycles samples (more: less noise, slower)",
        default=16,
        min=1,
        max=1024,
    )


def shot_of(group: Any) -> Shot:
    return Shot(
        view=str(group.view),
        margin=float(group.margin),
        resolution=int(group.resolution),
        transparent=group.background == "TRANSPARENT",
        color=(float(group.color[0]), float(group.color[1]), float(group.color[2])),
        engine=str(group.engine),
        samples=int(group.samples),
    )


def register() -> None:
    scene_type: Any = bpy.types.Scene
    props: Any = bpy.props  # the stubs' PointerProperty returns None
    scene_type.yvo3d_capture = props.PointerProperty(type=YVO3D_PG_capture, name="YVO3D Capture")


def unregister() -> None:
    if hasattr(bpy.types.Scene, "yvo3d_capture"):
        del bpy.types.Scene.yvo3d_capture


classes = (YVO3D_PG_capture,)
