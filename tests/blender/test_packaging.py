"""The built extension zip in real Blender: installs, enables, validates, unregisters cleanly."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from types import ModuleType

import bpy
import pytest

from tests.blender.conftest import ADDON_MODULE, load_build_module


def test_zip_installs_and_enables(addon: ModuleType, addon_zip: Path) -> None:
    assert addon.__name__ == ADDON_MODULE
    assert ADDON_MODULE in bpy.context.preferences.addons
    # The installed copy is the zip's content: same files, no extras from the source tree.
    installed = Path(addon.__file__).parent
    with zipfile.ZipFile(addon_zip) as archive:
        shipped = sorted(name for name in archive.namelist())
    on_disk = sorted(
        p.relative_to(installed).as_posix()
        for p in installed.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert on_disk == shipped
    assert not hasattr(addon, "bl_info")
