"""The fault matrix: one whole job through the job engine per fault, over real loopback HTTP,
and the reliability table in docs/reliability.md generated from what the rows really produced.

`YVO3D_WRITE_DOCS=1 .venv/bin/pytest tests/core/test_fault_matrix.py` rewrites the table; a
normal run compares it with the committed file, so the document never drifts from the code.
"""

from __future__ import annotations

import base64
import difflib
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.media import png_bytes
from tests.standin.server import StandIn
from yvo3d_addon.core.assets import check_glb
from yvo3d_addon.core.client import RetryPolicy, ScenarioClient
from yvo3d_addon.core.jobs import JobManager, PollPolicy, Stage
from yvo3d_addon.core.library import Library
from yvo3d_addon.core.params import DEFAULT_TABLE
from yvo3d_addon.core.store import JobRecord, JobStore

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
API_KEY = "fm-key-Q7x2Lw"
API_SECRET = "fm-secret-Zr49Kd"
JOB_SECONDS = 0.3
TIMEOUT = (2.0, 3.0)  # connect, read: generous, so a busy machine never times out by chance
SHORT_TIMEOUT = (2.0, 0.6)  # for the rows that test a read timeout
LATE = SHORT_TIMEOUT[1] + 0.6  # an answer this late is past the short read timeout
FAST_POLL = PollPolicy(first=0.05, factor=1.5, cap=0.2, overall_timeout=30)
SHORT_POLL = PollPolicy(first=0.05, factor=1.5, cap=0.1, overall_timeout=0.6)
FAST_RETRY = RetryPolicy(attempts=3, base=0.01, cap=0.05)
ROW_TIMEOUT = 20.0
SECRETS = (
    API_KEY,
    API_SECRET,
    base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode(),  # the Authorization value
)
END = {Stage.READY, Stage.FAILED, Stage.CANCELLED, Stage.UNKNOWN, Stage.STALLED}


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Row:
    """One fault, how to make it happen, and what the job must end with."""

    fault: str
    """What goes wrong, as a person would say it (the table's first column)."""
    setup: Callable[[StandIn], None]
    """Applies the fault to a fresh stand-in before the job is submitted."""
    expect_stage: Stage
    expect_code: str
    """The job's error code, "" for a job that ends well."""
    expect_words: str
    """A fragment of the user-facing message."""
    paid: int
    """Exactly how many paid (generate) requests the stand-in must have received."""
    waited: float = 0.0
    """At least this many seconds between the refused request and its retry (429 rows)."""
    base_url: Callable[[StandIn], str] | None = None
    """Another service URL for the client (unreachable services)."""
    poll: PollPolicy | None = None
    """The poll policy, when not FAST_POLL."""
    check: Callable[[StandIn, JobRecord], None] | None = None
    """Extra assertions on what the stand-in saw."""
    transient: bool = False
    """A fault the job recovers from: the stand-in must have logged it at least once."""
    large_glb: bool = False
    """The stand-in serves a 2.3 MB GLB (100k triangles, 2K texture) instead of a 70 kB one."""
    timeout: tuple[float, float] = TIMEOUT
    """The client's connect and read timeouts."""


def _fault(route: str, **kwargs: object) -> Callable[[StandIn], None]:
    def apply(standin: StandIn) -> None:
        standin.fault(route, **kwargs)

    return apply


def _script(**kwargs: object) -> Callable[[StandIn], None]:
    def apply(standin: StandIn) -> None:
        standin.script_job(**kwargs)

    return apply


def _rotate_secret(standin: StandIn) -> None:
    # the service no longer accepts the secret the add-on has: a real 401, not a scripted one
    standin.api_secret = "rotated-" + API_SECRET


def _expire_during_download(standin: StandIn) -> None:
    """Hold the first download briefly and expire every signed URL while it waits, so the URL
    the client got from GET asset is refused (403) as a really expired one would be."""
    standin.fault("download", delay=0.4, times=1)

    def watch() -> None:
        deadline = time.monotonic() + ROW_TIMEOUT
        while standin.count("download") == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        standin.expire_downloads()

    threading.Thread(target=watch, daemon=True).start()


def _closed_port(_: StandIn) -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more: connection refused
    return f"http://127.0.0.1:{port}/v1"


