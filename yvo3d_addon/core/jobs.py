"""The job engine: stages, one worker thread per job, and the manager that owns workers, the job
store, the library and the event queue the main thread drains.

Blender-free. Workers only talk to the network, the store and the library; the main thread only
calls `submit`, `cancel`, `drain` and friends, none of which waits on the network.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from . import errors, glbcheck
from .job_view import RECENT_SECONDS, JobView
from .library import Library, new_entry
from .params import DEFAULT_TABLE, ParamTable
from .spend import Budget, day_start
from .store import JobRecord, JobStore

if TYPE_CHECKING:
    # The client, the pricer, the image checks, queue and uuid are imported where a job first
    # needs them: the Blender layer imports this module (stages, labels) when the add-on is
    # enabled, which must stay cheap (docs/performance.md).
    import queue

    from .client import JobStatus, ScenarioClient
    from .pricing import UploadCache

log = logging.getLogger(__name__)


class Stage(StrEnum):
    PREPARING = "preparing"
    UPLOADING = "uploading"
    PRICING = "pricing"
    SUBMITTING = "submitting"
    QUEUED = "queued"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    READY = "ready"
    IMPORTED = "imported"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # the paid request's outcome is unknown: never re-sent
    STALLED = "stalled"  # still running on Scenario after the overall timeout: resumable


BEFORE_PAYMENT = frozenset({Stage.PREPARING, Stage.UPLOADING, Stage.PRICING})
ACTIVE = frozenset(
    BEFORE_PAYMENT | {Stage.SUBMITTING, Stage.QUEUED, Stage.RUNNING, Stage.DOWNLOADING}
)
FOLLOWABLE = frozenset({Stage.QUEUED, Stage.RUNNING, Stage.DOWNLOADING, Stage.STALLED})
UNFINISHED = frozenset(ACTIVE | {Stage.READY, Stage.UNKNOWN, Stage.STALLED})
RELEASED = frozenset({Stage.READY, Stage.IMPORTED, Stage.FAILED, Stage.CANCELLED})
"""Stages at which a request's claim ends: a later identical request may be paid on purpose."""
REQUEST_CLAIM = "request:"

LABELS = {
    Stage.PREPARING: "Checking images",
    Stage.UPLOADING: "Uploading images",
    Stage.PRICING: "Checking the price",
    Stage.SUBMITTING: "Starting the job",
    Stage.QUEUED: "Queued on Scenario",
    Stage.RUNNING: "Generating",
    Stage.DOWNLOADING: "Downloading",
    Stage.READY: "Ready to import",
    Stage.IMPORTED: "Imported",
    Stage.FAILED: "Failed",
    Stage.CANCELLED: "Cancelled",
    Stage.UNKNOWN: "Outcome unknown",
    Stage.STALLED: "Still running on Scenario",
}


@dataclass
class PollPolicy:
    """Adaptive polling: frequent at first, slower for long jobs, capped, reset on progress."""

    first: float = 2.0
    factor: float = 1.4
    cap: float = 15.0
    overall_timeout: float = 45 * 60.0
    unknown_limit: float = 30.0
    """How long a status outside Scenario's documented list is taken for "running"."""

    def floor(self, age: float) -> float:
        if age < 60:
            return self.first
        if age < 300:
            return min(self.cap, self.first * 2)
        return min(self.cap, self.first * 4)

    def next(self, current: float, age: float, progressed: bool) -> float:
        floor = self.floor(age)
        if progressed:
            return floor
        return min(self.cap, max(floor, current * self.factor))


@dataclass
class Event:
    """One change of one job, for the main thread. `record` is a private copy."""

    kind: str  # "stage" | "progress" | "ready" | "ended"
    record: JobRecord


# After the paid request, only a job Scenario reports failed, or a file we refuse (fetching it
# again gives the same file), ends for good; anything else (network, server, a 404 on the job,
# asset or download, no GLB yet, a damaged download, a key that stopped working) leaves it
# resumable, because it is paid.
FINAL_AFTER_PAYMENT = (errors.JobFailedError, errors.UnsafeFileError)

NOT_IMPORTED = (
    "Scenario cannot cancel a job once it started: it will finish and be charged. Its result "
    "will be kept in the library and not put in the scene."
)
"""What Cancel after the paid request can really give (Scenario refuses to cancel custom jobs:
400 "Cannot cancel this type of job. Action not permitted.", SDK resources/jobs.py)."""

