"""Real glTF 2.0 binaries (and an OBJ) of a lathed vase, made in code for the stand-in and tests."""

from __future__ import annotations

import functools
import json
import math
import struct
import sys
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass

_HEIGHT = 0.42  # metres: a table vase, so imports land at a believable real-world size
_FLOAT = 5126
_UINT16 = 5123
_UINT32 = 5125
_ARRAY_BUFFER = 34962
_ELEMENT_ARRAY_BUFFER = 34963
_GLB_MAGIC = 0x46546C67  # "glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942


@dataclass(frozen=True)
class Mesh:
    """Flat vertex arrays (float32 xyz, xyz, uv) and triangle indices of one closed mesh."""

    positions: array[float]
    normals: array[float]
    uvs: array[float]
    indices: array[int]

    @property
    def vertex_count(self) -> int:
        return len(self.positions) // 3

    @property
    def triangle_count(self) -> int:
        return len(self.indices) // 3

    def bounds(self) -> tuple[list[float], list[float]]:
        lo = [min(self.positions[axis::3]) for axis in range(3)]
        hi = [max(self.positions[axis::3]) for axis in range(3)]
        return lo, hi


def profile_radius(t: float) -> float:
    """Vase profile: radius in metres at height fraction t (foot, belly, neck, flared lip)."""
    belly = 0.085 * math.exp(-(((t - 0.36) / 0.22) ** 2))
    lip = 0.03 * math.exp(-(((t - 1.0) / 0.09) ** 2))
    return 0.052 + belly - 0.022 * t + lip


def _split(triangles: int) -> tuple[int, int]:
    """Segments around and bands along the height giving about `triangles` triangles
    (2 per band quad plus 2 cap fans): 2*s*b + 2*s with b ~ s/2."""
    target = max(triangles, 64)
    segments = max(8, round(math.sqrt(target)))
    bands = max(2, round((target - 2 * segments) / (2 * segments)))
    return segments, bands


@functools.lru_cache(maxsize=16)
def vase_mesh(triangles: int = 2000) -> Mesh:
    """The vase as a closed triangle mesh (a UV seam and separate cap vertices keep normals
    and UVs sharp where they must be); Y up, base on y=0, centred on the Y axis."""
    segments, bands = _split(triangles)
    pos = array("f")
    nor = array("f")
    uv = array("f")
    idx = array("I")
    cos_sin = [
        (math.cos(2 * math.pi * j / segments), math.sin(2 * math.pi * j / segments))
        for j in range(segments + 1)
    ]
    dt = 1e-4
    for i in range(bands + 1):
        t = i / bands
        r = profile_radius(t)
        slope = (profile_radius(min(t + dt, 1.0)) - profile_radius(max(t - dt, 0.0))) / (
            min(t + dt, 1.0) - max(t - dt, 0.0)
        )
        dr_dy = slope / _HEIGHT
        scale = 1.0 / math.sqrt(1.0 + dr_dy * dr_dy)
        y = t * _HEIGHT
        for j, (c, s) in enumerate(cos_sin):
            pos.extend((r * c, y, r * s))
            nor.extend((c * scale, -dr_dy * scale, s * scale))
            # glTF's v runs downwards from the top of the image: the image's top is the lip
            uv.extend((j / segments, 1.0 - t))
    row = segments + 1
    for i in range(bands):
        for j in range(segments):
            a = i * row + j
            b = a + 1
            d = a + row
            c = d + 1
            # counter-clockwise seen from outside, as glTF requires for front faces
            idx.extend((a, d, c, a, c, b))
    # caps: a ring of their own vertices (flat normal) fanned around a centre vertex
    for t, ny in ((0.0, -1.0), (1.0, 1.0)):
        r = profile_radius(t)
        y = t * _HEIGHT
        centre = len(pos) // 3
        pos.extend((0.0, y, 0.0))
        nor.extend((0.0, ny, 0.0))
        uv.extend((0.5, 0.5))
        first = centre + 1
        for c, s in cos_sin[:segments]:
            pos.extend((r * c, y, r * s))
            nor.extend((0.0, ny, 0.0))
            uv.extend((0.5 + 0.5 * c, 0.5 + 0.5 * s))
        for j in range(segments):
            k = first + j
            n = first + (j + 1) % segments
            idx.extend((centre, k, n) if ny < 0 else (centre, n, k))
    return Mesh(pos, nor, uv, idx)


# --- PNG writing, fast enough for 2K textures in pure Python ---------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_from_rows(width: int, height: int, row: Callable[[int], bytes], channels: int = 3) -> bytes:
    """An 8-bit RGB/RGBA PNG whose scanline y is `row(y)` (width*channels bytes)."""
    colour_type = {3: 2, 4: 6}[channels]
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        line = row(y)
        if len(line) != width * channels:
            raise ValueError(f"row {y} has {len(line)} bytes, expected {width * channels}")
        raw += line
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 6))
        + _png_chunk(b"IEND", b"")
    )


