"""Scenario API client over one requests.Session: upload, price, generate, jobs, assets, download.

Blender-free. Every call has connect and read timeouts. Free, idempotent calls retry with capped
exponential backoff and jitter; the paid generate request is sent exactly once, whatever happens.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import ipaddress
import logging
import math
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from . import errors, glbcheck, ids, images, sanitize

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.cloud.scenario.com/v1"
MODEL_ID = "model_yvo3d-image-to-3d"
USER_AGENT = "yvo3d-blender/0.1"
PART_SIZE = 8 * 1024 * 1024
GLB_MIME = "model/gltf-binary"
MAX_DOWNLOAD = 2 * 1024**3  # the default of the Maximum Download preference
MAX_REDIRECTS = 5
GLB_MIMES = frozenset({GLB_MIME, "model/glb"})  # Scenario types GLBs either way
NOT_GLB_MIMES = frozenset(
    {"model/obj", "model/x-fbx", "model/fbx", "application/octet-stream", "model/vnd.usdz+zip"}
)
DRY_RUN_STATUS = 269  # Scenario's answer to ?dryRun=true: a price, no job (SDK generate.py)
GENERATE_WHAT = "start the generation"

TERMINAL_SUCCESS = frozenset({"success"})
TERMINAL_FAILURE = frozenset({"failure", "failed", "error"})
TERMINAL_CANCELED = frozenset({"canceled", "cancelled"})
KNOWN_RUNNING = frozenset({"pending", "queued", "warming-up", "in-progress", "finalizing"})


# --------------------------------------------------------------------------- helpers


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """The service URL without a trailing slash; ConfigError when it cannot be used."""
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.ConfigError(
            f"The service URL {url!r} is not a URL.",
            fix=f"Use {DEFAULT_BASE_URL} (Preferences > Add-ons > YVO3D > Advanced).",
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise errors.ConfigError(
            "Plain http is refused for a service that is not on this computer: "
            "your key would travel unencrypted.",
            fix="Use an https:// service URL.",
        )
    return url


def redact_url(url: str) -> str:
    """A URL fit for a log or a message: no query string (signed URLs carry credentials)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _body_text(resp: requests.Response) -> str:
    """The service's reason for an error, from its JSON keys, else short plain text."""
    try:
        data = resp.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("reason", "message", "error", "detail", "errorMessage"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return sanitize.clean(value.strip(), limit=300)
    text = resp.text or ""
    if "<" in text and ">" in text:
        title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
        text = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return sanitize.clean(text, limit=200)


def _retry_after(resp: requests.Response) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date), retry-after-ms or
    remainingSeconds; None when the answer names no wait (then the client backs off)."""
    header = resp.headers.get("Retry-After")
    candidates: list[float] = []
    if header:
        try:
            candidates.append(float(header))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError):  # neither seconds nor a date: ignore the header
                when = None
            if when is not None:
                candidates.append(when.timestamp() - time.time())
    ms = resp.headers.get("retry-after-ms")
    if ms:
        try:
            candidates.append(float(ms) / 1000.0)
        except ValueError:
            pass
    try:
        data = resp.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("remainingSeconds"), int | float):
        candidates.append(float(data["remainingSeconds"]))
    if not candidates:
        return None
    return max(0.0, max(candidates))


def error_for_response(resp: requests.Response, what: str) -> errors.Yvo3dError:
    """Map an HTTP error answer to a typed error with a user-facing message. An answer with
    `x-should-retry: false` is never retried (the header the SDK's own client honours,
    scenario_sdk/_base_client.py `_should_retry`)."""
    err = _status_error(resp, what)
    if resp.headers.get("x-should-retry", "").strip().lower() == "false":
        err.retryable = False
    return err


def _status_error(resp: requests.Response, what: str) -> errors.Yvo3dError:
    status = resp.status_code
    reason = _body_text(resp)
    detail = f" (Scenario said: {reason})" if reason else ""
    if status == 401:
        return errors.AuthError(
            f"Scenario refused the API key and secret{detail}.",
            fix="Check them in Preferences > Add-ons > YVO3D (a project key from "
            "app.scenario.com > Project Settings > API Keys).",
            status=status,
        )
    if status == 402:
        return errors.CreditsError(
            f"Not enough Scenario credits to {what}{detail}.",
            fix="Top up your Scenario plan or pick cheaper settings.",
            status=status,
        )
    if status == 403 and what == GENERATE_WHAT:
        # Scenario answers 403 when the model needs a plan or a permission the account lacks
        # (scenario_api.md, corrections of 2026-12-04): name what it said, not a key scope.
        return errors.PermissionDeniedError(
            f"Scenario refused to start the generation{detail}.",
            fix="This model may need a Scenario plan or a permission your account or team does "
            "not have; check your plan and the model's page on app.scenario.com.",
            status=status,
        )
    if status == 403:
        return errors.PermissionDeniedError(
            f"This API key may not {what}{detail}.",
            fix="Give the key the needed scope, or raise its spending cap, in Scenario.",
            status=status,
        )
    if status == 404:
        return errors.NotFoundError(
            f"Scenario could not find it while trying to {what}{detail}.", status=status
        )
    if status == 409:
        return errors.ConflictError(
            f"Scenario reported a conflict while trying to {what}{detail}.",
            fix="Try again in a moment.",
            status=status,
        )
    if status == 413:
        return errors.PayloadTooLargeError(
            f"The file is too large for Scenario{detail}.",
            fix="Use a smaller image (under 3.5 MB is sent directly).",
            status=status,
        )
    if status in (400, 422):
        return errors.InvalidRequestError(
            f"Scenario refused the request to {what}{detail}.", status=status
        )
    if status == 429:
        wait = _retry_after(resp)
        if wait is None:
            # no Retry-After: often a concurrency limit; back off, never claim a wait Scenario
            # did not ask for (scenario_api.md, corrections of 2026-12-04)
            return errors.RateLimitedError(
                f"Scenario is busy (too many requests at once){detail}.",
                retry_after=None,
                fix="Try again in a moment.",
            )
        return errors.RateLimitedError(
            f"Scenario is rate limiting requests{detail}.",
            retry_after=wait,
            # not "waiting": the paid request is never retried, and free ones give up in the end
            fix=f"Scenario asks to wait {wait:.0f} s; try again after that."
            if wait >= 1
            else "Try again in a moment.",
        )
    if status >= 500:
        return errors.ServerError(
            f"Scenario had a server error ({status}) while trying to {what}{detail}.",
            fix="This is usually brief; try again in a minute.",
            status=status,
        )
    return errors.InvalidRequestError(
        f"Unexpected answer {status} from Scenario while trying to {what}{detail}.", status=status
    )


def _network_error(exc: Exception, what: str) -> errors.NetworkError:
    import requests  # late: it costs ~90 ms, and enabling the add-on must stay cheap

    if isinstance(exc, requests.Timeout):
        text = f"Scenario did not answer in time while trying to {what}."
    elif isinstance(exc, requests.ConnectionError) and "NameResolution" in repr(exc):
        text = f"The service's address could not be resolved (DNS) while trying to {what}."
    elif isinstance(exc, requests.ConnectionError) and "refused" in repr(exc).lower():
        text = f"The connection was refused while trying to {what}."
    else:
        text = f"The network failed while trying to {what} ({type(exc).__name__})."
    return errors.NetworkError(text, fix="Check your internet connection and proxy settings.")


def _not_sent(exc: Exception) -> bool:
    """Whether a request certainly never reached the server (safe to say 'nothing was paid')."""
    import requests

    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = repr(exc)
    return isinstance(exc, requests.ConnectionError) and (
        "NewConnectionError" in text or "NameResolution" in text or "refused" in text.lower()
    )


# --------------------------------------------------------------------------- data


@dataclass
class RetryPolicy:
    """Backoff for free requests: attempts, first delay, cap, and how long a 429 may wait."""

    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0
    max_rate_wait: float = 60.0
    rate_limit_attempts: int = 6

    def delay(self, attempt: int) -> float:
        return float(random.uniform(0, min(self.cap, self.base * (2**attempt))))


@dataclass
class Price:
    cost: float
    discount: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobStatus:
    job_id: str
    status: str
    progress: float
    asset_ids: list[str]
    error: str = ""
    hint: str = ""
    cost: float | None = None

    @property
    def state(self) -> str:
        """'success' | 'failure' | 'canceled' | 'running' (unknown statuses count as running)."""
        if self.status in TERMINAL_SUCCESS:
            return "success"
        if self.status in TERMINAL_FAILURE:
            return "failure"
        if self.status in TERMINAL_CANCELED:
            return "canceled"
        return "running"

    @property
    def known(self) -> bool:
        """A status of Scenario's documented list (jobs.py gives unknown ones a time limit)."""
        return self.state != "running" or self.status in KNOWN_RUNNING