def _statuses(standin: StandIn, route: str) -> list[int | None]:
    return [e["status"] for e in standin.log if e["route"] == route]


def _download_resumed(standin: StandIn, record: JobRecord) -> None:
    # the first answer was cut; the second asked for the rest (206), not the whole file again
    assert _statuses(standin, "download")[:2] == [200, 206]


def _download_restarted(standin: StandIn, record: JobRecord) -> None:
    # nothing complete enough to keep arrived the first time: the whole file again, verified
    assert _statuses(standin, "download")[:2] == [200, 200]


def _asset_fetched_again(standin: StandIn, record: JobRecord) -> None:
    assert _statuses(standin, "download")[0] == 403
    glb = [e for e in standin.log if e["route"] == "asset" and record.glb_asset_id in e["path"]]
    assert len(glb) >= 2 and glb[-1]["status"] == 200


def _sent_once(route: str, times: int) -> Callable[[StandIn, JobRecord], None]:
    def check(standin: StandIn, record: JobRecord) -> None:
        assert standin.count(route) == times, standin.counts()

    return check


_GATEWAY_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway | edge gateway</title>"
    "<style>body{font-family:sans-serif}</style></head><body><h1>Bad gateway</h1>"
    "<p>The upstream server returned an invalid response.</p></body></html>"
)


