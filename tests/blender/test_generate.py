"""Generate end to end in real Blender (background mode) against the local stand-in of Scenario.

Also holds the fixtures the other UI tests import: `yvo` (add-on pointed at a fresh stand-in,
its own user folder, online access on) and small helpers.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import bpy
import pytest
from mathutils import Vector

from tests.blender import addon_modules
from tests.blender.conftest import ADDON_MODULE
from tests.blender.test_importer import world_bounds as mesh_bounds  # noqa: F401 - shared
from tests.media import png_bytes
from tests.standin.server import StandIn

TOLERANCE = 1e-4


def mod(name: str) -> Any:
    """A module of the installed add-on, looked up now (a disable/enable may reload it)."""
    return addon_modules.module(ADDON_MODULE, name)


def core(name: str) -> ModuleType:
    return importlib.import_module(f"{ADDON_MODULE}.core.{name}")


def prefs() -> Any:
    return bpy.context.preferences.addons[ADDON_MODULE].preferences


def settings() -> Any:
    return bpy.context.scene.yvo3d


def yvo3d_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("yvo3d")]


def write_png(folder: Path, name: str, size: int = 128, tint: int = 0) -> str:
    """A valid PNG; `tint` makes images of the same size differ in content."""
    path = folder / name
    path.write_bytes(
        png_bytes(size, size, pixel=lambda x, y: ((x * 2 + tint) % 256, (y * 2) % 256, 90 + tint))
    )
    return str(path)


def point_at(server: StandIn) -> None:
    p = prefs()
    p.api_key, p.api_secret, p.service_url = server.api_key, server.api_secret, server.base_url


def wait_for(predicate: Any, timeout: float = 15.0, step: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a condition")
        time.sleep(step)


class Reports:
    """Collects what an operator-style `report` receives."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def __call__(self, level: set[str], text: str) -> None:
        self.items.append((next(iter(level)), text))

    def texts(self, level: str | None = None) -> list[str]:
        return [t for lv, t in self.items if level is None or lv == level]


@pytest.fixture(name="server")
def server_fixture() -> Iterator[StandIn]:
    """A stand-in with long random credentials (so a leak into a file can be searched for)."""
    instance = StandIn(
        api_key="key-" + secrets.token_hex(12), api_secret="secret-" + secrets.token_hex(16)
    ).start()
    try:
        yield instance
    finally:
        instance.stop()
    assert not instance.errors, "\n".join(instance.errors)


@pytest.fixture(name="yvo")
def yvo_fixture(
    addon: ModuleType,
    server: StandIn,
    online: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SimpleNamespace]:
    """The add-on pointed at `server`, online, with its own user folder and fast polling."""
    monkeypatch.setenv("YVO3D_USER_DIR", str(tmp_path / "user"))
    monkeypatch.setenv("YVO3D_POLL_SECONDS", "0.1")
    mod("runtime").shutdown()  # a fresh manager reads the folder above
    point_at(server)
    online(True)
    images = tmp_path / "images"
    images.mkdir()
    try:
        yield SimpleNamespace(server=server, tmp=tmp_path, images=images)
    finally:
        alive = mod("runtime").shutdown()
        p = prefs()
        p.api_key = p.api_secret = ""
        p.service_url = "https://api.cloud.scenario.com/v1"
        assert not alive, alive
        assert not yvo3d_threads(), yvo3d_threads()


def add_images(paths: list[str]) -> None:
    for path in paths:
        assert bpy.ops.yvo3d.add_images(filepath=path) == {"FINISHED"}


def store_record(tmp: Path, job_id: str) -> Any:
    """The job as the store on disk has it, read with a store of its own."""
    store = core("store").JobStore(str(tmp / "user" / "jobs.sqlite"))
    try:
        return store.get(job_id)
    finally:
        store.close()


def new_objects(before: set[str]) -> list[bpy.types.Object]:
    return [o for o in bpy.data.objects if o.name not in before]


