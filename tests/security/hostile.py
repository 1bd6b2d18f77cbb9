"""Hostile material for the security tests: GLBs that reach outside themselves or lie about
their sizes, decompression bombs, and a tiny HTTP server that answers whatever a test says.

Standard library only: used by the core tests (tests/security) and the Blender ones
(tests/blender/test_security_*.py).
"""

from __future__ import annotations

import http.server
import json
import struct
import threading
import zlib
from collections.abc import Callable
from typing import Any

from tests.standin import glb

SECRET_KEY = "hostile-test-key-5f3a9c"
SECRET_VALUE = "hostile-test-secret-8e21d7b4"


def pack_glb(doc: dict[str, Any], binary: bytes = b"") -> bytes:
    """A GLB container around `doc` and `binary` (lengths as written, padded to 4 bytes)."""
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text
    if binary:
        body += struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body


def textured() -> tuple[dict[str, Any], bytes]:
    """The stand-in's textured vase, as (document, binary chunk) to tamper with."""
    doc, binary = glb.read_glb(glb.textured_glb(triangles=200, texture_size=16))
    return dict(doc), binary


def with_image_uri(uri: str) -> bytes:
    """The textured vase whose first image is read from `uri` instead of its own bytes."""
    doc, binary = textured()
    images = list(doc["images"])
    images[0] = {"uri": uri, "mimeType": "image/png"}
    doc["images"] = images
    return pack_glb(doc, binary)


def with_buffer_uri(uri: str) -> bytes:
    doc, binary = textured()
    doc["buffers"] = [{"uri": uri, "byteLength": len(binary)}]
    return pack_glb(doc, b"")


def png_header(width: int, height: int) -> bytes:
    """The first bytes of an RGBA PNG declaring width x height (enough for any size check)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_texture_glb(side: int = 30000) -> bytes:
    """The vase whose texture is a small PNG declaring side x side pixels (a bomb to decode)."""
    doc, binary = textured()
    image = doc["images"][0]
    view = doc["bufferViews"][image["bufferView"]]
    start = view.get("byteOffset", 0)
    fake = (
        png_header(side, side) + _chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + _chunk(b"IEND", b"")
    )
    fake += b"\0" * (view["byteLength"] - len(fake))
    assert len(fake) == view["byteLength"], "the fixture texture is too small to replace"
    binary = binary[:start] + fake + binary[start + len(fake) :]
    return pack_glb(doc, binary)


def png_bomb(side: int = 8192, extra_rows: int = 8 * 8192) -> bytes:
    """A valid-looking fully transparent RGBA PNG of side x side whose zlib stream inflates to
    `extra_rows` more rows than its height says (a decompression bomb of zeros)."""
    stride = side * 4 + 1
    packer = zlib.compressobj(9)
    row_block = b"\0" * (stride * 256)
    parts = []
    for _ in range((side + extra_rows) // 256):
        parts.append(packer.compress(row_block))
    parts.append(packer.flush())
    data = b"".join(parts)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")
    )


def jpeg_long_scan(megabytes: int = 40) -> bytes:
    """A JPEG whose scan is `megabytes` of escaped 0xFF bytes (FF 00), then its end marker."""
    sof = (
        b"\xff\xc0"
        + struct.pack(">HBHHB", 17, 8, 64, 64, 3)
        + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    )
    sos = b"\xff\xda" + struct.pack(">HB", 12, 3) + b"\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    return b"\xff\xd8" + sof + sos + b"\xff\x00" * (megabytes * 512 * 1024) + b"\xff\xd9"


Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


class HostileServer:
    """Loopback HTTP server: `routes[path]` handles GET/POST of that path (query ignored);
    every request line and its headers are kept in `log`."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.log: list[tuple[str, str, dict[str, str]]] = []
        owner = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _any(self) -> None:
                path = self.path.split("?", 1)[0]
                owner.log.append((self.command, self.path, dict(self.headers)))
                route = owner.routes.get(path)
                if route is None:
                    self.send_error(404)
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _any  # noqa: N815 - http.server names

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> HostileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def reply(status: int, body: bytes, headers: dict[str, str] | None = None) -> Handler:
    def handle(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for name, value in (headers or {"Content-Length": str(len(body))}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)

    return handle


def every_file_bytes(root: str) -> bytes:
    """Every byte of every file under `root` (to look for a secret in what was written)."""
    import os

    out = []
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                with open(os.path.join(folder, name), "rb") as fh:
                    out.append(fh.read())
            except OSError:
                pass
    return b"\n".join(out)
