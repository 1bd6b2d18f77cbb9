"""Classes 1 and 6 of issue 11: a GLB may reference nothing outside itself, lengths must fit the
file, a non-GLB answer ends the job without promising a Resume, decompression bombs are
refused in bounded time and memory."""

from __future__ import annotations

import os
import time
import tracemalloc

import pytest

from tests.security import hostile
from tests.security.conftest import manager_for
from tests.standin.fixtures import standin  # noqa: F401
from yvo3d_addon.core import errors, glbcheck, images
from yvo3d_addon.core.assets import check_glb
from yvo3d_addon.core.jobs import Stage
from yvo3d_addon.core.params import DEFAULT_TABLE


def _write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize(
    "uri",
    [
        "../../../../config/userpref.blend",
        "/etc/passwd",
        "file:///etc/passwd",
        "C:\\Users\\me\\AppData\\Roaming\\Blender Foundation\\Blender\\5.0\\config\\userpref.blend",
        "texture.png",
        "https://attacker.example/t.png",
    ],
)
@pytest.mark.parametrize("where", ["image", "buffer"])
def test_a_uri_outside_the_glb_is_refused(tmp_path, uri, where):
    data = hostile.with_image_uri(uri) if where == "image" else hostile.with_buffer_uri(uri)
    path = _write(tmp_path, "model.glb", data)
    with pytest.raises(errors.UnsafeFileError, match="outside it"):
        check_glb(path)


def test_data_uris_and_the_plain_vase_pass(tmp_path):
    import base64

    png = hostile.png_header(16, 16)
    data = hostile.with_image_uri("data:image/png;base64," + base64.b64encode(png).decode())
    check_glb(_write(tmp_path, "a.glb", data))
    check_glb(_write(tmp_path, "b.glb", hostile.pack_glb(*hostile.textured())))


def test_lengths_that_do_not_fit_the_file_are_refused(tmp_path):
    doc, binary = hostile.textured()
    doc["buffers"] = [{"byteLength": len(binary) * 1000}]
    with pytest.raises(errors.UnsafeFileError, match="more bytes"):
        check_glb(_write(tmp_path, "a.glb", hostile.pack_glb(doc, binary)))
    doc, binary = hostile.textured()
    doc["bufferViews"][0]["byteOffset"] = 2**40
    with pytest.raises(errors.UnsafeFileError, match="past its buffer"):
        check_glb(_write(tmp_path, "b.glb", hostile.pack_glb(doc, binary)))
    lying = bytearray(hostile.pack_glb(*hostile.textured()))
    lying[12:16] = (2**31).to_bytes(4, "little")  # the JSON chunk claims 2 GB
    with pytest.raises(errors.UnsafeFileError, match="JSON chunk"):
        check_glb(_write(tmp_path, "c.glb", bytes(lying)))


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"asset": {"version": "2.0"}, "images": [{"uri": "../../x.png"}]}, "glTF JSON"),
        ("PK\x03\x04 a zip of a .gltf and its textures", "zip archive"),
        ("<!DOCTYPE html><html><body>Sign in to the hotel wifi</body></html>", "web page"),
    ],
)
def test_a_non_glb_answer_ends_the_job_without_blocking_generate(
    standin,  # noqa: F811
    tmp_path,
    photo,
    body,
    said,
):
    standin.fault("download", status=200, body=body, times=None)
    manager = manager_for(standin, str(tmp_path))
    settings = DEFAULT_TABLE.defaults()
    rec = manager.submit(name="Vase", images=[photo], settings=settings)
    deadline = time.monotonic() + 20
    while (manager.get(rec.id) or rec).stage not in (Stage.FAILED, Stage.STALLED, Stage.READY):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    manager.shutdown()
    done = manager.get(rec.id)
    assert done is not None and done.stage == Stage.FAILED, done
    assert done.error_code == "unsafe_file" and said in done.message
    assert "Resume" not in done.message + done.hint
    assert standin.paid_requests == 1
    # Nothing kept: the next identical Generate is not offered a "free re-import".
    assert manager.library.find(done.fingerprint) == []
    assert manager.library.entries() == []
    folder = os.path.join(str(tmp_path), "library", done.library_id)
    assert not [n for n in os.listdir(folder) if n.startswith("model.glb")]


def test_a_huge_texture_inside_a_glb_is_refused_before_decoding(tmp_path):
    path = _write(tmp_path, "m.glb", hostile.huge_texture_glb(30000))
    started = time.perf_counter()
    with pytest.raises(errors.UnsafeFileError, match="30000x30000"):
        check_glb(path)
    assert time.perf_counter() - started < 0.5


def test_previews_and_thumbnails_are_sized_before_decoding(tmp_path):
    big = _write(tmp_path, "big.png", hostile.png_header(30000, 30000))
    small = _write(tmp_path, "small.png", hostile.png_header(256, 256))
    assert not glbcheck.picture_ok(big, 4096)
    assert glbcheck.picture_ok(small, 4096)


def _measured(path: str) -> tuple[float, int, object]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result: object = images.inspect(path)
    except errors.InputError as exc:
        result = exc
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak, result


def test_a_png_inflating_past_its_height_is_read_in_bounded_time_and_memory(tmp_path):
    # 2.3 MB on disk, 2.4 GB inflated; the old check inflated all of it (7.5 s measured).
    path = _write(tmp_path, "bomb.png", hostile.png_bomb())
    elapsed, peak, result = _measured(path)
    print(f"PNG bomb: {elapsed * 1000:.0f} ms, peak {peak / 2**20:.1f} MB")
    assert elapsed < 1.0 and peak < 64 * 2**20
    assert isinstance(result, images.ImageInfo) and result.width == 8192


def test_a_jpeg_with_a_huge_scan_is_read_in_bounded_time(tmp_path):
    # 40 MB of escaped bytes; the old byte-by-byte scan took 4.5 s.
    path = _write(tmp_path, "scan.jpg", hostile.jpeg_long_scan(40))
    elapsed, peak, result = _measured(path)
    print(f"JPEG scan: {elapsed * 1000:.0f} ms, peak {peak / 2**20:.1f} MB")
    assert elapsed < 1.5 and peak < 128 * 2**20  # the file itself (40 MB) is read once
    assert isinstance(result, images.ImageInfo) and result.width == 64
