"""Bad inputs in real Blender: each one refused with a clear message and nothing spent, or handled.

One table, one row per input. Every row puts its input in place the way a user does (the add
operators, Blender images, the scene's and the add-on's properties), then runs the operator a
user would press. A refusal must say what is wrong (a fragment per row), send nothing at all to
the stand-in and pay nothing; an input the add-on handles (converted, saved from memory,
uploaded in parts, recovered) must end in an imported model paid exactly once, and a converted
image must reach the service as an 8-bit PNG.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bpy
import pytest

from tests.blender.conftest import ADDON_MODULE
from tests.blender.test_generate import (
    add_images,
    core,
    mod,
    point_at,
    prefs,
    settings,
    wait_for,
    write_png,
    yvo_fixture,  # noqa: F401 - the `yvo` fixture
)
from tests.blender.test_panels import draw, popup  # noqa: F401 - the `popup` fixture
from tests.media import png_bytes
from tests.standin.server import StandIn

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(name="server")
def server_fixture() -> Iterator[StandIn]:
    """A stand-in whose jobs take 0.3 s (the rows that run a job stay quick)."""
    instance = StandIn(
        api_key="key-" + secrets.token_hex(8),
        api_secret="secret-" + secrets.token_hex(8),
        job_seconds=0.3,
    ).start()
    try:
        yield instance
    finally:
        instance.stop()
    assert not instance.errors, "\n".join(instance.errors)


# -- media made in code --------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A well-formed PNG claiming any size, with almost no pixel data (nothing decodes it)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b""))
        + _chunk(b"IEND", b"")
    )


def png_noise(width: int, height: int) -> bytes:
    """A valid RGB PNG of random pixels, stored uncompressed (its size is ~ 3 * w * h)."""
    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(rows, 0))
        + _chunk(b"IEND", b"")
    )


# JPEG Annex K, table K.3: the standard luminance DC code lengths and symbols.
_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)


def cmyk_jpeg(width: int, height: int, block: Callable[[int, int], tuple[int, ...]]) -> bytes:
    """A real, decodable baseline CMYK JPEG (Adobe APP14, as Photoshop writes them): each 8x8
    block one flat colour `block(bx, by) -> (c, m, y, k)`, so only DC terms are coded."""
    assert width % 8 == 0 and height % 8 == 0
    codes: list[tuple[int, int]] = []
    code = 0
    for length, count in enumerate(_DC_BITS, start=1):
        for _ in range(count):
            codes.append((code, length))
            code += 1
        code <<= 1
    out = bytearray()
    acc = nbits = 0

    def put(value: int, length: int) -> None:
        nonlocal acc, nbits
        acc, nbits = (acc << length) | value, nbits + length
        while nbits >= 8:
            byte = (acc >> (nbits - 8)) & 0xFF
            out.append(byte)
            if byte == 0xFF:
                out.append(0)  # byte stuffing
            nbits -= 8
        acc &= (1 << nbits) - 1

    previous = [0, 0, 0, 0]
    for by in range(height // 8):
        for bx in range(width // 8):
            values = block(bx, by)
            for comp in range(4):
                level = (255 - values[comp]) - 128  # Adobe CMYK is stored inverted
                diff, previous[comp] = level - previous[comp], level
                size = abs(diff).bit_length()
                put(*codes[size])
                if size:
                    put(diff if diff >= 0 else diff - 1 + (1 << size), size)
                put(0, 1)  # the only AC symbol: end of block
    if nbits:
        put((1 << (8 - nbits)) - 1, 8 - nbits)

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload

    quant = bytes([0, 8] + [1] * 63)  # DC quantiser 8: the DC coefficient is 8x the mean
    frame = struct.pack(">BHHB", 8, height, width, 4) + b"".join(
        bytes((i + 1, 0x11, 0)) for i in range(4)
    )
    huffman = bytes((0x00, *_DC_BITS, *range(12))) + bytes((0x10, 1, *[0] * 15, 0))
    scan = bytes((4, *[v for i in range(4) for v in (i + 1, 0)], 0, 63, 0))
    adobe = b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 0)
    return (
        b"\xff\xd8"
        + segment(0xEE, adobe)
        + segment(0xDB, quant)
        + segment(0xC0, frame)
        + segment(0xC4, huffman)
        + segment(0xDA, scan)
        + bytes(out)
        + b"\xff\xd9"
    )


def blender_image_file(folder: Path, name: str, file_format: str, *, float_buffer: bool) -> str:
    """An image file written by Blender itself (EXR, TGA, BMP, ...): a gradient, opaque."""
    size = 96
    image = bpy.data.images.new(f"src-{name}", size, size, alpha=True, float_buffer=float_buffer)
    pixels = []
    for y in range(size):
        for x in range(size):
            pixels += [x / size, y / size, 0.4, 1.0]
    image.pixels.foreach_set(pixels)
    path = str(folder / name)
    image.filepath_raw = path
    image.file_format = file_format
    image.save()
    bpy.data.images.remove(image)
    assert os.path.getsize(path) > 0
    return path


# -- running as a user without root's file access ---------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


@contextlib.contextmanager
def without_root_file_access() -> Iterator[None]:
    """Root reads any file: for this thread only, drop the two capabilities that allow it
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so file permissions apply as to anyone."""
    if os.geteuid() != 0:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (_CapData * 2)()
    assert libc.capget(ctypes.byref(header), data) == 0, ctypes.get_errno()
    saved = data[0].effective
    data[0].effective = saved & ~((1 << 1) | (1 << 2))
    assert libc.capset(ctypes.byref(header), data) == 0, ctypes.get_errno()
    try:
        yield
    finally:
        data[0].effective = saved
        assert libc.capset(ctypes.byref(header), data) == 0, ctypes.get_errno()


# -- the table ------------------------------------------------------------------------------


class Ctx:
    """What a row's setup needs: the stand-in, folders, and file helpers."""

    def __init__(self, yvo: SimpleNamespace) -> None:
        self.server: StandIn = yvo.server
        self.tmp: Path = yvo.tmp
        self.images: Path = yvo.images
        self.notes: dict[str, Any] = {}

    def file(self, name: str, data: bytes) -> str:
        path = self.images / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return str(path)


