"""The installed add-on's modules by name, for tests written before the Blender package was
split into layer folders (issue 9).

`module("ops.follow")` is the module itself. An old flat name (`module("operators")`,
`module("runtime")`, ...) gives a view over the modules its contents moved to: reading or
setting an attribute reaches the module that defines it now, so `monkeypatch.setattr` works
as before. New tests use the layered paths.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

MOVED: dict[str, tuple[str, ...]] = {
    "operators": (
        "ops.common",
        "ops.follow",
        "ops.generate",
        "ops.jobs",
        "ops.images",
        "ops.service",
        "scene.image_files",
    ),
    "placeholders": ("scene.takes", "scene.fit", "scene.targets", "scene.bounds"),
    "placeholder_ops": ("ops.placeholder_ops", "ui.placeholder_panel", "scene.takes"),
    "cleanup": (
        "scene.cleanup",
        "settings.import_options",
        "ops.cleanup_ops",
        "ui.cleanup_panels",
        "scene.pipeline",
        "scene.bounds",
    ),
    "capture": (
        "scene.capture",
        "settings.capture_options",
        "ops.capture_ops",
        "ui.capture_panels",
    ),
    "assets": ("scene.assets", "ops.asset_ops"),
    "library_ui": ("ops.library_ops", "settings.library_list", "ui.library_panel"),
    "runtime": ("session.runtime", "scene.image_files", "settings.properties"),
    "importer": ("scene.importer", "scene.bounds"),
    "statusbar": ("ui.statusbar", "ops.statusbar_ops", "ops.follow"),
    "properties": ("settings.properties",),
    "preferences": ("settings.preferences",),
    "panels": ("ui.panels",),
    "handlers": ("ops.handlers",),
    "cli": ("cli", "ops.cli", "ops.cli_main"),
}


class LayeredView:
    """Attribute access over several modules: the first that defines a name owns it.

    No instance `__dict__` (slots): pytest's monkeypatch then restores through getattr/setattr,
    which reach the owning module."""

    __slots__ = ("_modules",)

    def __init__(self, package: str, names: tuple[str, ...]) -> None:
        object.__setattr__(
            self, "_modules", [importlib.import_module(f"{package}.{n}") for n in names]
        )

    def _owner(self, name: str) -> ModuleType:
        if name.startswith("__"):
            raise AttributeError(name)
        for module in object.__getattribute__(self, "_modules"):
            if hasattr(module, name):
                return module
        raise AttributeError(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner(name), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._owner(name), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._owner(name), name)


def module(addon: str, name: str) -> Any:
    """`addon`'s Blender-layer module `name` (a layered path or an old flat name)."""
    package = f"{addon}.blender"
    if name in MOVED and len(MOVED[name]) == 1:
        return importlib.import_module(f"{package}.{MOVED[name][0]}")
    if name in MOVED:
        return LayeredView(package, MOVED[name])
    return importlib.import_module(f"{package}.{name}")
