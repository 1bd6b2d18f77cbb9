"""What crosses the wire to Scenario: the service URL's rules, and the typed errors read from an
HTTP answer or a network failure (their text scrubbed and cut short: never a secret, never a
page of HTML).

Blender-free. `requests` is imported late, where it is used: importing it costs ~90 ms.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import errors, sanitize

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.cloud.scenario.com/v1"
GENERATE_WHAT = "start the generation"
"""How the paid request names itself in errors (a 403 on it means the plan, not the key)."""


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


def network_error(exc: Exception, what: str) -> errors.NetworkError:
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


def not_sent(exc: Exception) -> bool:
    """Whether a request certainly never reached the server (safe to say 'nothing was paid')."""
    import requests

    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = repr(exc)
    return isinstance(exc, requests.ConnectionError) and (
        "NewConnectionError" in text or "NameResolution" in text or "refused" in text.lower()
    )