Act = Callable[[], Any]


def generate() -> Any:
    return bpy.ops.yvo3d.generate()


def add_file(path: str) -> Act:
    return lambda: bpy.ops.yvo3d.add_images(filepath=path)


def add_blender(name: str) -> Act:
    return lambda: bpy.ops.yvo3d.add_blender_image(image=name)


# Rows: each setup puts the input in place and returns the act to test (None: Generate).


def no_image(ctx: Ctx) -> Act | None:
    return None


def fifth_image(ctx: Ctx) -> Act | None:
    add_images([write_png(ctx.images, f"view{i}.png", tint=i * 40) for i in range(4)])
    return add_file(write_png(ctx.images, "view4.png", tint=160))


def five_slots(ctx: Ctx) -> Act | None:
    # Five filled slots cannot be made with the add operators; a script or an old file can.
    add_images([write_png(ctx.images, f"view{i}.png", tint=i * 40) for i in range(4)])
    settings().images.add().filepath = write_png(ctx.images, "view4.png", tint=160)
    return None


def zero_bytes(ctx: Ctx) -> Act | None:
    return add_file(ctx.file("empty.png", b""))


def text_as_png(ctx: Ctx) -> Act | None:
    return add_file(ctx.file("notes.png", b"Shopping list:\n- milk\n- eggs\n"))


def truncated_png(ctx: Ctx) -> Act | None:
    return add_file(ctx.file("cut.png", png_bytes(128, 128)[:-40]))


def png_16_bit(ctx: Ctx) -> Act | None:
    data = png_bytes(96, 80, bit_depth=16)
    add_images([ctx.file("deep.png", data)])
    ctx.notes["size"] = (96, 80)
    return None


def cmyk(ctx: Ctx) -> Act | None:
    data = cmyk_jpeg(128, 96, lambda bx, by: (bx * 30 % 256, by * 40 % 256, 90, 30))
    path = ctx.file("print.jpg", data)
    assert core("images").inspect(path).color_mode == "cmyk"
    add_images([path])
    ctx.notes["size"] = (128, 96)
    return None


def alpha_only(ctx: Ctx) -> Act | None:
    # Colour in the RGB channels, but every pixel's alpha is 0: nothing is visible.
    data = png_bytes(128, 128, channels=4, pixel=lambda x, y: (x * 2, y * 2, 120, 0))
    return add_file(ctx.file("invisible.png", data))


def one_pixel(ctx: Ctx) -> Act | None:
    return add_file(ctx.file("dot.png", png_bytes(1, 1)))


def huge(ctx: Ctx) -> Act | None:
    path = ctx.file("huge.png", png_header_only(20000, 20000))
    assert os.path.getsize(path) < 100  # the header claims 20000 x 20000: nothing is decoded
    return add_file(path)


