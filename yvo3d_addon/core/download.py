"""Downloads of a job's results from their signed links: streamed to a `.part` file, resumed with
Range, redirects followed by hand (every hop https, or on this computer), capped in size,
cancellable within a second, checked (a complete, self-contained GLB) before the rename.

Blender-free. The client mixes `Downloads` in: the links are signed, so no Authorization
header is ever sent with them.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin, urlsplit

from . import errors
from .assets import check_glb
from .wire import error_for_response, is_loopback, network_error, redact_url

if TYPE_CHECKING:
    import requests


class Backoff(Protocol):
    """How failed downloads are retried (the client's RetryPolicy)."""

    attempts: int

    def delay(self, attempt: int) -> float: ...


MAX_DOWNLOAD = 2 * 1024**3  # the default of the Maximum Download preference

MAX_REDIRECTS = 5


class Downloads:
    """The download half of the client (mixed into ScenarioClient, which sets these)."""

    retry: Backoff
    session: requests.Session
    timeout: tuple[float, float]
    stall_timeout: float
    max_download: int
    requests_sent: int

    def _sleep(self, seconds: float) -> None:
        raise NotImplementedError

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
                last = network_error(exc, "download the result")
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
