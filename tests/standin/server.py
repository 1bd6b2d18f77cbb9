"""Local stand-in of Scenario's cloud API (the calls the add-on makes) with faults on demand.

Standard library only: it runs in the test venv, in the bpy venv and as a subprocess
(`python -m tests.standin`). Behaviour follows /work/shared/scenario_api.md sections 0-5 and 8.

Routes and their names (for `fault()`, `count()` and `log`):

    upload          POST /v1/assets                      JSON {name, image (data URL or base64)}
    uploads_create  POST /v1/uploads                     multipart upload: returns part URLs
    upload_part     PUT  /s3/parts/<upload>/<n>?...      signed; refuses an Authorization header
    uploads_action  POST /v1/uploads/<id>/action         {"action": "complete"}
    uploads_get     GET  /v1/uploads/<id>                complete -> imported (entityId) / failed
    model           GET  /v1/models/<id>
    estimate        POST /v1/generate/custom/<model>?dryRun=true   -> 269 with the price
    generate        POST /v1/generate/custom/<model>     paid: creates a job
    job             GET  /v1/jobs/<id>
    cancel          POST /v1/jobs/<id>/action            {"action": "cancel"}
    asset           GET  /v1/assets/<id>                 fresh signed URL on every call
    download        GET  /cdn/<asset>/<file>?...         signed; refuses Authorization; Range
    download_redirect GET /redirect/<asset>/<file>?...   302 to the download route
    unknown         anything else (404)

Control (no auth, not counted): GET /_standin/stats, POST /_standin/fault,
POST /_standin/script_job, POST /_standin/reset, POST /_standin/expire.

Fault semantics: `delay` waits first; then `status` answers with that status (the request is
not processed); `drop` and `truncate` process the request first (a paid job is created) and
lose or cut the answer, except on the download routes, where `drop` cuts the body halfway.
`hold` processes the request and then answers late (a paid job exists while its creator still
waits for the job id); on the download routes it sends the first half of the body, then waits
before the rest (a client killed meanwhile leaves a partial file). Waits end when the stand-in
stops. Each log entry also records the request's `range` header (None when absent).
"""

from __future__ import annotations

import base64
import binascii
import collections
import functools
import hashlib
import hmac
import http.server
import json
import secrets
import socket
import struct
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from . import glb
from .model import MODEL_ID, is_textured, model_record, price, validate

BODY_LIMIT = 10 * 1024 * 1024  # the gateway's cap on API request bodies
PART_LIMIT = 512 * 1024 * 1024
UPLOAD_KINDS = {"3d", "asset", "audio", "avatar", "image", "model", "text", "video"}
TERMINAL = {"success", "failure", "canceled"}
# the order a job lists its assets in: a derived FBX conversion comes before the GLB, as a real
# job's list may (scenario_api.md, corrections of 2026-12-04)
ASSET_TYPES = ("fbx", "png", "texture", "glb", "obj")
DEFAULT_ASSETS = ("glb", "png", "obj", "fbx")
CANNOT_CANCEL = {"reason": "Cannot cancel this type of job. Action not permitted."}
"""Scenario's answer to cancelling a custom job (SDK resources/jobs.py: only inference jobs)."""
URL_LIFETIME = 3600  # seconds a signed URL is valid (the real lifetime is not documented)