def over_inline_limit(ctx: Ctx) -> Act | None:
    limit = core("images").INLINE_UPLOAD_LIMIT
    path = ctx.file("big.png", png_noise(1200, 1100))
    assert os.path.getsize(path) > limit
    ctx.notes["bytes"] = Path(path).read_bytes()
    add_images([path])
    return None


def over_upload_limit(ctx: Ctx) -> Act | None:
    path = ctx.images / "poster.png"
    path.write_bytes(png_bytes(64, 64))
    os.truncate(path, core("images").MAX_UPLOAD_BYTES + 1)  # sparse: costs no disk
    return add_file(str(path))


def missing_at_add(ctx: Ctx) -> Act | None:
    return add_file(str(ctx.images / "gone.png"))


def missing_at_generate(ctx: Ctx) -> Act | None:
    path = write_png(ctx.images, "moved.png")
    add_images([path])
    os.remove(path)  # moved or deleted after it was added
    return None


def unreadable(ctx: Ctx) -> Act | None:
    path = write_png(ctx.images, "private.png")
    os.chmod(path, 0)

    def act() -> Any:
        with without_root_file_access():
            return bpy.ops.yvo3d.add_images(filepath=path)

    return act


def spaces_and_non_ascii(ctx: Ctx) -> Act | None:
    path = ctx.file("mes photos été/chaise 椅子 ü.png", png_bytes(100, 100))
    ctx.notes["bytes"] = Path(path).read_bytes()
    add_images([path])
    return None


def exr_from_blender(ctx: Ctx) -> Act | None:
    path = blender_image_file(ctx.images, "render.exr", "OPEN_EXR", float_buffer=True)
    bpy.data.images.load(path)
    assert bpy.ops.yvo3d.add_blender_image(image="render.exr") == {"FINISHED"}
    ctx.notes["size"] = (96, 96)
    return None


def tga_from_blender(ctx: Ctx) -> Act | None:
    add_images([blender_image_file(ctx.images, "paint.tga", "TARGA", float_buffer=False)])
    ctx.notes["size"] = (96, 96)
    return None


def bmp_from_blender(ctx: Ctx) -> Act | None:
    path = blender_image_file(ctx.images, "scan.bmp", "BMP", float_buffer=False)
    bpy.data.images.load(path)
    assert bpy.ops.yvo3d.add_blender_image(image="scan.bmp") == {"FINISHED"}
    ctx.notes["size"] = (96, 96)
    return None


def packed_no_file(ctx: Ctx) -> Act | None:
    path = write_png(ctx.images, "packed.png", size=112)
    image = bpy.data.images.load(path)
    image.pack()
    os.remove(path)  # only the copy inside the .blend is left
    assert bpy.ops.yvo3d.add_blender_image(image=image.name) == {"FINISHED"}
    ctx.notes["size"] = (112, 112)
    return None


def generated_no_file(ctx: Ctx) -> Act | None:
    image = bpy.data.images.new("Checker", 160, 120)
    image.generated_type = "COLOR_GRID"
    assert bpy.ops.yvo3d.add_blender_image(image=image.name) == {"FINISHED"}
    ctx.notes["size"] = (160, 120)
    return None


def render_result_empty(ctx: Ctx) -> Act | None:
    bpy.ops.wm.read_homefile()  # the default scene has a Render Result, never rendered
    point_at(ctx.server)
    assert bpy.data.images["Render Result"].has_data is False
    return add_blender(bpy.data.images["Render Result"].name)


def out_of_range(ctx: Ctx) -> Act | None:
    add_images([write_png(ctx.images, "stool.png")])
    s = settings()
    table = core("params").DEFAULT_TABLE.params
    # Values typed past the limits are clamped by Blender to the model's range...
    s.creativity = 99
    s.roughness = -3.0
    s.texture = False
    s.polycount = 10**9
    assert s.creativity == table["creativity"].maximum
    assert s.roughness == table["roughness"].minimum
    assert s.polycount == table["polycount"].maximum
    # ...and a value inside the range but off the service's grid snaps onto it (the service
    # refuses an off-grid Polycount): 12,345 becomes 12,000 and the job runs.
    s.polycount = 12345
    assert s.polycount == 12000
    return None


def check_snapped(ctx: Ctx, uploaded: list[bytes]) -> None:
    (record,) = mod("runtime").existing_manager().jobs()
    assert record.settings["polycount"] == 12000


def conflicting(ctx: Ctx) -> Act | None:
    add_images([write_png(ctx.images, "lamp.png")])
    s = settings()
    s.texture = False
    s.modelGenerator = "ULTIMA_PRIME"
    s.highdetails = True
    s.lowpoly = True
    return None


