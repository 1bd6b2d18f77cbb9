"""Benchmark helper: a loopback HTTP server streaming a generated file with a valid GLB header.

Run as its own process (`python bench/glb_server.py`), so the process whose memory is measured
holds only the client. It prints its port, then serves `GET /<name>.glb?size=N`: N bytes, a
12-byte GLB header whose declared length is N, then filler, written 1 MiB at a time.
"""

from __future__ import annotations

import http.server
import struct
import sys
from urllib.parse import parse_qs, urlsplit

BLOCK = b"\x5a" * (1 << 20)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        query = parse_qs(urlsplit(self.path).query)
        size = int(query.get("size", ["1048576"])[0])
        self.send_response(200)
        self.send_header("Content-Type", "model/gltf-binary")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        header = b"glTF" + struct.pack("<II", 2, size)
        self.wfile.write(header)
        left = size - len(header)
        view = memoryview(BLOCK)
        try:
            while left > 0:
                n = min(left, len(BLOCK))
                self.wfile.write(view[:n])
                left -= n
        except (BrokenPipeError, ConnectionResetError):
            pass


def main() -> int:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