@dataclass
class Asset:
    id: str
    url: str
    mime_type: str
    kind: str
    status: str
    type: str
    properties: dict[str, Any]
    parent_id: str = ""
    original_mime_type: str = ""
    preview_url: str = ""  # the asset's own preview/thumbnail image (SDK AssetPreview)

    def __repr__(self) -> str:  # the URL is signed: never in a repr
        return f"Asset(id={self.id!r}, mime_type={self.mime_type!r}, kind={self.kind!r})"


@dataclass
class Submitted:
    job_id: str
    cost: float | None


Wait = Callable[[float], bool]
"""Sleeps up to n seconds; returns True when the wait was interrupted by a cancel."""


def _plain_wait(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def is_glb(asset: Asset) -> bool:
    """Typed as a GLB: `model/gltf-binary` or `model/glb` (scenario_api.md, corrections of
    2026-12-04). An FBX, OBJ, USDZ or octet-stream asset never is, whatever its name says."""
    mime = asset.mime_type.lower()
    if mime in GLB_MIMES:
        return True
    return not mime and str(asset.properties.get("format", "")).lower() == "glb"


def _derived(asset: Asset, ids: set[str]) -> int:
    """How much an asset looks like a conversion of another one rather than the job's own
    model (SDK types/asset_retrieve_response.py: metadata.parentId, originalMimeType,
    properties.format; metadata.type names what made it)."""
    score = 0
    if asset.parent_id and asset.parent_id in ids:
        score += 2
    if asset.original_mime_type and asset.original_mime_type.lower() not in GLB_MIMES:
        score += 1
    fmt = str(asset.properties.get("format", "")).lower()
    if fmt and fmt != "glb":
        score += 1
    if any(word in asset.type.lower() for word in ("convert", "texture", "preview", "thumb")):
        score += 1
    return score


def pick_glb(assets: Iterable[Asset]) -> Asset | None:
    """The job's GLB: a ready asset typed as a GLB, the job's primary model first (an asset
    that is a conversion of another asset of the job comes last)."""
    listed = list(assets)
    ids = {a.id for a in listed}
    ready = [a for a in listed if a.status in ("success", "") and a.url and is_glb(a)]
    if not ready:
        return None
    return min(ready, key=lambda a: _derived(a, ids))  # stable: the first of equals


def pending_assets(assets: Iterable[Asset]) -> list[Asset]:
    """Assets Scenario is still preparing (an asset may be `pending` after the job's success)."""
    return [a for a in assets if a.status == "pending"]


def check_glb(path: str) -> None:
    """A complete GLB that references nothing outside itself (glbcheck). DownloadError (retried)
    when the file is cut short, UnsafeFileError (final) when it is something else."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(12)
    if len(head) == 12 and head[:4] == b"glTF":
        length = int.from_bytes(head[8:12], "little")
        if length > size:
            raise errors.DownloadError(
                f"The downloaded GLB is incomplete ({size} of {length} bytes).",
                fix="It is downloaded again automatically.",
            )
    glbcheck.check(path)


# --------------------------------------------------------------------------- client


class ScenarioClient:
    """One client per job worker (or per short task); not shared across threads."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        project_id: str = "",
        timeout: tuple[float, float] = (10.0, 60.0),
        retry: RetryPolicy | None = None,
        wait: Wait | None = None,
        session: requests.Session | None = None,
        verify: str | bool = True,
        max_download: int = MAX_DOWNLOAD,
        stall_timeout: float = 60.0,
    ) -> None:
        if not api_key or not api_secret:
            raise errors.ConfigError(
                "No Scenario API key and secret are set.",
                fix="Add them in Preferences > Add-ons > YVO3D, or set SCENARIO_SDK_API_KEY and "
                "SCENARIO_SDK_API_SECRET.",
            )
        self.base_url = check_base_url(base_url)
        token = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self.__auth = f"Basic {token}"  # name-mangled and never in repr()
        self.project_id = project_id
        # which account and project the asset ids of uploads belong to (no secret in it: a
        # digest of the key id, never of the secret)
        self.scope = (
            self.base_url,
            hashlib.sha256(api_key.encode()).hexdigest()[:16],
            project_id,
        )
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.wait: Wait = wait or _plain_wait
        if session is None:
            import requests  # late: the first client pays for it, not enabling the add-on

            session = requests.Session()
        self.session = session
        self.session.headers["User-Agent"] = USER_AGENT
        # A CA bundle path (corporate TLS inspection) or False; proxies come from the
        # environment and the system, as requests reads them (trust_env).
        self.session.verify = verify
        self.requests_sent = 0
        self.max_download = max_download
        self.stall_timeout = stall_timeout
        sanitize.register_secrets(api_key, api_secret)
        self.retry_not_found = False
        self.last_status = 0
        """After the paid request a 404 is retried with backoff (it may be a replica lag)."""

    def __repr__(self) -> str:
        return f"ScenarioClient(base_url={self.base_url!r})"

    # -- plumbing

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self.wait(seconds):
            raise errors.JobCancelledError("Cancelled.")

    def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json_body: Any = None,
        query: dict[str, str] | None = None,
    ) -> requests.Response:
        params = dict(query or {})
        if self.project_id:
            params["projectId"] = self.project_id
        self.requests_sent += 1
        return self.session.request(
            method,
            self.base_url + path,
            json=json_body,
            params=params or None,
            headers={"Authorization": self.__auth, "Accept": "application/json"},
            timeout=self.timeout,
            allow_redirects=False,
        )

    @staticmethod
    def _json(resp: requests.Response, what: str) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise errors.InvalidResponseError(
                f"Scenario sent an answer that is not valid JSON while trying to {what}.",
                fix="This is usually a passing gateway problem; try again.",
                status=resp.status_code,
            )
        return data

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json_body: Any = None,
        query: dict[str, str] | None = None,
        sent_once: bool = False,
    ) -> dict[str, Any]:
        """A free request, retried on network errors, 409, 5xx, bad JSON, and after 429 waits.
        The answer's 2xx status is kept in `last_status` (a dry run's 269 is not any 2xx).

        `sent_once`: a request that reached the server is never sent again (only one that
        certainly never left, or a 429, is): a price check that a service or proxy took for a
        generation and then failed may have started a paid job, and a resend could start
        another."""
        import requests  # late (see _network_error); already loaded once a session exists

        attempt = 0
        rate_waits = 0
        while True:
            try:
                resp = self._send(method, path, what=what, json_body=json_body, query=query)
                if 200 <= resp.status_code < 300:
                    self.last_status = resp.status_code
                    return self._json(resp, what)
                raise error_for_response(resp, what)
            except errors.RateLimitedError as exc:
                rate_waits += 1
                if rate_waits > self.retry.rate_limit_attempts or not exc.retryable:
                    raise
                wait = exc.retry_after
                if wait is None:  # no wait named: back off like any retry
                    wait = self.retry.base + self.retry.delay(rate_waits)
                log.info("rate limited; waiting %.1f s", wait)
                self._sleep(min(wait, self.retry.max_rate_wait))
                continue
            except errors.Yvo3dError as exc:
                retry_404 = self.retry_not_found and isinstance(exc, errors.NotFoundError)
                if not (exc.retryable or retry_404) or attempt + 1 >= self.retry.attempts:
                    raise
                if sent_once:
                    raise  # the server had it: never sent twice
                err: errors.Yvo3dError = exc
            except requests.RequestException as exc:
                err = _network_error(exc, what)
                if attempt + 1 >= self.retry.attempts or (sent_once and not _not_sent(exc)):
                    raise err from None
            attempt += 1
            delay = self.retry.delay(attempt)
            log.info("%s failed (%s); retry %d in %.2f s", what, err.code, attempt, delay)
            self._sleep(delay)

    # -- API

    def get_model(self, model_id: str = MODEL_ID) -> dict[str, Any]:
        return self.call("GET", f"/models/{model_id}", what="read the model's parameters")

    def upload_image(self, path: str, *, name: str = "") -> str:
        """Upload a reference image; returns its asset id. Large files take the multipart flow."""
        info = images.inspect(path)
        name = name or os.path.basename(path)
        if info.size <= images.INLINE_UPLOAD_LIMIT:
            data = self.call(
                "POST",
                "/assets",
                what="upload the image",
                json_body={"name": name, "image": images.data_url(path)},
            )
            asset_id = (data.get("asset") or {}).get("id")
            if not isinstance(asset_id, str):
                raise errors.InvalidResponseError(
                    "Scenario did not return the uploaded image's id."
                )
            return ids.check_id(asset_id, "uploaded image id")
        return self._upload_multipart(path, name, info.size, info.mime)

    def _upload_multipart(self, path: str, name: str, size: int, mime: str) -> str:
        parts = max(1, math.ceil(size / PART_SIZE))
        data = self.call(
            "POST",
            "/uploads",
            what="start the image upload",
            json_body={
                "fileName": name,
                "fileSize": size,
                "contentType": mime,
                "kind": "image",
                "parts": parts,
            },
        )
        upload = data.get("upload") or {}
        upload_id = upload.get("id")
        if upload_id is not None:
            upload_id = ids.check_id(upload_id, "upload id")
        part_urls = sorted(upload.get("parts") or [], key=lambda p: p.get("number", 0))
        if not isinstance(upload_id, str) or len(part_urls) != parts:
            raise errors.InvalidResponseError("Scenario's upload answer was incomplete.")
        with open(path, "rb") as fh:
            for part in part_urls:
                chunk = fh.read(PART_SIZE)
                self._put_part(str(part.get("url", "")), chunk, mime)
        self.call(
            "POST",
            f"/uploads/{upload_id}/action",
            what="finish the image upload",
            json_body={"action": "complete"},
        )
        deadline = time.monotonic() + 300
        delay = 0.5
        while time.monotonic() < deadline:
            up = self.call("GET", f"/uploads/{upload_id}", what="check the image upload")
            up = up.get("upload") or {}
            status = up.get("status")
            # Scenario's own helper stops at entityId + imported or complete (scenario_api.md
            # 1b, [DOCS-sdk-helpers] uploads; [PLUGIN] docs/SDK_UPLOADS.md)
            if status in ("imported", "complete") and up.get("entityId"):
                return ids.check_id(up["entityId"], "uploaded image id")
            if status == "failed":
                reason = sanitize.clean(up.get("errorMessage") or "failed", limit=300)
                raise errors.InvalidRequestError(f"Scenario could not import the image: {reason}.")
            self._sleep(delay)
            delay = min(delay * 1.5, 3.0)
        raise errors.NetworkError("The image upload did not finish within 5 minutes.")

    def _put_part(self, url: str, chunk: bytes, mime: str) -> None:
        import requests

        for attempt in range(self.retry.attempts):
            try:
                self.requests_sent += 1
                resp = self.session.put(
                    url, data=chunk, headers={"Content-Type": mime}, timeout=self.timeout
                )
                if resp.status_code in (200, 201, 204):
                    return
                err = error_for_response(resp, "upload part of the image")
            except requests.RequestException as exc:
                err = _network_error(exc, "upload part of the image")
            if not err.retryable or attempt + 1 >= self.retry.attempts:
                raise err
            self._sleep(self.retry.delay(attempt + 1))

    def estimate(self, body: dict[str, Any], model_id: str = MODEL_ID) -> Price:
        """The price in credits of exactly this request (dryRun in the query: no job, no cost).

        Only a 269 without a `job` is a price (SDK resources/generate.py: "returns a 269
        response carrying the creative units cost"); a real generation answer carries
        `creativeUnitsCost` too, so any other 2xx is not read as one. An answer with a job
        means a paid job was started: PaidDryRunError carries it, to be followed."""
        data = self.call(
            "POST",
            f"/generate/custom/{model_id}",
            what="price the generation",
            json_body=body,
            query={"dryRun": "true"},
            sent_once=True,
        )
        status = self.last_status
        cost = data.get("creativeUnitsCost")
        cost_value = float(cost) if isinstance(cost, int | float) else None
        job = data.get("job")
        if job is not None:
            job_id = job.get("jobId") or job.get("id") if isinstance(job, dict) else None
            if not isinstance(job_id, str) or not job_id:
                raise errors.OutcomeUnknownError(
                    "Scenario answered the price check with a job but no job id: a paid job "
                    "may have started.",
                    fix="Check your jobs on app.scenario.com; nothing more was sent.",
                )
            raise errors.PaidDryRunError(
                f"Scenario started a paid job ({job_id}) instead of answering the price check; "
                "no generation was sent after it.",
                job_id=job_id,
                cost=cost_value,
                fix=f"Its result can be downloaded: `jobs follow {job_id}` on the command line.",
            )
        if status != DRY_RUN_STATUS or cost_value is None:
            said = "no price" if cost_value is None else f"HTTP {status} instead of 269"
            raise errors.PriceCheckError(
                f"Scenario's answer to the price check was not a price ({said}); nothing more "
                "was sent and nothing was paid.",
                fix="Check the service URL (a proxy may be changing the answers); if you use "
                "Scenario directly, try again later.",
                status=status,
            )
        discount = data.get("creativeUnitsDiscount") or 0
        details = data.get("costDetails") or {}
        return Price(
            cost_value,
            float(discount) if isinstance(discount, int | float) else 0.0,
            details if isinstance(details, dict) else {},
        )

    def generate(self, body: dict[str, Any], model_id: str = MODEL_ID) -> Submitted:
        """The paid request: sent once. No answer means OutcomeUnknownError, never a resend."""
        import requests

        what = GENERATE_WHAT
        try:
            resp = self._send("POST", f"/generate/custom/{model_id}", what=what, json_body=body)
        except requests.RequestException as exc:
            if _not_sent(exc):
                raise _network_error(exc, what) from None
            raise errors.OutcomeUnknownError(
                "The generation request was sent but no answer came back, so it is unknown "
                "whether Scenario started (and charged) a job.",
                fix="Check your jobs on app.scenario.com before generating again; it was not "
                "re-sent so you are not charged twice.",
            ) from None
        if resp.status_code >= 500:
            raise errors.OutcomeUnknownError(
                f"Scenario answered the generation request with a server error "
                f"({resp.status_code}); it is unknown whether a job was started.",
                fix="Check your jobs on app.scenario.com before generating again; it was not "
                "re-sent so you are not charged twice.",
                status=resp.status_code,
            )
        if not 200 <= resp.status_code < 300:
            raise error_for_response(resp, what)
        try:
            data = self._json(resp, what)
        except errors.InvalidResponseError:
            raise errors.OutcomeUnknownError(
                "Scenario accepted the generation request but its answer was unreadable.",
                fix="Check your jobs on app.scenario.com; it was not re-sent.",
            ) from None
        job = data.get("job") or {}
        job_id = job.get("jobId") or job.get("id")
        if not ids.is_id(job_id):
            raise errors.OutcomeUnknownError(
                "Scenario accepted the generation request but sent no usable job id.",
                fix="Check your jobs on app.scenario.com; it was not re-sent.",
            )
        cost = data.get("creativeUnitsCost")
        assert isinstance(job_id, str)
        return Submitted(job_id, float(cost) if isinstance(cost, int | float) else None)

    def get_job(self, job_id: str) -> JobStatus:
        job_id = ids.check_id(job_id, "job id")
        data = self.call("GET", f"/jobs/{job_id}", what="check the job")
        return self._job_status(data, job_id)

    def cancel_job(self, job_id: str) -> JobStatus:
        job_id = ids.check_id(job_id, "job id")
        data = self.call(
            "POST", f"/jobs/{job_id}/action", what="cancel the job", json_body={"action": "cancel"}
        )
        return self._job_status(data, job_id)

    @staticmethod
    def _job_status(data: dict[str, Any], job_id: str) -> JobStatus:
        job = data.get("job")
        if not isinstance(job, dict):
            raise errors.InvalidResponseError("Scenario's job answer had no job in it.")
        meta = job.get("metadata") or {}
        if not isinstance(meta, dict):
            raise errors.InvalidResponseError("Scenario's job answer was malformed (metadata).")
        status = job.get("status", "unknown")
        assets = meta.get("assetIds") or []
        if not isinstance(status, str) or not isinstance(assets, list):
            raise errors.InvalidResponseError(
                "Scenario's job answer was malformed (its status or its list of results is "
                "not what it should be).",
                fix="Press Resume in the Jobs panel to check the job again; nothing is lost.",
            )
        progress = job.get("progress")
        error = ""
        for key in ("error", "errorMessage", "failureReason"):
            if isinstance(job.get(key), str) and job[key]:
                error = job[key]
                break
        error = error or str(meta.get("error") or "")
        billing = job.get("billing") or {}
        cost = billing.get("cuCost") if isinstance(billing, dict) else None
        return JobStatus(
            job_id=ids.check_id(job.get("jobId") or job.get("id") or job_id, "job id"),
            status=sanitize.clean(status, limit=40).lower(),
            progress=float(progress)
            if isinstance(progress, int | float) and math.isfinite(progress)
            else 0.0,
            asset_ids=[ids.check_id(a, "result id") for a in assets if a],
            error=sanitize.clean(error),
            hint=sanitize.clean(meta.get("hint") or ""),
            cost=float(cost) if isinstance(cost, int | float) else None,
        )

    def get_asset(self, asset_id: str) -> Asset:
        asset_id = ids.check_id(asset_id, "result id")
        data = self.call("GET", f"/assets/{asset_id}", what="read the result")
        asset = data.get("asset")
        if not isinstance(asset, dict):
            raise errors.InvalidResponseError("Scenario's asset answer had no asset in it.")
        meta = asset.get("metadata") or {}
        props = asset.get("properties") or {}
        if not isinstance(meta, dict):
            meta = {}
        picture = ""
        for key in ("preview", "thumbnail"):  # {assetId, url} (SDK AssetPreview/AssetThumbnail)
            value = asset.get(key)
            if isinstance(value, dict) and isinstance(value.get("url"), str):
                picture = value["url"]
                break
        return Asset(
            id=ids.check_id(asset.get("id") or asset_id, "result id"),
            url=str(asset.get("url") or ""),
            mime_type=sanitize.clean(asset.get("mimeType") or "", limit=80),
            kind=sanitize.clean(asset.get("kind") or "", limit=40),
            status=sanitize.clean(asset.get("status") or "", limit=40),
            type=str(meta.get("type") or "") if isinstance(meta, dict) else "",
            properties=props if isinstance(props, dict) else {},
            parent_id=str(meta.get("parentId") or ""),
            original_mime_type=str(asset.get("originalMimeType") or ""),
            preview_url=picture,
        )

    def download(
        self,
        url: str,
        dest: str,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
        chunk_size: int = 1024 * 1024,
    ) -> str:
        """Stream a signed URL to dest via dest.part (resumed with Range when possible), check
        the size against Content-Length and the file (glbcheck), then rename. No Authorization
        header is ever sent here. At most `max_download` bytes; no bytes for `stall_timeout`
        seconds is a (retried) network error; `cancel` ends it within a second.

        1 MiB chunks: with 256 KiB the per-chunk cost of requests/urllib3 kept a loopback
        download at ~0.8x raw streaming (docs/performance.md); memory stays ~1 MiB."""
        import requests

        part = dest + ".part"
        last: errors.Yvo3dError | None = None
        for attempt in range(self.retry.attempts):
            if attempt:
                self._sleep(self.retry.delay(attempt))
            try:
                self._download_once(url, part, on_progress, cancel, chunk_size)
                check_glb(part)
                os.replace(part, dest)
                return dest
            except errors.ExpiredURLError:
                raise
            except (errors.UnsafeFileError, errors.TooLargeError):
                if os.path.exists(part):
                    os.remove(part)  # never kept: not a file to resume or to import
                raise
            except errors.DownloadError as exc:
                # A complete but invalid file will not get better by resuming it.
                if os.path.exists(part):
                    os.remove(part)
                last = exc
            except errors.Yvo3dError as exc:
                if not exc.retryable:
                    raise
                last = exc
            except requests.RequestException as exc:
                last = _network_error(exc, "download the result")
        assert last is not None
        raise last

    def fetch_small(self, url: str, dest: str, limit: int) -> None:
        """One free GET of a small file (a preview) to dest, refused past `limit` bytes."""
        with self._open_stream(url, {"Accept": "image/*"}) as resp:
            if resp.status_code != 200:
                raise error_for_response(resp, "download the preview")
            with open(dest, "wb") as fh:
                self._copy(resp, fh, 0, limit, None, None, 64 * 1024)

    def _open_stream(self, url: str, headers: dict[str, str]) -> requests.Response:
        """GET with redirects followed by hand: every hop must be https (or on this computer)."""
        for _hop in range(MAX_REDIRECTS + 1):
            check_download_url(url)
            self.requests_sent += 1
            resp = self.session.get(
                url,
                headers=headers,
                stream=True,
                timeout=(self.timeout[0], self.stall_timeout),
                allow_redirects=False,
            )
            if resp.status_code not in (301, 302, 303, 307, 308):
                return resp
            location = resp.headers.get("Location", "")
            resp.close()
            url = urljoin(url, location)
        raise errors.UnsafeFileError(
            f"The download link redirected more than {MAX_REDIRECTS} times.",
            fix="Check the job on app.scenario.com.",
        )

    def _copy(
        self,
        resp: requests.Response,
        fh: Any,
        have: int,
        total: int,
        on_progress: Callable[[int, int], None] | None,
        cancel: threading.Event | None,
        chunk_size: int,
    ) -> int:
        """Stream the body into fh, at most `total` (or max_download) bytes; bytes written."""
        limit = total or self.max_download
        got = have
        stop = threading.Event()
        watchdog = threading.Thread(
            target=_cut_on_cancel, args=(resp, cancel, stop), name="yvo3d-dl-watch", daemon=True
        )
        if cancel is not None:
            watchdog.start()
        try:
            for chunk in resp.iter_content(chunk_size):
                if cancel is not None and cancel.is_set():
                    break
                got += len(chunk)
                if got > limit:
                    raise _too_large(got, limit, self.max_download)
                fh.write(chunk)
                if on_progress is not None:
                    on_progress(got, total)
        except Exception:
            if cancel is None or not cancel.is_set():
                raise
        finally:
            stop.set()
            if watchdog.is_alive():
                watchdog.join(1.0)
        if cancel is not None and cancel.is_set():
            raise errors.JobCancelledError("Cancelled during the download.")
        return got

    def _download_once(
        self,
        url: str,
        part: str,
        on_progress: Callable[[int, int], None] | None,
        cancel: threading.Event | None,
        chunk_size: int,
    ) -> None:
        have = os.path.getsize(part) if os.path.exists(part) else 0
        headers = {"Accept": "*/*"}
        if have:
            headers["Range"] = f"bytes={have}-"
        with self._open_stream(url, headers) as resp:
            if resp.status_code in (401, 403, 410):
                raise errors.ExpiredURLError(
                    "The download link of the result has expired.",
                    fix="It is fetched again automatically.",
                    status=resp.status_code,
                )
            if resp.status_code == 416:
                os.remove(part)
                raise errors.DownloadError("The partial download could not be resumed.")
            if resp.status_code not in (200, 206):
                raise error_for_response(resp, "download the result")
            mode = "ab" if resp.status_code == 206 else "wb"
            if mode == "wb":
                have = 0
            length = resp.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else 0
            if total > self.max_download:
                raise _too_large(total, self.max_download, self.max_download)
            with open(part, mode) as fh:
                got = self._copy(resp, fh, have, total, on_progress, cancel, chunk_size)
            if total and got != total:
                raise errors.NetworkError(
                    f"The download stopped early ({got} of {total} bytes).",
                    fix="It is resumed automatically.",
                )