def prime_option_without_prime(ctx: Ctx) -> Act | None:
    add_images([write_png(ctx.images, "lamp.png")])
    settings().highdetails = True  # the generator is still the default (not Ultima Prime)
    return None


def corrupt_store(ctx: Ctx) -> Act | None:
    import addon_utils

    store = ctx.tmp / "user" / "jobs.sqlite"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(b"SQLite format 3\x00" + os.urandom(3000))  # a header, then garbage
    ctx.notes["garbage"] = store.read_bytes()
    problems: list[BaseException] = []
    addon_utils.disable(ADDON_MODULE, default_set=True, handle_error=problems.append)
    addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=problems.append)
    assert problems == []
    point_at(ctx.server)  # a disabled add-on's preferences are reset (Blender's behaviour)
    # What the one-shot timer registered at enable runs once Blender is up.
    assert mod("handlers").resume_pending(bpy.context) == []
    add_images([write_png(ctx.images, "after.png")])
    return None


def library_not_writable(ctx: Ctx) -> Act | None:
    library = ctx.tmp / "user" / "library"
    library.parent.mkdir(parents=True, exist_ok=True)
    library.write_text("a file where the library folder should be")
    ctx.notes["fragment"] = str(library)
    add_images([write_png(ctx.images, "cup.png")])
    return None


def service_url_not_url(ctx: Ctx) -> Act | None:
    add_images([write_png(ctx.images, "cup.png")])
    prefs().service_url = "api.cloud scenario com"
    return None


# -- row checks that go beyond the common ones ------------------------------------------------


