"""The structure check every GLB passes before it is kept or imported: it may reference nothing
outside itself, its declared lengths fit the file, its textures have sane sizes.

Blender-free. Blender's glTF importer resolves an image or buffer `uri` against the file's folder
and packs what it finds into the scene: a hostile GLB naming `../../config/userpref.blend` would
carry the user's API key into every .blend saved after the import. Only `data:` URIs pass.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
from typing import Any

from . import errors

MAX_JSON = 64 * 1024 * 1024  # the JSON chunk of a real result is a few KB
MAX_TEXTURE_SIDE = 16384  # the largest texture a GPU takes; bigger is a decompression bomb
HEAD_READ = 1024 * 1024  # how much of an embedded image is read to find its size
_JSON, _BIN = 0x4E4F534A, 0x004E4942

_NOT_GLB_FIX = (
    "The file cannot be used: it is not the GLB model Scenario should send. Check the job "
    "on app.scenario.com."
)


def _refuse(message: str, fix: str = _NOT_GLB_FIX) -> errors.UnsafeFileError:
    return errors.UnsafeFileError(message, fix=fix)


def describe_other(head: bytes) -> str:
    """What a file that is not a GLB looks like, from its first bytes."""
    text = head.lstrip()[:64].lower()
    if text.startswith(b"{"):
        return "a glTF JSON file (.gltf), which refers to other files"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive"
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        return "a web page or XML document"
    if not head:
        return "an empty file"
    return "not a GLB file"


def check(path: str, *, max_texture_side: int = MAX_TEXTURE_SIDE) -> None:
    """UnsafeFileError unless `path` is a self-contained GLB whose lengths fit the file."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(20)
        if len(head) < 12 or head[:4] != b"glTF":
            raise _refuse(f"The result is {describe_other(head)}, not a GLB model.")
        version, length = struct.unpack_from("<II", head, 4)
        if version != 2:
            raise _refuse(f"The result is a glTF version {version} file; only version 2 is read.")
        if length != size:
            raise _refuse(f"The GLB declares {length} bytes but the file has {size}.")
        if len(head) < 20:
            raise _refuse("The GLB has no JSON chunk.")
        json_len, json_type = struct.unpack_from("<II", head, 12)
        if json_type != _JSON or json_len > min(MAX_JSON, size - 20):
            raise _refuse("The GLB's JSON chunk is missing or larger than the file allows.")
        try:
            doc = json.loads(fh.read(json_len))
        except (ValueError, UnicodeDecodeError):
            raise _refuse("The GLB's JSON chunk is not valid JSON.") from None
        if not isinstance(doc, dict):
            raise _refuse("The GLB's JSON chunk is not a glTF document.")
        bin_start, bin_len = _bin_chunk(fh, 20 + json_len, size)
        lengths = _buffers(doc, bin_len)
        views = _views(doc, lengths)
        for index, image in enumerate(_list(doc, "images")):
            _check_image(fh, doc, image, index, views, bin_start, max_texture_side)