def _interleave(size: int, r: bytes, g: bytes, b: bytes) -> bytes:
    line = bytearray(size * 3)
    line[0::3] = r
    line[1::3] = g
    line[2::3] = b
    return bytes(line)


@functools.lru_cache(maxsize=8)
def base_color_png(size: int = 256) -> bytes:
    """Glazed-ceramic look: horizontal bands in warm colours with a checker so UVs show."""
    cell = max(size // 16, 1)
    checker = [bytes(40 if ((x // cell) + k) % 2 else 0 for x in range(size)) for k in (0, 1)]
    # per-row pieces are precomputed: a 2K texture is 2048 rows of 6 KB, built by slicing
    reds = {
        (band, k): bytes(min(255, (200 if band else 60) + c // 4) for c in checker[k])
        for band in (0, 1)
        for k in (0, 1)
    }
    blue = bytes(min(255, (x * 255 // max(size - 1, 1)) // 2 + 40) for x in range(size))

    def row(y: int) -> bytes:
        red = reds[((y * 8 // size) % 2, (y // cell) % 2)]
        return _interleave(size, red, bytes([90 + (y * 120 // size)]) * size, blue)

    return png_from_rows(size, size, row)


@functools.lru_cache(maxsize=8)
def normal_png(size: int = 256) -> bytes:
    """Tangent-space normal map: flat (128, 128, 255) with shallow horizontal grooves."""
    flat = _interleave(size, b"\x80" * size, b"\x80" * size, b"\xff" * size)
    groove = _interleave(size, b"\x80" * size, b"\x60" * size, b"\xf0" * size)
    period = max(size // 32, 2)
    return png_from_rows(size, size, lambda y: groove if y % period == 0 else flat)


@functools.lru_cache(maxsize=8)
def metallic_roughness_png(size: int = 256) -> bytes:
    """glTF packs roughness in G and metalness in B: a mostly rough, non-metal glaze."""
    ramp = bytes(150 + (x * 80 // max(size - 1, 1)) for x in range(size))

    def row(y: int) -> bytes:
        metal = 0 if (y * 8 // size) % 2 else 30
        return _interleave(size, b"\x00" * size, ramp, bytes([metal]) * size)

    return png_from_rows(size, size, row)


# --- GLB assembly ------------------------------------------------------------------------------


def _le(values: array[float] | array[int]) -> bytes:
    if sys.byteorder == "big":  # glTF is little-endian
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 4)


def _build(mesh: Mesh, textures: tuple[bytes, bytes, bytes] | None, name: str) -> bytes:
    buffer = bytearray()
    views: list[dict[str, object]] = []

    def add_view(data: bytes, target: int | None) -> int:
        buffer.extend(b"\x00" * (-len(buffer) % 4))
        view: dict[str, object] = {"buffer": 0, "byteOffset": len(buffer), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        buffer.extend(data)
        views.append(view)
        return len(views) - 1

    lo, hi = mesh.bounds()
    wide = mesh.vertex_count > 65535
    indices = mesh.indices if wide else array("H", mesh.indices)
    accessors: list[dict[str, object]] = [
        {
            "bufferView": add_view(_le(mesh.positions), _ARRAY_BUFFER),
            "componentType": _FLOAT,
            "count": mesh.vertex_count,
            "type": "VEC3",
            "min": lo,
            "max": hi,
        },
        {
            "bufferView": add_view(_le(mesh.normals), _ARRAY_BUFFER),
            "componentType": _FLOAT,
            "count": mesh.vertex_count,
            "type": "VEC3",
        },
        {
            "bufferView": add_view(_le(mesh.uvs), _ARRAY_BUFFER),
            "componentType": _FLOAT,
            "count": mesh.vertex_count,
            "type": "VEC2",
        },
        {
            "bufferView": add_view(_le(indices), _ELEMENT_ARRAY_BUFFER),
            "componentType": _UINT32 if wide else _UINT16,
            "count": len(indices),
            "type": "SCALAR",
        },
    ]
    primitive: dict[str, object] = {
        "attributes": {"POSITION": 0, "NORMAL": 1, "TEXCOORD_0": 2},
        "indices": 3,
        "mode": 4,
    }
    doc: dict[str, object] = {
        "asset": {"version": "2.0", "generator": "YVO3D stand-in (tests/standin/glb.py)"},
        "scene": 0,
        "scenes": [{"name": "Scene", "nodes": [0]}],
        "nodes": [{"name": name, "mesh": 0}],
        "meshes": [{"name": name, "primitives": [primitive]}],
        "accessors": accessors,
        "bufferViews": views,
    }
    if textures is not None:
        images = []
        for label, png in zip(
            ("base_color", "normal", "metallic_roughness"), textures, strict=True
        ):
            images.append(
                {"name": label, "mimeType": "image/png", "bufferView": add_view(png, None)}
            )
        doc["images"] = images
        doc["samplers"] = [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]
        doc["textures"] = [{"sampler": 0, "source": i} for i in range(3)]
        doc["materials"] = [
            {
                "name": f"{name}_material",
                "pbrMetallicRoughness": {
                    "baseColorTexture": {"index": 0},
                    "metallicRoughnessTexture": {"index": 2},
                    # factors multiply the texture, so 1.0 lets the texture decide
                    "metallicFactor": 1.0,
                    "roughnessFactor": 1.0,
                },
                "normalTexture": {"index": 1, "scale": 1.0},
            }
        ]
        primitive["material"] = 0
    buffer.extend(b"\x00" * (-len(buffer) % 4))
    doc["buffers"] = [{"byteLength": len(buffer)}]
    json_chunk = _pad(json.dumps(doc, separators=(",", ":")).encode(), b" ")
    bin_chunk = bytes(buffer)
    total = 12 + 8 + len(json_chunk) + 8 + len(bin_chunk)
    return (
        struct.pack("<III", _GLB_MAGIC, 2, total)
        + struct.pack("<II", len(json_chunk), _CHUNK_JSON)
        + json_chunk
        + struct.pack("<II", len(bin_chunk), _CHUNK_BIN)
        + bin_chunk
    )


@functools.lru_cache(maxsize=32)
def textured_glb(
    *, triangles: int = 2000, texture_size: int = 256, base_color_png: bytes | None = None
) -> bytes:
    """A textured vase (base colour, normal and metallic-roughness PNGs embedded), like the GLB
    of a textured single-image generation. `base_color_png` replaces the base colour image."""
    colour = base_color_png if base_color_png is not None else _default_base(texture_size)
    textures = (colour, normal_png(texture_size), metallic_roughness_png(texture_size))
    return _build(vase_mesh(triangles), textures, "Vase")


def _default_base(size: int) -> bytes:
    return base_color_png(size)


@functools.lru_cache(maxsize=8)
def shape_glb(*, triangles: int = 2000) -> bytes:
    """The same vase with no material and no textures, like a shape-only generation."""
    return _build(vase_mesh(triangles), None, "Vase")


@functools.lru_cache(maxsize=4)
def obj_text(*, triangles: int = 200) -> str:
    """A small Wavefront OBJ of the same vase (the alternate asset a job may return)."""
    mesh = vase_mesh(triangles)
    lines = ["# YVO3D stand-in vase", "o Vase"]
    p, n, t = mesh.positions, mesh.normals, mesh.uvs
    for i in range(mesh.vertex_count):
        lines.append(f"v {p[3 * i]:.5f} {p[3 * i + 1]:.5f} {p[3 * i + 2]:.5f}")
    for i in range(mesh.vertex_count):
        # OBJ's v runs upwards, glTF's downwards
        lines.append(f"vt {t[2 * i]:.5f} {1.0 - t[2 * i + 1]:.5f}")
    for i in range(mesh.vertex_count):
        lines.append(f"vn {n[3 * i]:.5f} {n[3 * i + 1]:.5f} {n[3 * i + 2]:.5f}")
    ix = mesh.indices
    for k in range(0, len(ix), 3):
        a, b, c = ix[k] + 1, ix[k + 1] + 1, ix[k + 2] + 1
        lines.append(f"f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}")
    return "\n".join(lines) + "\n"


def read_glb(data: bytes) -> tuple[dict[str, object], bytes]:
    """Split a GLB into its JSON document and binary chunk, checking the container format."""
    if len(data) < 20:
        raise ValueError("too short for a GLB")
    magic, version, length = struct.unpack_from("<III", data, 0)
    if magic != _GLB_MAGIC or version != 2:
        raise ValueError(f"not a glTF 2.0 binary (magic {magic:#x}, version {version})")
    if length != len(data):
        raise ValueError(f"header says {length} bytes, got {len(data)}")
    json_len, json_type = struct.unpack_from("<II", data, 12)
    if json_type != _CHUNK_JSON:
        raise ValueError("first chunk is not JSON")
    doc = json.loads(data[20 : 20 + json_len])
    offset = 20 + json_len
    binary = b""
    if offset < len(data):
        bin_len, bin_type = struct.unpack_from("<II", data, offset)
        if bin_type != _CHUNK_BIN:
            raise ValueError("second chunk is not BIN")
        binary = data[offset + 8 : offset + 8 + bin_len]
    return doc, binary


def glb_triangles(data: bytes) -> int:
    """Triangle count of every indexed triangle primitive in a GLB."""
    doc, _ = read_glb(data)
    accessors = doc["accessors"]
    assert isinstance(accessors, list)
    total = 0
    for mesh in doc.get("meshes", []):  # type: ignore[attr-defined]
        for prim in mesh["primitives"]:
            total += accessors[prim["indices"]]["count"] // 3
    return total
