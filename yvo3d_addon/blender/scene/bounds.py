"""Scene layer: bounds of geometry in world space, computed in C (numpy) from the position
attribute."""

import importlib
from array import array
from collections.abc import Iterable
from typing import Any

import bpy
from mathutils import Vector

GEOMETRY_TYPES = frozenset(
    {"MESH", "CURVE", "SURFACE", "META", "FONT", "CURVES", "POINTCLOUD", "VOLUME"}
)
"""Object types whose evaluated geometry has bounds."""


def hierarchy(obj: bpy.types.Object) -> list[bpy.types.Object]:
    """The object and every object parented under it."""
    return [obj, *obj.children_recursive]


def axis_bounds(coords: "array[float]") -> tuple[list[float], list[float]] | None:
    """(lowest, highest) per axis of flat float32 x, y, z coordinates; None when empty.

    numpy does it in C: Python's min() and max() over the vertices of a 100k-triangle result
    took ~10 ms per bounds (docs/performance.md). numpy ships with Blender and is imported
    here, not with the module: the glTF importer has loaded it by then, and enabling the
    add-on does not pay for it."""
    if len(coords) < 3:
        return None
    np: Any = importlib.import_module("numpy")
    points = np.frombuffer(coords, dtype=np.float32)
    # One strided pass per axis: reducing the (n, 3) view along axis 0 took ~4 ms, this ~0.2 ms.
    axes = [points[axis::3] for axis in range(3)]
    return [float(a.min()) for a in axes], [float(a.max()) for a in axes]


def mesh_coords(mesh: bpy.types.Mesh) -> "array[float]":
    """A mesh's vertex positions as flat float32 x, y, z.

    Read through the position attribute, one block copy: `vertices.foreach_get("co")` goes
    vertex by vertex (3 ms against 0.03 ms on a 100k-triangle result, 4.2 and 5.0)."""
    coords = array("f", bytes(12 * len(mesh.vertices)))
    position = mesh.attributes.get("position")
    if position is not None and position.domain == "POINT" and position.data_type == "FLOAT_VECTOR":
        position.data.foreach_get("vector", coords)
    else:
        mesh.vertices.foreach_get("co", coords)
    return coords


def _world_bounds(
    objects: Iterable[bpy.types.Object], depsgraph: bpy.types.Depsgraph
) -> tuple[Vector, Vector]:
    low = [float("inf")] * 3
    high = [float("-inf")] * 3

    def grow(coords: "array[float]") -> None:
        found = axis_bounds(coords)
        if found is not None:
            for axis in range(3):
                low[axis] = min(low[axis], found[0][axis])
                high[axis] = max(high[axis], found[1][axis])

    for obj in objects:
        if obj.type not in GEOMETRY_TYPES:
            continue
        evaluated = obj.evaluated_get(depsgraph)
        if obj.type == "MESH":
            # A temporary evaluated copy: transforming it to world space runs in C.
            mesh = evaluated.to_mesh()
            try:
                mesh.transform(obj.matrix_world)
                coords = mesh_coords(mesh)
            finally:
                evaluated.to_mesh_clear()
        else:
            corners = [obj.matrix_world @ Vector(corner) for corner in evaluated.bound_box]
            coords = array("f", (v for w in corners for v in (w.x, w.y, w.z)))
        grow(coords)
    if low[0] == float("inf"):
        # No geometry at all (empties, lights): the object origins are the best extent.
        origins = [obj.matrix_world.translation for obj in objects]
        grow(array("f", (v for w in origins for v in (w.x, w.y, w.z))))
    return Vector(low), Vector(high)