def png_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) of PNG bytes."""
    assert data[:8] == PNG_SIGNATURE, data[:16]
    width, height, depth, ctype = struct.unpack_from(">IIBB", data, 16)
    return width, height, depth, ctype


def check_converted(ctx: Ctx, uploaded: list[bytes]) -> None:
    (data,) = uploaded
    width, height, depth, ctype = png_header(data)
    assert depth == 8 and ctype in (2, 6), (depth, ctype)
    assert (width, height) == ctx.notes["size"]
    core("images").check(ctx.file("uploaded-copy.png", data))  # a sound image, all of it
    # Only the converted PNG was sent: the original went nowhere (the pricer skips it too).
    assert ctx.server.count("upload") + ctx.server.count("uploads_create") == 1


def check_same_bytes(ctx: Ctx, uploaded: list[bytes]) -> None:
    assert uploaded == [ctx.notes["bytes"]]


def check_multipart(ctx: Ctx, uploaded: list[bytes]) -> None:
    check_same_bytes(ctx, uploaded)
    assert ctx.server.count("uploads_create") == 1 and ctx.server.count("upload_part") >= 1
    assert ctx.server.count("upload") == 0


def check_saved_from_memory(ctx: Ctx, uploaded: list[bytes]) -> None:
    (data,) = uploaded
    width, height, depth, _ = png_header(data)
    assert (width, height) == ctx.notes["size"] and depth == 8


def check_store_recovered(ctx: Ctx, uploaded: list[bytes]) -> None:
    store = ctx.tmp / "user" / "jobs.sqlite"
    manager = mod("runtime").existing_manager()
    backup = Path(manager.store.recovered_from)
    assert backup.parent == store.parent and backup.name.startswith("jobs.sqlite.corrupt-")
    assert backup.read_bytes() == ctx.notes["garbage"]  # kept as it was, for inspection
    assert [r.stage for r in manager.jobs()] == ["imported"]  # the new store works
    drawn = draw(ctx.notes["popup"], ctx.notes["monkeypatch"], "YVO3D_PT_jobs")
    text = " ".join(drawn.labels(alert=True))
    assert "The job list was damaged" in text and backup.name in text


@dataclass(frozen=True)
class Row:
    id: str
    setup: Callable[[Ctx], Act | None]
    outcome: str
    """refused | handled (the job runs, paid once, and the model is imported)"""
    fragment: str = ""
    """Text the refusal must contain ("@fragment": the row's setup computes it)."""
    check: Callable[[Ctx, list[bytes]], None] | None = None
    """For handled rows: checks on the images the job was sent (their bytes)."""


ROWS = [
    Row("no image", no_image, "refused", "Add a reference image (1 to 4)"),
    Row("a fifth image", fifth_image, "refused", "at most 4 reference images"),
    Row("five filled slots", five_slots, "refused", "Too many reference images: 5, at most 4"),
    Row("0-byte file", zero_bytes, "refused", "is empty (0 bytes)"),
    Row("text file named .png", text_as_png, "refused", "is not an image (its content is text)"),
    Row("truncated PNG", truncated_png, "refused", "is truncated"),
    Row("16-bit PNG", png_16_bit, "handled", check=check_converted),
    Row("CMYK JPEG", cmyk, "handled", check=check_converted),
    Row("alpha only", alpha_only, "refused", "is fully transparent"),
    Row("1x1 image", one_pixel, "refused", "each side must be at least 64 pixels"),
    Row("20000x20000 image", huge, "refused", "each side must be at most 8192 pixels"),
    Row("over the inline limit", over_inline_limit, "handled", check=check_multipart),
    Row("over the upload limit", over_upload_limit, "refused", "larger than 50 MB"),
    Row("missing file (add)", missing_at_add, "refused", "does not exist"),
    Row("missing file (generate)", missing_at_generate, "refused", 'moved.png" does not exist'),
    Row("unreadable file", unreadable, "refused", "cannot be read: permission denied"),
    Row("spaces and non-ASCII", spaces_and_non_ascii, "handled", check=check_same_bytes),
    Row("EXR from Blender", exr_from_blender, "handled", check=check_converted),
    Row("TGA from Blender", tga_from_blender, "handled", check=check_converted),
    Row("BMP from Blender", bmp_from_blender, "handled", check=check_converted),
    Row("packed image, no file", packed_no_file, "handled", check=check_saved_from_memory),
    Row("generated image, no file", generated_no_file, "handled", check=check_saved_from_memory),
    Row("Render Result not rendered", render_result_empty, "refused", "nothing has been rendered"),
    Row("out-of-range numbers", out_of_range, "handled", check=check_snapped),
    Row("conflicting options", conflicting, "refused", "cannot be used together"),
    Row(
        "prime option without prime",
        prime_option_without_prime,
        "refused",
        "available with the Ultima Prime generator only",
    ),
    Row("corrupt job store", corrupt_store, "handled", check=check_store_recovered),
    Row("library not writable", library_not_writable, "refused", "@fragment"),
    Row("service URL not a URL", service_url_not_url, "refused", "is not a URL"),
]


def _attempt(act: Act, capfd: pytest.CaptureFixture[str]) -> tuple[set[str] | None, str]:
    """Run an operator call; (its result or None when it raised, every message it gave)."""
    capfd.readouterr()
    try:
        result: set[str] | None = act()
        message = ""
    except RuntimeError as exc:  # poll() said no, or an ERROR report with CANCELLED
        result, message = None, str(exc)
    return result, message + "\n" + capfd.readouterr().out


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(
    row: Row,
    yvo: SimpleNamespace,
    popup: Any,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    ctx = Ctx(yvo)
    ctx.notes.update(popup=popup, monkeypatch=monkeypatch)
    server = ctx.server
    act = row.setup(ctx) or generate
    runtime = mod("runtime")
    # The price is asked for in the background as images are added: let it settle, so what
    # the act sends is measured on its own.
    wait_for(lambda: runtime.quote().state != "pending", timeout=20)
    slots_before = mod("properties").image_count(settings())
    before = server.counts()

    result, message = _attempt(act, capfd)

    if row.outcome == "refused":
        fragment = ctx.notes["fragment"] if row.fragment == "@fragment" else row.fragment
        assert result in (None, {"CANCELLED"}), (result, message)
        assert fragment in message, message
        # Nothing at all was sent for the refused act (no upload, no price, no job)...
        assert server.counts() == before, (before, server.counts())
        # ...nothing was ever paid, and no slot was filled by a refused image.
        assert server.paid_requests == 0
        assert mod("properties").image_count(settings()) == slots_before
        # Refused before a job existed: none was recorded, so none can be resumed and pay.
        manager = runtime.existing_manager()
        assert manager is None or manager.jobs() == []
        return

    assert result == {"FINISHED"}, message
    assert server.paid_requests == 1
    manager = runtime.existing_manager()
    assert [r.stage for r in manager.jobs()] == ["imported"]
    sent = server.job(server.job_ids()[-1])["metadata"]["input"]["images"]
    uploaded = [server.asset_bytes(asset_id) for asset_id in sent]
    assert row.check is not None
    row.check(ctx, uploaded)


def test_every_issue_row_is_in_the_table() -> None:
    """The table covers the issue's list (and stays one row per input)."""
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids))
    assert len(ROWS) >= 25
    assert {r.outcome for r in ROWS} == {"refused", "handled"}
