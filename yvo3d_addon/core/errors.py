"""Error types of the Blender-free core: each carries a message a user understands and, where
there is one, the fix. Messages never contain credentials or signed URLs."""

from __future__ import annotations


class Yvo3dError(Exception):
    """Base of every error the add-on shows to a user.

    `code` is a stable identifier (tests and the job store use it), `message` is the sentence
    shown in Blender, `fix` what the user can do about it, `retryable` whether trying the same
    request again later can succeed.
    """

    code = "error"
    retryable = False

    def __init__(self, message: str, *, fix: str = "", status: int | None = None) -> None:
        from .sanitize import scrub  # late: enabling the add-on stays cheap

        message, fix = scrub(message), scrub(fix)
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.status = status

    def user_text(self) -> str:
        """Message and fix as one line for a report."""
        message = self.message.strip()
        if message and self.fix and message[-1] not in ".!?":
            message += "."
        return f"{message} {self.fix}".strip()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class InputError(Yvo3dError):
    """A reference image or a setting the add-on refuses before anything is sent."""

    code = "input"


class ConfigError(Yvo3dError):
    """Missing credentials, a service URL that is not usable, online access off."""

    code = "config"


class AuthError(Yvo3dError):
    code = "auth"


class PermissionDeniedError(Yvo3dError):
    code = "permission"


class CreditsError(Yvo3dError):
    code = "credits"


class NotFoundError(Yvo3dError):
    code = "not_found"


class ConflictError(Yvo3dError):
    code = "conflict"
    retryable = True


class PayloadTooLargeError(Yvo3dError):
    code = "too_large"


class InvalidRequestError(Yvo3dError):
    code = "invalid_request"


class RateLimitedError(Yvo3dError):
    code = "rate_limited"
    retryable = True

    def __init__(
        self, message: str, *, retry_after: float | None, fix: str = "", status: int | None = 429
    ) -> None:
        super().__init__(message, fix=fix, status=status)
        self.retry_after = retry_after


class PriceCheckError(Yvo3dError):
    """A dry run answered with something that is not a price (not a 269 without a job)."""

    code = "price_check"


class PaidDryRunError(Yvo3dError):
    """A dry run started a paid job anyway (a service or proxy ignored dryRun): `job_id` and
    `cost` are that job's; it must be followed, and the generate never sent after it."""

    code = "paid_dry_run"

    def __init__(self, message: str, *, job_id: str, cost: float | None, fix: str = "") -> None:
        super().__init__(message, fix=fix)
        self.job_id = job_id
        self.cost = cost


class ServerError(Yvo3dError):
    code = "server"
    retryable = True


class NetworkError(Yvo3dError):
    """No answer: connection refused, DNS failure, timeout, connection dropped."""

    code = "network"
    retryable = True


class InvalidResponseError(Yvo3dError):
    """The service answered with something that is not the JSON it should be."""

    code = "invalid_response"
    retryable = True


class DownloadError(Yvo3dError):
    """The result file could not be fetched or is not a valid GLB."""

    code = "download"
    retryable = True


class ExpiredURLError(DownloadError):
    """A signed download URL was refused; fetching the asset again gives a fresh one."""

    code = "expired_url"


class JobFailedError(Yvo3dError):
    """The service ran the job and it failed; `message` and `hint` come from the service."""

    code = "job_failed"

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message, fix=hint)
        self.hint = hint


class JobCancelledError(Yvo3dError):
    code = "cancelled"


class NoResultError(Yvo3dError):
    """The job succeeded but none of its assets is a GLB."""

    code = "no_result"


class OutcomeUnknownError(Yvo3dError):
    """The paid request was sent but no answer came back: it may or may not have created a job.

    It is never re-sent automatically (that could pay twice).
    """

    code = "outcome_unknown"


class StillRunningError(Yvo3dError):
    """The job did not end within the overall timeout; it may still finish on Scenario."""

    code = "still_running"
    retryable = True


class UnsafeFileError(Yvo3dError):
    """A result file refused before it is kept or imported: not a GLB, or a GLB that reaches
    outside itself or lies about its sizes. Downloading it again gives the same file."""

    code = "unsafe_file"


class TooLargeError(Yvo3dError):
    """A download larger than the user's limit; raising the limit and resuming fetches it."""

    code = "too_large_download"
