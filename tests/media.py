"""Test media made in code (no binary fixtures): PNG images of any size, depth and channel count."""

from __future__ import annotations

import struct
import zlib

_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(
    width: int,
    height: int,
    *,
    channels: int = 3,
    bit_depth: int = 8,
    pixel=None,
) -> bytes:
    """A valid PNG. `pixel(x, y) -> tuple of `channels` ints` (0-255, or 0-65535 for 16 bit);
    the default draws a colourful gradient with a checker so textures are visibly textures."""
    if channels not in _COLOR_TYPE or bit_depth not in (8, 16):
        raise ValueError("channels must be 1-4 and bit_depth 8 or 16")
    top = 255 if bit_depth == 8 else 65535

    def default(x: int, y: int) -> tuple[int, ...]:
        checker = ((x // 16) + (y // 16)) % 2
        r = x * 255 // max(width - 1, 1)
        g = y * 255 // max(height - 1, 1)
        b = 200 if checker else 60
        rgba = (r, g, b, 255)
        scale = top // 255
        if channels == 1:
            return ((r + g + b) // 3 * scale,)
        if channels == 2:
            return ((r + g + b) // 3 * scale, 255 * scale)
        return tuple(v * scale for v in rgba[:channels])

    draw = pixel or default
    fmt = ">" + ("B" if bit_depth == 8 else "H") * channels
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows += struct.pack(fmt, *draw(x, y))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, _COLOR_TYPE[channels], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + _chunk(b"IEND", b"")
    )
