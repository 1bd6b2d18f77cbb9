"""Tests of reference-image checks: every format and every refusal built in code, no fixtures."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.media import png_bytes
from yvo3d_addon.core import images
from yvo3d_addon.core.errors import InputError
from yvo3d_addon.core.images import (
    INLINE_UPLOAD_LIMIT,
    MAX_SIDE,
    MAX_UPLOAD_BYTES,
    MIN_SIDE,
    ImageInfo,
    check,
    data_url,
    file_sha256,
    inspect,
    mime_for,
    needs_conversion,
    sniff,
)

# -- builders: minimal but structurally complete files of each format ------------------------


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_raw(
    w: int, h: int, *, ctype: int = 2, depth: int = 8, extra: bytes = b"", idat: bool = True
) -> bytes:
    """A PNG whose header says w x h; the pixel data is a token (parsers read headers only)."""
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
    body = chunk(b"IDAT", zlib.compress(b"\x00" * 64)) if idat else b""
    return b"\x89PNG\r\n\x1a\n" + ihdr + extra + body + chunk(b"IEND", b"")


def palette_png(w: int, h: int, *, transparent: bool = False) -> bytes:
    extra = chunk(b"PLTE", bytes(range(6)))
    if transparent:
        extra += chunk(b"tRNS", b"\x00")
    return png_raw(w, h, ctype=3, extra=extra)


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_bytes(
    w: int,
    h: int,
    *,
    components: int = 3,
    adobe: int | None = None,
    progressive: bool = False,
    sof: bool = True,
    eoi: bool = True,
    trailer: bytes = b"",
) -> bytes:
    """A JPEG with real segment structure; the entropy data has escaped FFs and a restart marker."""
    out = b"\xff\xd8" + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    # An EXIF segment holding a thumbnail with its own SOI/EOI must be skipped, not scanned.
    out += segment(0xE1, b"Exif\x00\x00" + b"\xff\xd8\xff\xd9" * 4)
    if adobe is not None:
        out += segment(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, adobe))
    out += segment(0xDB, b"\x00" + bytes(range(64)))
    if sof:
        specs = b"".join(bytes([i + 1, 0x11, 0]) for i in range(components))
        out += segment(
            0xC2 if progressive else 0xC0, struct.pack(">BHHB", 8, h, w, components) + specs
        )
    for _ in range(3 if progressive else 1):
        out += segment(0xC4, b"\x00" + bytes(16))
        out += segment(
            0xDA,
            bytes([components])
            + b"".join(bytes([i + 1, 0]) for i in range(components))
            + b"\x00\x3f\x00",
        )
        out += b"\x12\x34\xff\x00\x56\xff\xd0" + b"\x78\xff\x00\x9a" * 50 + b"\xff\xff\xd1\x01"
    if eoi:
        out += b"\xff\xd9"
    return out + trailer


def riff(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def webp_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")


def webp_lossless(w: int, h: int, *, alpha: bool = False) -> bytes:
    bits = (w - 1) | (h - 1) << 14 | int(alpha) << 28
    return riff(webp_chunk(b"VP8L", b"\x2f" + struct.pack("<I", bits) + bytes(11)))


def webp_lossy(w: int, h: int) -> bytes:
    return riff(
        webp_chunk(b"VP8 ", b"\x10\x02\x00\x9d\x01\x2a" + struct.pack("<HH", w, h) + bytes(20))
    )


def webp_extended(w: int, h: int) -> bytes:
    vp8x = bytes([0x10, 0, 0, 0]) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    return riff(
        webp_chunk(b"VP8X", vp8x)
        + webp_chunk(b"ALPH", bytes(9))
        + webp_chunk(b"VP8 ", b"\x10\x02\x00\x9d\x01\x2a" + struct.pack("<HH", w, h) + bytes(20))
    )


def gif_bytes(w: int, h: int, *, transparent: bool = False, frames: int = 1) -> bytes:
    out = b"GIF89a" + struct.pack("<HHBBB", w, h, 0xF0, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    for _ in range(frames):
        if transparent:
            out += b"\x21\xf9\x04\x01\x0a\x00\x00\x00"
        out += b"\x21\xfe\x05hello\x00"  # a comment extension
        out += (
            b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0) + b"\x02" + b"\x03\x4c\x01\x00" + b"\x00"
        )
    return out + b"\x3b"


def bmp_bytes(
    w: int, h: int, *, bpp: int = 24, alpha: bool = False, top_down: bool = False
) -> bytes:
    row = (bpp * w + 31) // 32 * 4
    pixels = bytes(row * h)
    height = -h if top_down else h
    if alpha:
        info = struct.pack("<IiiHHIIiiII", 124, w, height, 1, bpp, 3, len(pixels), 2835, 2835, 0, 0)
        info += struct.pack("<IIII", 0xFF0000, 0xFF00, 0xFF, 0xFF000000) + bytes(124 - 56)
    else:
        info = struct.pack("<IiiHHIIiiII", 40, w, height, 1, bpp, 0, len(pixels), 2835, 2835, 0, 0)
    palette = bytes(4 << bpp) if bpp <= 8 else b""
    offset = 14 + len(info) + len(palette)
    return (
        b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels
    )


def tiff_bytes(
    w: int,
    h: int,
    *,
    big_endian: bool = False,
    spp: int = 3,
    bits: int = 8,
    photometric: int = 2,
    extra_samples: int | None = None,
    private_tag: bool = False,
) -> bytes:
    e = ">" if big_endian else "<"
    head = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(e + "I", 8)
    n = 7 + (extra_samples is not None) + private_tag
    ifd_end = 8 + 2 + 12 * n + 4
    bits_at = ifd_end  # BitsPerSample has one value per sample: stored after the directory
    strip_at = bits_at + 2 * spp
    strip = bytes(w * h * spp * bits // 8)

    def short(v: int) -> bytes:
        return struct.pack(e + "H", v) + b"\x00\x00"

    def long(v: int) -> bytes:
        return struct.pack(e + "I", v)

    entries = [
        (256, 4, 1, long(w)),
        (257, 4, 1, long(h)),
        (258, 3, spp, short(bits) if spp <= 2 else long(bits_at)),
        (262, 3, 1, short(photometric)),
        (273, 4, 1, long(strip_at)),
        (277, 3, 1, short(spp)),
        (279, 4, 1, long(len(strip))),
    ]
    if extra_samples is not None:
        entries.append((338, 3, 1, short(extra_samples)))
    if private_tag:  # a vendor tag whose values point far past the end of the file
        entries.append((50000, 4, 100, long(10**6)))
    ifd = struct.pack(e + "H", n)
    for tag, typ, count, value in entries:
        if tag == 258 and spp == 2:
            value = struct.pack(e + "HH", bits, bits)
        ifd += struct.pack(e + "HHI", tag, typ, count) + value
    ifd += struct.pack(e + "I", 0)
    return head + ifd + struct.pack(e + "H", bits) * spp + strip


def tga_bytes(
    w: int, h: int, *, depth: int = 24, alpha_bits: int = 0, kind: int = 2, footer: bool = False
) -> bytes:
    header = struct.pack("<BBBHHBHHHHBB", 0, 0, kind, 0, 0, 0, 0, 0, w, h, depth, alpha_bits | 0x20)
    data = header + bytes(w * h * depth // 8)
    if footer:
        data += struct.pack("<II", 0, 0) + b"TRUEVISION-XFILE.\x00"
    return data


def exr_attr(name: str, kind: str, value: bytes) -> bytes:
    return name.encode() + b"\x00" + kind.encode() + b"\x00" + struct.pack("<i", len(value)) + value


def exr_bytes(w: int, h: int, channels: str = "BGR", *, half: bool = True) -> bytes:
    """A scan-line, uncompressed OpenEXR file: header, offset table, one block per line."""
    ptype, size = (1, 2) if half else (2, 4)
    chlist = b"".join(
        c.encode() + b"\x00" + struct.pack("<iB3xii", ptype, 0, 1, 1) for c in channels
    )
    window = struct.pack("<iiii", 0, 0, w - 1, h - 1)
    header = (
        b"v/1\x01"
        + struct.pack("<I", 2)
        + exr_attr("channels", "chlist", chlist + b"\x00")
        + exr_attr("compression", "compression", b"\x00")
        + exr_attr("dataWindow", "box2i", window)
        + exr_attr("displayWindow", "box2i", window)
        + exr_attr("lineOrder", "lineOrder", b"\x00")
        + exr_attr("pixelAspectRatio", "float", struct.pack("<f", 1.0))
        + exr_attr("screenWindowCenter", "v2f", struct.pack("<ff", 0, 0))
        + exr_attr("screenWindowWidth", "float", struct.pack("<f", 1.0))
        + b"\x00"
    )
    line = bytes(w * len(channels) * size)
    first = len(header) + 8 * h
    offsets = b"".join(struct.pack("<Q", first + y * (8 + len(line))) for y in range(h))
    blocks = b"".join(struct.pack("<ii", y, len(line)) + line for y in range(h))
    return header + offsets + blocks


def hdr_bytes(w: int, h: int, *, x_first: bool = False) -> bytes:
    resolution = f"+X {w} -Y {h}" if x_first else f"-Y {h} +X {w}"
    head = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\nEXPOSURE=1.0\n\n{resolution}\n".encode()
    return head + bytes(4 * w * h)


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full_box(kind: bytes, payload: bytes) -> bytes:
    return box(kind, b"\x00\x00\x00\x00" + payload)


def heif_bytes(
    sizes: list[tuple[int, int]],
    *,
    brand: bytes = b"avif",
    compatible: bytes = b"mif1miaf",
    alpha: bool = False,
    pixi: bytes | None = b"\x03\x08\x08\x08",
    cut: int = 0,
) -> bytes:
    props = b"".join(full_box(b"ispe", struct.pack(">II", w, h)) for w, h in sizes)
    if pixi is not None:
        props += full_box(b"pixi", pixi)
    if alpha:
        props += full_box(b"auxC", b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha\x00")
    hdlr = full_box(b"hdlr", b"\x00" * 4 + b"pict" + b"\x00" * 12 + b"\x00")
    meta = full_box(b"meta", hdlr + box(b"iprp", box(b"ipco", props)))
    data = box(b"ftyp", brand + b"\x00\x00\x00\x00" + compatible) + meta + box(b"mdat", bytes(64))
    return data[: len(data) - cut] if cut else data


# -- helpers ----------------------------------------------------------------------------------


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- good files: format and size read from the content --------------------------------------

# (case, file name, bytes, format, width, height, color_mode, channels, bit_depth, has_alpha)
GOOD: list[
    tuple[str, str, Callable[[], bytes], str, int, int, str, int | None, int | None, bool]
] = [
    ("png rgb", "a.png", lambda: png_bytes(96, 64), "png", 96, 64, "rgb", 3, 8, False),
    ("png rgba", "a.png", lambda: png_bytes(64, 80, channels=4), "png", 64, 80, "rgba", 4, 8, True),
    (
        "png gray",
        "a.png",
        lambda: png_bytes(70, 64, channels=1),
        "png",
        70,
        64,
        "gray",
        1,
        8,
        False,
    ),
    (
        "png gray+alpha",
        "a.png",
        lambda: png_bytes(64, 64, channels=2),
        "png",
        64,
        64,
        "gray_alpha",
        2,
        8,
        True,
    ),
    (
        "png 16-bit",
        "a.png",
        lambda: png_bytes(64, 66, bit_depth=16),
        "png",
        64,
        66,
        "rgb",
        3,
        16,
        False,
    ),
    ("png palette", "a.png", lambda: palette_png(128, 64), "png", 128, 64, "palette", 3, 8, False),
    (
        "png palette with tRNS",
        "a.png",
        lambda: palette_png(64, 64, transparent=True),
        "png",
        64,
        64,
        "palette",
        4,
        8,
        True,
    ),
    (
        "png large header",
        "a.png",
        lambda: png_raw(8192, 8192),
        "png",
        8192,
        8192,
        "rgb",
        3,
        8,
        False,
    ),
    ("jpeg baseline", "a.jpg", lambda: jpeg_bytes(640, 480), "jpeg", 640, 480, "rgb", 3, 8, False),
    (
        "jpeg progressive",
        "a.jpeg",
        lambda: jpeg_bytes(300, 200, progressive=True),
        "jpeg",
        300,
        200,
        "rgb",
        3,
        8,
        False,
    ),
    (
        "jpeg gray",
        "a.jpg",
        lambda: jpeg_bytes(64, 64, components=1),
        "jpeg",
        64,
        64,
        "gray",
        1,
        8,
        False,
    ),
    (
        "jpeg cmyk",
        "a.jpg",
        lambda: jpeg_bytes(100, 90, components=4, adobe=0),
        "jpeg",
        100,
        90,
        "cmyk",
        4,
        8,
        False,
    ),
    (
        "jpeg ycck",
        "a.jpg",
        lambda: jpeg_bytes(100, 90, components=4, adobe=2),
        "jpeg",
        100,
        90,
        "ycck",
        4,
        8,
        False,
    ),
    (
        "jpeg with data after EOI (motion photo)",
        "a.jpg",
        lambda: jpeg_bytes(80, 64, trailer=b"\x00\x00\x00\x18ftypmp42" + bytes(500)),
        "jpeg",
        80,
        64,
        "rgb",
        3,
        8,
        False,
    ),
    ("webp lossy", "a.webp", lambda: webp_lossy(320, 240), "webp", 320, 240, "rgb", 3, 8, False),
    (
        "webp lossless",
        "a.webp",
        lambda: webp_lossless(1000, 64),
        "webp",
        1000,
        64,
        "rgb",
        3,
        8,
        False,
    ),
    (
        "webp lossless alpha",
        "a.webp",
        lambda: webp_lossless(64, 99, alpha=True),
        "webp",
        64,
        99,
        "rgba",
        4,
        8,
        True,
    ),
    (
        "webp extended",
        "a.webp",
        lambda: webp_extended(5000, 3000),
        "webp",
        5000,
        3000,
        "rgba",
        4,
        8,
        True,
    ),
    ("gif", "a.gif", lambda: gif_bytes(200, 100), "gif", 200, 100, "palette", 3, 8, False),
    (
        "gif transparent animated",
        "a.gif",
        lambda: gif_bytes(64, 64, transparent=True, frames=3),
        "gif",
        64,
        64,
        "palette",
        4,
        8,
        True,
    ),
    ("bmp 24-bit", "a.bmp", lambda: bmp_bytes(65, 70), "bmp", 65, 70, "rgb", 3, 8, False),
    (
        "bmp top-down",
        "a.bmp",
        lambda: bmp_bytes(64, 64, top_down=True),
        "bmp",
        64,
        64,
        "rgb",
        3,
        8,
        False,
    ),
    ("bmp 8-bit", "a.bmp", lambda: bmp_bytes(64, 64, bpp=8), "bmp", 64, 64, "palette", 3, 8, False),
    (
        "bmp 32-bit alpha (V5)",
        "a.bmp",
        lambda: bmp_bytes(64, 72, bpp=32, alpha=True),
        "bmp",
        64,
        72,
        "rgba",
        4,
        8,
        True,
    ),
    ("tiff little-endian", "a.tif", lambda: tiff_bytes(64, 65), "tiff", 64, 65, "rgb", 3, 8, False),
    (
        "tiff big-endian",
        "a.tiff",
        lambda: tiff_bytes(66, 64, big_endian=True),
        "tiff",
        66,
        64,
        "rgb",
        3,
        8,
        False,
    ),
    (
        "tiff rgba 16-bit",
        "a.tif",
        lambda: tiff_bytes(64, 64, spp=4, bits=16, extra_samples=2),
        "tiff",
        64,
        64,
        "rgba",
        4,
        16,
        True,
    ),
    (
        "tiff gray",
        "a.tif",
        lambda: tiff_bytes(64, 64, spp=1, photometric=1),
        "tiff",
        64,
        64,
        "gray",
        1,
        8,
        False,
    ),
    (
        "tiff cmyk",
        "a.tif",
        lambda: tiff_bytes(64, 64, spp=4, photometric=5, big_endian=True),
        "tiff",
        64,
        64,
        "cmyk",
        4,
        8,
        False,
    ),
    (
        "tiff with a broken private tag",
        "a.tif",
        lambda: tiff_bytes(64, 64, private_tag=True),
        "tiff",
        64,
        64,
        "rgb",
        3,
        8,
        False,
    ),
    ("tga 24-bit", "a.tga", lambda: tga_bytes(64, 70), "tga", 64, 70, "rgb", 3, 8, False),
    (
        "tga 32-bit alpha, upper-case extension",
        "A.TGA",
        lambda: tga_bytes(80, 64, depth=32, alpha_bits=8),
        "tga",
        80,
        64,
        "rgba",
        4,
        8,
        True,
    ),
    (
        "tga 2.0 footer, any extension",
        "texture.bin",
        lambda: tga_bytes(64, 64, footer=True),
        "tga",
        64,
        64,
        "rgb",
        3,
        8,
        False,
    ),
    (
        "tga gray",
        "a.tga",
        lambda: tga_bytes(64, 64, depth=8, kind=3),
        "tga",
        64,
        64,
        "gray",
        1,
        8,
        False,
    ),
    ("exr rgb half", "a.exr", lambda: exr_bytes(64, 70), "exr", 64, 70, "rgb", 3, 16, False),
    (
        "exr rgba float",
        "a.exr",
        lambda: exr_bytes(70, 64, "ABGR", half=False),
        "exr",
        70,
        64,
        "rgba",
        4,
        32,
        True,
    ),
    ("exr luminance", "a.exr", lambda: exr_bytes(64, 64, "Y"), "exr", 64, 64, "gray", 1, 16, False),
    ("hdr", "a.hdr", lambda: hdr_bytes(96, 64), "hdr", 96, 64, "rgb", 3, 32, False),
    (
        "hdr x-major",
        "a.hdr",
        lambda: hdr_bytes(96, 64, x_first=True),
        "hdr",
        96,
        64,
        "rgb",
        3,
        32,
        False,
    ),
    ("avif", "a.avif", lambda: heif_bytes([(1024, 768)]), "avif", 1024, 768, "rgb", 3, 8, False),
    (
        "avif alpha",
        "a.avif",
        lambda: heif_bytes([(512, 512)], alpha=True),
        "avif",
        512,
        512,
        "rgba",
        3,
        8,
        True,
    ),
    (
        "avif by compatible brand",
        "a.avif",
        lambda: heif_bytes([(64, 64)], brand=b"mif1", compatible=b"avifmiaf"),
        "avif",
        64,
        64,
        "rgb",
        3,
        8,
        False,
    ),
    (
        "heic grid: the largest ispe is the image",
        "IMG_0001.HEIC",
        lambda: heif_bytes(
            [(512, 512), (4032, 3024), (512, 512)], brand=b"heic", compatible=b"mif1heic"
        ),
        "heic",
        4032,
        3024,
        "rgb",
        3,
        8,
        False,
    ),
    (
        "heif mif1 without pixi",
        "a.heif",
        lambda: heif_bytes([(800, 600)], brand=b"mif1", compatible=b"heic", pixi=None),
        "heic",
        800,
        600,
        "rgb",
        None,
        None,
        False,
    ),
    (
        "content wins over a wrong extension",
        "photo.png",
        lambda: jpeg_bytes(128, 64),
        "jpeg",
        128,
        64,
        "rgb",
        3,
        8,
        False,
    ),
]


@pytest.mark.parametrize(
    ("name", "make", "fmt", "width", "height", "mode", "channels", "depth", "alpha"),
    [pytest.param(*row[1:], id=row[0]) for row in GOOD],
)
def test_good_formats(
    tmp_path: Path,
    name: str,
    make: Callable[[], bytes],
    fmt: str,
    width: int,
    height: int,
    mode: str,
    channels: int | None,
    depth: int | None,
    alpha: bool,
) -> None:
    data = make()
    path = write(tmp_path, name, data)
    info = inspect(path)
    assert (info.format, info.width, info.height) == (fmt, width, height)
    assert (info.color_mode, info.channels, info.bit_depth, info.has_alpha) == (
        mode,
        channels,
        depth,
        alpha,
    )
    assert info.path == str(path)
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest() == file_sha256(path)
    assert info.mime == mime_for(fmt) and info.mime.startswith("image/")
    if fmt != "tga" or data.endswith(b"TRUEVISION-XFILE.\x00"):
        assert sniff(data) == fmt


# -- bad files: one table, each with the fragment the user must read -------------------------


def _sparse_too_big(tmp: Path) -> Path:
    path = write(tmp, "huge.png", png_bytes(64, 64))
    with open(path, "r+b") as file:
        file.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: no 50 MB written
    return path


def _broken_link(tmp: Path) -> Path:
    link = tmp / "link.png"
    link.symlink_to(tmp / "gone.png")
    return link


def _cut(data: bytes, n: int) -> bytes:
    return data[:-n]


def _bad_crc(data: bytes) -> bytes:
    at = data.index(b"IDAT") + 6
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


# (case, setup(tmp) -> path, fragments)
BAD: list[tuple[str, Callable[[Path], Path], list[str]]] = [
    ("missing file", lambda t: t / "nope.png", ["nope.png", "does not exist"]),
    ("a directory", lambda t: write(t, "dir.png/x", b"x").parent, ["dir.png", "is a folder"]),
    ("broken symlink", _broken_link, ["link.png", "link to a file that does not exist"]),
    ("empty file", lambda t: write(t, "e.png", b""), ["e.png", "is empty (0 bytes)"]),
    (
        "text renamed .png",
        lambda t: write(t, "notes.png", b"Shopping list:\n- eggs\n- milk\n"),
        ["notes.png", "is not an image (its content is text), whatever its extension"],
    ),
    (
        "utf-8 text with accents",
        lambda t: write(t, "t.jpg", "Caf\u00e9 cr\u00e8me \u6905\u5b50\n".encode() * 30),
        ["its content is text"],
    ),
    (
        "random binary",
        lambda t: write(t, "noise.jpg", bytes(range(256)) * 4),
        ["noise.jpg", "its content is unknown", "whatever its extension"],
    ),
    ("pdf renamed", lambda t: write(t, "doc.png", b"%PDF-1.7\n" + bytes(200)), ["a PDF document"]),
    (
        "glb renamed",
        lambda t: write(t, "m.png", b"glTF\x02\x00\x00\x00" + bytes(100)),
        ["a GLB 3D model"],
    ),
    (
        "svg",
        lambda t: write(t, "logo.png", b'<?xml version="1.0"?>\n<svg width="10"></svg>\n'),
        ["an SVG drawing"],
    ),
    (
        "too large",
        _sparse_too_big,
        ["huge.png", "50.0 MB", "larger than 50 MB cannot be uploaded"],
    ),
    (
        "png cut inside IDAT",
        lambda t: write(t, "cut.png", png_bytes(64, 64)[:200]),
        ["cut.png", "is truncated", "IDAT chunk is cut short"],
    ),
    (
        "png without IEND",
        lambda t: write(t, "noend.png", _cut(png_bytes(64, 64), 12)),
        ["is truncated", "IEND"],
    ),
    (
        "png bad checksum",
        lambda t: write(t, "crc.png", _bad_crc(png_bytes(64, 64))),
        ["is a corrupt PNG file", "checksum", "IDAT"],
    ),
    (
        "png without IDAT",
        lambda t: write(t, "x.png", png_raw(64, 64, idat=False)),
        ["no image data"],
    ),
    ("png zero width", lambda t: write(t, "z.png", png_raw(0, 64)), ["corrupt PNG", "0x64"]),
    (
        "png impossible depth",
        lambda t: write(t, "d.png", png_raw(64, 64, ctype=2, depth=4)),
        ["corrupt PNG", "bit depth 4"],
    ),
    (
        "png signature only",
        lambda t: write(t, "sig.png", b"\x89PNG\r\n\x1a\n"),
        ["is truncated"],
    ),
    (
        "jpeg without EOI",
        lambda t: write(t, "cut.jpg", jpeg_bytes(64, 64, eoi=False)),
        ["cut.jpg", "is truncated", "end-of-image"],
    ),
    (
        "jpeg cut inside a segment",
        lambda t: write(t, "c.jpg", jpeg_bytes(64, 64)[:30]),
        ["is truncated"],
    ),
    (
        "jpeg without SOF",
        lambda t: write(t, "s.jpg", jpeg_bytes(64, 64, sof=False)),
        ["corrupt JPEG"],
    ),
    ("webp cut", lambda t: write(t, "w.webp", webp_lossy(64, 64)[:-6]), ["is truncated"]),
    (
        "webp bad chunk",
        lambda t: write(t, "w.webp", riff(webp_chunk(b"JUNK", bytes(30)))),
        ["corrupt WebP", "(JUNK) is not an image chunk"],
    ),
    ("gif cut", lambda t: write(t, "g.gif", gif_bytes(64, 64)[:-5]), ["is truncated"]),
    (
        "bmp cut",
        lambda t: write(t, "b.bmp", bmp_bytes(64, 64)[:-100]),
        ["is truncated", "bytes of pixels"],
    ),
    ("tiff cut", lambda t: write(t, "t.tif", tiff_bytes(64, 64)[:-10]), ["is truncated"]),
    (
        "tiff big-endian cut",
        lambda t: write(t, "t.tif", tiff_bytes(64, 64, big_endian=True)[:-1]),
        ["is truncated"],
    ),
    ("tiff header only", lambda t: write(t, "t.tif", b"II*\x00\x08\x00\x00\x00"), ["is truncated"]),
    ("tga garbage", lambda t: write(t, "t.tga", b"\xff" * 40), ["t.tga", "is not an image"]),
    ("tga cut", lambda t: write(t, "t.tga", tga_bytes(64, 64)[:-1]), ["is truncated"]),
    ("exr cut", lambda t: write(t, "e.exr", exr_bytes(64, 64)[:-3]), ["is truncated"]),
    ("exr header cut", lambda t: write(t, "e.exr", exr_bytes(64, 64)[:40]), ["is truncated"]),
    ("hdr without pixels", lambda t: write(t, "h.hdr", hdr_bytes(64, 64)[:60]), ["is truncated"]),
    (
        "hdr garbage resolution",
        lambda t: write(t, "h.hdr", b"#?RADIANCE\n\nwhat 1 2\n" + bytes(9)),
        ["corrupt HDR"],
    ),
    ("avif cut", lambda t: write(t, "a.avif", heif_bytes([(64, 64)], cut=5)), ["is truncated"]),
    (
        "heic without ispe",
        lambda t: write(t, "a.heic", heif_bytes([], brand=b"heic")),
        ["corrupt HEIC", "size is not recorded"],
    ),
]


@pytest.mark.parametrize(("setup", "fragments"), [pytest.param(*row[1:], id=row[0]) for row in BAD])
def test_bad_inputs(tmp_path: Path, setup: Callable[[Path], Path], fragments: list[str]) -> None:
    path = setup(tmp_path)
    with pytest.raises(InputError) as caught:
        inspect(path)
    error = caught.value
    for fragment in fragments:
        assert fragment in error.message, (fragment, error.message)
    assert str(path) in error.message  # which file
    assert error.fix  # what to do
    # check() refuses the same way.
    with pytest.raises(InputError):
        check(path)


# (case, width, height, fragments)
SIZE_REFUSALS = [
    ("too narrow", MIN_SIDE - 1, 500, ["63x500", f"at least {MIN_SIDE} pixels"]),
    ("too short", 64, 10, ["64x10", "at least 64 pixels"]),
    ("too wide", MAX_SIDE + 1, 64, ["8193x64", f"at most {MAX_SIDE} pixels"]),
    ("too tall", 100, 20000, ["100x20000", "at most 8192 pixels"]),
]


@pytest.mark.parametrize(
    ("width", "height", "fragments"), [pytest.param(*row[1:], id=row[0]) for row in SIZE_REFUSALS]
)
def test_check_refuses_sizes(tmp_path: Path, width: int, height: int, fragments: list[str]) -> None:
    path = write(tmp_path, "s.png", png_raw(width, height))
    assert (inspect(path).width, inspect(path).height) == (width, height)  # inspect reports it
    with pytest.raises(InputError) as caught:
        check(path)
    for fragment in [str(path), *fragments]:
        assert fragment in caught.value.message
    assert caught.value.fix


@pytest.mark.parametrize(("width", "height"), [(MIN_SIDE, MIN_SIDE), (MAX_SIDE, MIN_SIDE * 3)])
def test_check_accepts_the_limits(tmp_path: Path, width: int, height: int) -> None:
    info, _ = check(write(tmp_path, "ok.png", png_raw(width, height)))
    assert (info.width, info.height) == (width, height)


def test_file_at_the_upload_limit_is_accepted(tmp_path: Path) -> None:
    # A PNG may carry trailing data after IEND; pad it to exactly the limit.
    data = png_bytes(64, 64)
    path = write(tmp_path, "big.png", data)
    with open(path, "r+b") as file:
        file.truncate(MAX_UPLOAD_BYTES)
    assert inspect(path).size == MAX_UPLOAD_BYTES
    assert INLINE_UPLOAD_LIMIT < MAX_UPLOAD_BYTES


# -- unreadable files -------------------------------------------------------------------------


def _inspect_as_nobody(path: Path) -> str:
    """inspect() in a forked child that dropped root: returns the error message it got."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                inspect(path)
                message = "NO ERROR"
            except InputError as exc:
                message = exc.message
            os.write(write_end, message.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return message


@pytest.mark.parametrize("where", ["file", "folder"])
def test_unreadable(tmp_path: Path, where: str) -> None:
    """chmod 000 on the file, or on its folder. Root reads anything, so as root the check
    runs in a forked child that switched to the 'nobody' user."""
    # A world-traversable folder of our own: pytest's tmp_path parents are private to root.
    base = Path(tempfile.mkdtemp(prefix="yvo3d-perm-"))
    try:
        base.chmod(0o755)
        folder = base / "locked folder"
        folder.mkdir()
        folder.chmod(0o755)
        path = write(folder, "private.png", png_bytes(64, 64))
        path.chmod(0o644)
        inspect(path)  # readable before
        (path if where == "file" else folder).chmod(0o000)
        if os.geteuid() == 0:
            message = _inspect_as_nobody(path)
        else:
            with pytest.raises(InputError) as caught:
                inspect(path)
            message = caught.value.message
        assert str(path) in message
        assert "cannot be read: permission denied" in message
    finally:
        for p in (base, base / "locked folder"):
            if p.exists():
                p.chmod(0o755)
        shutil.rmtree(base)


# -- warnings ---------------------------------------------------------------------------------

# (case, file name, bytes, warning fragments; [] means no warning at all)
WARNINGS: list[tuple[str, str, Callable[[], bytes], list[str]]] = [
    ("plain rgb png", "a.png", lambda: png_bytes(128, 96), []),
    ("aspect 3:1 is still fine", "a.png", lambda: png_raw(192, 64), []),
    (
        "very wide",
        "pano.png",
        lambda: png_raw(300, 64),
        ['"pano.png"', "very wide", "4.7:1", "crop"],
    ),
    ("very tall", "a.jpg", lambda: jpeg_bytes(64, 400), ["very tall", "6.2:1"]),
    (
        "alpha channel",
        "cut.png",
        lambda: png_bytes(64, 64, channels=4),
        ["transparent areas are treated as background"],
    ),
    (
        "palette transparency",
        "p.png",
        lambda: palette_png(64, 64, transparent=True),
        ["transparent areas"],
    ),
    (
        "16-bit png",
        "d.png",
        lambda: png_bytes(64, 64, bit_depth=16),
        ["16-bit PNG", "converted to an 8-bit PNG"],
    ),
    ("exr", "e.exr", lambda: exr_bytes(64, 64), ["EXR file", "converted to an 8-bit PNG"]),
    (
        "exr alpha: both warnings",
        "e.exr",
        lambda: exr_bytes(64, 64, "ABGR"),
        ["transparent areas", "converted"],
    ),
    ("hdr", "h.hdr", lambda: hdr_bytes(64, 64), ["HDR file", "converted"]),
    ("tga", "t.tga", lambda: tga_bytes(64, 64), ["TGA file", "converted"]),
    ("bmp", "b.bmp", lambda: bmp_bytes(64, 64), ["BMP file", "converted"]),
    ("cmyk jpeg", "c.jpg", lambda: jpeg_bytes(64, 64, components=4), ["CMYK JPEG", "converted"]),
    (
        "ycck jpeg",
        "y.jpg",
        lambda: jpeg_bytes(64, 64, components=4, adobe=2),
        ["YCCK JPEG", "converted"],
    ),
    ("webp needs nothing", "w.webp", lambda: webp_lossy(64, 64), []),
    ("gif needs nothing", "g.gif", lambda: gif_bytes(64, 64), []),
]


@pytest.mark.parametrize(
    ("name", "make", "fragments"), [pytest.param(*row[1:], id=row[0]) for row in WARNINGS]
)
def test_warnings(
    tmp_path: Path, name: str, make: Callable[[], bytes], fragments: list[str]
) -> None:
    path = write(tmp_path, name, make())
    info, warnings = check(path)
    assert info == inspect(path)
    text = " | ".join(warnings)
    if not fragments:
        assert warnings == []
    for fragment in fragments:
        assert fragment in text, (fragment, warnings)
    assert needs_conversion(info) == ("converted" in text)


@pytest.mark.parametrize(
    ("fmt", "mode", "depth", "convert"),
    [
        ("png", "rgb", 8, False),
        ("png", "rgba", 16, True),
        ("jpeg", "rgb", 8, False),
        ("jpeg", "cmyk", 8, True),
        ("jpeg", "ycck", 8, True),
        ("webp", "rgba", 8, False),
        ("gif", "palette", 8, False),
        ("tiff", "rgb", 8, False),
        ("tiff", "rgb", 16, True),
        ("tiff", "cmyk", 8, True),
        ("avif", "rgb", 10, False),
        ("heic", "rgb", None, False),
        ("exr", "rgb", 16, True),
        ("hdr", "rgb", 32, True),
        ("tga", "rgb", 8, True),
        ("bmp", "rgb", 8, True),
    ],
)
def test_needs_conversion(fmt: str, mode: str, depth: int | None, convert: bool) -> None:
    info = ImageInfo("x", fmt, mime_for(fmt), 64, 64, 1, "0" * 64, 3, depth, mode)
    assert needs_conversion(info) is convert


# -- sniff, mime, data URLs, hashes, awkward paths --------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(30), "png"),
        (b"\xff\xd8\xff\xe0" + bytes(30), "jpeg"),
        (b"GIF87a" + bytes(30), "gif"),
        (b"GIF89a" + bytes(30), "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"II*\x00" + bytes(30), "tiff"),
        (b"MM\x00*" + bytes(30), "tiff"),
        (b"II+\x00" + bytes(30), "tiff"),
        (b"v/1\x01" + bytes(30), "exr"),
        (b"#?RADIANCE\n", "hdr"),
        (b"#?RGBE\n", "hdr"),
        (b"BM" + bytes(12) + b"\x28\x00\x00\x00" + bytes(20), "bmp"),
        (b"BMW is a car brand, not a bitmap.", None),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1miaf", "avif"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "heic"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42", None),
        (b"hello world", None),
        (b"", None),
    ],
)
def test_sniff(data: bytes, fmt: str | None) -> None:
    assert sniff(data) == fmt


