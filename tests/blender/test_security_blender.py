"""Issue 11 in real Blender: a GLB reaching for userpref.blend is never imported (nothing of the
user's files is packed into the scene); the command line prints no secret and no terminal
escape from a hostile service, and says when the job store was damaged (exit non-zero)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from types import ModuleType

import bpy
import pytest

from tests.blender.conftest import ADDON_MODULE
from tests.blender.test_cli import Cli, photo
from tests.security import hostile
from tests.standin.server import StandIn


@pytest.fixture
def importer(addon: ModuleType) -> ModuleType:
    import importlib

    return importlib.import_module(f"{ADDON_MODULE}.blender.scene.importer")


def _packed_bytes() -> bytes:
    return b"".join(bytes(i.packed_file.data) for i in bpy.data.images if i.packed_file)


def test_a_glb_reaching_for_userpref_blend_packs_nothing(importer, tmp_path: Path) -> None:
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    before = (prefs.api_key, prefs.api_secret)
    prefs.api_key, prefs.api_secret = hostile.SECRET_KEY, hostile.SECRET_VALUE
    try:
        bpy.ops.wm.save_userpref()
        userpref = Path(bpy.utils.resource_path("USER")) / "config" / "userpref.blend"
        assert hostile.SECRET_VALUE.encode() in userpref.read_bytes()  # what is at stake
        folder = tmp_path / "library" / "yj_evil"
        folder.mkdir(parents=True)
        relative = os.path.relpath(userpref, folder)
        cases = {
            "relative": relative,
            "absolute": str(userpref),
            "file": userpref.as_uri(),
        }
        for label, uri in cases.items():
            glb = folder / f"{label}.glb"
            glb.write_bytes(hostile.with_image_uri(uri))
            with pytest.raises(RuntimeError, match="Refused to import.*outside it"):
                importer.import_glb(bpy.context, str(glb), name="Evil")
        assert hostile.SECRET_VALUE.encode() not in _packed_bytes()
        assert not [i for i in bpy.data.images if "userpref" in i.filepath]
        assert len(bpy.data.objects) == 0  # nothing half-imported stays
        # A huge texture inside a GLB is refused before Blender decodes it.
        huge = folder / "huge.glb"
        huge.write_bytes(hostile.huge_texture_glb(30000))
        with pytest.raises(RuntimeError, match="30000x30000"):
            importer.import_glb(bpy.context, str(huge), name="Huge")
        assert len(bpy.data.images) == 0
    finally:
        prefs.api_key, prefs.api_secret = before
        bpy.ops.wm.save_userpref()


@pytest.fixture
def hostile_cli(tmp_path: Path, addon_zip: Path):
    server = StandIn(api_key=hostile.SECRET_KEY, api_secret=hostile.SECRET_VALUE)
    server.job_seconds = 0.3
    with server:
        yield Cli(tmp_path, server, addon_zip)


def test_the_command_line_prints_no_secret_and_no_escape(hostile_cli: Cli, tmp_path) -> None:
    token = base64.b64encode(f"{hostile.SECRET_KEY}:{hostile.SECRET_VALUE}".encode()).decode()
    evil = f"\x1b]52;c;{token}\x07\x1b[2J{hostile.SECRET_VALUE} Basic {token}\x1b[0m"
    image = photo(tmp_path / "in" / "a.png", 1)
    for extra in ([], ["--json"]):
        hostile_cli.server.script_job(outcome="failure", error=evil, hint=evil)
        out = str(tmp_path / f"m{len(extra)}.glb")
        proc = hostile_cli.run("generate", str(image), "--out", out, *extra)
        printed = proc.stdout + proc.stderr
        assert proc.returncode != 0, printed
        for leak in (hostile.SECRET_KEY, hostile.SECRET_VALUE, token, "\x1b", "\x07"):
            assert leak not in printed, (leak, printed)
        written = hostile.every_file_bytes(str(tmp_path / "user"))
        assert hostile.SECRET_VALUE.encode() not in written and token.encode() not in written


def test_a_damaged_job_store_is_reported_by_the_command_line(hostile_cli: Cli) -> None:
    store = hostile_cli.root / "user" / "jobs.sqlite"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(b"this is not a database" * 100)
    proc = hostile_cli.run("jobs", "--json")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    backups = list(store.parent.glob("jobs.sqlite.corrupt-*"))
    assert len(backups) == 1 and str(backups[0]) in doc["store_damaged"]
    assert str(backups[0]) in proc.stderr
    again = hostile_cli.run("jobs", "--json")  # said once: the new store is fine
    assert again.returncode == 0 and "store_damaged" not in json.loads(again.stdout)


def test_stamps_and_library_ids_from_someone_elses_blend_are_not_trusted(
    addon: ModuleType, tmp_path: Path
) -> None:
    import importlib

    runtime = importlib.import_module(f"{ADDON_MODULE}.blender.session.runtime")
    ops = importlib.import_module(f"{ADDON_MODULE}.blender.ops.placeholder_ops")
    library = runtime.manager(bpy.context).library
    victim = Path(library.root).parent / "victim"
    victim.mkdir(exist_ok=True)
    entry = {"id": "../victim", "name": "x", "created": 0, "job_id": "", "asset_ids": [],
             "glb_asset_id": "", "fingerprint": "", "settings": {}, "body": {}}  # fmt: skip
    (victim / "entry.json").write_text(json.dumps(entry))  # a whole entry: old code deleted it
    (victim / "model.glb").write_bytes(hostile.pack_glb(*hostile.textured()))
    root = bpy.data.objects.new("Stamped", None)
    bpy.context.scene.collection.objects.link(root)
    root["yvo3d_job_id"] = "job_1\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J"
    root["yvo3d_library_id"] = "../victim"
    source = ops.source_of(bpy.context, root)
    assert source.entry is None
    lines = ops.details_lines(source)
    assert not [line for line in lines if "\x1b" in line or "\x07" in line]
    with pytest.raises(RuntimeError, match="entry is missing"):
        bpy.ops.yvo3d.library_delete("EXEC_DEFAULT", entry_id="../victim")
    assert (victim / "entry.json").exists()


def test_object_names_from_outside_hold_no_control_characters(importer, tmp_path: Path) -> None:
    glb = tmp_path / "vase.glb"
    glb.write_bytes(hostile.pack_glb(*hostile.textured()))
    result = importer.import_glb(bpy.context, str(glb), name="Vase\x1b[2J\x1b]0;pwned\x07\r\n")
    names = [result.root.name, result.collection.name]
    assert all(name.isprintable() and "\x1b" not in name for name in names), names
    assert result.root.name.startswith("Vase")
