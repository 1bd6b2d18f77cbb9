"""Blender layer: the differences between the Blender versions YVO3D runs on, in one place.

Supported: 4.2 LTS (the manifest's minimum) to the newest release (5.x, Python 3.13). Each
difference is detected by what Blender has, not by its version number, so a release in between
takes the right branch; tests/blender/test_compat.py has a test per difference, and the README's
compatibility section lists them all, including those that needed no code.
"""

from typing import Any

import bpy


def node_tree(block: bpy.types.Material | bpy.types.World) -> Any:
    """The shader node tree of a material or world, made where there is none yet.

    Blender 4.x makes new materials and worlds without nodes (`use_nodes` turns them on);
    5.0 gives every material and world nodes and deprecates `use_nodes` (a DeprecationWarning,
    removal announced for 6.0), so it is only touched where the tree is missing.
    """
    if block.node_tree is None:
        block.use_nodes = True
    return block.node_tree


def eevee_engine() -> str:
    """EEVEE's render-engine identifier: `BLENDER_EEVEE_NEXT` on 4.2-4.5, `BLENDER_EEVEE` from
    5.0 (a scene saved with either opens with the right one; only code that sets it differs)."""
    engine: Any = bpy.types.RenderSettings.bl_rna.properties["engine"]
    items = engine.enum_items
    return "BLENDER_EEVEE_NEXT" if "BLENDER_EEVEE_NEXT" in items.keys() else "BLENDER_EEVEE"