def test_mime_for() -> None:
    assert mime_for("png") == "image/png"
    assert mime_for("jpeg") == "image/jpeg"
    assert mime_for("webp") == "image/webp"
    assert mime_for("heic") == "image/heic"
    assert mime_for("nonsense") == "application/octet-stream"
    for fmt in ("png", "jpeg", "webp", "gif", "tiff", "bmp", "tga", "exr", "hdr", "avif", "heic"):
        assert mime_for(fmt).startswith("image/"), fmt


def test_data_url_from_bytes_and_path_round_trips(tmp_path: Path) -> None:
    data = png_bytes(64, 64)
    url = data_url(data)
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    assert base64.b64decode(url[len(prefix) :]) == data
    path = write(tmp_path, "x.jpg", jpeg_bytes(64, 64))
    url = data_url(path)
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == path.read_bytes()
    assert data_url(str(write(tmp_path, "t.tga", tga_bytes(64, 64)))).startswith(
        "data:image/x-tga;"
    )


def test_data_url_refuses_non_images(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not an image"):
        data_url(b"just text")
    with pytest.raises(InputError, match="does not exist"):
        data_url(tmp_path / "missing.png")


def test_paths_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    data = png_bytes(80, 64, channels=4)
    path = write(
        tmp_path / "mes photos" / "\u6905\u5b50 d\u00e9j\u00e0 vu",
        "chaise \u00e9t\u00e9 \U0001f600.png",
        data,
    )
    for given in (path, str(path)):
        info, warnings = check(given)
        assert info.path == str(path)
        assert (info.width, info.height, info.format) == (80, 64, "png")
        assert any("chaise \u00e9t\u00e9 \U0001f600.png" in w for w in warnings)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert base64.b64decode(data_url(path).split(",", 1)[1]) == data
    with pytest.raises(InputError) as caught:
        inspect(path.with_name("\u00e9 missing .png"))
    assert "\u00e9 missing .png" in caught.value.message


def test_same_content_same_hash_whatever_the_name(tmp_path: Path) -> None:
    data = png_bytes(64, 64)
    a = inspect(write(tmp_path, "a.png", data))
    b = inspect(write(tmp_path, "b.PNG", data))
    c = inspect(write(tmp_path, "c.png", png_bytes(64, 65)))
    assert a.sha256 == b.sha256 != c.sha256


def test_module_constants() -> None:
    assert INLINE_UPLOAD_LIMIT == 3_500_000
    assert MAX_UPLOAD_BYTES == 50 * 1024 * 1024
    assert (MIN_SIDE, MAX_SIDE) == (64, 8192)
    assert images.ImageInfo is ImageInfo


def test_svg_fix_says_how_to_convert(tmp_path: Path) -> None:
    path = write(tmp_path, "logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    with pytest.raises(InputError) as caught:
        inspect(path)
    assert "export it as PNG" in caught.value.fix