def _http_rows() -> list[Row]:
    rows = [
        Row(
            "401 Unauthorized: the key's secret was rotated on Scenario",
            _rotate_secret,
            Stage.FAILED,
            "auth",
            "refused the API key and secret",
            0,
        ),
        Row(
            "401 Unauthorized on GET job while the job runs (key revoked)",
            _fault("job", status=401, times=None),
            Stage.STALLED,
            "auth",
            "refused the API key and secret",
            1,
        ),
        Row(
            "402 no credits on the price check (dry run)",
            _fault("estimate", status=402),
            Stage.FAILED,
            "credits",
            "Not enough Scenario credits to price the generation",
            0,
        ),
        Row(
            "402 no credits on the paid generate request",
            _fault("generate", status=402),
            Stage.FAILED,
            "credits",
            "Not enough Scenario credits to start the generation",
            1,
        ),
        Row(
            "403 the key lacks the assets.write scope (upload)",
            _fault("upload", status=403, body={"message": "Missing scope: assets.write"}),
            Stage.FAILED,
            "permission",
            "This API key may not upload the image",
            0,
        ),
        Row(
            "403 the key's spending cap is reached (generate)",
            _fault("generate", status=403, body={"reason": "API key spending cap reached"}),
            Stage.FAILED,
            "permission",
            "spending cap",
            1,
        ),
        # after the paid request a 404 never ends a paid job for good: retried, then stalled
        # (scenario_api.md: a job or asset may be briefly unknown; issue 10 item 6)
        Row(
            "404 on GET job, every time (paid: retried, then resumable)",
            _fault("job", status=404, times=None),
            Stage.STALLED,
            "not_found",
            "could not find it while trying to check the job",
            1,
            check=_sent_once("job", 3),
        ),
        Row(
            "404 on GET job, once (retried)",
            _fault("job", status=404),
            Stage.READY,
            "",
            "Ready to import",
            1,
            transient=True,
        ),
        Row(
            "404 on GET asset, every time (paid: retried, then resumable)",
            _fault("asset", status=404, times=None),
            Stage.STALLED,
            "not_found",
            "could not find it while trying to read the result",
            1,
        ),
        Row(
            "404 on the download URL, once (a fresh URL, retried)",
            _fault("download", status=404),
            Stage.READY,
            "",
            "Ready to import",
            1,
            transient=True,
        ),
        Row(
            "409 Conflict on GET job, once (retried)",
            _fault("job", status=409, body={"reason": "Conflict"}),
            Stage.READY,
            "",
            "Ready to import",
            1,
            transient=True,
        ),
        Row(
            "409 Conflict on GET job, every time",
            _fault("job", status=409, body={"reason": "Conflict"}, times=None),
            Stage.STALLED,
            "conflict",
            "conflict while trying to check the job",
            1,
        ),
        Row(
            "409 Conflict on the paid generate request (not re-sent)",
            _fault("generate", status=409, body={"reason": "Conflict"}),
            Stage.FAILED,
            "conflict",
            "conflict while trying to start the generation",
            1,
            check=_sent_once("generate", 1),
        ),
        Row(
            "413 image too large on upload",
            _fault("upload", status=413),
            Stage.FAILED,
            "too_large",
            "too large for Scenario",
            0,
        ),
        Row(
            "422 on the price check (request refused)",
            _fault("estimate", status=422, body={"reason": "images[0] is not an image asset"}),
            Stage.FAILED,
            "invalid_request",
            "refused the request to price the generation",
            0,
        ),
        Row(
            "422 on the paid generate request",
            _fault("generate", status=422, body={"reason": "images[0] is not an image asset"}),
            Stage.FAILED,
            "invalid_request",
            "refused the request to start the generation",
            1,
        ),
        Row(
            "429 on GET job with `Retry-After: 1` only (waits 1 s)",
            _fault("job", status=429, body={"reason": "Too Many Requests"}),
            Stage.READY,
            "",
            "Ready to import",
            1,
            waited=1.0,
            transient=True,
        ),
        Row(
            "429 on GET job with `remainingSeconds: 1` only (waits 1 s)",
            _fault(
                "job",
                status=429,
                body={"reason": "cooldown", "remainingSeconds": 1},
                headers={"Retry-After": None},
            ),
            Stage.READY,
            "",
            "Ready to import",
            1,
            waited=1.0,
            transient=True,
        ),
        Row(
            "429 on GET job with `Retry-After: 1` and `remainingSeconds: 1.5` (waits the longer)",
            _fault(
                "job",
                status=429,
                body={"reason": "cooldown", "remainingSeconds": 1.5},
                headers={"Retry-After": "1"},
            ),
            Stage.READY,
            "",
            "Ready to import",
            1,
            waited=1.5,
            transient=True,
        ),
        Row(
            "429 on GET job with an unreadable `Retry-After` (backs off)",
            _fault(
                "job",
                status=429,
                body={"reason": "Too Many Requests"},
                headers={"Retry-After": "soon"},
            ),
            Stage.READY,
            "",
            "Ready to import",
            1,
            transient=True,
        ),
        Row(
            "429 on GET job that never lets up (`Retry-After: 0`)",
            _fault(
                "job",
                status=429,
                body={"reason": "Too Many Requests"},
                headers={"Retry-After": "0"},
                times=None,
            ),
            Stage.STALLED,
            "rate_limited",
            "rate limiting requests (Scenario said: Too Many Requests). The job is paid",
            1,
        ),
        Row(
            "429 on the paid generate request (not re-sent)",
            _fault("generate", status=429, body={"reason": "cooldown", "remainingSeconds": 30}),
            Stage.FAILED,
            "rate_limited",
            "Scenario asks to wait 30 s; try again after that.",
            1,
            check=_sent_once("generate", 1),
        ),
    ]
    return rows


def _server_error_rows() -> list[Row]:
    rows = []
    places = [
        ("job", "GET job", "check the job"),
        ("asset", "GET asset", "read the result"),
        ("upload", "the image upload", "upload the image"),
    ]
    for route, place, what in places:
        for status in (500, 502, 503, 504):
            rows.append(
                Row(
                    f"{status} on {place}, once (retried)",
                    _fault(route, status=status),
                    Stage.READY,
                    "",
                    "Ready to import",
                    1,
                    transient=True,
                )
            )
            rows.append(
                Row(
                    f"{status} on {place}, every time",
                    _fault(route, status=status, times=None),
                    # After the paid request a lasting error leaves the job resumable.
                    Stage.FAILED if route == "upload" else Stage.STALLED,
                    "server",
                    f"server error ({status}) while trying to {what}",
                    0 if route == "upload" else 1,
                )
            )
    rows += [
        Row(
            "503 on the GLB download, once (retried)",
            _fault("download", status=503),
            Stage.READY,
            "",
            "Ready to import",
            1,
            transient=True,
        ),
        Row(
            "503 on the GLB download, every time",
            _fault("download", status=503, times=None),
            Stage.STALLED,
            "server",
            "server error (503) while trying to download the result",
            1,
        ),
        Row(
            "502 from a gateway with an HTML page on GET job, every time",
            _fault("job", status=502, body=_GATEWAY_PAGE, times=None),
            Stage.STALLED,
            "server",
            "Scenario said: 502 Bad Gateway | edge gateway",
            1,
        ),
    ]
    return rows