PREVIEW_MAX_BYTES = 16 * 1024 * 1024  # a preview picture larger than this is not kept
PREVIEW_MAX_SIDE = 4096
PENDING_ASSET_ATTEMPTS = 6
"""Looks at a job's assets while one is still `pending` (0.5 s doubling to 10 s: about 25 s;
then the job stalls, resumable)."""


def _new_local_id() -> str:
    import uuid  # late, like queue: see the imports above

    return "yj_" + uuid.uuid4().hex[:12]


def minutes_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    return f"{seconds / 60:.0f} minutes"


ClientFactory = Callable[[Callable[[float], bool]], "ScenarioClient"]
"""Makes a client whose waits end early (returning True) when the job is interrupted."""


class _StopFollowingError(Exception):
    """The manager is stopping: leave the job as it is in the store, to be resumed later."""


class _Worker:
    def __init__(self, manager: JobManager, record: JobRecord) -> None:
        self.manager = manager
        self.record = record
        self.interrupt = threading.Event()  # set by cancel or by shutdown
        self.cancelled = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"yvo3d-job-{record.id}", daemon=True)

    # -- plumbing

    def wait(self, seconds: float) -> bool:
        return self.interrupt.wait(seconds)

    def check(self) -> None:
        if self.manager.stopping.is_set():
            raise _StopFollowingError()
        if self.cancelled.is_set() and self.record.stage in BEFORE_PAYMENT:
            raise errors.JobCancelledError("Cancelled before anything was paid.")

    def set(self, stage: Stage | None = None, kind: str = "stage", **changes: Any) -> None:
        if stage is not None:
            self.record.stage = stage
        for key, value in changes.items():
            setattr(self.record, key, value)
        self.manager._publish(self.record, kind)

    # -- the stages

    def run(self) -> None:
        rec = self.record
        try:
            client = self.manager.client_factory(self.wait)
            if not rec.job_id:
                if rec.stage == Stage.SUBMITTING:
                    # A restart found a paid request with no job id: never send it again.
                    raise errors.OutcomeUnknownError(
                        "Blender stopped while the generation request was being sent; it is "
                        "unknown whether Scenario started (and charged) a job.",
                        fix="Check your jobs on app.scenario.com before generating again.",
                    )
                self.prepare_and_submit(client)
            client.retry_not_found = True  # paid: a 404 is retried, then the job stalls
            if not (rec.stage == Stage.DOWNLOADING and rec.asset_ids):
                self.follow(client)
            self.download(client)
        except _StopFollowingError:
            log.info("job %s left at stage %s for a later resume", rec.id, rec.stage)
        except errors.JobCancelledError as exc:
            if self.manager.stopping.is_set() and not self.cancelled.is_set():
                return
            paid = bool(rec.job_id)
            self.set(
                Stage.CANCELLED,
                "ended",
                error_code=exc.code,
                message=exc.message if paid else "Cancelled; nothing was paid.",
                finished_at=time.time(),
            )
        except errors.OutcomeUnknownError as exc:
            self.set(
                Stage.UNKNOWN,
                "ended",
                error_code=exc.code,
                error=exc.message,
                hint=exc.fix,
                message=exc.message,
                finished_at=time.time(),
            )
        except errors.StillRunningError as exc:
            self.set(
                Stage.STALLED,
                "ended",
                error_code=exc.code,
                error=exc.message,
                hint=exc.fix,
                message=exc.message,
            )
        except errors.Yvo3dError as exc:
            if self.manager.stopping.is_set() and isinstance(exc, errors.NetworkError):
                return
            if rec.job_id and not isinstance(exc, FINAL_AFTER_PAYMENT):
                self.stall(exc.code, exc.message, exc.fix if exc.code == "no_result" else "")
                return
            self.set(
                Stage.FAILED,
                "ended",
                error_code=exc.code,
                error=exc.message,
                hint=exc.fix,
                message=exc.user_text(),
                finished_at=time.time(),
            )
        except Exception as exc:  # a bug must still end the job visibly, never silently
            log.exception("job %s crashed", rec.id)
            if rec.job_id:
                self.stall("internal", f"Internal error in the add-on ({type(exc).__name__}).")
                return
            self.set(
                Stage.FAILED,
                "ended",
                error_code="internal",
                error=f"Internal error: {type(exc).__name__}: {exc}",
                message="Internal error in the add-on; the job record is kept.",
                finished_at=time.time(),
            )
        finally:
            if rec.fingerprint and rec.stage in RELEASED:
                self.manager.store.release(REQUEST_CLAIM + rec.fingerprint)
            self.manager._worker_done(self)

    def stall(self, code: str, message: str, hint: str = "") -> None:
        """After payment a lasting error never ends a job: it stops being followed, resumable."""
        self.set(
            Stage.STALLED,
            "ended",
            error_code=code,
            error=message,
            hint=hint
            or "The job is paid and may still finish on Scenario; nothing is lost. Press "
            "Resume in the Jobs panel to keep following it and download the result.",
            message=message,
        )

    def prepare_and_submit(self, client: ScenarioClient) -> None:
        rec = self.record
        table = self.manager.table
        self.set(Stage.PREPARING, message=LABELS[Stage.PREPARING])
        problems = table.validate(rec.settings, len(rec.images))
        if problems:
            raise errors.InputError("; ".join(p.message for p in problems))
        from . import images

        hashes = []
        for path in rec.images:
            images.check(path)
            hashes.append(images.file_sha256(path))
        self.set(image_hashes=hashes, fingerprint=table.fingerprint(rec.settings, hashes))
        self.check()
        self.set(Stage.UPLOADING, message=LABELS[Stage.UPLOADING])
        ids = []
        for index, path in enumerate(rec.images):
            self.check()
            ids.append(self.manager.uploads.upload(client, path, rec.image_hashes[index]))
            self.set(kind="progress", progress=(index + 1) / len(rec.images) * 0.05)
        body = table.to_request(rec.settings, ids)
        self.set(upload_ids=ids, body=body)
        self.check()
        budget = self.manager.budget
        if rec.expected_cost is not None or budget.active:
            self.set(Stage.PRICING, message=LABELS[Stage.PRICING])
            try:
                price = client.estimate(body, self.manager.model_id)
            except errors.PaidDryRunError as exc:
                # a job was started and is paid: it is this request's job; never generate too
                self.set(
                    Stage.QUEUED,
                    job_id=exc.job_id,
                    submitted_at=time.time(),
                    cost=exc.cost,
                    message=f"{exc.message} It is followed as this request's job.",
                )
                return
            if rec.expected_cost is not None and price.cost > rec.expected_cost + 1e-9:
                raise errors.InputError(
                    f"The price went up from {rec.expected_cost:g} to {price.cost:g} credits "
                    "since you confirmed it; nothing was paid.",
                    fix="Check the price in the panel and generate again.",
                )
            # Checked and reserved under one lock: two jobs priced together cannot both slip
            # under the limit.
            with self.manager.spend_lock:
                others = [r for r in self.manager.budget_pool() if r.id != rec.id]
                refusal = budget.refusal(others, price.cost)
                if refusal:
                    raise errors.InputError(
                        refusal, fix="Raise the budget in Preferences > Add-ons > YVO3D."
                    )
                self.set(cost=price.cost)
        self.check()
        holder = self.manager.store.claim(REQUEST_CLAIM + rec.fingerprint)
        if holder:
            raise errors.InputError(
                "An identical request is being generated right now by another Blender session "
                "or batch run sharing this job store; nothing was paid.",
                fix="Wait for it to finish: its result lands in the library, free to import.",
            )
        # The store says "submitting" before the paid request leaves, and has the job id
        # right after: a crash in between is visible as "outcome unknown", never repeated.
        self.set(Stage.SUBMITTING, message=LABELS[Stage.SUBMITTING], submitted_at=time.time())
        submitted = client.generate(body, self.manager.model_id)
        self.set(
            Stage.QUEUED,
            job_id=submitted.job_id,
            message=LABELS[Stage.QUEUED],
            cost=submitted.cost if submitted.cost is not None else rec.cost,
        )

    def follow(self, client: ScenarioClient) -> None:
        rec = self.record
        policy = self.manager.poll
        started = rec.submitted_at or time.time()
        interval = policy.first
        cancel_sent = False
        unknown_since: float | None = None
        while True:
            if self.manager.stopping.is_set():
                raise _StopFollowingError()
            try:
                if self.cancelled.is_set() and not cancel_sent:
                    cancel_sent = True
                    self.interrupt.clear()  # from here on, waits are plain waits again
                    status = self.ask_cancel(client)
                else:
                    status = client.get_job(rec.job_id)
            except errors.JobCancelledError:
                # A retry wait was interrupted: by a stop (leave the job) or by a cancel
                # (loop once more to ask the service to cancel).
                if self.manager.stopping.is_set():
                    raise _StopFollowingError() from None
                if cancel_sent:
                    self.interrupt.clear()
                continue
            progressed = self.apply(status)
            state = status.state
            if status.known:
                unknown_since = None
            elif unknown_since is None:
                unknown_since = time.monotonic()
            elif time.monotonic() - unknown_since > policy.unknown_limit:
                raise errors.InvalidResponseError(
                    f"Scenario reports a job status the add-on does not know "
                    f"({status.status!r}) for over {minutes_text(policy.unknown_limit)}.",
                    fix="Press Resume in the Jobs panel to check it again, or look at the job "
                    "on app.scenario.com; nothing is lost.",
                )
            if state == "success":
                self.set(asset_ids=status.asset_ids, status=status.status)
                return
            if state == "failure":
                raise errors.JobFailedError(
                    status.error or "Scenario could not generate this model.", hint=status.hint
                )
            if state == "canceled":
                if cancel_sent:
                    raise errors.JobCancelledError(
                        "Scenario accepted the cancel and stopped the job; it may still be "
                        "charged (check app.scenario.com)."
                    )
                raise errors.JobFailedError(
                    "The job was cancelled on Scenario's side.",
                    hint="Generate again, or check the job on app.scenario.com.",
                )
            age = time.time() - started
            if age > policy.overall_timeout:
                raise errors.StillRunningError(
                    f"The job is still running on Scenario after {minutes_text(age)}; "
                    "the add-on stopped following it.",
                    fix="Press Resume in the Jobs panel to keep following it; nothing is lost.",
                )
            interval = policy.next(interval, age, progressed)
            if self.wait(interval):
                if self.manager.stopping.is_set():
                    raise _StopFollowingError()
                if cancel_sent:
                    self.interrupt.clear()  # a second Cancel press: already asked

    def ask_cancel(self, client: ScenarioClient) -> JobStatus:
        """Send the cancel once and say truthfully what Scenario answered; today it refuses
        for YVO3D's custom jobs, so the job is followed to its end and not imported."""
        rec = self.record
        try:
            status = client.cancel_job(rec.job_id)
        except errors.JobCancelledError:
            raise
        except errors.Yvo3dError as exc:
            self.set(kind="progress", message=f"{exc.message} {NOT_IMPORTED}")
            return client.get_job(rec.job_id)
        if status.state in ("running", "canceled"):
            self.set(
                kind="progress",
                message="Scenario accepted the cancel; the job is followed until it stops.",
            )
        return status

    def apply(self, status: JobStatus) -> bool:
        rec = self.record
        stage = Stage.QUEUED if status.status in ("pending", "queued") else Stage.RUNNING
        progress = 0.05 + 0.85 * max(0.0, min(1.0, status.progress))
        progressed = status.status != rec.status or progress > rec.progress + 1e-6
        if stage != rec.stage:
            self.set(
                stage,
                status=status.status,
                progress=max(progress, rec.progress),
                message=LABELS[stage],
            )
        elif progressed:
            self.set(kind="progress", status=status.status, progress=max(progress, rec.progress))
        return progressed

    def download(self, client: ScenarioClient) -> None:
        rec = self.record
        manager = self.manager
        self.set(Stage.DOWNLOADING, message=LABELS[Stage.DOWNLOADING])
        assets, glb = self.find_glb(client)
        self.set(glb_asset_id=glb.id, library_id=rec.library_id or rec.id)
        dest = manager.library.glb_dest(rec.library_id)

        def on_progress(got: int, total: int) -> None:
            if total:
                fraction = 0.9 + 0.1 * got / total
                if fraction - rec.progress >= 0.02:
                    self.set(kind="progress", progress=fraction)

        refreshed = 0
        while True:
            try:
                client.download(glb.url, dest, on_progress=on_progress, cancel=self.interrupt)
                break
            except (errors.ExpiredURLError, errors.NotFoundError):
                # a refused or vanished URL: a fresh signed one, after a pause; then it stalls
                refreshed += 1
                if refreshed == 3:
                    raise
                client._sleep(client.retry.delay(refreshed))
                glb = client.get_asset(glb.id)
            except errors.JobCancelledError:
                if manager.stopping.is_set():
                    raise _StopFollowingError() from None
                # Cancel after payment is "Don't Import": the paid result is still kept
                self.interrupt.clear()
        preview = self.fetch_preview(client, glb)
        entry = new_entry(
            id=rec.library_id,
            name=rec.name,
            job_id=rec.job_id,
            asset_ids=rec.asset_ids,
            glb_asset_id=glb.id,
            fingerprint=rec.fingerprint,
            settings=rec.settings,
            body=rec.body,
            cost=rec.cost,
            preview=preview,
            service=client.base_url,
            images=[
                {"name": os.path.basename(p), "sha256": h}
                for p, h in zip(rec.images, rec.image_hashes, strict=False)
            ],
        )
        manager.library.add(entry, rec.images)
        self.set(
            Stage.READY,
            "ready",
            glb_path=entry.glb_path,
            progress=1.0,
            message="Finished and kept in the library; not imported, as you asked."
            if rec.cancel_requested
            else LABELS[Stage.READY],
            finished_at=time.time(),
        )

    def find_glb(self, client: ScenarioClient) -> tuple[list[Any], Any]:
        """The job's assets and its GLB. Assets still `pending` after the job's success are
        waited for with backoff; no GLB at all raises NoResultError (the job then stalls,
        resumable: it is paid)."""
        from .assets import pending_assets, pick_glb

        rec = self.record
        for attempt in range(PENDING_ASSET_ATTEMPTS):
            assets = [client.get_asset(a) for a in rec.asset_ids]
            glb = pick_glb(assets)
            if glb is not None:
                return assets, glb
            if not pending_assets(assets):
                break
            client._sleep(min(10.0, 0.5 * 2**attempt))
        else:
            raise errors.NoResultError(
                "The job finished but its model is still being prepared on Scenario.",
                fix="Press Resume in the Jobs panel in a minute to download it.",
            )
        kinds = ", ".join(sorted({a.mime_type or a.kind or "?" for a in assets})) or "none"
        raise errors.NoResultError(
            f"The job finished but returned no GLB model (it returned: {kinds}).",
            fix="Check the job on app.scenario.com; press Resume to look again.",
        )

    def fetch_preview(self, client: ScenarioClient, glb: Any) -> str:
        """The GLB asset's own preview picture, best effort: never a texture map. Fetched
        capped (https or this computer only), kept only when its bytes are a PNG or JPEG of a
        sane size; "" lets the Blender layer render one or use the input image."""
        if not glb.preview_url:
            return ""
        folder = self.manager.library.folder(self.record.library_id)
        part = os.path.join(folder, "preview.part")
        try:
            client.fetch_small(glb.preview_url, part, PREVIEW_MAX_BYTES)
            with open(part, "rb") as fh:
                head = fh.read(8)
            ext = ".png" if head.startswith(b"\x89PNG\r\n\x1a\n") else ""
            ext = ".jpg" if head.startswith(b"\xff\xd8\xff") else ext
            if not ext or not glbcheck.picture_ok(part, PREVIEW_MAX_SIDE):
                os.remove(part)
                return ""
            dest = os.path.join(folder, "preview" + ext)
            os.replace(part, dest)
            return os.path.basename(dest)
        except Exception:  # noqa: BLE001 - best effort by design
            if os.path.exists(part):
                os.remove(part)
            return ""


