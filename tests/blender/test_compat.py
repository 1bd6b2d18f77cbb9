"""The compatibility module (yvo3d_addon/blender/compat.py): one test per difference between
the Blender versions in CI, each run on every Blender leg (4.2, 4.5, 5.0, the newest 5.x)."""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import Any

import bpy
import pytest

from tests.blender.test_generate import mod

pytestmark = pytest.mark.smoke


@pytest.fixture
def compat(addon: ModuleType) -> ModuleType:
    return mod("compat")


def _use_nodes_warnings(block: Any) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        block.use_nodes = True
    return [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("materials", {"ShaderNodeBsdfPrincipled", "ShaderNodeOutputMaterial"}),
        ("worlds", {"ShaderNodeBackground", "ShaderNodeOutputWorld"}),
    ],
)
def test_node_tree_of_a_new_block_without_the_deprecated_switch(
    compat: ModuleType, kind: str, expected: set[str]
) -> None:
    # The difference: 4.x makes materials and worlds without nodes, 5.0 with nodes and a
    # deprecated `use_nodes` (a DeprecationWarning; removal announced for 6.0).
    fresh = getattr(bpy.data, kind).new("Fresh")
    if fresh.node_tree is None:
        assert bpy.app.version < (5, 0, 0)
        assert _use_nodes_warnings(getattr(bpy.data, kind).new("Probe")) == []
    else:
        assert bpy.app.version >= (5, 0, 0)
        assert any("use_nodes" in m for m in _use_nodes_warnings(getattr(bpy.data, kind).new("P")))
    # compat gives both the default tree and never the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        tree = compat.node_tree(fresh)
    assert tree is not None and tree == fresh.node_tree
    assert expected <= {node.bl_idname for node in tree.nodes}
    assert compat.node_tree(fresh) == tree, "a second call makes nothing new"


def test_eevee_engine_is_the_identifier_this_blender_accepts(compat: ModuleType) -> None:
    render = bpy.context.scene.render
    engine = compat.eevee_engine()
    render.engine = engine
    assert render.engine == engine
    other = {"BLENDER_EEVEE", "BLENDER_EEVEE_NEXT"} - {engine}
    with pytest.raises(TypeError):  # the difference: the other name is refused here
        render.engine = other.pop()
    assert engine == ("BLENDER_EEVEE_NEXT" if bpy.app.version < (5, 0, 0) else "BLENDER_EEVEE")
