"""Reference-image checks by content: format, size and damage, read from the file's own bytes."""

from __future__ import annotations

import base64
import hashlib
import math
import os
import re
import stat
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import InputError

INLINE_UPLOAD_LIMIT = 3_500_000
"""Bytes: larger files go through the multipart /uploads flow (Scenario's own plugin's limit)."""
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MIN_SIDE = 64
MAX_SIDE = 8192
ASPECT_WARNING = 3.0
"""Long side over short side above which the user is told to crop."""

_MIMES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "tga": "image/x-tga",
    "exr": "image/x-exr",
    "hdr": "image/vnd.radiance",
    "avif": "image/avif",
    "heic": "image/heic",
}
_NAMES = {"jpeg": "JPEG", "tiff": "TIFF", "heic": "HEIC", "webp": "WebP"}
_TGA_EXTENSIONS = (".tga", ".tpic", ".icb", ".vda", ".vst")
_TGA_FOOTER = b"TRUEVISION-XFILE.\x00"
_FIX_NOT_IMAGE = "Pick a photo or render saved as PNG or JPEG."
_FIX_VECTOR = "Vector images are not supported: export it as PNG (1024 pixels or more)."
_FIX_DAMAGED = "Open it in an image editor and save it again as PNG or JPEG, or copy it again."


@dataclass(frozen=True)
class ImageInfo:
    """What a reference image is, read from its content."""

    path: str
    format: str
    """png | jpeg | webp | gif | tiff | bmp | tga | exr | hdr | avif | heic"""
    mime: str
    width: int
    height: int
    size: int
    """Bytes on disk."""
    sha256: str
    channels: int | None
    bit_depth: int | None
    """Bits per channel (per index for palette images)."""
    color_mode: str
    """rgb | rgba | gray | gray_alpha | palette | cmyk | ycck | unknown"""
    has_alpha: bool = False
    """An alpha channel or a transparent colour (palette or PNG tRNS)."""
    fully_transparent: bool = False
    """Every pixel's alpha is 0 (read for non-interlaced PNGs): there is nothing to see."""


@dataclass
class _Pixels:
    width: int
    height: int
    channels: int | None
    bit_depth: int | None
    color_mode: str
    has_alpha: bool = False
    fully_transparent: bool = False


class _TruncatedError(Exception):
    """The file ends before its own structure does."""


class _CorruptError(Exception):
    """The structure is there but does not make sense."""


class _NotImageError(Exception):
    """Header sanity failed for a format without a magic number (TGA)."""


def mime_for(fmt: str) -> str:
    """MIME type of a format name from ImageInfo.format (application/octet-stream if unknown)."""
    return _MIMES.get(fmt, "application/octet-stream")


def _fmt_name(fmt: str) -> str:
    return _NAMES.get(fmt, fmt.upper())


# -- sniffing ----------------------------------------------------------------------------------

_AVIF_BRANDS = {b"avif", b"avis"}
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def sniff(data: bytes) -> str | None:
    """The image format named by the first bytes (magic numbers), or None.

    TGA has no magic number: only a TGA 2.0 footer is recognised here; inspect() also accepts
    a sane TGA header when the file name ends in .tga.
    """
    head = bytes(data[:64])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"v/1\x01":
        return "exr"
    if head.startswith((b"#?RADIANCE", b"#?RGBE")):
        return "hdr"
    if head[:2] == b"BM" and len(head) >= 18:
        # "BM" alone is common in text; the DIB header size must be one of the known ones.
        if struct.unpack_from("<I", head, 14)[0] in (12, 16, 40, 52, 56, 64, 108, 124):
            return "bmp"
    if head[4:8] == b"ftyp" and len(head) >= 12:
        return _ftyp_format(head)
    if bytes(data[-18:]) == _TGA_FOOTER:
        return "tga"
    return None


def _ftyp_format(head: bytes) -> str | None:
    size = struct.unpack_from(">I", head, 0)[0]
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    if major in _AVIF_BRANDS:
        return "avif"
    if major in _HEIC_BRANDS - {b"mif1", b"msf1"}:
        return "heic"
    if compatible & _AVIF_BRANDS:
        return "avif"
    if major in _HEIC_BRANDS or compatible & _HEIC_BRANDS:
        return "heic"
    return None