def _paid_request_rows() -> list[Row]:
    rows = [
        Row(
            f"{status} on the paid generate request",
            _fault("generate", status=status),
            Stage.UNKNOWN,
            "outcome_unknown",
            "unknown whether a job was started",
            1,
            check=_sent_once("generate", 1),
        )
        for status in (500, 502, 503, 504)
    ]
    rows += [
        Row(
            "Timeout on the paid generate request (no answer within the read timeout)",
            _fault("generate", delay=LATE),
            Stage.UNKNOWN,
            "outcome_unknown",
            "no answer came back",
            1,
            check=_sent_once("generate", 1),
            timeout=SHORT_TIMEOUT,
        ),
        Row(
            "Connection dropped on the paid generate request (after the job was created)",
            _fault("generate", drop=True),
            Stage.UNKNOWN,
            "outcome_unknown",
            "no answer came back",
            1,
            check=_sent_once("generate", 1),
        ),
        Row(
            "Answer to the paid generate request cut off after 20 bytes",
            _fault("generate", truncate=20),
            Stage.UNKNOWN,
            "outcome_unknown",
            "no answer came back",
            1,
            check=_sent_once("generate", 1),
        ),
        Row(
            "The paid generate request answered 200 with invalid JSON",
            _fault("generate", status=200, body="<html><body>OK</body></html>"),
            Stage.UNKNOWN,
            "outcome_unknown",
            "answer was unreadable",
            1,
            check=_sent_once("generate", 1),
        ),
    ]
    return rows


def _network_rows() -> list[Row]:
    return [
        Row(
            "Connection refused (service URL on a closed port)",
            lambda standin: None,
            Stage.FAILED,
            "network",
            "connection was refused",
            0,
            base_url=_closed_port,
        ),
        Row(
            "DNS failure (`https://nonexistent.invalid/v1`)",
            lambda standin: None,
            Stage.FAILED,
            "network",
            "could not be resolved (DNS)",
            0,
            base_url=lambda standin: "https://nonexistent.invalid/v1",
        ),
        Row(
            "Read timeout on GET job, once (retried)",
            _fault("job", delay=LATE),
            Stage.READY,
            "",
            "Ready to import",
            1,
            transient=True,
            timeout=SHORT_TIMEOUT,
        ),
        Row(
            "Read timeout on GET job, every time",
            _fault("job", delay=LATE, times=None),
            Stage.STALLED,
            "network",
            "did not answer in time while trying to check the job",
            1,
            timeout=SHORT_TIMEOUT,
        ),
        Row(
            "Connection dropped on GET job, once (retried)",
            _fault("job", drop=True),
            Stage.READY,
            "",
            "Ready to import",
            1,
            transient=True,
        ),
        Row(
            "Connection dropped halfway through a 2.3 MB GLB download (resumed with Range)",
            _fault("download", drop=True),
            Stage.READY,
            "",
            "Ready to import",
            1,
            check=_download_resumed,
            transient=True,
            large_glb=True,
        ),
        Row(
            "GLB download cut after 1000 bytes (restarted: less than one 256 KiB chunk arrived)",
            _fault("download", truncate=1000),
            Stage.READY,
            "",
            "Ready to import",
            1,
            check=_download_restarted,
            transient=True,
        ),
        Row(
            "The download is not a GLB (an HTML page with status 200), every time",
            _fault("download", status=200, body="<html><body>Welcome!</body></html>", times=None),
            Stage.FAILED,
            "unsafe_file",
            "not a GLB",
            1,
        ),
        Row(
            "The download URL has expired (403 from the CDN)",
            _expire_during_download,
            Stage.READY,
            "",
            "Ready to import",
            1,
            check=_asset_fetched_again,
            transient=True,
        ),
    ]


