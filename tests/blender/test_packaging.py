"""The built extension zip in real Blender: installs, enables, validates, unregisters cleanly."""

from __future__ import annotations

import os
import sys
import types
import zipfile
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import bpy
import pytest

from tests.blender.conftest import ADDON_MODULE, load_build_module


def _prefs() -> Any:
    return bpy.context.preferences.addons[ADDON_MODULE].preferences


@pytest.mark.smoke
def test_zip_installs_and_enables(addon: ModuleType, addon_zip: Path) -> None:
    assert addon.__name__ == ADDON_MODULE
    assert ADDON_MODULE in bpy.context.preferences.addons
    # The installed copy is the zip's content: same files, no extras from the source tree.
    installed = Path(addon.__file__).parent
    with zipfile.ZipFile(addon_zip) as archive:
        shipped = sorted(archive.namelist())
    on_disk = sorted(
        p.relative_to(installed).as_posix()
        for p in installed.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert on_disk == shipped
    assert not hasattr(addon, "bl_info")


def test_extension_validates_with_blenders_tool(addon_zip: Path) -> None:
    build = load_build_module()
    build.validate(addon_zip, blender_python=sys.executable)


def test_validation_failure_is_reported(tmp_path: Path) -> None:
    build = load_build_module()
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("blender_manifest.toml", 'schema_version = "1.0.0"\nid = "x y"\n')
        archive.writestr("__init__.py", "")
    with pytest.raises(build.BuildError, match="rejected"):
        build.validate(bad, blender_python=sys.executable)


def test_preferences_live_under_the_installed_module(addon: ModuleType) -> None:
    prefs_module = sys.modules[f"{ADDON_MODULE}.blender.settings.preferences"]
    prefs = _prefs()
    assert isinstance(prefs, prefs_module.YVO3D_AddonPreferences)
    assert type(prefs).bl_idname == ADDON_MODULE == prefs_module.BASE_PACKAGE
    assert prefs_module.get_prefs(bpy.context) == prefs
    assert prefs.service_url == "https://api.cloud.scenario.com/v1"
    # The panel's Placement and Fit are where a model goes: no unread copies in the preferences.
    assert "placement_default" not in prefs.bl_rna.properties
    assert "fit_mode" not in prefs.bl_rna.properties
    assert prefs.images_mode == "PACK"
    for name in ("api_key", "api_secret"):
        assert prefs.bl_rna.properties[name].subtype == "PASSWORD"
    for prop in prefs.bl_rna.properties:
        if prop.identifier not in ("rna_type", "bl_idname"):
            assert prop.name and prop.description, f"{prop.identifier} needs name and description"


def test_credentials_from_fields_or_environment(
    addon: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefs_module = sys.modules[f"{ADDON_MODULE}.blender.settings.preferences"]
    prefs = _prefs()
    monkeypatch.delenv("SCENARIO_SDK_API_KEY", raising=False)
    monkeypatch.delenv("SCENARIO_SDK_API_SECRET", raising=False)
    try:
        assert prefs_module.credentials(bpy.context) is None
        prefs.api_key, prefs.api_secret = " k1 ", "s1"
        assert prefs_module.credentials(bpy.context) == ("k1", "s1")
        # One order everywhere (issue 12): the fields when both are set, else the environment.
        monkeypatch.setenv("SCENARIO_SDK_API_KEY", "k2")
        monkeypatch.setenv("SCENARIO_SDK_API_SECRET", "s2")
        assert prefs_module.credentials(bpy.context) == ("k1", "s1")
        prefs.api_secret = ""
        assert prefs_module.credentials(bpy.context) == ("k2", "s2")
        monkeypatch.delenv("SCENARIO_SDK_API_SECRET")
        assert prefs_module.credentials(bpy.context) is None
        hint = prefs_module.CREDENTIALS_HINT
        assert "Preferences" in hint and "SCENARIO_SDK_API_KEY" in hint
    finally:
        prefs.api_key = prefs.api_secret = ""


def test_service_url_and_library_path(
    addon: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prefs_module = sys.modules[f"{ADDON_MODULE}.blender.settings.preferences"]
    prefs = _prefs()
    monkeypatch.delenv("SCENARIO_BASE_URL", raising=False)
    assert prefs_module.service_url_effective(bpy.context) == "https://api.cloud.scenario.com/v1"
    monkeypatch.setenv("SCENARIO_BASE_URL", "http://127.0.0.1:8765/v1/")
    assert prefs_module.service_url_effective(bpy.context) == "http://127.0.0.1:8765/v1"

    default = Path(prefs_module.library_path(bpy.context))
    assert default.is_dir() and default.name == "library"
    # The extension's user folder lives under the test run's own Blender user folder.
    assert str(default).startswith(os.environ["BLENDER_USER_RESOURCES"])
    try:
        prefs.library_dir = str(tmp_path / "lib")
        assert prefs_module.library_path(bpy.context) == str(tmp_path / "lib")
    finally:
        prefs.library_dir = ""


class _Layout:
    """Records what draw() asks for, enough to check it names only real properties."""

    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log
        self.use_property_split = False
        self.use_property_decorate = True
        self.enabled = True

    def _child(self, *_: object, **__: object) -> _Layout:
        return _Layout(self.log)

    box = row = column = _child

    def prop(self, data: Any, name: str, **_: object) -> None:
        assert name in data.bl_rna.properties, name
        self.log.append(("prop", name))

    def label(self, **kwargs: object) -> None:
        self.log.append(("label", str(kwargs.get("text", ""))))

    def operator(self, idname: str, **_: object) -> SimpleNamespace:
        self.log.append(("operator", idname))
        return SimpleNamespace()


def test_draw_groups_and_offers_test_connection_only_when_registered(addon: ModuleType) -> None:
    prefs_module = sys.modules[f"{ADDON_MODULE}.blender.settings.preferences"]
    cls = prefs_module.YVO3D_AddonPreferences
    prefs = _prefs()

    def draw() -> list[tuple[str, str]]:
        log: list[tuple[str, str]] = []
        layout = _Layout(log)
        cls.draw(SimpleNamespace(layout=layout, **{k: getattr(prefs, k) for k in _KEYS}), None)
        assert layout.use_property_split
        return log

    log = draw()
    labels = [text for kind, text in log if kind == "label"]
    assert {"Credentials", "Library", "Import"} <= set(labels)
    assert any("API keys page" in text for text in labels)
    assert prefs_module.KEYS_URL == "https://app.scenario.com/settings/api"
    assert ("operator", "wm.url_open") in log

    # The button follows the operator: shown while it is registered, hidden while not.
    op_name = "yvo3d.test_connection"
    real = getattr(bpy.types, "YVO3D_OT_test_connection", None)
    if real is not None:
        assert ("operator", op_name) in log
        bpy.utils.unregister_class(real)
        try:
            assert not prefs_module.operator_registered(op_name)
            assert ("operator", op_name) not in draw()
        finally:
            bpy.utils.register_class(real)
        return

    assert ("operator", op_name) not in log

    class YVO3D_OT_test_connection(bpy.types.Operator):
        bl_idname = op_name
        bl_label = "Test Connection"

        def execute(self, context: Any) -> set[str]:
            return {"FINISHED"}

    bpy.utils.register_class(YVO3D_OT_test_connection)
    try:
        assert prefs_module.operator_registered(op_name)
        assert ("operator", op_name) in draw()
    finally:
        bpy.utils.unregister_class(YVO3D_OT_test_connection)


_KEYS = (
    "api_key",
    "api_secret",
    "project_id",
    "service_url",
    "library_dir",
    "images_mode",
    "import_options",
    "poll_seconds_max",
    "show_advanced",
    "bl_rna",
)


def test_unregister_removes_every_class_and_register_restores(addon: ModuleType) -> None:
    classes = addon.all_classes()
    assert classes and all(cls.is_registered for cls in classes)
    addon.unregister()
    try:
        assert not any(cls.is_registered for cls in classes)
        assert not hasattr(bpy.types, "YVO3D_AddonPreferences")
    finally:
        addon.register()
    assert all(cls.is_registered for cls in classes)
    assert _prefs() is not None


def test_a_failing_module_rolls_registration_back(
    addon: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    class YVO3D_OT_probe(bpy.types.Operator):
        bl_idname = "yvo3d.probe"
        bl_label = "Probe"

        def execute(self, context: Any) -> set[str]:
            return {"FINISHED"}

    calls: list[str] = []

    def broken_register() -> None:
        calls.append("register")
        raise RuntimeError("boom")

    broken = types.ModuleType("broken")
    broken.classes = (YVO3D_OT_probe,)  # type: ignore[attr-defined]
    broken.register = broken_register  # type: ignore[attr-defined]
    broken.unregister = lambda: calls.append("unregister")  # type: ignore[attr-defined]

    addon.unregister()
    monkeypatch.setattr(addon, "_modules", (*addon._modules, broken))
    try:
        with pytest.raises(RuntimeError, match="boom"):
            addon.register()
        assert calls == ["register"]
        assert not YVO3D_OT_probe.is_registered
        assert not any(cls.is_registered for cls in addon.all_classes())
    finally:
        monkeypatch.undo()
        addon.register()
    assert all(cls.is_registered for cls in addon.all_classes())


@pytest.mark.smoke
def test_disable_and_enable_through_blender(addon: ModuleType) -> None:
    import addon_utils

    classes = addon.all_classes()
    addon_utils.disable(ADDON_MODULE, default_set=True)
    try:
        assert ADDON_MODULE not in bpy.context.preferences.addons
        assert not any(cls.is_registered for cls in classes)
    finally:
        addon_utils.enable(ADDON_MODULE, default_set=True)
    assert ADDON_MODULE in bpy.context.preferences.addons
    assert _prefs() is not None


def test_harness_online_switch_and_standin(online: Any, standin: Any) -> None:
    online(False)
    assert not bpy.app.online_access
    online(True)
    assert bpy.app.online_access
    # The stand-in answers on loopback while the test runs (plain urllib: no client involved).
    import urllib.error
    import urllib.request

    assert standin.base_url.startswith("http://127.0.0.1:")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(standin.base_url + "/jobs/job_none", timeout=5)
    assert caught.value.code == 401  # no credentials sent