def _describe(data: bytes) -> str:
    """What a non-image file seems to hold, for the refusal message."""
    head = bytes(data[:4096])
    known = (
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"glTF", "a GLB 3D model"),
        (b"\x1f\x8b", "gzip-compressed data"),
        (b"8BPS", "a Photoshop document"),
        (b"\x00\x00\x01\x00", "a Windows icon"),
    )
    for magic, what in known:
        if head.startswith(magic):
            return what
    if head[4:8] == b"ftyp":
        return "a video or other media file"
    text = _as_text(head)
    if text is not None:
        if re.search(r"<svg[\s>]", text[:2048], re.IGNORECASE):
            return "an SVG drawing"
        return "text"
    return "unknown"


def _as_text(head: bytes) -> str | None:
    """The sample as text if it reads as mostly printable UTF-8 (or BOM-marked UTF-16)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head[2 : len(head) // 2 * 2].decode("utf-16", "replace")
    elif b"\x00" in head:
        return None
    else:
        # "ignore": a multi-byte character may be cut at the end of the sample.
        text = head.decode("utf-8", "ignore")
    if not text:
        return None
    printable = sum(ch.isprintable() or ch in "\r\n\t\f" for ch in text)
    return text if printable / len(text) >= 0.95 else None


# -- per-format header parsing -----------------------------------------------------------------


def _need(data: bytes, end: int, what: str) -> None:
    if end > len(data):
        raise _TruncatedError(f"it ends inside the {what}")


def _png(d: bytes) -> _Pixels:
    _need(d, 33, "PNG header")
    length, kind = struct.unpack_from(">I4s", d, 8)
    if kind != b"IHDR" or length != 13:
        raise _CorruptError("its first chunk is not the image header (IHDR)")
    w, h, depth, ctype, _, _, interlace = struct.unpack_from(">IIBBBBB", d, 16)
    allowed = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
    if depth not in allowed.get(ctype, ()):
        raise _CorruptError(f"colour type {ctype} with bit depth {depth} does not exist")
    pos, n, trns = 8, len(d), False
    idats: list[tuple[int, int]] = []
    palette = alphas = b""
    view = memoryview(d)
    while True:
        if pos + 8 > n:
            raise _TruncatedError("it ends before the end-of-image chunk (IEND)")
        length, kind = struct.unpack_from(">I4s", d, pos)
        end = pos + 12 + length
        name = kind.decode("latin-1")
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise _CorruptError(f"a chunk header at byte {pos} is garbage")
        if end > n:
            raise _TruncatedError(
                f"its {name} chunk is cut short ({n - pos - 12} of {length} bytes)"
            )
        if kind[:1].isupper():
            # Critical chunks only: decoders tolerate bad checksums on ancillary ones.
            (crc,) = struct.unpack_from(">I", d, end - 4)
            if zlib.crc32(view[pos + 4 : end - 4]) != crc:
                raise _CorruptError(f"the checksum of its {name} chunk does not match")
        if kind == b"IDAT":
            idats.append((pos + 8, end - 4))
        elif kind == b"PLTE":
            palette = d[pos + 8 : end - 4]
        elif kind == b"tRNS":
            trns = True
            alphas = d[pos + 8 : end - 4]
        elif kind == b"IEND":
            break
        pos = end
    if not idats:
        raise _CorruptError("it has no image data (IDAT chunk)")
    clear = False
    if ctype == 3 and trns:
        entries = len(palette) // 3
        clear = entries > 0 and len(alphas) >= entries and not alphas[:entries].strip(b"\0")
    elif ctype in (4, 6) and interlace == 0:
        clear = _png_alpha_all_zero(view, idats, w, h, (2 if ctype == 4 else 4) * depth // 8, depth)
    mode, channels = {
        0: ("gray", 1),
        2: ("rgb", 3),
        3: ("palette", 4 if trns else 3),
        4: ("gray_alpha", 2),
        6: ("rgba", 4),
    }[ctype]
    return _Pixels(w, h, channels, depth, mode, ctype in (4, 6) or trns, clear)


def _png_alpha_all_zero(
    view: memoryview, idats: list[tuple[int, int]], width: int, height: int, bpp: int, depth: int
) -> bool:
    """Whether every alpha sample of a non-interlaced grey+alpha or RGBA PNG is 0.

    Reads the filtered rows: PNG filters predict a byte from the same byte of neighbouring
    pixels, so the alpha bytes are all 0 after filtering exactly when they are all 0 before.
    Stops at the first visible pixel (the first row, for an ordinary image)."""
    stride = width * bpp + 1
    if stride * height > ALPHA_SCAN_BYTES:
        return False  # too big to read whole in bounded time: the service judges it
    first_alpha = bpp - depth // 8
    decoder = zlib.decompressobj()
    pending = bytearray()
    rows = 0
    try:
        for start, end in idats:
            data: bytes | memoryview = view[start:end]
            while data:
                # Never more than the declared rows: a stream that inflates past its height
                # (a decompression bomb) is not read any further.
                pending += decoder.decompress(data, min(1 << 20, (height - rows) * stride))
                data = decoder.unconsumed_tail
                full = len(pending) // stride * stride
                for offset in range(0, full, stride):
                    line = bytes(pending[offset + 1 : offset + stride])
                    for k in range(first_alpha, bpp):
                        if line[k::bpp].strip(b"\0"):
                            return False
                rows += full // stride
                del pending[:full]
                if rows >= height:
                    return True
    except zlib.error:
        return False  # damaged pixel data: not this check's business
    return rows >= height


_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
"""The first marker after a JPEG scan: 0xFF followed by neither a stuffed 0, RSTn nor 0xFF."""
ALPHA_SCAN_BYTES = 64 * 1024 * 1024
"""The most pixel data read to tell whether an image is fully transparent (bounded time)."""

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(d: bytes) -> _Pixels:
    n, pos = len(d), 2
    sof: tuple[int, int, int, int] | None = None
    adobe: int | None = None
    while True:
        pos = d.find(b"\xff", pos)  # skips stray bytes between segments, as libjpeg does
        if pos < 0:
            raise _TruncatedError("it ends before the end-of-image marker")
        while pos < n and d[pos] == 0xFF:
            pos += 1
        if pos >= n:
            raise _TruncatedError("it ends before the end-of-image marker")
        marker = d[pos]
        pos += 1
        if marker == 0xD9:
            break
        if marker in (0x00, 0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            continue
        _need(d, pos + 2, f"marker {marker:02X} segment")
        (length,) = struct.unpack_from(">H", d, pos)
        if length < 2:
            raise _CorruptError(f"segment {marker:02X} has an impossible length")
        _need(d, pos + length, f"marker {marker:02X} segment")
        segment = d[pos + 2 : pos + length]
        if marker in _SOF and sof is None:
            if len(segment) < 6:
                raise _CorruptError("its image header (SOF) is too short")
            sof = struct.unpack_from(">BHHB", segment)
        elif marker == 0xEE and segment.startswith(b"Adobe") and len(segment) >= 12:
            adobe = segment[11]
        pos += length
        if marker == 0xDA:
            if sof is None:
                raise _CorruptError("its image data comes before its image header")
            # Entropy-coded data: 0xFF is escaped as FF00; RSTn markers sit inside it. One
            # regular-expression search (C speed): a scan of escaped bytes takes no Python loop.
            found = _SCAN_END.search(d, pos)
            if found is None:
                raise _TruncatedError("it ends inside the image data (no end-of-image marker)")
            pos = found.start()
    if sof is None:
        raise _CorruptError("it has no image header (SOF marker)")
    precision, h, w, components = sof
    if components == 1:
        mode = "gray"
    elif components == 3:
        mode = "rgb"
    elif components == 4:
        # Adobe APP14 transform 2 marks YCCK; anything else with 4 components is CMYK.
        mode = "ycck" if adobe == 2 else "cmyk"
    else:
        mode = "unknown"
    return _Pixels(w, h, components, precision, mode)


def _webp(d: bytes) -> _Pixels:
    _need(d, 25, "WebP header")
    (riff,) = struct.unpack_from("<I", d, 4)
    end = 8 + riff
    if end > len(d):
        raise _TruncatedError(f"it holds {len(d)} of the {end} bytes its header declares")
    kind = d[12:16]
    alpha = False
    _need(d, 30 if kind in (b"VP8 ", b"VP8X") else 25, "WebP header")
    if kind == b"VP8 ":
        if d[23:26] != b"\x9d\x01\x2a":
            raise _CorruptError("its VP8 frame header is missing")
        w, h = (v & 0x3FFF for v in struct.unpack_from("<HH", d, 26))
    elif kind == b"VP8L":
        if d[20] != 0x2F:
            raise _CorruptError("its lossless header is missing")
        (bits,) = struct.unpack_from("<I", d, 21)
        w, h = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        alpha = bool(bits >> 28 & 1)
    elif kind == b"VP8X":
        alpha = bool(d[20] & 0x10)
        w = 1 + int.from_bytes(d[24:27], "little")
        h = 1 + int.from_bytes(d[27:30], "little")
    else:
        name = kind.decode("latin-1", "replace").strip()
        raise _CorruptError(f"its first chunk ({name}) is not an image chunk")
    pos = 12
    while pos < end:
        _need(d, pos + 8, "chunk list")
        name = d[pos : pos + 4].decode("latin-1", "replace")
        (size,) = struct.unpack_from("<I", d, pos + 4)
        pos += 8 + size + (size & 1)
        if pos > end + 1:  # the last odd-sized chunk's padding byte is sometimes omitted
            raise _TruncatedError(f"its {name.strip()} chunk is cut short")
    return _Pixels(w, h, 4 if alpha else 3, 8, "rgba" if alpha else "rgb", alpha)


def _gif(d: bytes) -> _Pixels:
    _need(d, 13, "GIF header")
    w, h, packed = struct.unpack_from("<HHB", d, 6)
    n, pos = len(d), 13
    if packed & 0x80:
        pos += 3 * (2 << (packed & 7))
    frames, transparent = 0, False

    def skip_blocks(p: int) -> int:
        while True:
            if p >= n:
                raise _TruncatedError("it ends inside an image block")
            size = d[p]
            p += 1
            if size == 0:
                return p
            p += size

    while True:
        if pos >= n:
            if frames:
                break  # a missing trailer after complete frames is harmless
            raise _TruncatedError("it ends before its first image")
        block = d[pos]
        if block == 0x3B:
            break
        if block == 0x21:
            _need(d, pos + 2, "extension block")
            if d[pos + 1] == 0xF9 and pos + 3 < n and d[pos + 2] == 4:
                transparent = transparent or bool(d[pos + 3] & 1)
            pos = skip_blocks(pos + 2)
        elif block == 0x2C:
            _need(d, pos + 11, "image descriptor")
            local = d[pos + 9]
            pos += 10
            if local & 0x80:
                pos += 3 * (2 << (local & 7))
            pos = skip_blocks(pos + 1)  # +1: LZW minimum code size
            frames += 1
        else:
            raise _CorruptError(f"unknown block {block:02X} at byte {pos}")
    return _Pixels(w, h, 4 if transparent else 3, 8, "palette", transparent)


def _bmp(d: bytes) -> _Pixels:
    _need(d, 26, "BMP header")
    (offset,) = struct.unpack_from("<I", d, 10)
    (dib,) = struct.unpack_from("<I", d, 14)
    _need(d, 14 + dib, "BMP header")
    compression = 0
    if dib == 12:
        w, h, _, bpp = struct.unpack_from("<HHHH", d, 18)
    elif dib >= 40:
        w, h, _, bpp, compression = struct.unpack_from("<iiHHI", d, 18)
    else:
        raise _CorruptError(f"its header size {dib} is not a BMP header size")
    h = abs(h)  # negative height: rows stored top-down
    if bpp not in (1, 2, 4, 8, 16, 24, 32, 64) or w < 0:
        raise _CorruptError(f"{bpp} bits per pixel is not a BMP pixel format")
    alpha = False
    if bpp == 32 and compression in (3, 6) and (dib >= 56 or compression == 6):
        _need(d, 70, "BMP colour masks")
        alpha = struct.unpack_from("<I", d, 66)[0] != 0
    if compression in (0, 3, 6):
        row = (bpp * w + 31) // 32 * 4
        if offset + row * h > len(d):
            raise _TruncatedError(f"it holds {len(d) - offset} of {row * h} bytes of pixels")
    elif offset >= len(d):
        raise _TruncatedError("it ends before its pixels")
    if bpp <= 8:
        return _Pixels(w, h, 3, bpp, "palette")
    if alpha:
        return _Pixels(w, h, 4, 8, "rgba", True)
    return _Pixels(w, h, 3, 5 if bpp == 16 else 8, "rgb")


_TIFF_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_TIFF_SIZES |= {16: 8, 17: 8, 18: 8}
_TIFF_INTS = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I", 16: "Q", 17: "q", 18: "Q"}


# Width, height, bits, photometric, strips, samples, strip sizes, tiles, tile sizes, extra samples.
_TIFF_TAGS = {256, 257, 258, 262, 273, 277, 279, 324, 325, 338}


def _tiff(d: bytes) -> _Pixels:
    e = "<" if d[:2] == b"II" else ">"
    big = struct.unpack_from(e + "H", d, 2)[0] == 43
    _need(d, 16 if big else 8, "TIFF header")
    ifd = struct.unpack_from(e + ("Q" if big else "I"), d, 8 if big else 4)[0]
    count_fmt, entry_size, field = ("Q", 20, 8) if big else ("H", 12, 4)
    if ifd < 8:
        raise _CorruptError("its first directory offset is impossible")
    _need(d, ifd + struct.calcsize(count_fmt), "image directory")
    (count,) = struct.unpack_from(e + count_fmt, d, ifd)
    first = ifd + struct.calcsize(count_fmt)
    _need(d, first + count * entry_size, "image directory")
    tags: dict[int, list[int]] = {}
    for i in range(count):
        at = first + i * entry_size
        tag, typ = struct.unpack_from(e + "HH", d, at)
        (n,) = struct.unpack_from(e + ("Q" if big else "I"), d, at + 4)
        code = _TIFF_INTS.get(typ)
        if code is None or tag not in _TIFF_TAGS:
            continue  # e.g. maker notes: their offsets are often wrong and never matter here
        nbytes = n * _TIFF_SIZES[typ]
        where = at + 4 + field
        if nbytes > field:
            where = struct.unpack_from(e + ("Q" if big else "I"), d, where)[0]
            _need(d, where + nbytes, f"value of tag {tag}")
        tags[tag] = list(struct.unpack_from(f"{e}{n}{code}", d, where))
    try:
        w, h = tags[256][0], tags[257][0]
    except (KeyError, IndexError):
        raise _CorruptError("its image directory has no width or height") from None
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
        if offsets and counts:
            end = max(o + c for o, c in zip(offsets, counts, strict=False))
            if end > len(d):
                raise _TruncatedError(f"it holds {len(d)} of the {end} bytes its pixels need")
            break
    else:
        raise _CorruptError("it has no image data (strips or tiles)")
    spp = (tags.get(277) or [1])[0]
    bits = (tags.get(258) or [1])[0]
    photometric = (tags.get(262) or [-1])[0]
    alpha = any(v in (1, 2) for v in tags.get(338, []))
    if photometric in (0, 1):
        mode = "gray_alpha" if alpha else "gray"
    elif photometric in (2, 6):
        mode = "rgba" if alpha else "rgb"
    elif photometric == 3:
        mode = "palette"
    elif photometric == 5 and spp >= 4:
        mode = "cmyk"
    else:
        mode = "unknown"
    return _Pixels(w, h, spp, bits, mode, alpha)


def _tga(d: bytes) -> _Pixels:
    """TGA has no magic number: a header that fails these checks means "not a TGA"."""
    if len(d) < 18:
        raise _NotImageError
    id_len, map_type, kind = d[0], d[1], d[2]
    _, map_len, map_bits, _, _, w, h, depth, descriptor = struct.unpack_from("<HHBHHHHBB", d, 3)
    sane = (
        map_type in (0, 1)
        and kind in (1, 2, 3, 9, 10, 11)
        and (kind in (1, 9)) == (map_type == 1)
        and depth in (8, 15, 16, 24, 32)
        and (map_type == 0 or map_bits in (15, 16, 24, 32))
        and w > 0
        and h > 0
        and descriptor & 0xC0 == 0
    )
    if not sane:
        raise _NotImageError
    start = 18 + id_len + (map_len * ((map_bits + 7) // 8) if map_type else 0)
    if kind in (1, 2, 3):
        need = start + w * h * ((depth + 7) // 8)
        if need > len(d):
            raise _TruncatedError(f"it holds {len(d)} of the {need} bytes its pixels need")
    elif start >= len(d):
        raise _TruncatedError("it ends before its pixels")
    alpha_bits = descriptor & 0x0F
    if kind in (1, 9):
        return _Pixels(w, h, 3, depth, "palette")
    if kind in (3, 11):
        if depth == 16:
            return _Pixels(w, h, 2, 8, "gray_alpha", True)
        return _Pixels(w, h, 1, depth, "gray")
    if depth == 32 and alpha_bits:
        return _Pixels(w, h, 4, 8, "rgba", True)
    return _Pixels(w, h, 3, 8 if depth >= 24 else 5, "rgb")


_EXR_LINES = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256}


def _cstr(d: bytes, pos: int, what: str) -> tuple[str, int]:
    end = d.find(b"\x00", pos, pos + 256)
    if end < 0:
        if len(d) < pos + 256:
            raise _TruncatedError(f"it ends inside the {what}")
        raise _CorruptError(f"its {what} is garbage")
    return d[pos:end].decode("latin-1"), end + 1


def _exr(d: bytes) -> _Pixels:
    _need(d, 8, "EXR header")
    (version,) = struct.unpack_from("<I", d, 4)
    flags = version >> 8
    pos = 8
    attrs: dict[str, bytes] = {}
    while True:
        name, pos = _cstr(d, pos, "header")
        if not name:
            break
        _, pos = _cstr(d, pos, "header")
        _need(d, pos + 4, "header")
        (size,) = struct.unpack_from("<i", d, pos)
        pos += 4
        if size < 0:
            raise _CorruptError(f"its {name} attribute has a negative size")
        _need(d, pos + size, f"{name} attribute")
        attrs[name] = d[pos : pos + size]
        pos += size
    window, chlist = attrs.get("dataWindow"), attrs.get("channels")
    if window is None or len(window) != 16 or chlist is None:
        raise _CorruptError("its header has no data window or channel list")
    x0, y0, x1, y1 = struct.unpack("<iiii", window)
    w, h = x1 - x0 + 1, y1 - y0 + 1
    names, depths, cpos = [], [], 0
    while cpos < len(chlist) and chlist[cpos] != 0:
        cname, cpos = _cstr(chlist, cpos, "channel list")
        if cpos + 16 > len(chlist):
            raise _CorruptError("its channel list is cut short")
        (ptype,) = struct.unpack_from("<i", chlist, cpos)
        names.append(cname.rsplit(".", 1)[-1])
        depths.append(16 if ptype == 1 else 32)
        cpos += 16
    # Single-part scan-line files: the offset table must point inside the file.
    if not flags & (0x2 | 0x8 | 0x10) and w > 0 and h > 0:
        compression = attrs.get("compression", b"\x00")[0]
        chunks = math.ceil(h / _EXR_LINES.get(compression, 1))
        _need(d, pos + 8 * chunks, "offset table")
        for (offset,) in struct.iter_unpack("<Q", d[pos : pos + 8 * chunks]):
            if offset < pos + 8 * chunks or offset + 8 > len(d):
                raise _TruncatedError("its offset table points past the end of the file")
            (size,) = struct.unpack_from("<i", d, offset + 4)
            if offset + 8 + size > len(d):
                raise _TruncatedError("its last block of pixels is cut short")
    alpha = "A" in names
    if {"R", "G", "B"} <= set(names):
        mode = "rgba" if alpha else "rgb"
    elif "Y" in names:
        mode = "gray_alpha" if alpha else "gray"
    else:
        mode = "unknown"
    return _Pixels(w, h, len(names) or None, max(depths, default=None), mode, alpha)


_HDR_RESOLUTION = re.compile(rb"([-+])([XY]) (\d+) ([-+])([XY]) (\d+)")


def _hdr(d: bytes) -> _Pixels:
    end = d.find(b"\n\n", 0, 65536)
    if end < 0:
        if len(d) < 65536:
            raise _TruncatedError("it ends inside its header")
        raise _CorruptError("its header never ends")
    line_end = d.find(b"\n", end + 2)
    if line_end < 0:
        raise _TruncatedError("it ends inside its resolution line")
    match = _HDR_RESOLUTION.fullmatch(d[end + 2 : line_end].strip())
    if match is None:
        raise _CorruptError("its resolution line is garbage")
    sizes = {match[2]: int(match[3]), match[5]: int(match[6])}
    if set(sizes) != {b"X", b"Y"}:
        raise _CorruptError("its resolution line is garbage")
    if line_end + 1 >= len(d):
        raise _TruncatedError("it ends before its pixels")
    return _Pixels(sizes[b"X"], sizes[b"Y"], 3, 32, "rgb")


def _boxes(d: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """ISO-BMFF boxes in d[start:end] as (type, payload start, box end)."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", d, pos)
        header = 8
        if size == 1:
            _need(d, pos + 16, f"{kind.decode('latin-1')} box")
            (size,) = struct.unpack_from(">Q", d, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise _CorruptError(f"box {kind!r} has an impossible size")
        if pos + size > end:
            raise _TruncatedError(f"its {kind.decode('latin-1', 'replace')} box is cut short")
        yield kind, pos + header, pos + size
        pos += size


def _heif(d: bytes) -> _Pixels:
    """AVIF and HEIC: the sizes live in ispe properties inside meta/iprp/ipco."""
    sizes: list[tuple[int, int]] = []
    channels: int | None = None
    depth: int | None = None
    alpha = False
    for kind, start, end in _boxes(d, 0, len(d)):
        if kind != b"meta":
            continue
        for mkind, mstart, mend in _boxes(d, start + 4, end):  # +4: FullBox version/flags
            if mkind != b"iprp":
                continue
            for pkind, pstart, pend in _boxes(d, mstart, mend):
                if pkind != b"ipco":
                    continue
                for prop, start2, end2 in _boxes(d, pstart, pend):
                    body = d[start2 + 4 : end2]
                    if prop == b"ispe" and len(body) >= 8:
                        sizes.append(struct.unpack_from(">II", body))
                    elif prop == b"pixi" and body and channels is None:
                        channels = body[0]
                        depth = body[1] if len(body) > 1 else None
                    elif prop == b"auxC" and (b"alpha" in body or b"auxid:1" in body):
                        alpha = True
    if not sizes:
        raise _CorruptError("its size is not recorded (no ispe property)")
    # Grid images (phones) list every tile and the whole image: the largest is the image.
    w, h = max(sizes, key=lambda s: s[0] * s[1])
    if channels == 1:
        mode = "gray_alpha" if alpha else "gray"
    else:
        mode = "rgba" if alpha else "rgb"
    return _Pixels(w, h, channels, depth, mode, alpha)


_PARSERS = {
    "png": _png,
    "jpeg": _jpeg,
    "webp": _webp,
    "gif": _gif,
    "bmp": _bmp,
    "tiff": _tiff,
    "tga": _tga,
    "exr": _exr,
    "hdr": _hdr,
    "avif": _heif,
    "heic": _heif,
}


# -- files -------------------------------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _read(path: str) -> bytes:
    """The whole file, or InputError saying what is wrong with the path."""
    quoted = f'Reference image "{path}"'
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(
                f"{quoted} is a link to a file that does not exist.",
                fix="Pick the image the link pointed to.",
            ) from None
        raise InputError(
            f"{quoted} does not exist.", fix="Check the path, or pick the image again."
        ) from None
    except PermissionError:
        raise _unreadable(quoted) from None
    except OSError as exc:
        raise InputError(
            f"{quoted} cannot be read ({exc.strerror or exc}).", fix="Check the path."
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{quoted} is a folder, not an image file.", fix="Pick an image file.")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{quoted} is not a regular file.", fix="Pick an image file.")
    if st.st_size == 0:
        raise InputError(f"{quoted} is empty (0 bytes).", fix=_FIX_DAMAGED)
    if st.st_size > MAX_UPLOAD_BYTES:
        raise InputError(
            f"{quoted} is {_mb(st.st_size)}: images larger than "
            f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB cannot be uploaded.",
            fix="Save a smaller copy (as JPEG, or with fewer pixels).",
        )
    try:
        with open(path, "rb") as file:
            return file.read(MAX_UPLOAD_BYTES + 1)
    except PermissionError:
        raise _unreadable(quoted) from None
    except OSError as exc:
        raise InputError(
            f"{quoted} cannot be read ({exc.strerror or exc}).",
            fix="Check the disk or copy the file somewhere else.",
        ) from None


def _unreadable(quoted: str) -> InputError:
    return InputError(
        f"{quoted} cannot be read: permission denied.",
        fix="Give your user read access to the file (or to its folder), or copy it elsewhere.",
    )


def _format_of(path: str, data: bytes) -> str | None:
    fmt = sniff(data)
    if fmt is None and path.lower().endswith(_TGA_EXTENSIONS):
        return "tga"
    return fmt


def inspect(path: str | os.PathLike[str]) -> ImageInfo:
    """Read a reference image's format, size and pixel layout from its content.

    Raises InputError naming the file, what is wrong and what to do: missing, a folder,
    unreadable, empty, larger than MAX_UPLOAD_BYTES, not an image, truncated or corrupt.
    """
    path = os.fspath(path)
    data = _read(path)
    quoted = f'Reference image "{path}"'
    fmt = _format_of(path, data)
    content = _describe(data)
    not_image = InputError(
        f"{quoted} is not an image (its content is {content}), whatever its extension.",
        fix=_FIX_VECTOR if "SVG" in content else _FIX_NOT_IMAGE,
    )
    if fmt is None:
        raise not_image
    try:
        pixels = _PARSERS[fmt](data)
    except _NotImageError:
        raise not_image from None
    except _TruncatedError as exc:
        raise InputError(
            f"{quoted} is truncated: {exc}. It may still be copying or downloading, or was "
            "saved incompletely.",
            fix=_FIX_DAMAGED,
        ) from None
    except (_CorruptError, struct.error, IndexError, ValueError, OverflowError) as exc:
        # A header lying about sizes can send a parser past the data: damaged all the same.
        detail = str(exc) if isinstance(exc, _CorruptError) else "its header is inconsistent"
        raise InputError(
            f"{quoted} is a corrupt {_fmt_name(fmt)} file: {detail}.", fix=_FIX_DAMAGED
        ) from None
    if pixels.width <= 0 or pixels.height <= 0:
        raise InputError(
            f"{quoted} is a corrupt {_fmt_name(fmt)} file: it declares a size of "
            f"{pixels.width}x{pixels.height} pixels.",
            fix=_FIX_DAMAGED,
        )
    return ImageInfo(
        path=path,
        format=fmt,
        mime=mime_for(fmt),
        width=pixels.width,
        height=pixels.height,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        channels=pixels.channels,
        bit_depth=pixels.bit_depth,
        color_mode=pixels.color_mode,
        has_alpha=pixels.has_alpha,
        fully_transparent=pixels.fully_transparent,
    )


def needs_conversion(info: ImageInfo) -> bool:
    """Whether the Blender layer must convert the file to an 8-bit PNG before upload.

    Scenario takes PNG, JPEG, WebP, GIF, TIFF, AVIF and HEIC uploads; float and 16-bit
    images, TGA, BMP and CMYK/YCCK colour are safer converted first.
    """
    return _conversion_reason(info) != ""


def _conversion_reason(info: ImageInfo) -> str:
    if info.format in ("exr", "hdr", "tga", "bmp"):
        return f"a {_fmt_name(info.format)} file"
    if info.color_mode in ("cmyk", "ycck"):
        return f"a {info.color_mode.upper()} {_fmt_name(info.format)}"
    if info.format in ("png", "tiff") and (info.bit_depth or 8) > 8:
        return f"a {info.bit_depth}-bit {_fmt_name(info.format)}"
    return ""


def check(path: str | os.PathLike[str]) -> tuple[ImageInfo, list[str]]:
    """inspect() plus the rules: InputError for a refusal, warnings (non-blocking) otherwise."""
    info = inspect(path)
    w, h = info.width, info.height
    quoted = f'Reference image "{info.path}"'
    if min(w, h) < MIN_SIDE:
        raise InputError(
            f"{quoted} is {w}x{h} pixels: each side must be at least {MIN_SIDE} pixels.",
            fix="Use a larger image (1024 pixels or more gives the best results).",
        )
    if max(w, h) > MAX_SIDE:
        raise InputError(
            f"{quoted} is {w}x{h} pixels: each side must be at most {MAX_SIDE} pixels.",
            fix=f"Save a copy scaled down to at most {MAX_SIDE} pixels on its longest side.",
        )
    if info.fully_transparent:
        raise InputError(
            f"{quoted} is fully transparent: every pixel's alpha is 0, so there is nothing to "
            "model.",
            fix="Export the image again with its colours visible (or without an alpha channel).",
        )
    name = os.path.basename(info.path)
    warnings: list[str] = []
    ratio = max(w, h) / min(w, h)
    if ratio > ASPECT_WARNING:
        shape = "wide" if w > h else "tall"
        warnings.append(
            f'"{name}" is {w}x{h} pixels, a very {shape} image ({ratio:.1f}:1): crop it '
            "around the subject for a better result."
        )
    if info.has_alpha:
        warnings.append(
            f'"{name}" has an alpha channel: transparent areas are treated as background.'
        )
    reason = _conversion_reason(info)
    if reason:
        warnings.append(f'"{name}" is {reason}: it will be converted to an 8-bit PNG for upload.')
    return info, warnings


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 hex of a file's content, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_url(path_or_bytes: str | os.PathLike[str] | bytes) -> str:
    """A data URL ("data:<mime>;base64,...") of a file or of image bytes.

    Raises InputError if the content is not an image.
    """
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        data = bytes(path_or_bytes)
        fmt = sniff(data)
        where = "The image data"
    else:
        path = os.fspath(path_or_bytes)
        data = _read(path)
        fmt = _format_of(path, data)
        where = f'Reference image "{path}"'
    if fmt is None:
        content = _describe(data)
        raise InputError(
            f"{where} is not an image (its content is {content}).",
            fix=_FIX_VECTOR if "SVG" in content else _FIX_NOT_IMAGE,
        )
    return f"data:{mime_for(fmt)};base64,{base64.b64encode(data).decode('ascii')}"
