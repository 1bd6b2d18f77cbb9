"""Secrets in the Blender-free core: the API key and secret (and their Basic token) never reach a
log line at any level, the job store, the library, a message, a repr or a traceback; the
Authorization header never goes to a download URL; plain http is refused off loopback.

Also holds the helpers the Blender secrets test uses (`Needles`, `LogCapture`, `reprs_of`,
`tracebacks_of`).
"""

from __future__ import annotations

import base64
import logging
import secrets
import socket
import time
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.media import png_bytes
from tests.standin.server import StandIn
from yvo3d_addon.core import errors
from yvo3d_addon.core.client import RetryPolicy, ScenarioClient
from yvo3d_addon.core.jobs import JobManager, PollPolicy, Stage
from yvo3d_addon.core.library import Library
from yvo3d_addon.core.params import DEFAULT_TABLE
from yvo3d_addon.core.pricing import Pricer, UploadCache
from yvo3d_addon.core.store import JobStore
from yvo3d_addon.core.wire import check_base_url

FAST_POLL = PollPolicy(first=0.05, factor=1.5, cap=0.2, overall_timeout=60)


# ------------------------------------------------------------------------- shared helpers


def distinctive_credentials() -> tuple[str, str]:
    """A key and a secret no other bytes in a file or a log could match by chance."""
    return "KEY-" + secrets.token_hex(12), "SECRET-" + secrets.token_hex(16)