_GATEWAY_HTML = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n</body>\r\n</html>\r\n"
)
_DEFAULT_BODIES: dict[int, dict[str, Any]] = {
    401: {"reason": "Unauthorized"},
    402: {"reason": "Not enough creative units"},
    403: {"message": "API Keys cannot access protected resources"},
    404: {"reason": "not found"},
    413: {"reason": "Payload Too Large"},
    429: {"reason": "cooldown", "remainingSeconds": 1},
}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(16).replace('-', 'x').replace('_', 'y')}"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def sniff_mime(data: bytes) -> str | None:
    """MIME type of an image the service accepts, from its first bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heif"):
            return "image/heic"
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml"
    return None


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return None


@dataclass
class Fault:
    """One queued misbehaviour for a route (see the module docstring)."""

    status: int | None = None
    body: dict[str, Any] | str | None = None
    headers: dict[str, str | None] | None = None  # a None value leaves a default header out
    delay: float = 0.0
    drop: bool = False
    truncate: int | None = None
    remaining: int | None = 1  # None: forever
    hold: float = 0.0


@dataclass
class Script:
    """How the next paid job behaves."""

    outcome: str = "success"
    statuses: list[str] | None = None
    error: str = "The generation failed."
    hint: str = "Try another image."
    assets: tuple[str, ...] = DEFAULT_ASSETS
    seconds: float | None = None


@dataclass
class Asset:
    id: str
    kind: str
    mime: str
    filename: str
    metadata: dict[str, Any]
    properties: dict[str, Any]
    content: Callable[[], bytes]
    created: str
    source: str
    job_id: str | None = None  # a job's output is visible only once the job succeeded
    preview_id: str | None = None  # the asset's own preview picture (GLB -> its render)


@dataclass
class Job:
    id: str
    type: str
    created_mono: float
    created_wall: datetime
    input: dict[str, Any]
    cost: int
    script: Script
    seconds: float
    asset_ids: list[str] = field(default_factory=list)
    canceled_at: float | None = None
    upload_id: str | None = None


@dataclass
class Upload:
    id: str
    file_name: str
    file_size: int
    content_type: str
    kind: str
    parts_count: int
    job_id: str
    created: str
    status: str = "pending"
    parts: dict[int, bytes] = field(default_factory=dict)
    completed_mono: float | None = None
    entity_id: str | None = None
    error_message: str | None = None
    updated: str = ""


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _json_reply(status: int, payload: object, headers: dict[str, str] | None = None) -> Reply:
    all_headers = {"Content-Type": "application/json; charset=utf-8"}
    all_headers.update(headers or {})
    return Reply(status, json.dumps(payload).encode(), all_headers)


def _fault_reply(fault: Fault) -> Reply:
    status = fault.status or 500
    headers: dict[str, str] = {}
    if status == 429:
        headers["Retry-After"] = "1"
    for name, value in (fault.headers or {}).items():
        if value is None:
            headers.pop(name, None)  # e.g. a 429 with remainingSeconds but no Retry-After
        else:
            headers[name] = value
    body = fault.body
    if body is None:
        if status in (502, 504):
            body = _GATEWAY_HTML.format(code=status, phrase=_phrase(status))
        else:
            body = _DEFAULT_BODIES.get(status, {"reason": _phrase(status) or "Error"})
    if isinstance(body, str):
        headers.setdefault("Content-Type", "text/html")
        return Reply(status, body.encode(), headers)
    return _json_reply(status, body, headers)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: StandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up (timeouts, dropped faults) is normal here, not worth a trace
        exc = traceback.format_exc()
        if "ConnectionResetError" in exc or "BrokenPipeError" in exc or "TimeoutError" in exc:
            return
        self.standin.errors.append(exc)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: tests read `StandIn.log` instead

    def setup(self) -> None:
        super().setup()
        self.server.standin._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.standin._track(self.connection, False)

    def do_GET(self) -> None:
        self.server.standin._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.standin._handle(self, "POST")

    def do_PUT(self) -> None:
        self.server.standin._handle(self, "PUT")

    def do_HEAD(self) -> None:
        self.server.standin._handle(self, "HEAD")

    def do_DELETE(self) -> None:
        self.server.standin._handle(self, "DELETE")

    def do_PATCH(self) -> None:
        self.server.standin._handle(self, "PATCH")


def _read_body(handler: _Handler, limit: int) -> tuple[bytes, bool]:
    """The request body (Content-Length or chunked) and whether it exceeded `limit`; an
    oversized body is still read to the end so the connection stays usable."""
    chunks: list[bytes] = []
    total = 0
    over = False

    def take(data: bytes) -> None:
        nonlocal total, over
        total += len(data)
        if total > limit:
            over = True
            chunks.clear()
        elif not over:
            chunks.append(data)

    rfile = handler.rfile
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        while True:
            size_line = rfile.readline(65537)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                break
            remaining = size
            while remaining:
                data = rfile.read(min(remaining, 1 << 20))
                if not data:
                    raise ConnectionResetError("client closed mid-body")
                take(data)
                remaining -= len(data)
            rfile.readline(3)
    else:
        remaining = int(handler.headers.get("Content-Length") or 0)
        while remaining > 0:
            data = rfile.read(min(remaining, 1 << 20))
            if not data:
                raise ConnectionResetError("client closed mid-body")
            take(data)
            remaining -= len(data)
    return b"".join(chunks), over


class StandIn:
    """Scenario's API on 127.0.0.1 for tests and demos (see the module docstring)."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        api_secret: str = "test-secret",
        job_seconds: float = 1.0,
        large_glb: bool = False,
        latency: float = 0.0,
        port: int = 0,
        redirect_downloads: bool = False,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.job_seconds = job_seconds
        self.large_glb = large_glb
        self.latency = latency
        self.redirect_downloads = redirect_downloads
        """Hand out asset URLs that answer 302 to the real download route first."""
        # How the real service behaves (scenario_api.md, corrections of 2026-12-04); tests
        # can change each one.
        self.cancellable = False
        """False: cancelling a custom job answers Scenario's 400 (True: the job stops)."""
        self.glb_mimes: tuple[str, ...] = ("model/gltf-binary", "model/glb")
        """GLB assets are typed with these in turn, one per paid job."""
        self.asset_pending_seconds = 0.3
        """A job's assets stay `pending` (no URL) this long after the job's success."""
        self.upload_final = "complete"
        """The status a multipart upload ends at, with its entityId: complete or imported."""
        self.ignore_dry_run = False
        """A fault: a proxy that drops `dryRun`, so a price check starts a paid job."""
        self.port = port
        self.base_url = ""
        self.root_url = ""
        self.paid_requests = 0
        self.log: list[dict[str, Any]] = []
        self.errors: list[str] = []
        """Tracebacks of the stand-in's own bugs (a test can assert this stays empty)."""
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._counts: collections.Counter[str] = collections.Counter()
        self._faults: dict[str, collections.deque[Fault]] = collections.defaultdict(
            collections.deque
        )
        self._scripts: collections.deque[Script] = collections.deque()
        self._assets: dict[str, Asset] = {}
        self._jobs: dict[str, Job] = {}
        self._uploads: dict[str, Upload] = {}
        self._url_generation = 1
        self._sign_key = secrets.token_bytes(32)
        self._started_wall = datetime.now(UTC)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> StandIn:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.standin = self
        self._server = server
        port = server.server_address[1]
        self.root_url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.root_url}/v1"
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        # keep-alive connections would otherwise still be answered by their handler threads
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, opened: bool) -> None:
        with self._lock:
            if opened:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # --- test controls --------------------------------------------------------------------

    def fault(
        self,
        route: str,
        *,
        status: int | None = None,
        body: dict[str, Any] | str | None = None,
        headers: dict[str, str | None] | None = None,
        delay: float = 0.0,
        drop: bool = False,
        truncate: int | None = None,
        times: int | None = 1,
        hold: float = 0.0,
    ) -> None:
        """Misbehave on the next `times` requests to `route` (None: until reset)."""
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for forever)")
        if status is None and not drop and truncate is None and delay <= 0 and hold <= 0:
            raise ValueError("a fault needs a status, drop, truncate, delay or hold")
        with self._lock:
            self._faults[route].append(
                Fault(status, body, dict(headers or {}), delay, drop, truncate, times, hold)
            )

    def script_job(
        self,
        *,
        outcome: str = "success",
        statuses: list[str] | None = None,
        error: str = "The generation failed.",
        hint: str = "Try another image.",
        assets: tuple[str, ...] | list[str] = DEFAULT_ASSETS,
        seconds: float | None = None,
    ) -> None:
        """How the next paid job behaves (scripts queue up, one per paid generate).

        outcome: success | failure (metadata.error/hint) | canceled (service-side, midway) |
        never (in-progress forever); `statuses` replaces the state walk with this list, walked
        evenly over the duration (the last one stays); `assets` any of fbx, png, texture,
        glb, obj.
        """
        if outcome not in ("success", "failure", "canceled", "never"):
            raise ValueError(f"unknown outcome {outcome!r}")
        unknown = set(assets) - set(ASSET_TYPES)
        if unknown:
            raise ValueError(f"unknown asset types {sorted(unknown)}; use {ASSET_TYPES}")
        if statuses is not None and not statuses:
            raise ValueError("statuses must not be empty")
        with self._lock:
            self._scripts.append(
                Script(
                    outcome,
                    list(statuses) if statuses else None,
                    error,
                    hint,
                    tuple(assets),
                    seconds,
                )
            )

    def expire_downloads(self) -> None:
        """Every signed URL issued so far (downloads and part uploads) answers 403 from now on."""
        with self._lock:
            self._url_generation += 1

    def count(self, route: str) -> int:
        """Requests received on `route`, faulted ones included."""
        with self._lock:
            return self._counts[route]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def clear_faults(self) -> None:
        """End every pending fault (counts and the log stay)."""
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Clear faults, counts, scripts, the log and paid_requests (jobs and assets stay)."""
        with self._lock:
            self._faults.clear()
            self._counts.clear()
            self._scripts.clear()
            self.log.clear()
            self.paid_requests = 0

    def job(self, job_id: str) -> dict[str, Any]:
        """The job as GET /v1/jobs/{id} would show it now."""
        with self._lock:
            return self._job_json(self._jobs[job_id], time.monotonic())

    def job_ids(self) -> list[str]:
        with self._lock:
            return [j.id for j in self._jobs.values() if j.type == "custom"]

    def asset_bytes(self, asset_id: str) -> bytes:
        """The content the download route serves for an asset."""
        with self._lock:
            asset = self._assets[asset_id]
        return asset.content()

    # --- request plumbing -----------------------------------------------------------------

    def _route(
        self, method: str, parts: list[str], query: dict[str, list[str]]
    ) -> tuple[str, list[str]]:
        n = len(parts)
        if n >= 1 and parts[0] == "v1":
            p = parts[1:]
            table: list[tuple[str, list[str], str]] = [
                ("POST", ["assets"], "upload"),
                ("GET", ["assets", "*"], "asset"),
                ("POST", ["uploads"], "uploads_create"),
                ("GET", ["uploads", "*"], "uploads_get"),
                ("POST", ["uploads", "*", "action"], "uploads_action"),
                ("GET", ["models", "*"], "model"),
                ("POST", ["generate", "custom", "*"], "generate"),
                ("GET", ["jobs", "*"], "job"),
                ("POST", ["jobs", "*", "action"], "cancel"),
            ]
            for verb, pattern, name in table:
                if verb == method and len(pattern) == len(p):
                    args = [seg for pat, seg in zip(pattern, p, strict=True) if pat == "*"]
                    if all(pat in ("*", seg) for pat, seg in zip(pattern, p, strict=True)):
                        dry = query.get("dryRun", [""])[0] in ("true", "api")
                        if name == "generate" and dry and not self.ignore_dry_run:
                            name = "estimate"
                        return name, args
            return "unknown", []
        if n == 3 and parts[0] == "cdn" and method in ("GET", "HEAD"):
            return "download", parts[1:]
        if n == 3 and parts[0] == "redirect" and method in ("GET", "HEAD"):
            return "download_redirect", parts[1:]
        if n == 4 and parts[:2] == ["s3", "parts"] and method == "PUT":
            return "upload_part", parts[2:]
        if n == 2 and parts[0] == "_standin":
            return "control", parts[1:]
        return "unknown", []

    def _handle(self, handler: _Handler, method: str) -> None:
        started = time.monotonic()
        url = urlsplit(handler.path)
        query = parse_qs(url.query)
        parts = [p for p in url.path.split("/") if p]
        route, args = self._route(method, parts, query)
        limit = PART_LIMIT if route == "upload_part" else BODY_LIMIT
        try:
            body, too_large = _read_body(handler, limit)
        except (ValueError, ConnectionError):
            handler.close_connection = True
            return
        if route == "control":
            try:
                reply = self._control(method, args[0], body)
            except Exception as exc:  # noqa: BLE001 - a bad control call is the caller's bug
                reply = _json_reply(400, {"reason": f"{type(exc).__name__}: {exc}"})
            self._send(handler, method, reply, None, route)
            return

        had_auth = handler.headers.get("Authorization") is not None
        with self._lock:
            self._counts[route] += 1
            if route == "generate":
                self.paid_requests += 1
            fault = self._take_fault(route)
            entry: dict[str, Any] = {
                "route": route,
                "method": method,
                "path": url.path,
                "query": url.query,
                "had_auth": had_auth,
                "range": handler.headers.get("Range"),
                "status": None,
                "fault": fault is not None,
                "time": time.time(),
            }
            self.log.append(entry)

        if self.latency > 0:
            self._stopping.wait(self.latency)
        if fault is not None and fault.delay > 0:
            self._stopping.wait(fault.delay)
        if self._stopping.is_set():
            handler.close_connection = True
            return

        if fault is not None and fault.status is not None and not fault.drop:
            reply = _fault_reply(fault)
        else:
            try:
                reply = self._dispatch(handler, route, args, query, body, too_large, method)
            except Exception:  # noqa: BLE001 - reported like a real 500, recorded for tests
                self.errors.append(traceback.format_exc())
                reply = _json_reply(500, {"reason": "Internal Server Error"})
        if fault is not None and fault.drop and not route.startswith("download"):
            entry["status"] = None
            handler.close_connection = True
            self._abort(handler)
            return
        if fault is not None and fault.hold > 0 and not route.startswith("download"):
            self._stopping.wait(fault.hold)  # processed, answered late
            if self._stopping.is_set():
                handler.close_connection = True
                return
        entry["status"] = reply.status
        entry["ms"] = round((time.monotonic() - started) * 1000)
        self._send(handler, method, reply, fault, route)

    def _take_fault(self, route: str) -> Fault | None:
        queue = self._faults.get(route)
        if not queue:
            return None
        fault = queue[0]
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
        return fault

    def _abort(self, handler: _Handler) -> None:
        # FIN, not RST: an RST may make the client's kernel discard bytes already sent, and
        # tests need to know exactly how much of a cut body arrived
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(
        self, handler: _Handler, method: str, reply: Reply, fault: Fault | None, route: str
    ) -> None:
        body = reply.body
        cut: int | None = None
        if fault is not None:
            if fault.truncate is not None:
                cut = max(0, min(fault.truncate, len(body)))
            elif fault.drop and route.startswith("download"):
                cut = len(body) // 2
        headers = {"Content-Length": str(len(body))}  # the full length, even when cut
        headers.update(reply.headers)
        if cut is not None:
            headers["Connection"] = "close"
        try:
            handler.send_response(reply.status, _phrase(reply.status) or None)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if method == "HEAD":
                return
            if fault is not None and fault.hold > 0 and route.startswith("download"):
                half = len(body) // 2
                handler.wfile.write(body[:half])
                handler.wfile.flush()
                self._stopping.wait(fault.hold)
                if self._stopping.is_set():
                    self._abort(handler)
                    return
                body = body[half:]
            handler.wfile.write(body if cut is None else body[:cut])
            if cut is not None:
                handler.wfile.flush()
                self._abort(handler)
        except (BrokenPipeError, ConnectionResetError):
            # the client gave up first (its timeout, or a test's): nothing left to tell it
            handler.close_connection = True

    # --- control endpoints ----------------------------------------------------------------

    def _control(self, method: str, name: str, body: bytes) -> Reply:
        data = json.loads(body) if body.strip() else {}
        if name == "stats" and method == "GET":
            with self._lock:
                return _json_reply(
                    200,
                    {
                        "counts": dict(self._counts),
                        "paid_requests": self.paid_requests,
                        "log": list(self.log),
                        "errors": list(self.errors),
                        "jobs": [j.id for j in self._jobs.values() if j.type == "custom"],
                    },
                )
        if method != "POST":
            return _json_reply(405, {"reason": "Method Not Allowed"})
        if name == "fault":
            route = data.pop("route")
            self.fault(route, **data)
        elif name == "script_job":
            if "assets" in data:
                data["assets"] = tuple(data["assets"])
            self.script_job(**data)
        elif name == "reset":
            self.reset()
        elif name == "expire":
            self.expire_downloads()
        else:
            return _json_reply(404, {"reason": "unknown control"})
        return _json_reply(200, {"ok": True})

    # --- the API --------------------------------------------------------------------------

    def _authorised(self, handler: _Handler) -> bool:
        header = handler.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        key, _, secret = decoded.partition(":")
        return hmac.compare_digest(key, self.api_key) and hmac.compare_digest(
            secret, self.api_secret
        )

    def _dispatch(
        self,
        handler: _Handler,
        route: str,
        args: list[str],
        query: dict[str, list[str]],
        body: bytes,
        too_large: bool,
        method: str,
    ) -> Reply:
        if route in ("download", "download_redirect", "upload_part"):
            return self._signed_route(handler, route, args, query, body, method)
        if route == "unknown":
            return _json_reply(404, {"reason": "not found"})
        if too_large:
            return _json_reply(413, {"reason": "Payload Too Large"})
        if not self._authorised(handler):
            return _json_reply(401, {"reason": "Unauthorized"})
        data: Any = None
        if method == "POST":
            try:
                data = json.loads(body) if body.strip() else {}
            except (ValueError, UnicodeDecodeError):
                return _json_reply(400, {"reason": "Invalid JSON body"})
        with self._lock:
            if route == "upload":
                return self._upload(data)
            if route == "uploads_create":
                return self._uploads_create(data)
            if route == "uploads_action":
                return self._uploads_action(args[0], data)
            if route == "uploads_get":
                return self._uploads_get(args[0])
            if route == "model":
                if args[0] != MODEL_ID:
                    return _json_reply(404, {"reason": "Model not found"})
                return _json_reply(200, {"model": model_record(_iso(self._started_wall))})
            if route in ("estimate", "generate"):
                return self._generate(args[0], data, dry_run=route == "estimate")
            if route == "job":
                job = self._jobs.get(args[0])
                if job is None:
                    return _json_reply(404, {"reason": "not found"})
                return _json_reply(200, {"job": self._job_json(job, time.monotonic())})
            if route == "cancel":
                return self._cancel(args[0], data)
            # route == "asset"
            asset = self._assets.get(args[0])
            if asset is None or not self._visible(asset):
                return _json_reply(404, {"reason": "not found"})
            url = self._asset_url(asset)
        # outside the lock: the first look at a large GLB builds it (about a second)
        return _json_reply(200, {"asset": self._asset_json(asset, url)})

    # assets

    def _signed_url(self, kind: str, path: str) -> str:
        expires = int(time.time()) + URL_LIFETIME
        generation = self._url_generation
        signature = hmac.new(
            self._sign_key, f"{path}|{expires}|{generation}".encode(), hashlib.sha256
        ).hexdigest()
        if kind == "s3":
            return (
                f"{self.root_url}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                f"&X-Amz-Credential=STANDIN{generation}&X-Amz-Expires={expires}"
                f"&X-Amz-Signature={signature}"
            )
        return (
            f"{self.root_url}{path}?Expires={expires}&Key-Pair-Id=STANDIN{generation}"
            f"&Signature={signature}"
        )

    def _check_signature(self, path: str, query: dict[str, list[str]]) -> str | None:
        """Why a signed URL is refused, or None."""

        def one(*names: str) -> str:
            for name in names:
                if name in query:
                    return query[name][0]
            return ""

        expires = one("Expires", "X-Amz-Expires")
        key_pair = one("Key-Pair-Id", "X-Amz-Credential")
        signature = one("Signature", "X-Amz-Signature")
        if not (expires.isdigit() and key_pair.startswith("STANDIN") and signature):
            return "Missing or malformed signature"
        generation = key_pair[len("STANDIN") :]
        expected = hmac.new(
            self._sign_key, f"{path}|{expires}|{generation}".encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return "Signature does not match"
        if int(expires) < time.time() or generation != str(self._url_generation):
            return "Request has expired"
        return None

    def _asset_url(self, asset: Asset) -> str:
        # the signature covers the /cdn/ path, so the redirect hop can pass its query on
        url = self._signed_url("cdn", f"/cdn/{asset.id}/{quote(asset.filename)}")
        if self.redirect_downloads:
            url = url.replace("/cdn/", "/redirect/", 1)
        return url

    def _asset_pending(self, asset: Asset) -> bool:
        if asset.job_id is None:
            return False
        job = self._jobs[asset.job_id]
        return time.monotonic() < job.created_mono + job.seconds + self.asset_pending_seconds

    def _asset_json(self, asset: Asset, url: str) -> dict[str, Any]:
        properties = dict(asset.properties)
        properties["size"] = len(asset.content())
        pending = self._asset_pending(asset)
        extra: dict[str, Any] = {}
        picture = self._assets.get(asset.preview_id or "")
        if picture is not None and not pending:
            link = {"assetId": picture.id, "url": self._asset_url(picture)}
            extra = {"preview": link, "thumbnail": link}
        return {
            **extra,
            "id": asset.id,
            "kind": asset.kind,
            "mimeType": asset.mime,
            "status": "pending" if pending else "success",
            "url": "" if pending else url,
            "metadata": dict(asset.metadata),
            "properties": properties,
            "source": asset.source,
            "createdAt": asset.created,
            "updatedAt": asset.created,
            "ownerId": "proj_standin",
            "authorId": "user_standin",
            "privacy": "private",
            "collectionIds": [],
            "tags": [],
            "editCapabilities": [],
        }

    def _add_image_asset(self, data: bytes, mime: str, name: str, source: str) -> Asset:
        properties: dict[str, Any] = {}
        dims = png_size(data)
        if dims is not None:
            properties["width"], properties["height"] = dims
        asset = Asset(
            id=_new_id("asset"),
            kind="image",
            mime=mime,
            filename=name or "image",
            metadata={"type": "uploaded", "kind": "image", "name": name},
            properties=properties,
            content=lambda: data,
            created=_iso(datetime.now(UTC)),
            source=source,
        )
        self._assets[asset.id] = asset
        return asset

    def _upload(self, data: Any) -> Reply:
        if not isinstance(data, dict):
            return _json_reply(400, {"reason": "Request body must be a JSON object"})
        name, image = data.get("name"), data.get("image")
        if not isinstance(name, str) or not name:
            return _json_reply(400, {"reason": "'name' is required"})
        if not isinstance(image, str) or not image:
            return _json_reply(400, {"reason": "'image' is required"})
        if image.startswith("data:"):
            header, sep, payload = image.partition(",")
            if not sep or not header.endswith(";base64"):
                return _json_reply(400, {"reason": "'image' must be a base64 data URL"})
        else:
            payload = image
        try:
            raw = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            return _json_reply(400, {"reason": "'image' is not valid base64"})
        if not raw:
            return _json_reply(400, {"reason": "'image' is empty"})
        # the declared type is not trusted: what the bytes are decides
        mime = sniff_mime(raw)
        if mime is None:
            return _json_reply(400, {"reason": "Unsupported image format"})
        asset = self._add_image_asset(raw, mime, name, "uploaded")
        return _json_reply(200, {"asset": self._asset_json(asset, self._asset_url(asset))})

    def _visible(self, asset: Asset) -> bool:
        if asset.job_id is None:
            return True
        job = self._jobs[asset.job_id]
        return self._state(job, time.monotonic())[0] == "success"

    def _signed_route(
        self,
        handler: _Handler,
        route: str,
        args: list[str],
        query: dict[str, list[str]],
        body: bytes,
        method: str,
    ) -> Reply:
        s3 = route == "upload_part"
        if handler.headers.get("Authorization") is not None:
            if s3:
                return self._s3_error(403, "AccessDenied", "Authorization header not allowed")
            return _json_reply(403, {"reason": "Authorization header not allowed on signed URLs"})
        path = urlsplit(handler.path).path
        signed_path = (
            path.replace("/redirect/", "/cdn/", 1) if route == "download_redirect" else path
        )
        with self._lock:
            refusal = self._check_signature(signed_path, query)
            if refusal is not None:
                if s3:
                    return self._s3_error(403, "AccessDenied", refusal)
                return _json_reply(403, {"reason": refusal})
            if s3:
                return self._put_part(args[0], args[1], body)
            asset = self._assets.get(args[0])
            if asset is None or not self._visible(asset):
                return _json_reply(404, {"reason": "not found"})
        if route == "download_redirect":
            target = f"{self.root_url}{signed_path}?{urlsplit(handler.path).query}"
            return Reply(302, b"", {"Location": target})
        return self._download(handler, asset)

    def _download(self, handler: _Handler, asset: Asset) -> Reply:
        content = asset.content()
        size = len(content)
        headers = {
            "Content-Type": asset.mime,
            "Accept-Ranges": "bytes",
            "ETag": '"' + hashlib.sha1(content).hexdigest() + '"',
            "Cache-Control": "private, max-age=3600",
        }
        wanted = handler.headers.get("Range", "")
        if wanted.startswith("bytes=") and "," not in wanted:
            first, _, last = wanted[6:].strip().partition("-")
            try:
                if first:
                    start = int(first)
                    end = int(last) if last else size - 1
                else:
                    start = max(0, size - int(last))
                    end = size - 1
            except ValueError:
                start, end = 0, -1
            end = min(end, size - 1)
            if start >= size or start > end:
                headers["Content-Range"] = f"bytes */{size}"
                return Reply(416, b"", headers)
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            return Reply(206, content[start : end + 1], headers)
        return Reply(200, content, headers)

    @staticmethod
    def _s3_error(status: int, code: str, message: str) -> Reply:
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        )
        return Reply(status, xml.encode(), {"Content-Type": "application/xml"})

    # multipart uploads

    def _upload_json(self, up: Upload, with_parts: bool = False) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": up.id,
            "status": up.status,
            "kind": up.kind,
            "fileName": up.file_name,
            "originalFileName": up.file_name,
            "fileSize": up.file_size,
            "contentType": up.content_type,
            "partsCount": up.parts_count,
            "jobId": up.job_id,
            "source": "multipart",
            "ownerId": "proj_standin",
            "authorId": "user_standin",
            "createdAt": up.created,
            "updatedAt": up.updated or up.created,
        }
        if with_parts:
            expires = _iso(datetime.now(UTC) + timedelta(seconds=URL_LIFETIME))
            record["parts"] = [
                {
                    "number": n,
                    "url": self._signed_url("s3", f"/s3/parts/{up.id}/{n}"),
                    "expires": expires,
                }
                for n in range(1, up.parts_count + 1)
            ]
        if up.entity_id:
            record["entityId"] = up.entity_id
        if up.error_message:
            record["errorMessage"] = up.error_message
        return record

    def _uploads_create(self, data: Any) -> Reply:
        if not isinstance(data, dict):
            return _json_reply(400, {"reason": "Request body must be a JSON object"})
        if "url" in data:
            return _json_reply(400, {"reason": "URL imports are not supported by the stand-in"})
        name, size, ctype = data.get("fileName"), data.get("fileSize"), data.get("contentType")
        kind, parts = data.get("kind"), data.get("parts", 1)
        if not isinstance(name, str) or not name:
            return _json_reply(400, {"reason": "'fileName' is required"})
        if isinstance(size, float) and size.is_integer():
            size = int(size)
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            return _json_reply(400, {"reason": "'fileSize' must be a positive integer"})
        if not isinstance(ctype, str) or "/" not in ctype:
            return _json_reply(400, {"reason": "'contentType' is required for multipart uploads"})
        if kind not in UPLOAD_KINDS:
            return _json_reply(400, {"reason": f"'kind' must be one of {sorted(UPLOAD_KINDS)}"})
        if isinstance(parts, float) and parts.is_integer():
            parts = int(parts)
        if not isinstance(parts, int) or isinstance(parts, bool) or not 1 <= parts <= 10000:
            return _json_reply(400, {"reason": "'parts' must be between 1 and 10000"})
        now = datetime.now(UTC)
        up = Upload(
            id=_new_id("upload"),
            file_name=name,
            file_size=size,
            content_type=ctype,
            kind=kind,
            parts_count=parts,
            job_id=_new_id("job"),
            created=_iso(now),
        )
        self._uploads[up.id] = up
        self._jobs[up.job_id] = Job(
            id=up.job_id,
            type="upload",
            created_mono=time.monotonic(),
            created_wall=now,
            input={"fileName": name, "kind": kind},
            cost=0,
            script=Script(),
            seconds=0.0,
            upload_id=up.id,
        )
        return _json_reply(200, {"upload": self._upload_json(up, with_parts=True)})

    def _put_part(self, upload_id: str, number: str, body: bytes) -> Reply:
        up = self._uploads.get(upload_id)
        if up is None or up.status != "pending":
            return self._s3_error(404, "NoSuchUpload", "The specified upload does not exist.")
        if not number.isdigit() or not 1 <= int(number) <= up.parts_count:
            return self._s3_error(400, "InvalidArgument", "Part number out of range")
        up.parts[int(number)] = body
        up.updated = _iso(datetime.now(UTC))
        return Reply(200, b"", {"ETag": '"' + hashlib.md5(body).hexdigest() + '"'})

    def _uploads_action(self, upload_id: str, data: Any) -> Reply:
        up = self._uploads.get(upload_id)
        if up is None:
            return _json_reply(404, {"reason": "not found"})
        action = data.get("action") if isinstance(data, dict) else None
        if action != "complete":
            return _json_reply(400, {"reason": "'action' must be 'complete'"})
        if up.status == "pending":
            missing = [n for n in range(1, up.parts_count + 1) if n not in up.parts]
            if missing:
                return _json_reply(400, {"reason": f"Parts not uploaded: {missing}"})
            up.status = "complete"
            up.completed_mono = time.monotonic()
            up.updated = _iso(datetime.now(UTC))
        return _json_reply(200, {"upload": self._upload_json(up)})

    def _settle_upload(self, up: Upload, force: bool) -> None:
        """complete -> imported (or failed) on the next look, or once 0.2 s have passed."""
        if up.status != "complete" or up.completed_mono is None:
            return
        if not force and time.monotonic() - up.completed_mono < 0.2:
            return
        data = b"".join(up.parts[n] for n in sorted(up.parts))
        up.updated = _iso(datetime.now(UTC))
        if len(data) != up.file_size:
            up.status = "failed"
            up.error_message = (
                f"File size mismatch: expected {up.file_size} bytes, received {len(data)}"
            )
            return
        mime = sniff_mime(data)
        if up.kind == "image" and mime is None:
            up.status = "failed"
            up.error_message = "The uploaded file is not a supported image"
            return
        asset = self._add_image_asset(data, mime or up.content_type, up.file_name, "uploaded")
        if mime is None:
            asset.kind = up.kind if up.kind in ("3d", "audio", "video", "text") else "document"
        up.entity_id = asset.id
        up.status = self.upload_final

    def _uploads_get(self, upload_id: str) -> Reply:
        up = self._uploads.get(upload_id)
        if up is None:
            return _json_reply(404, {"reason": "not found"})
        self._settle_upload(up, force=True)
        return _json_reply(200, {"upload": self._upload_json(up)})

    # generation and jobs

    def _generate(self, model_id: str, data: Any, dry_run: bool) -> Reply:
        if model_id != MODEL_ID:
            return _json_reply(404, {"reason": "Model not found"})
        images = {a.id for a in self._assets.values() if a.kind == "image" and a.job_id is None}
        reason = validate(data, images)
        if reason is not None:
            return _json_reply(400, {"reason": reason})
        body = {k: v for k, v in data.items() if k != "dryRun"}
        cost = price(body)
        costing = {
            "creativeUnitsCost": cost,
            "creativeUnitsDiscount": 0,
            "costDetails": {"custom-generation": cost},
        }
        if dry_run:
            return _json_reply(269, costing)
        script = self._scripts.popleft() if self._scripts else Script()
        seconds = script.seconds if script.seconds is not None else self.job_seconds
        job = Job(
            id=_new_id("job"),
            type="custom",
            created_mono=time.monotonic(),
            created_wall=datetime.now(UTC),
            input=body,
            cost=cost,
            script=script,
            seconds=max(0.0, seconds),
        )
        self._jobs[job.id] = job
        self._make_outputs(job)
        record = self._job_json(job, job.created_mono, fresh=True)
        return _json_reply(200, {"job": record, **costing})

    def _make_outputs(self, job: Job) -> None:
        body = job.input
        textured = is_textured(body)
        large = self.large_glb
        first = self._assets[body["images"][0]]
        photo = first.content() if first.mime == "image/png" else None
        triangles = 100_000 if large else 2000
        texture_size = 2048 if large else 256
        created = _iso(datetime.now(UTC))

        def glb_bytes() -> bytes:
            if textured:
                return glb.textured_glb(
                    triangles=triangles, texture_size=texture_size, base_color_png=photo
                )
            return glb.shape_glb(triangles=triangles)

        mesh = glb.vase_mesh(triangles)
        lo, hi = mesh.bounds()
        mesh_props = {
            "faceCount": mesh.triangle_count,
            "vertexCount": mesh.vertex_count,
            "hasUVs": True,
            "hasNormals": True,
            "hasSkeleton": False,
            "hasAnimations": False,
            "dimensions": [round(h - lo_, 4) for lo_, h in zip(lo, hi, strict=True)],
        }
        obj_data = glb.obj_text().encode()
        fbx_data = b"Kaydara FBX Binary  \x00\x1a\x00" + bytes(64)
        paid_before = sum(1 for j in self._jobs.values() if j.type == "custom" and j is not job)
        glb_mime = self.glb_mimes[paid_before % len(self.glb_mimes)]
        preview = preview_png()
        albedo = photo if photo is not None else glb.base_color_png(texture_size)
        albedo_w, albedo_h = png_size(albedo) or (texture_size, texture_size)
        # kind, mime, file name, metadata.type, properties, content
        specs: dict[str, tuple[str, str, str, str, dict[str, Any], Callable[[], bytes]]] = {
            "png": (
                "image", "image/png", "preview.png", "preview",
                {"format": "png", "width": 256, "height": 256}, lambda: preview,
            ),
            # the albedo map as an asset of its own, as some 3D models return it
            "texture": (
                "image", "image/png", "albedo.png", "3d-texture-albedo",
                {"format": "png", "width": albedo_w, "height": albedo_h}, lambda: albedo,
            ),
            "glb": (
                "3d", glb_mime, "model.glb", "img23d",
                {"format": "glb", **mesh_props}, glb_bytes,
            ),
            # a conversion of the GLB, listed before it (metadata.parentId names the GLB)
            "fbx": (
                "3d", "model/x-fbx", "model.fbx", "3d-conversion",
                {"format": "fbx"}, lambda: fbx_data,
            ),
            "obj": (
                "3d", "model/obj", "model.obj", "img23d",
                {"format": "obj", "hasUVs": True, "hasNormals": True}, lambda: obj_data,
            ),
        }  # fmt: skip
        made: dict[str, Asset] = {}
        for kind in ASSET_TYPES:
            if kind not in job.script.assets:
                continue
            asset_kind, mime, filename, meta_type, props, content = specs[kind]
            asset = Asset(
                id=_new_id("asset"),
                kind=asset_kind,
                mime=mime,
                filename=filename,
                metadata={"type": meta_type, "kind": asset_kind, "modelId": MODEL_ID},
                properties=props,
                content=content,
                created=created,
                source="img23d",
                job_id=job.id,
            )
            self._assets[asset.id] = asset
            job.asset_ids.append(asset.id)
            made[kind] = asset
        model = made.get("glb")
        if model is not None:
            if "png" in made:
                model.preview_id = made["png"].id
            if "fbx" in made:
                made["fbx"].metadata["parentId"] = model.id

    def _timeline(self, job: Job) -> list[tuple[float, str, float | None]]:
        """(fraction of the duration, status, fixed progress or None = rising) in order."""
        script = job.script
        if script.statuses:
            n = len(script.statuses)
            return [(i / n, s, None) for i, s in enumerate(script.statuses)]
        steps: list[tuple[float, str, float | None]] = [
            (0.0, "queued", 0.0),
            (0.1, "warming-up", 0.0),
            (0.2, "in-progress", None),
        ]
        if script.outcome == "success":
            steps += [(0.85, "finalizing", 0.97), (1.0, "success", 1.0)]
        elif script.outcome == "failure":
            steps.append((1.0, "failure", None))
        elif script.outcome == "canceled":
            steps.append((0.5, "canceled", None))
        return steps

    def _state(self, job: Job, now: float) -> tuple[str, float, list[tuple[float, str]]]:
        """Status, progress and history (seconds after creation, status) at `now`."""
        if job.type == "upload":
            return self._upload_job_state(job, now)
        stop = now if job.canceled_at is None else min(now, job.canceled_at)
        elapsed = max(0.0, stop - job.created_mono)
        duration = job.seconds
        fraction = elapsed / duration if duration > 0 else float("inf")
        timeline = self._timeline(job)
        history: list[tuple[float, str]] = []
        current = timeline[0]
        for step in timeline:
            if fraction >= step[0]:
                current = step
                history.append((min(step[0] * duration, elapsed), step[1]))
        status, fixed = current[1], current[2]
        if fixed is not None:
            progress = fixed
        elif job.script.statuses:
            progress = 1.0 if status == "success" else min(fraction, 1.0) * 0.99
        else:
            # in-progress rises over 20%..85% of the duration; a failure or service cancel
            # freezes it where it happened; `never` creeps towards 95% but never ends
            frozen_at = {"failure": 0.6, "canceled": 0.5}.get(status)
            f = min(fraction, frozen_at) if frozen_at is not None else fraction
            if job.script.outcome == "never":
                progress = 0.95 * (1 - 1 / (1 + max(0.0, f - 0.2) / 0.65))
            else:
                progress = min(0.95, max(0.0, (f - 0.2) / 0.65 * 0.95))
        if job.canceled_at is not None and status not in TERMINAL:
            status = "canceled"
            history.append((elapsed, "canceled"))
        return status, round(progress, 4), history

    def _upload_job_state(self, job: Job, now: float) -> tuple[str, float, list[tuple[float, str]]]:
        up = self._uploads[job.upload_id or ""]
        self._settle_upload(up, force=False)
        history: list[tuple[float, str]] = [(0.0, "queued")]
        if up.status in ("complete", "imported", "failed"):
            history.append((0.0, "in-progress"))
        if up.status in ("imported", "complete") and up.entity_id:
            history.append((max(0.0, now - job.created_mono), "success"))
            return "success", 1.0, history
        if up.status == "failed":
            history.append((max(0.0, now - job.created_mono), "failure"))
            return "failure", 0.0, history
        return history[-1][1], 0.0, history

    def _job_json(self, job: Job, now: float, fresh: bool = False) -> dict[str, Any]:
        if fresh:
            status, progress, history = "queued", 0.0, [(0.0, "queued")]
        else:
            status, progress, history = self._state(job, now)
        metadata: dict[str, Any] = {"input": dict(job.input), "assetIds": []}
        if status == "success":
            metadata["assetIds"] = list(job.asset_ids)
        if job.type == "upload":
            up = self._uploads[job.upload_id or ""]
            if up.entity_id:
                metadata["output"] = {"entityId": up.entity_id}
            if up.error_message:
                metadata["error"] = up.error_message
        elif status == "failure":
            metadata["error"] = job.script.error
            metadata["hint"] = job.script.hint
        stamps = [
            {"status": s, "date": _iso(job.created_wall + timedelta(seconds=t))} for t, s in history
        ]
        billing: dict[str, Any] = {"cuCost": job.cost, "cuDiscount": 0}
        if job.type == "custom":
            metadata["modelId"] = MODEL_ID
            billing["cuCostDetails"] = {"custom-generation": job.cost}
        return {
            "jobId": job.id,
            "jobType": job.type,
            "status": status,
            "progress": progress,
            "createdAt": _iso(job.created_wall),
            "updatedAt": stamps[-1]["date"],
            "statusHistory": stamps,
            "metadata": metadata,
            "billing": billing,
            "authorId": "user_standin",
            "ownerId": "proj_standin",
        }

    def _cancel(self, job_id: str, data: Any) -> Reply:
        job = self._jobs.get(job_id)
        if job is None:
            return _json_reply(404, {"reason": "not found"})
        action = data.get("action") if isinstance(data, dict) else None
        if action != "cancel":
            return _json_reply(400, {"reason": "'action' must be 'cancel'"})
        now = time.monotonic()
        status = self._state(job, now)[0]
        if status in TERMINAL:
            return _json_reply(400, {"reason": f"Job {job_id} is already finished ({status})"})
        if job.type != "custom":
            return _json_reply(400, {"reason": "Only generation jobs can be canceled"})
        if not self.cancellable:
            return _json_reply(400, CANNOT_CANCEL)
        job.canceled_at = now
        return _json_reply(200, {"job": self._job_json(job, now)})


@functools.lru_cache(maxsize=4)
def preview_png(size: int = 256) -> bytes:
    """A flat 'render' of the vase: its shaded silhouette on a grey backdrop."""
    backdrop = bytes((90, 96, 104)) * size
    clay = (214, 140, 92)
    mid = size // 2

    def row(y: int) -> bytes:
        t = 1.0 - (y - size * 0.1) / (size * 0.8)
        if not 0.0 <= t <= 1.0:
            return backdrop
        half = int(glb.profile_radius(t) / 0.3 * size)
        line = bytearray(backdrop)
        for x in range(max(0, mid - half), min(size, mid + half)):
            shade = 1.0 - 0.5 * abs(x - mid) / max(half, 1)
            line[3 * x : 3 * x + 3] = bytes(int(c * shade) for c in clay)
        return bytes(line)

    return glb.png_from_rows(size, size, row)
