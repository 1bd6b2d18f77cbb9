"""core/ stays Blender-free: every core module imports in a process where bpy cannot load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CORE_DIR = REPO_ROOT / "yvo3d_addon" / "core"
CORE_MODULES = sorted(
    "yvo3d_addon.core" + ("" if p.stem == "__init__" else f".{p.stem}")
    for p in CORE_DIR.glob("*.py")
)

# Runs in a fresh interpreter: a meta path finder refuses Blender's modules before anything
# else is imported, then each core module is imported and the outcome reported as JSON.
_PROBE = r"""
import importlib, json, sys, traceback

BLOCKED = {"bpy", "mathutils", "bmesh", "bpy_extras", "gpu", "addon_utils"}

class BlockBlender:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"blocked by the test: {name}")
        return None

sys.meta_path.insert(0, BlockBlender())
results = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        results[name] = None
    except BaseException:
        results[name] = traceback.format_exc()
try:
    import bpy  # noqa: F401
    blocker_works = False
except ImportError as exc:
    blocker_works = "blocked by the test" in str(exc)
print(json.dumps({
    "results": results,
    "blender_modules": sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED),
    "blender_layer": sorted(m for m in sys.modules if m.startswith("yvo3d_addon.blender")),
    "blocker_works": blocker_works,
}))
"""


@pytest.fixture(scope="module")
def probe() -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *CORE_MODULES],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_there_are_core_modules_to_check() -> None:
    assert "yvo3d_addon.core" in CORE_MODULES
    assert "yvo3d_addon.core.errors" in CORE_MODULES
    assert len(CORE_MODULES) >= 3


def test_the_blocker_really_blocks_bpy(probe: dict[str, object]) -> None:
    assert probe["blocker_works"] is True


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_without_blender(probe: dict[str, object], module: str) -> None:
    results = probe["results"]
    assert isinstance(results, dict)
    assert results[module] is None, f"{module} needs Blender:\n{results[module]}"


def test_no_blender_module_was_loaded(probe: dict[str, object]) -> None:
    assert probe["blender_modules"] == []
    assert probe["blender_layer"] == []