class Needles:
    """The byte strings that must never appear: each key, each secret, each Basic token."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self.items: list[bytes] = []
        for key, secret in pairs:
            token = base64.b64encode(f"{key}:{secret}".encode())
            self.items += [key.encode(), secret.encode(), token]
            # The secret's hex body alone: a prefix stripped or cut off must not hide a leak.
            self.items.append(secret.split("-", 1)[-1].encode())

    def found_in(self, data: str | bytes) -> list[bytes]:
        raw = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
        return [n for n in self.items if n in raw]

    def check(self, data: str | bytes, where: str) -> None:
        found = self.found_in(data)
        assert not found, f"secret {found[0][:12]!r}... found in {where}"

    def check_folder(self, folder: Path) -> int:
        """Every file below `folder`, byte for byte; returns how many files were read."""
        count = 0
        for path in folder.rglob("*"):
            if path.is_file():
                self.check(path.read_bytes(), str(path))
                count += 1
        return count


class LogCapture(logging.Handler):
    """Every record at every level from every logger (root and urllib3 at DEBUG meanwhile)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.formatter_ = logging.Formatter("%(levelname)s %(name)s %(message)s")
        self._saved: list[tuple[logging.Logger, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        """Every record as a handler would write it, tracebacks included."""
        lines = []
        for record in self.records:
            lines.append(self.formatter_.format(record))
            lines.append(repr(record.args))
        return "\n".join(lines)

    def __enter__(self) -> LogCapture:
        for name in ("", "urllib3", "requests"):
            logger = logging.getLogger(name)
            self._saved.append((logger, logger.level))
            logger.setLevel(logging.DEBUG)
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)
        for logger, level in self._saved:
            logger.setLevel(level)


def reprs_of(objects: Iterable[Any], depth: int = 2) -> Iterator[str]:
    """repr() and str() of each object and of what it holds, `depth` levels down (containers,
    dataclass fields, instance attributes). Plain strings held inside are skipped: an object
    must hold its secret to use it, but must never show it."""
    seen: set[int] = set()

    def walk(obj: Any, level: int) -> Iterator[str]:
        if id(obj) in seen or isinstance(obj, type):
            return
        seen.add(id(obj))
        yield repr(obj)
        yield str(obj)
        if level <= 0:
            return
        children: list[Any] = []
        if isinstance(obj, dict):
            children = list(obj.keys()) + list(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            children = list(obj)
        else:
            attrs = getattr(obj, "__dict__", None)
            if isinstance(attrs, dict):
                children = list(attrs.values())
        for child in children:
            if isinstance(child, str | bytes | int | float | bool) or child is None:
                continue
            if callable(child) and not hasattr(child, "__dict__"):
                continue
            yield from walk(child, level - 1)

    for obj in objects:
        yield from walk(obj, depth)


def tracebacks_of(exc: BaseException) -> str:
    """The exception as Python prints it (chained ones included), and the repr and args of every
    exception chained to it, even those a `raise ... from None` hides from the printout.

    Frame locals are not included: a function handed the secret holds it as an argument (the
    client's constructor does), which only a debugger or `--showlocals` would show."""
    parts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        parts += [repr(item), repr(item.args), str(item)]
        todo += [item.__cause__, item.__context__]
    return "\n".join(parts)


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture
def creds() -> tuple[str, str]:
    return distinctive_credentials()


@pytest.fixture
def server(creds: tuple[str, str]) -> Iterator[StandIn]:
    instance = StandIn(api_key=creds[0], api_secret=creds[1], job_seconds=0.3).start()
    try:
        yield instance
    finally:
        instance.stop()
    assert not instance.errors, "\n".join(instance.errors)


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    with LogCapture() as capture:
        yield capture


def make_client(
    base_url: str, key: str, secret: str, wait: Any = None, attempts: int = 2
) -> ScenarioClient:
    return ScenarioClient(
        base_url,
        key,
        secret,
        retry=RetryPolicy(attempts=attempts, base=0.01, cap=0.02, rate_limit_attempts=1),
        timeout=(2.0, 5.0),
        wait=wait,
    )


def make_manager(root: Path, base_url: str, key: str, secret: str) -> JobManager:
    def factory(wait: Any) -> ScenarioClient:
        return make_client(base_url, key, secret, wait)

    store = JobStore(str(root / "jobs.sqlite"))
    return JobManager(store, Library(str(root / "library")), factory, poll=FAST_POLL)


def photo(folder: Path, name: str, tint: int = 0) -> str:
    path = folder / name
    path.write_bytes(png_bytes(64, 64, pixel=lambda x, y: (x * 3 % 256, y * 3 % 256, tint)))
    return str(path)


def run_job(manager: JobManager, image: str, timeout: float = 20.0) -> Any:
    record = manager.submit(name="Vase", images=[image], settings=DEFAULT_TABLE.defaults())
    assert manager.wait(timeout, ids=[record.id]), "the job never ended"
    return manager.get(record.id)


# ---------------------------------------------------------------------------------- tests


def test_jobs_happy_refused_and_crashed_leave_no_secret_anywhere(
    server: StandIn, creds: tuple[str, str], logs: LogCapture, tmp_path: Path
) -> None:
    key, secret = creds
    wrong = (key, "SECRET-WRONG-" + secrets.token_hex(12))
    needles = Needles(creds, wrong)
    root = tmp_path / "user"
    manager = make_manager(root, server.base_url, key, secret)
    refused = make_manager(tmp_path / "other", server.base_url, *wrong)

    done = run_job(manager, photo(tmp_path, "a.png"))
    assert done.stage == Stage.READY, done.message
    failed = run_job(refused, photo(tmp_path, "b.png", 40))
    assert failed.stage == Stage.FAILED and failed.error_code == "auth"
    downloads = [e for e in server.log if e["route"].startswith("download")]
    assert downloads and not any(e["had_auth"] for e in downloads)
    # An answer the client does not expect (a job whose metadata is a list): the worker's
    # generic crash path, which logs a traceback.
    server.fault(
        "job",
        status=200,
        body={"job": {"jobId": "job_x", "status": "in-progress", "metadata": ["odd"]}},
        times=None,
    )
    crashed = run_job(manager, photo(tmp_path, "c.png", 80))
    server.reset()
    assert crashed.stage in (Stage.FAILED, Stage.STALLED), crashed.stage
    assert any(r.exc_info for r in logs.records) or crashed.error_code == "invalid_response"
    for m in (manager, refused):
        m.shutdown()
        m.store.close()

    assert any(r.name.startswith("urllib3") and r.levelno == logging.DEBUG for r in logs.records)
    needles.check(logs.text(), "the logs")
    assert needles.check_folder(root) >= 3  # store, entry.json, model.glb at least
    needles.check_folder(tmp_path / "other")
    for record in (done, failed, crashed):
        needles.check(record.to_json(), f"job record {record.id}")
        needles.check(f"{record.message} {record.error} {record.hint}", "a job's messages")
    for text in reprs_of([manager, refused, done, failed, crashed, manager.library.entries()]):
        needles.check(text, "a repr")
    # The add-on's own log lines never show a signed URL either (urllib3's debug lines do:
    # that is the library's choice, at a level a user has to turn on).
    ours = [r for r in logs.records if r.name.startswith("yvo3d_addon")]
    assert not any("Signature=" in r.getMessage() for r in ours)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_raised_errors_and_their_tracebacks_hold_no_secret(
    server: StandIn, creds: tuple[str, str], logs: LogCapture, tmp_path: Path
) -> None:
    key, secret = creds
    needles = Needles(creds)
    client = make_client(server.base_url, key, secret)
    image = photo(tmp_path, "d.png")
    raised: list[BaseException] = []

    def expect(error: type[BaseException], call: Any) -> None:
        with pytest.raises(error) as info:
            call()
        raised.append(info.value)

    server.fault("upload", status=401)
    expect(errors.AuthError, lambda: client.upload_image(image))
    asset = client.upload_image(image)
    body = DEFAULT_TABLE.to_request(DEFAULT_TABLE.defaults(), [asset])
    server.fault("generate", drop=True)
    expect(errors.OutcomeUnknownError, lambda: client.generate(body))
    server.fault("generate", status=503)
    expect(errors.OutcomeUnknownError, lambda: client.generate(body))
    server.fault("model", status=500, times=None)
    expect(errors.ServerError, client.get_model)
    server.reset()
    cooldown = {"reason": "cooldown", "remainingSeconds": 0}
    server.fault("model", status=429, body=cooldown, headers={"Retry-After": None}, times=2)
    expect(errors.RateLimitedError, client.get_model)
    server.fault("job", status=200, body="<html>gateway</html>", times=None)
    expect(errors.InvalidResponseError, lambda: client.get_job("job_x"))
    server.reset()
    offline = make_client(f"http://127.0.0.1:{free_port()}/v1", key, secret)
    expect(errors.NetworkError, offline.get_model)
    expect(errors.OutcomeUnknownError, lambda: make_client_generate_timeout(server, creds, body))
    expect(errors.ConfigError, lambda: make_client("http://example.com/v1", key, secret))
    expect(errors.ConfigError, lambda: ScenarioClient(server.base_url, key, ""))

    assert len(raised) == 10
    for exc in raised:
        needles.check(tracebacks_of(exc), f"the traceback of {type(exc).__name__}")
        assert isinstance(exc, errors.Yvo3dError)
        needles.check(exc.user_text(), "an error message")
    needles.check(logs.text(), "the logs")
    for text in reprs_of([client, offline, client.session, *raised]):
        needles.check(text, "a repr")


def make_client_generate_timeout(server: StandIn, creds: tuple[str, str], body: Any) -> Any:
    """The paid request sent, its answer too late for the read timeout."""
    server.fault("generate", hold=2.0)
    slow = ScenarioClient(server.base_url, *creds, timeout=(2.0, 0.3))
    return slow.generate(body)


@pytest.mark.parametrize("redirect", [False, True], ids=["direct", "redirect"])
def test_download_urls_never_get_the_authorization_header(
    creds: tuple[str, str], tmp_path: Path, redirect: bool
) -> None:
    with StandIn(
        api_key=creds[0], api_secret=creds[1], job_seconds=0.2, redirect_downloads=redirect
    ) as server:
        manager = make_manager(tmp_path, server.base_url, *creds)
        done = run_job(manager, photo(tmp_path, "e.png"))
        manager.shutdown()
        manager.store.close()
        assert done.stage == Stage.READY, done.message
        routes = [e for e in server.log if e["route"].startswith("download")]
        assert {e["route"] for e in routes} == (
            {"download", "download_redirect"} if redirect else {"download"}
        )
        assert not any(e["had_auth"] for e in routes)
        assert all(e["status"] in (200, 206, 302) for e in routes)
        # Every API call did carry it: the check above is not vacuous.
        api = [e for e in server.log if e["path"].startswith("/v1/")]
        assert api and all(e["had_auth"] for e in api)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://example.com/v1", False),
        ("http://api.cloud.scenario.com/v1", False),
        ("http://10.0.0.5:8080/v1", False),
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost:8080/v1", True),
        ("http://[::1]:8080/v1", True),
        ("https://example.com/v1", True),
    ],
)
def test_plain_http_is_refused_off_loopback(url: str, allowed: bool) -> None:
    if allowed:
        assert check_base_url(url + "/") == url
        return
    with pytest.raises(errors.ConfigError, match="Plain http is refused"):
        check_base_url(url)


def test_plain_http_service_refuses_the_job_before_any_request(
    server: StandIn,
    creds: tuple[str, str],
    logs: LogCapture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Any plain-http request would go through this proxy: the stand-in would count it.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, server.root_url)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    needles = Needles(creds)
    manager = make_manager(tmp_path, "http://example.com/v1", *creds)
    failed = run_job(manager, photo(tmp_path, "f.png"))
    pricer = Pricer(lambda: make_client("http://example.com/v1", *creds), UploadCache(), debounce=0)
    pricer.request([photo(tmp_path, "g.png")], DEFAULT_TABLE.defaults())
    deadline = time.monotonic() + 10
    while pricer.quote().state == "pending" and time.monotonic() < deadline:
        time.sleep(0.01)
    pricer.stop()
    manager.shutdown()
    manager.store.close()

    assert failed.stage == Stage.FAILED and failed.error_code == "config"
    assert "Plain http is refused" in failed.message
    assert pricer.quote().state == "error" and "Plain http" in pricer.quote().message
    assert server.counts() == {} and server.paid_requests == 0
    needles.check(failed.to_json() + pricer.quote().message + logs.text(), "the refusal")