def _list(doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _refuse(f"The GLB's `{key}` list is malformed.")
    return value


def _bin_chunk(fh: Any, pos: int, size: int) -> tuple[int, int]:
    pos += (4 - pos % 4) % 4
    if pos + 8 > size:
        return pos, 0
    fh.seek(pos)
    chunk_len, chunk_type = struct.unpack("<II", fh.read(8))
    if chunk_type != _BIN:
        return pos, 0
    if chunk_len > size - pos - 8:
        raise _refuse("The GLB's binary chunk is larger than the file.")
    return pos + 8, chunk_len


def _data_uri(uri: str, what: str) -> bytes:
    """The first bytes of a data: URI's payload; UnsafeFileError for any other URI."""
    if not uri[:5].lower() == "data:":
        raise _refuse(
            f"The GLB's {what} points to a file outside it ({_short(uri)}); it was not imported "
            "so that no file on this computer can be read into the scene.",
        )
    header, _, payload = uri.partition(",")
    if not header.endswith(";base64"):
        return payload[:HEAD_READ].encode("latin-1", "replace")
    chunk = payload[: HEAD_READ // 3 * 4]
    try:
        return base64.b64decode(chunk[: len(chunk) // 4 * 4], validate=False)
    except (binascii.Error, ValueError):
        raise _refuse(f"The GLB's {what} holds damaged base64 data.") from None


def _short(uri: str) -> str:
    text = "".join(c if c.isprintable() else "?" for c in uri[:80])
    return repr(text + ("…" if len(uri) > 80 else ""))


def _buffers(doc: dict[str, Any], bin_len: int) -> list[int]:
    lengths = []
    for index, buffer in enumerate(_list(doc, "buffers")):
        length = buffer.get("byteLength")
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise _refuse(f"The GLB's buffer {index} has no valid byteLength.")
        uri = buffer.get("uri")
        if uri is None:
            if length > bin_len:
                raise _refuse(f"The GLB's buffer {index} declares more bytes than the file holds.")
        elif not isinstance(uri, str):
            raise _refuse(f"The GLB's buffer {index} has a malformed uri.")
        else:
            _data_uri(uri, f"buffer {index}")
            if length > len(uri):
                raise _refuse(f"The GLB's buffer {index} declares more bytes than it holds.")
        lengths.append(length)
    return lengths


def _views(doc: dict[str, Any], lengths: list[int]) -> list[tuple[int, int, int]]:
    views = []
    for index, view in enumerate(_list(doc, "bufferViews")):
        numbers = (view.get("buffer"), view.get("byteOffset", 0), view.get("byteLength"))
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
            raise _refuse(f"The GLB's buffer view {index} is malformed.")
        buffer, offset, length = (int(n or 0) for n in numbers)
        if buffer >= len(lengths) or offset + length > lengths[buffer]:
            raise _refuse(f"The GLB's buffer view {index} reaches past its buffer.")
        views.append((buffer, offset, length))
    return views


def _check_image(
    fh: Any,
    doc: dict[str, Any],
    image: dict[str, Any],
    index: int,
    views: list[tuple[int, int, int]],
    bin_start: int,
    max_side: int,
) -> None:
    uri, view = image.get("uri"), image.get("bufferView")
    if uri is not None:
        if not isinstance(uri, str):
            raise _refuse(f"The GLB's image {index} has a malformed uri.")
        head = _data_uri(uri, f"image {index}")
    elif isinstance(view, int) and not isinstance(view, bool) and 0 <= view < len(views):
        buffer, offset, length = views[view]
        if buffer != 0 or "uri" in _list(doc, "buffers")[0]:
            return  # a data: buffer, checked above; its image is small by the JSON cap
        fh.seek(bin_start + offset)
        head = fh.read(min(length, HEAD_READ))
    else:
        raise _refuse(f"The GLB's image {index} has neither a valid uri nor a buffer view.")
    found = image_size(head)
    if found is None:
        raise _refuse(
            f"The GLB's texture {index} is not a PNG, JPEG or WebP image whose size can be read."
        )
    width, height = found
    if max(width, height) > max_side or min(width, height) <= 0:
        raise _refuse(
            f"The GLB's texture {index} declares {width}x{height} pixels (at most "
            f"{max_side} per side are accepted): decoding it could exhaust memory.",
        )


def image_size(head: bytes) -> tuple[int, int] | None:
    """Width and height from the first bytes of a PNG, JPEG or WebP; None when unknown."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24:
        width, height = struct.unpack_from(">II", head, 16)
        return int(width), int(height)
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(head)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        kind = head[12:16]
        if kind == b"VP8X":
            w = int.from_bytes(head[24:27], "little") + 1
            return w, int.from_bytes(head[27:30], "little") + 1
        if kind == b"VP8 ":
            w, h = struct.unpack_from("<HH", head, 26)
            return w & 0x3FFF, h & 0x3FFF
        if kind == b"VP8L":
            (bits,) = struct.unpack_from("<I", head, 21)
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


def _jpeg_size(d: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(d):
        if d[pos] != 0xFF:
            pos += 1
            continue
        marker = d[pos + 1]
        if marker == 0xFF or marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack_from(">H", d, pos + 2)
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
            if pos + 9 > len(d):
                return None
            height, width = struct.unpack_from(">HH", d, pos + 5)
            return int(width), int(height)
        if marker in (0xD9, 0xDA) or length < 2:
            return None
        pos += 2 + length
    return None


def picture_ok(path: str, max_side: int) -> bool:
    """A preview or thumbnail small enough to decode: PNG, JPEG or WebP, sides <= max_side."""
    try:
        with open(path, "rb") as fh:
            found = image_size(fh.read(256 * 1024))
    except OSError:
        return False
    return found is not None and 0 < min(found) and max(found) <= max_side
