"""Results as assets in real Blender: preview and provenance metadata, automatic marking on
import, and the copy saved into a user asset library folder."""

from __future__ import annotations

import json
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bpy
import pytest

from tests.blender.test_generate import (
    mod,
    prefs,
    server_fixture,  # noqa: F401 - the `server` fixture, used by `yvo`
    yvo_fixture,  # noqa: F401 - the `yvo` fixture
)
from tests.blender.test_library_ui import add_entry
from tests.media import png_bytes


def import_entry(entry: Any) -> bpy.types.Object:
    before = {o.name for o in bpy.data.objects}
    assert bpy.ops.yvo3d.import_job(library_id=entry.id) == {"FINISHED"}
    roots = [o for o in bpy.data.objects if o.name not in before and o.parent is None]
    assert len(roots) == 1
    bpy.context.view_layer.objects.active = roots[0]
    return roots[0]


def preview_pixels(target: bpy.types.ID) -> tuple[tuple[int, int], array[float]]:
    preview = target.preview
    assert preview is not None
    width, height = preview.image_size[:]
    values = array("f", bytes(16 * width * height))
    preview.image_pixels_float.foreach_get(values)
    return (width, height), values


@pytest.fixture
def asset_library(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A user asset library (Preferences > File Paths) in a temporary folder."""
    folder = tmp_path / "assets"
    folder.mkdir()
    libraries = bpy.context.preferences.filepaths.asset_libraries
    assert bpy.ops.preferences.asset_library_add(directory=str(folder)) == {"FINISHED"}
    index = len(libraries) - 1
    name = libraries[index].name
    try:
        yield name, folder
    finally:
        bpy.ops.preferences.asset_library_remove(index=index)


def test_mark_as_asset_sets_the_service_preview_and_provenance(yvo: SimpleNamespace) -> None:
    red = png_bytes(64, 48, pixel=lambda x, y: (230, 20, 10))
    entry = add_entry(yvo, "Red Vase", created=time.time() - 60, preview=red)
    root = import_entry(entry)

    assert bpy.ops.yvo3d.mark_asset() == {"FINISHED"}

    data = root.asset_data
    assert data is not None
    assert "Red Vase" in data.description and entry.job_id in data.description
    assert "red vase.png" in data.description
    assert data.author == "Scenario YVO3D"
    assert {"YVO3D", "Image to 3D", "FAST_TRUE"} <= {t.name for t in data.tags}
    assert data["yvo3d_job_id"] == entry.job_id
    assert data["yvo3d_library_id"] == entry.id
    assert list(data["yvo3d_images"]) == ["red vase.png"]
    params = json.loads(data["yvo3d_params"])
    assert params == {k: v for k, v in entry.body.items() if k != "images"}
    assert data["yvo3d_cost"] == pytest.approx(20.0)
    # The preview is the service's picture, pixel for pixel (its bytes as 0-1 floats).
    size, values = preview_pixels(root)
    assert size == (64, 48)
    for got, byte in zip(values[:4], (230, 20, 10, 255), strict=True):
        assert got == pytest.approx(byte / 255, abs=0.005)
    assert yvo.server.counts() == {}


@pytest.mark.parametrize("preview", [None, b"<html>not a picture</html>"])
def test_without_a_usable_service_preview_the_model_is_rendered(
    yvo: SimpleNamespace, preview: bytes | None
) -> None:
    entry = add_entry(yvo, "Plain Vase", created=time.time(), preview=preview)
    root = import_entry(entry)
    render_folder = mod("runtime").captures_dir()  # scene code writes where it is told
    target = mod("assets").mark_as_asset(root, entry, render_folder=render_folder)
    assert target == root and root.asset_data is not None
    size, values = preview_pixels(root)
    assert size == (256, 256)
    alphas = values[3::4]
    assert alphas[0] == 0.0  # transparent corner
    covered = sum(1 for a in alphas if a > 0.5) / len(alphas)
    assert 0.1 < covered < 0.9  # the vase fills a good part of the picture, not all of it


def test_auto_mark_on_import_and_save_into_the_asset_library(
    yvo: SimpleNamespace, asset_library: tuple[str, Path]
) -> None:
    name, folder = asset_library
    preset = prefs().import_options
    try:
        preset.mark_asset = True
        preset.save_asset = True
        preset.asset_library = name
        entry = add_entry(
            yvo,
            "Shelf Vase",
            created=time.time(),
            preview=png_bytes(32, 32, pixel=lambda x, y: (0, 0, 200)),
        )
        root = import_entry(entry)
    finally:
        preset.mark_asset = preset.save_asset = False
        preset.asset_library = ""

    assert root.asset_data is not None and root.asset_data["yvo3d_job_id"] == entry.job_id
    files = sorted(folder.glob("*.blend"))
    assert [f.name for f in files] == ["Shelf_Vase.blend"]
    with bpy.data.libraries.load(str(files[0]), assets_only=True) as (source, _):
        assert list(source.objects) == [root.name]
    # Link it back: the saved asset carries its metadata and preview.
    with bpy.data.libraries.load(str(files[0]), link=True) as (source, target):
        target.objects = list(source.objects)
    linked = target.objects[0]
    assert linked.library is not None and linked.asset_data is not None
    assert linked.asset_data["yvo3d_library_id"] == entry.id
    assert linked.data.materials[0] is not None  # the mesh and material went along

    # The operator saves again under a new name, never over the first file.
    bpy.context.view_layer.objects.active = root
    assert bpy.ops.yvo3d.mark_asset(save=True, library=name) == {"FINISHED"}
    assert sorted(f.name for f in folder.glob("*.blend")) == [
        "Shelf_Vase.blend",
        "Shelf_Vase_1.blend",
    ]


def test_a_result_of_several_objects_is_marked_by_its_collection(addon: Any) -> None:
    assets = mod("assets")
    collection = bpy.data.collections.new("Kit")
    bpy.context.scene.collection.children.link(collection)
    root = bpy.data.objects.new("Kit", None)
    root["yvo3d_job_id"] = "job-kit"
    collection.objects.link(root)
    for index in range(2):
        bpy.ops.mesh.primitive_cube_add(location=(index * 3.0, 0, 0))
        part = bpy.context.active_object
        for owner in list(part.users_collection):
            owner.objects.unlink(part)
        collection.objects.link(part)
        part.parent = root
    preview = Path(bpy.app.tempdir or "/tmp") / "kit-preview.png"
    preview.write_bytes(png_bytes(16, 16))
    target = assets.mark_as_asset(root, None, preview_path=str(preview))
    assert target == collection and collection.asset_data is not None
    assert collection.asset_data["yvo3d_job_id"] == "job-kit"
    assert root.asset_data is None
    assert tuple(collection.preview.image_size) == (16, 16)


def test_mark_asset_needs_a_result(addon: Any) -> None:
    bpy.ops.mesh.primitive_cube_add()
    assert not bpy.ops.yvo3d.mark_asset.poll()
    with pytest.raises(RuntimeError, match="Select a model made by YVO3D"):
        bpy.ops.yvo3d.mark_asset()