def _job_rows() -> list[Row]:
    return [
        Row(
            "The job fails on Scenario with `metadata.error` and `metadata.hint`",
            _script(
                outcome="failure",
                error="No object found in the image",
                hint="Use a photo with one object on a plain background",
            ),
            Stage.FAILED,
            "job_failed",
            "No object found in the image Use a photo with one object on a plain background",
            1,
        ),
        Row(
            "The job is cancelled on Scenario's side",
            _script(outcome="canceled"),
            Stage.FAILED,
            "job_failed",
            "cancelled on Scenario's side",
            1,
        ),
        Row(
            "The job never ends (overall timeout 0.6 s)",
            _script(outcome="never"),
            Stage.STALLED,
            "still_running",
            "Press Resume",
            1,
            poll=SHORT_POLL,
        ),
        Row(
            "Unknown job statuses before success",
            _script(statuses=["queued", "thinking-hard", "post-processing", "success"]),
            Stage.READY,
            "",
            "Ready to import",
            1,
        ),
        Row(
            "The job succeeds with no GLB among its assets (paid: resumable)",
            _script(assets=("png", "obj", "fbx")),
            Stage.STALLED,
            "no_result",
            "no GLB model",
            1,
        ),
        Row(
            "GET job answers 200 with invalid JSON, once (retried)",
            _fault("job", status=200, body='{"job": {"status": '),
            Stage.READY,
            "",
            "Ready to import",
            1,
            transient=True,
        ),
        Row(
            "GET job answers 200 with invalid JSON, every time",
            _fault("job", status=200, body='{"job": {"status": ', times=None),
            Stage.STALLED,
            "invalid_response",
            "not valid JSON",
            1,
        ),
        Row(
            "GET job answer cut short, once (retried)",
            _fault("job", truncate=30),
            Stage.READY,
            "",
            "Ready to import",
            1,
            transient=True,
        ),
    ]


ROWS = _http_rows() + _server_error_rows() + _paid_request_rows() + _network_rows() + _job_rows()


def _row_id(row: Row) -> str:
    return re.sub(r"[^a-z0-9]+", "-", row.fault.lower()).strip("-")[:60]


# --------------------------------------------------------------------------- harness


def make_manager(
    base_url: str, root: str, poll: PollPolicy, timeout: tuple[float, float]
) -> JobManager:
    def factory(wait: Callable[[float], bool]) -> ScenarioClient:
        return ScenarioClient(
            base_url, API_KEY, API_SECRET, retry=FAST_RETRY, timeout=timeout, wait=wait
        )

    store = JobStore(os.path.join(root, "jobs.sqlite"))
    return JobManager(store, Library(os.path.join(root, "library")), factory, poll=poll)


def wait_until_ended(manager: JobManager, local_id: str) -> JobRecord:
    deadline = time.monotonic() + ROW_TIMEOUT
    while time.monotonic() < deadline:
        manager.drain()
        record = manager.get(local_id)
        if record is not None and record.stage in END and local_id not in manager.running():
            return record
        time.sleep(0.01)
    raise AssertionError(f"the job did not end in {ROW_TIMEOUT} s: {manager.get(local_id)}")


def user_text(record: JobRecord) -> str:
    """What the Jobs panel and the operator report show: the error (or message) and the hint."""
    text = record.error or record.message
    if record.hint and record.hint not in text:
        text = f"{text} {record.hint}"
    return text


def normalise(text: str) -> str:
    """The message with nothing that changes from run to run: ports and ids."""
    text = re.sub(r"(127\.0\.0\.1|localhost):\d+", r"\1:PORT", text)
    text = re.sub(
        r"\b(job|asset|upload)_[A-Za-z0-9]{6,}", lambda m: m.group(1).upper() + "_ID", text
    )
    return text


def rate_limit_wait(standin: StandIn, route: str) -> float:
    """Seconds between the first 429 on `route` and the request that followed it."""
    entries = [e for e in standin.log if e["route"] == route]
    refused = next(i for i, e in enumerate(entries) if e["status"] == 429)
    return float(entries[refused + 1]["time"] - entries[refused]["time"])


@pytest.fixture(scope="module")
def table() -> Iterator[dict[str, tuple[str, str, str]]]:
    """Row results collected for the document, by fault, in the order the rows ran."""
    yield {}


