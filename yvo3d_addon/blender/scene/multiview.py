"""Scene layer: capture a blockout from several sides for a multi-view request.

Every view is rendered by an orthographic camera with one scale, looking at one centre (the
middle of the objects' world bounding box), so the views show the subject at the same size and
height: the model reads them as views of one object.
"""

import math
from dataclasses import dataclass
from typing import Any

import bpy
from mathutils import Euler, Matrix, Vector

from ...core import errors
from ..settings.capture_options import Shot
from .capture import TEMP_NAME, Framing, _extremes, new_capture_path, render_objects


@dataclass(frozen=True)
class View:
    label: str
    rotation: Matrix


def views(count: int) -> list[View]:
    """Front, right side and back (and the left side as a fourth): cameras looking at the
    subject horizontally, +Z up."""
    turns = (("Front", 0.0), ("Right", 90.0), ("Back", 180.0), ("Left", -90.0))
    return [
        View(label, Euler((math.pi / 2, 0.0, math.radians(turn))).to_matrix())
        for label, turn in turns[:count]
    ]


def world_box(objects: list[bpy.types.Object]) -> tuple[Vector, Vector]:
    """(lowest corner, highest corner) of the objects' evaluated geometry, world space."""
    scene: Any = bpy.data.scenes.new(TEMP_NAME)
    try:
        for obj in objects:
            scene.collection.objects.link(obj)
        with bpy.context.temp_override(scene=scene, view_layer=scene.view_layers[0]):
            depsgraph = bpy.context.evaluated_depsgraph_get()
            axes = [Vector(v) for v in ((1, 0, 0), (0, 1, 0), (0, 0, 1))]
            values = _extremes(depsgraph, [*axes, *(-a for a in axes)])
    finally:
        bpy.data.scenes.remove(scene)
    if values[0] == -math.inf:
        raise errors.InputError(
            "The selection has no geometry to capture.",
            fix="Select a mesh, curve or text object (or a collection instance).",
        )
    high = Vector(values[:3])
    low = -Vector(values[3:])
    return low, high


def shared_framing(low: Vector, high: Vector, margin: float) -> tuple[Vector, float, float]:
    """(centre, orthographic scale, camera distance) that frame the box from any horizontal
    side with `margin` to spare."""
    size = high - low
    longest = max(size.x, size.y, size.z)
    if longest < 1e-7:
        raise errors.InputError(
            "The selection has no size to capture.", fix="Select an object with some extent."
        )
    fill = max(0.05, 1.0 - 2.0 * margin)
    return (low + high) / 2, longest / fill, size.length + 0.1


def capture_views(
    context: bpy.types.Context,
    objects: list[bpy.types.Object],
    shot: Shot,
    folder: str,
    stem: str,
    count: int = 3,
) -> list[tuple[str, str]]:
    """Render the objects from `count` sides into new PNGs in `folder`; [(view label, path)]."""
    low, high = world_box(objects)
    centre, scale, distance = shared_framing(low, high, shot.margin)
    done = []
    for view in views(count):
        forward = -view.rotation.col[2]
        framing = Framing(
            location=centre - forward * distance,
            ortho_scale=scale,
            clip_start=distance * 0.01,
            clip_end=distance * 2.0,
        )
        path = new_capture_path(folder, f"{stem}-{view.label.lower()}")
        render_objects(context, objects, shot, path, fixed=(view.rotation, framing))
        done.append((view.label, path))
    return done