def base_color_source(material: bpy.types.Material) -> bpy.types.Node | None:
    bsdf = next(n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    links = bsdf.inputs["Base Color"].links
    return links[0].from_node if links else None


# ---------------------------------------------------------------------------------- tests


@pytest.mark.smoke
def test_generate_imports_the_model_on_the_cursor(
    yvo: SimpleNamespace, capfd: pytest.CaptureFixture[str]
) -> None:
    server = yvo.server
    add_images([write_png(yvo.images, "chair.png")])
    settings().name = "Chair"
    cursor = Vector((1.5, -2.25, 0.75))
    bpy.context.scene.cursor.location = cursor
    before = {o.name for o in bpy.data.objects}

    assert bpy.ops.yvo3d.generate() == {"FINISHED"}

    objects = new_objects(before)
    assert objects
    collection = bpy.data.collections["Chair"]
    assert {o.name for o in collection.all_objects} == {o.name for o in objects}
    roots = [o for o in objects if o.parent is None]
    assert len(roots) == 1
    root = roots[0]
    # Bottom centre of the model's bounds on the cursor, size untouched.
    low, high = mesh_bounds(objects)
    assert abs((low.x + high.x) / 2 - cursor.x) < TOLERANCE
    assert abs((low.y + high.y) / 2 - cursor.y) < TOLERANCE
    assert abs(low.z - cursor.z) < TOLERANCE
    # Textured single image: every material's Base Color comes from an Image Texture.
    materials = {s.material for o in objects if o.type == "MESH" for s in o.material_slots}
    assert materials and None not in materials
    for material in materials:
        source = base_color_source(material)
        assert source is not None and source.type == "TEX_IMAGE" and source.image is not None
    # Stamped, selected and active.
    assert server.job_ids() == [root["yvo3d_job_id"]]
    assert root["yvo3d_images"][:] == ["chair.png"]
    params = json.loads(root["yvo3d_params"])
    assert params["modelGenerator"] == "FAST_TRUE" and "polycount" not in params
    assert bpy.context.view_layer.objects.active == root
    assert all(o.select_get() for o in objects)
    # Paid once; the store followed it from READY to IMPORTED.
    assert server.paid_requests == 1
    record = store_record(yvo.tmp, root["yvo3d_local_id"])
    assert record.stage == "imported" and record.imported_as == root.name
    assert record.job_id == root["yvo3d_job_id"] and os.path.isfile(record.glb_path)
    out = capfd.readouterr().out
    assert out.index("Chair: Ready to import") < out.index("Chair: Imported")


def test_identical_request_is_refused_then_imported_free_or_forced(yvo: SimpleNamespace) -> None:
    server = yvo.server
    add_images([write_png(yvo.images, "lamp.png")])
    settings().name = "Lamp"
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    assert server.paid_requests == 1
    requests_before = sum(server.counts().values())

    with pytest.raises(RuntimeError, match="An identical model is in the library"):
        bpy.ops.yvo3d.generate()
    assert server.paid_requests == 1
    assert sum(server.counts().values()) == requests_before  # nothing at all was sent
    match = mod("runtime").library_match
    assert match["name"] == "Lamp"

    before = {o.name for o in bpy.data.objects}
    assert bpy.ops.yvo3d.import_job(library_id=match["entry"]) == {"FINISHED"}
    assert new_objects(before)
    assert sum(server.counts().values()) == requests_before

    assert bpy.ops.yvo3d.generate(force=True) == {"FINISHED"}
    assert server.paid_requests == 2


def test_multi_view_gives_a_shape_only_model(yvo: SimpleNamespace) -> None:
    server = yvo.server
    add_images([write_png(yvo.images, f"view{i}.png", tint=i * 40) for i in range(3)])
    settings().name = "Statue"
    before = {o.name for o in bpy.data.objects}

    assert bpy.ops.yvo3d.generate() == {"FINISHED"}

    sent = server.job(server.job_ids()[0])["metadata"]["input"]
    assert len(sent["images"]) == 3
    assert "texture" not in sent and "textureResolution" not in sent
    importer = mod("importer")
    meshes = [o for o in new_objects(before) if o.type == "MESH"]
    assert meshes
    for obj in meshes:
        materials = [s.material for s in obj.material_slots]
        assert materials and all(m.get(importer.SHAPE_MATERIAL_TAG) for m in materials)
        for material in materials:
            assert not any(n.type == "TEX_IMAGE" for n in material.node_tree.nodes)


def test_online_access_off_blocks_generate_before_any_request(
    yvo: SimpleNamespace, online: Any
) -> None:
    add_images([write_png(yvo.images, "cup.png")])
    online(False)
    assert not bpy.ops.yvo3d.generate.poll()
    assert "Allow Online Access" in mod("operators").generate_blocker(bpy.context)
    with pytest.raises(RuntimeError, match="Allow Online Access"):
        bpy.ops.yvo3d.generate()
    assert yvo.server.counts() == {}
    assert yvo.server.paid_requests == 0


def test_saved_blend_holds_no_credentials(yvo: SimpleNamespace) -> None:
    server = yvo.server
    add_images([write_png(yvo.images, "vase.png")])
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    path = yvo.tmp / "scene.blend"
    # Uncompressed, so a secret written anywhere in the file would be found byte for byte.
    assert bpy.ops.wm.save_as_mainfile(filepath=str(path), compress=False) == {"FINISHED"}
    data = path.read_bytes()
    assert b"yvo3d_job_id" in data  # the file does hold the stamped result
    for secret in (server.api_key, server.api_secret):
        assert secret.encode() not in data
    # Nor do the job store and the library on disk.
    for file in (yvo.tmp / "user").rglob("*"):
        if file.is_file():
            content = file.read_bytes()
            assert server.api_key.encode() not in content, file
            assert server.api_secret.encode() not in content, file


def test_disabling_the_add_on_mid_job_keeps_it_resumable(yvo: SimpleNamespace) -> None:
    import addon_utils

    server = yvo.server
    server.script_job(seconds=3.0)
    png = write_png(yvo.images, "bench.png")
    runtime = mod("runtime")
    runtime.take_snapshot(bpy.context)
    manager = runtime.manager(bpy.context)
    record = manager.submit(
        name="Bench", images=[png], settings=core("params").DEFAULT_TABLE.defaults()
    )
    wait_for(lambda: (manager.get(record.id) or record).job_id != "")
    assert server.paid_requests == 1

    problems: list[BaseException] = []
    addon_utils.disable(ADDON_MODULE, default_set=True, handle_error=problems.append)
    try:
        assert problems == []
        assert yvo3d_threads() == []
        stored = store_record(yvo.tmp, record.id)
        assert stored.stage in ("queued", "running") and stored.job_id
    finally:
        addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=problems.append)
    assert problems == []
    point_at(server)  # a disabled add-on's preferences are reset (Blender's behaviour)

    resumed = mod("handlers").resume_pending(bpy.context)
    assert [r.id for r in resumed] == [record.id]
    reports = Reports()
    assert mod("operators").run_to_end(bpy.context, [record.id], reports) == {"FINISHED"}
    assert store_record(yvo.tmp, record.id).stage == "imported"
    assert "Bench" in bpy.data.collections
    assert server.paid_requests == 1