@pytest.fixture
def images(tmp_path: Path) -> list[str]:
    path = tmp_path / "chair.png"
    path.write_bytes(png_bytes(96, 96))
    return [str(path)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_fault(
    row: Row, tmp_path: Path, images: list[str], table: dict[str, tuple[str, str, str]]
) -> None:
    standin = StandIn(
        api_key=API_KEY, api_secret=API_SECRET, job_seconds=JOB_SECONDS, large_glb=row.large_glb
    ).start()
    manager = None
    try:
        row.setup(standin)
        base_url = row.base_url(standin) if row.base_url else standin.base_url
        manager = make_manager(base_url, str(tmp_path), row.poll or FAST_POLL, row.timeout)
        submitted = manager.submit(
            name="Chair",
            images=images,
            settings=DEFAULT_TABLE.defaults(),
            expected_cost=1000.0,  # the price check runs too, as after a confirmation
        )
        record = wait_until_ended(manager, submitted.id)
        text = user_text(record)

        assert record.stage == row.expect_stage, text
        assert record.error_code == row.expect_code, text
        assert row.expect_words in text
        assert standin.paid_requests == row.paid
        assert manager.store.get(record.id).stage == record.stage  # what a restart would see
        for secret in SECRETS:
            assert secret not in text and secret not in repr(record)
        assert "<" not in text, "markup leaked into the message"
        assert "Signature=" not in text and "Expires=" not in text
        if row.expect_stage == Stage.UNKNOWN:
            assert "app.scenario.com" in text  # where to check before paying again
        if row.transient:
            # the fault really happened (a READY row must not pass because nothing went wrong)
            assert any(e["fault"] for e in standin.log)
        if row.expect_stage == Stage.READY:
            check_glb(record.glb_path)
            assert manager.library.get(record.library_id) is not None
        if row.waited:
            assert rate_limit_wait(standin, "job") >= row.waited - 0.05
        if row.check is not None:
            row.check(standin, record)
        table[row.fault] = (
            row.expect_stage.name,
            normalise(text),
            str(standin.paid_requests),
        )
    finally:
        if manager is not None:
            manager.shutdown(timeout=2.0)
        standin.stop()
    assert not standin.errors, "stand-in internal error:\n" + "\n".join(standin.errors)


# --------------------------------------------------------------------------- the document


HEADER = """# Reliability: what the add-on does when things go wrong

Generated by `YVO3D_WRITE_DOCS=1 .venv/bin/pytest tests/core/test_fault_matrix.py`; do not
edit by hand. Every row ran one whole job through the job engine against the local stand-in of
Scenario's API with that fault injected; a normal test run fails if this file no longer matches
what the code does.

Columns: **Fault**, what went wrong; **Outcome**, the stage the job ended in (READY: the model
is downloaded and checked, ready to import; FAILED: stopped with the message shown; UNKNOWN:
the paid request may or may not have started a job, and it is never re-sent; STALLED: still
running on Scenario, resumable); **Message**, the text the user sees, exactly as produced
(ports and ids replaced by PORT and *_ID); **Paid requests**, how many paid generate requests
reached the service (never more than one per job).
"""


def render(rows: dict[str, tuple[str, str, str]]) -> str:
    lines = [HEADER, "| Fault | Outcome | Message | Paid requests |", "| --- | --- | --- | --- |"]
    for row in ROWS:
        stage, text, paid = rows[row.fault]
        cells = [row.fault, stage, text, paid]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def test_reliability_doc(table: dict[str, tuple[str, str, str]]) -> None:
    """Last in the module: compares (or, with YVO3D_WRITE_DOCS=1, writes) docs/reliability.md."""
    missing = [row.fault for row in ROWS if row.fault not in table]
    if missing:
        pytest.skip(f"{len(missing)} of {len(ROWS)} rows did not run here; no table to compare")
    text = render(table)
    if os.environ.get("YVO3D_WRITE_DOCS") == "1":
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
        return
    committed = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if committed != text:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                text.splitlines(keepends=True),
                "docs/reliability.md (committed)",
                "docs/reliability.md (generated)",
            )
        )
        pytest.fail(
            "docs/reliability.md is out of date; regenerate it with "
            "YVO3D_WRITE_DOCS=1 .venv/bin/pytest tests/core/test_fault_matrix.py\n" + diff,
            pytrace=False,
        )
