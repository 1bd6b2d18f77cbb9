"""The price of the current request, fetched off the main thread once the settings settle.

Blender-free. A dry run needs real asset ids, so the pricer uploads the images (free) and keeps
their ids in an `UploadCache` that the job engine reuses: the images are not sent twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import errors, images
from .client import ScenarioClient
from .params import DEFAULT_TABLE, ParamTable

log = logging.getLogger(__name__)


class UploadCache:
    """Asset ids of images already uploaded, by (service URL, API key id, project, content
    hash). An asset belongs to one project: when a client with other credentials or another
    project uses the cache, everything in it is dropped, so an id from another project never
    reaches a dry run or a generate. Thread-safe."""

    def __init__(self, max_age: float = 6 * 3600.0) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._scope: tuple[str, ...] = ()
        self._ids: dict[tuple[str, ...], tuple[str, float]] = {}

    def _use(self, scope: tuple[str, ...]) -> None:
        with self._lock:
            if scope != self._scope:
                self._ids.clear()
                self._scope = scope

    def get(self, scope: tuple[str, ...], sha256: str) -> str | None:
        self._use(scope)
        with self._lock:
            found = self._ids.get((*scope, sha256))
        if found is None or time.time() - found[1] > self.max_age:
            return None
        return found[0]

    def put(self, scope: tuple[str, ...], sha256: str, asset_id: str) -> None:
        self._use(scope)
        with self._lock:
            self._ids[(*scope, sha256)] = (asset_id, time.time())

    def upload(self, client: ScenarioClient, path: str, sha256: str = "") -> str:
        """The image's asset id: from the cache, else uploaded now and remembered."""
        digest = sha256 or images.file_sha256(path)
        cached = self.get(client.scope, digest)
        if cached:
            return cached
        asset_id = client.upload_image(path)
        self.put(client.scope, digest, asset_id)
        return asset_id


@dataclass(frozen=True)
class Quote:
    state: str  # "idle" | "pending" | "ok" | "error"
    cost: float | None = None
    message: str = ""
    key: str = ""  # fingerprint of the request this quote is for


IGNORED_TEXT = (
    "No price shown: this service started a paid job for a price check (it or a proxy ignores "
    "dryRun), so no more price checks are sent to it. Reload the add-on once it is fixed."
)


class Pricer:
    """One background thread; `request()` never blocks and only the latest request is priced."""

    def __init__(
        self,
        client_factory: Callable[[], ScenarioClient],
        uploads: UploadCache,
        *,
        table: ParamTable = DEFAULT_TABLE,
        debounce: float = 0.6,
        model_id: str = "model_yvo3d-image-to-3d",
        on_paid_job: Callable[[str, float | None, dict[str, Any]], bool] | None = None,
    ) -> None:
        self.client_factory = client_factory
        self.on_paid_job = on_paid_job
        """Called (on the pricer's thread) with a job a dry run started anyway, its cost and
        what is known of its request (fingerprint, settings, images, image_hashes); True when
        it is now followed."""
        self.ignored_by = ""
        """The service that took a price check for a generation: no more are sent to it (each
        would start another paid job) until the add-on is reloaded."""
        self.uploads = uploads
        self.table = table
        self.debounce = debounce
        self.model_id = model_id
        self._cond = threading.Condition()
        self._pending: tuple[list[str], dict[str, Any], float] | None = None
        self._quote = Quote("idle")
        self._cache: dict[str, float] = {}
        self._stop = False
        self._thread: threading.Thread | None = None

    def request(self, image_paths: list[str], settings: dict[str, Any]) -> None:
        """Price this request once the settings have not changed for `debounce` seconds."""
        with self._cond:
            self._pending = (list(image_paths), dict(settings), time.monotonic())
            self._quote = Quote("pending", message="Pricing…")
            if self._thread is None or not self._thread.is_alive():
                self._stop = False
                self._thread = threading.Thread(target=self._run, name="yvo3d-pricer", daemon=True)
                self._thread.start()
            self._cond.notify()

    def quote(self) -> Quote:
        with self._cond:
            return self._quote

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and self._pending is None:
                    self._cond.wait(1.0)
                if self._stop:
                    return
                assert self._pending is not None
                paths, settings, when = self._pending
                remaining = when + self.debounce - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                self._pending = None
            quote = self._price(paths, settings)
            with self._cond:
                if self._pending is None:  # no newer request arrived meanwhile
                    self._quote = quote

    def _price(self, paths: list[str], settings: dict[str, Any]) -> Quote:
        problems = self.table.validate(settings, len(paths))
        if problems:
            return Quote("error", message=problems[0].message)
        try:
            hashes = []
            for path in paths:
                info, _ = images.check(path)
                if images.needs_conversion(info):
                    # Generate uploads a converted PNG (made with Blender, on the main
                    # thread); uploading the original here would send a file Scenario may
                    # refuse, for a price that is not the one Generate pays.
                    return Quote("idle", message="Priced when you press Generate.")
                hashes.append(images.file_sha256(path))
            key = self.table.fingerprint(settings, hashes)
            if key in self._cache:
                return Quote("ok", cost=self._cache[key], key=key)
            client = self.client_factory()
            if self.ignored_by and self.ignored_by == client.base_url:
                return Quote("error", message=IGNORED_TEXT)
            ids = [self.uploads.upload(client, p, h) for p, h in zip(paths, hashes, strict=True)]
            price = client.estimate(self.table.to_request(settings, ids), self.model_id)
        except errors.PaidDryRunError as exc:
            # a service or proxy ignored dryRun: that job is paid, so it is followed, and no
            # other price check goes to that service (it would start another paid job)
            self.ignored_by = client.base_url
            request = {
                "fingerprint": key,
                "settings": dict(settings),
                "images": list(paths),
                "image_hashes": list(hashes),
            }
            if self.on_paid_job is not None and self.on_paid_job(exc.job_id, exc.cost, request):
                return Quote("error", message=f"{exc.message} It is followed in the Jobs panel.")
            return Quote("error", message=exc.user_text())
        except errors.Yvo3dError as exc:
            return Quote("error", message=exc.user_text())
        except Exception as exc:  # the price line must show a reason, never die silently
            log.exception("pricing failed")
            return Quote("error", message=f"Could not get the price ({type(exc).__name__}).")
        self._cache[key] = price.cost
        return Quote("ok", cost=price.cost, key=key)