ADOPT_FIELDS = frozenset({"fingerprint", "settings", "images", "image_hashes", "cost"})
"""What `JobManager.adopt` may be told of the request behind a job it follows."""


class JobManager:
    """Owns the workers, the store, the library and the event queue. Main-thread API only."""

    def __init__(
        self,
        store: JobStore,
        library: Library,
        client_factory: ClientFactory,
        *,
        table: ParamTable = DEFAULT_TABLE,
        poll: PollPolicy | None = None,
        model_id: str = "model_yvo3d-image-to-3d",
        uploads: UploadCache | None = None,
    ) -> None:
        self.store = store
        if uploads is None:
            from .pricing import UploadCache

            uploads = UploadCache()
        self.uploads = uploads
        self.library = library
        self.client_factory = client_factory
        self.table = table
        self.poll = poll or PollPolicy()
        self.model_id = model_id
        import queue  # late, like uuid: see the imports above

        self.events: queue.Queue[Event] = queue.Queue()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._workers: dict[str, _Worker] = {}
        # Held in memory: the unfinished jobs and the last day's; older ones are read from the
        # store when asked for (`get`, `jobs`), never at start-up.
        held = store.current(UNFINISHED, time.time() - RECENT_SECONDS)
        self._records: dict[str, JobRecord] = {r.id: r for r in held}
        self.view = JobView(UNFINISHED, self._records.values())
        self.budget = Budget()
        """Spending limits every job is checked against before its paid request (none by
        default); the session sets them from the preferences."""
        self.spend_lock = threading.Lock()

    # -- for workers

    def _publish(self, record: JobRecord, kind: str) -> None:
        self.store.put(record)
        snapshot = copy.deepcopy(record)
        with self._lock:
            self._records[record.id] = snapshot
            self.view.note(snapshot)
        self.events.put(Event(kind, snapshot))

    def _worker_done(self, worker: _Worker) -> None:
        with self._lock:
            if self._workers.get(worker.record.id) is worker:
                del self._workers[worker.record.id]

    # -- main thread

    def submit(
        self,
        *,
        name: str,
        images: list[str],
        settings: dict[str, Any],
        placement: dict[str, Any] | None = None,
        expected_cost: float | None = None,
    ) -> JobRecord:
        """Record a new job and start its worker; returns at once."""
        record = JobRecord(
            id=_new_local_id(),
            name=name,
            stage=Stage.PREPARING,
            images=list(images),
            settings=dict(settings),
            placement=dict(placement or {}),
            expected_cost=expected_cost,
            message=LABELS[Stage.PREPARING],
        )
        self._start(record)
        return copy.deepcopy(record)

    def _start(self, record: JobRecord) -> None:
        self.stopping.clear()
        self.store.claim(record.id, force=True)
        worker = _Worker(self, record)
        with self._lock:
            self._workers[record.id] = worker
        self._publish(record, "stage")
        worker.thread.start()

    def adopt(self, job_id: str, name: str, **request: Any) -> JobRecord:
        """Follow a job known only by Scenario's job id (started in the web app, on another
        computer, or from a lost store) and download its result: nothing that costs is sent.

        `request`: what is known of the request that started it (fingerprint, settings,
        images, image_hashes, cost: a price check the service took for a generation), so that
        the same request is recognised as paid and never sent again."""
        unknown = set(request) - ADOPT_FIELDS
        if unknown:
            raise TypeError(f"adopt() does not take {sorted(unknown)}")
        record = JobRecord(
            id=_new_local_id(),
            name=name,
            stage=Stage.RUNNING,
            job_id=job_id,
            submitted_at=time.time(),
            message=LABELS[Stage.RUNNING],
            **request,
        )
        self._start(record)
        return copy.deepcopy(record)

    def cancel(self, local_id: str) -> bool:
        """Before the paid request the job stops locally (nothing paid). After it, Scenario
        cannot cancel a YVO3D job: the job is followed to its end and its result kept in the
        library, not imported ("Don't Import"); a cancel request is still sent and its answer
        reported as it is. False if nothing runs."""
        with self._lock:
            worker = self._workers.get(local_id)
        if worker is None:
            record = self._records.get(local_id)
            if record is not None and record.stage in (Stage.STALLED, Stage.UNKNOWN):
                record = copy.deepcopy(record)
                record.stage = Stage.CANCELLED
                record.message = "No longer followed."
                self._publish(record, "ended")
                return True
            return False
        worker.record.cancel_requested = True
        worker.cancelled.set()
        if worker.record.stage in BEFORE_PAYMENT:
            worker.interrupt.set()  # stop now: nothing is paid yet
        else:
            # paid: nothing is interrupted (waits, downloads); the next poll sends the cancel
            worker.record.message = NOT_IMPORTED
            self._publish(worker.record, "progress")
        return True

    def resume(self, local_id: str | None = None) -> list[JobRecord]:
        """Follow again the jobs a restart (or a timeout) left behind. Pre-payment jobs are not
        resumed (they would pay without the user asking again): they end, nothing paid."""
        resumed = []
        with self._lock:
            unfinished = self.view.unfinished()  # never the whole history
        for record in unfinished:
            if local_id is not None and record.id != local_id:
                continue
            with self._lock:
                if record.id in self._workers:
                    continue
            if record.stage not in BEFORE_PAYMENT | FOLLOWABLE | {Stage.SUBMITTING}:
                continue  # READY, UNKNOWN: nothing to follow
            # Another live session's job is never failed or followed here, unless the user
            # picked it (a local_id): a process imports only what it started or chose.
            if self.store.claim(record.id, force=local_id is not None):
                continue
            record = copy.deepcopy(record)
            if record.stage in BEFORE_PAYMENT:
                record.stage = Stage.FAILED
                record.error_code = "interrupted"
                record.message = "Interrupted before it was sent; nothing was paid. Generate again."
                self._publish(record, "ended")
            elif record.stage in FOLLOWABLE or record.stage == Stage.SUBMITTING:
                if record.stage == Stage.STALLED:
                    record.stage = Stage.RUNNING
                record.error = record.error_code = record.hint = ""
                self._start(record)
                resumed.append(copy.deepcopy(record))
        return resumed

    def drain(self, limit: int = 200) -> list[Event]:
        """Every event waiting, without blocking."""
        import queue

        out: list[Event] = []
        while len(out) < limit:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                break
        return out

    def jobs(self) -> list[JobRecord]:
        """Every known job, newest first (reads the store: for listings and the command line,
        never for a redraw)."""
        return self._merged(self.store.all())

    def jobs_since(self, since: float) -> list[JobRecord]:
        """The jobs created at or after `since`, newest first (an indexed read)."""
        return [
            r for r in self._merged(self.store.current(frozenset(), since)) if r.created >= since
        ]

    def budget_pool(self) -> list[JobRecord]:
        """The jobs a budget check counts: those of this session and of today."""
        return self.jobs_since(min(self.budget.session_start, day_start()))

    def _merged(self, stored: list[JobRecord]) -> list[JobRecord]:
        found = {r.id: r for r in stored}
        with self._lock:
            found.update({k: v for k, v in self._records.items() if k in found})
        return sorted(found.values(), key=lambda r: r.created, reverse=True)

    def shown(self, with_finished: bool = True) -> list[JobRecord]:
        """The unfinished jobs and those finished in the last day, newest first: what the Jobs
        panel lists, from a small view kept by the events (no sort of every job)."""
        with self._lock:
            return self.view.listed(with_finished)

    def unfinished(self) -> list[JobRecord]:
        """Every unfinished job (working, stalled, ready, outcome unknown), newest first."""
        with self._lock:
            return self.view.unfinished()

    def active(self) -> list[JobRecord]:
        """The jobs working now (preparing to downloading), newest first."""
        with self._lock:
            return [r for r in self.view.unfinished() if r.stage in ACTIVE]

    def get(self, local_id: str) -> JobRecord | None:
        with self._lock:
            record = self._records.get(local_id)
        return record if record is not None else self.store.get(local_id)

    def running(self) -> list[str]:
        with self._lock:
            return list(self._workers)

    def mark_imported(self, local_id: str, object_name: str) -> None:
        record = self.get(local_id)
        if record is None:
            return
        record = copy.deepcopy(record)
        record.stage = Stage.IMPORTED
        record.imported_as = object_name
        record.message = LABELS[Stage.IMPORTED]
        self._publish(record, "stage")

    def mark_import_failed(self, local_id: str, message: str) -> None:
        """The download is safe in the library; only the import failed: stay READY."""
        record = self.get(local_id)
        if record is None:
            return
        record = copy.deepcopy(record)
        record.message = message
        self._publish(record, "progress")

    def forget(self, local_id: str) -> None:
        with self._lock:
            if local_id in self._workers:
                return
            self._records.pop(local_id, None)
            self.view.drop(local_id)
        self.store.delete(local_id)

    def wait(
        self,
        timeout: float,
        on_event: Callable[[Event], None] | None = None,
        ids: list[str] | None = None,
    ) -> bool:
        """Background mode: drain events until the given (or all) jobs stop running."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.drain():
                if on_event is not None:
                    on_event(event)
            with self._lock:
                busy = [i for i in self._workers if ids is None or i in ids]
            if not busy and self.events.empty():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def shutdown(self, timeout: float = 5.0) -> list[str]:
        """Stop following (jobs stay in the store, resumable). Returns threads still alive."""
        self.stopping.set()
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.interrupt.set()
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
        return [w.thread.name for w in workers if w.thread.is_alive()]
