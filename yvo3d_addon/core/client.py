"""Scenario API client over one requests.Session: upload, price, generate, jobs, assets, download.

Blender-free. Every call has connect and read timeouts. Free, idempotent calls retry with capped
exponential backoff and jitter; the paid generate request is sent exactly once, whatever happens.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import errors, ids, images, sanitize
from .assets import Asset
from .download import MAX_DOWNLOAD, Downloads
from .wire import (
    GENERATE_WHAT,
    check_base_url,
    error_for_response,
    network_error,
    not_sent,
)

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

MODEL_ID = "model_yvo3d-image-to-3d"
USER_AGENT = "yvo3d-blender/0.1"
PART_SIZE = 8 * 1024 * 1024
DRY_RUN_STATUS = 269  # Scenario's answer to ?dryRun=true: a price, no job (SDK generate.py)

TERMINAL_SUCCESS = frozenset({"success"})
TERMINAL_FAILURE = frozenset({"failure", "failed", "error"})
TERMINAL_CANCELED = frozenset({"canceled", "cancelled"})
KNOWN_RUNNING = frozenset({"pending", "queued", "warming-up", "in-progress", "finalizing"})


# --------------------------------------------------------------------------- helpers


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
class Submitted:
    job_id: str
    cost: float | None


Wait = Callable[[float], bool]
"""Sleeps up to n seconds; returns True when the wait was interrupted by a cancel."""


def _plain_wait(seconds: float) -> bool:
    time.sleep(seconds)
    return False


# --------------------------------------------------------------------------- client


class ScenarioClient(Downloads):
    """One client per job worker (or per short task); not shared across threads."""

    retry: RetryPolicy

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
        import requests  # late (see network_error); already loaded once a session exists

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
                err = network_error(exc, what)
                if attempt + 1 >= self.retry.attempts or (sent_once and not not_sent(exc)):
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
                err = network_error(exc, "upload part of the image")
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
            if not_sent(exc):
                raise network_error(exc, what) from None
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