def _too_large(size: int, limit: int, preference: int) -> errors.Yvo3dError:
    if limit < preference:  # more bytes than the server's own Content-Length: a lying server
        return errors.NetworkError("The download sent more bytes than it announced.")
    return errors.TooLargeError(
        f"The result is larger than the download limit ({size / 2**20:.0f} MB > "
        f"{preference / 2**20:.0f} MB); it was not kept.",
        fix="Raise Maximum Download in Preferences > Add-ons > YVO3D > Advanced, then press "
        "Resume in the Jobs panel.",
    )


def _cut_on_cancel(
    resp: requests.Response, cancel: threading.Event | None, stop: threading.Event
) -> None:
    """Watchdog: when `cancel` is set, shut the socket so a blocked read returns at once."""
    while cancel is not None and not stop.wait(0.05):
        if not cancel.is_set():
            continue
        sock = None
        for path in (("raw", "_connection", "sock"), ("raw", "_fp", "fp", "raw", "_sock")):
            obj: Any = resp
            for name in path:
                obj = getattr(obj, name, None)
            if obj is not None:
                sock = obj
                break
        try:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            else:
                resp.close()
        except OSError:
            pass
        return


def check_download_url(url: str) -> None:
    """Download links are https, or plain http only to this computer (the stand-in)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and host and is_loopback(host):
        return
    raise errors.UnsafeFileError(
        f"Refused a download link that is not https ({redact_url(url)[:80]}): the result could "
        "be read or changed on the way.",
        fix="Check your proxy settings, and the job on app.scenario.com.",
    )
