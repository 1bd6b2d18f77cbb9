"""Runs for scripts: one generation or a batch (a folder or a CSV), priced, concurrency-limited,
resumable from a state file, and never paying twice for the same item.

Blender-free. `blender --command yvo3d` (blender/cli.py) drives it with the add-on's job
manager; a pipeline tool can drive it with any `JobManager`. Everything the user sees goes
through an `emit(line)` callback.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from . import errors, images, owners, sanitize
from .assets import check_glb
from .batch_journal import Journal
from .client import ScenarioClient
from .jobs import BEFORE_PAYMENT, FOLLOWABLE, LABELS, JobManager, Stage
from .params import Param, ParamTable
from .pricing import UploadCache
from .store import JobRecord

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_USER = 1
"""Something the user can fix here: arguments, files, images, parameters, configuration."""
EXIT_SERVICE = 2
"""Scenario or the network refused or failed (key refused, credits, job failed, ...)."""
EXIT_PARTIAL = 3
"""A batch where some items are done and some are not."""
EXIT_INTERRUPTED = 130
"""Ctrl-C: the state was saved; paid jobs keep running (the shell's convention for SIGINT)."""

STATE_FILE = "yvo3d-batch.json"
STATE_VERSION = 1
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".gif", ".tif", ".tiff", ".bmp", ".tga", ".exr"}
    | {".hdr", ".avif", ".heic", ".heif"}
)
USER_CODES = frozenset({"input", "config", "too_large"})
"""Job record error codes that mean "fix something on your side" (exit code 1)."""
_TRUE = frozenset({"1", "true", "on", "yes", "y"})
_FALSE = frozenset({"0", "false", "off", "no", "n"})
_STEP = 0.05  # seconds between two looks at the jobs: the manager's workers do the waiting

Emit = Callable[[str], None]
ClientFactory = Callable[[], ScenarioClient]


class Status(StrEnum):
    PENDING = "pending"  # nothing paid; sent on this run or the next
    RUNNING = "running"  # paid and not finished: followed now, or again on a re-run
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # the paid request's outcome is unknown: never sent again by itself


@dataclass
class Item:
    """One generation of a run: its inputs, and what happened to it (kept in the state file)."""

    key: str
    """Stable across runs: the image's file name, or the CSV row's name (or its images)."""
    name: str
    images: list[str]
    settings: dict[str, Any]
    output: str = ""
    status: str = Status.PENDING
    local_id: str = ""
    """The job store's id of the job (yj_...)."""
    job_id: str = ""
    """Scenario's job id, once the paid request was answered."""
    paid: bool = False
    """The paid request was sent (its job may still have failed or been refunded)."""
    price: float | None = None
    cost: float | None = None
    fingerprint: str = ""
    error: str = ""
    hint: str = ""
    error_kind: str = ""
    """"user" (exit code 1) or "service" (exit code 2) when the item did not succeed."""
    reused: bool = False
    """Copied from an earlier identical result in the library: free."""
    note: str = ""
    stage: str = ""
    progress: float = 0.0
    glb_path: str = ""
    """The result in the library (the output is a copy of it)."""
    problem: str = ""
    """Why the item cannot be sent at all (a bad CSV cell), found while reading the input."""
    send_paths: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for private in ("problem", "send_paths", "hashes"):
            data.pop(private)
        return data

    def fail(self, exc: errors.Yvo3dError) -> None:
        self.status = Status.FAILED
        self.error = exc.message
        self.hint = exc.fix
        self.error_kind = "user" if exc.code in USER_CODES else "service"


# -- parameters from text (command line options, CSV cells) --------------------------------------


def kebab(name: str) -> str:
    """textureResolution -> texture-resolution (the command line spelling)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


def _norm(text: str) -> str:
    return re.sub(r"[-_\s]", "", text).lower()


def find_param(table: ParamTable, text: str) -> Param | None:
    """The parameter named `text` in any spelling: textureResolution, texture-resolution, ..."""
    wanted = _norm(text)
    return next((p for n, p in table.params.items() if _norm(n) == wanted), None)


def parse_value(param: Param, text: str) -> object:
    """A parameter value from text, in the form the table validates; InputError if unreadable."""
    raw = text.strip()
    low = raw.lower()
    if param.kind in ("bool", "onoff"):
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise errors.InputError(
            f"{param.name} must be on or off (true/false, yes/no, 1/0), not {raw!r}."
        )
    if param.kind == "enum":
        for choice in param.choices:
            if low in (choice.value.lower(), choice.label.lower()):
                return choice.value
        allowed = ", ".join(c.value for c in param.choices)
        raise errors.InputError(f"{param.name} must be one of {allowed}, not {raw!r}.")
    try:
        number = float(raw)
    except ValueError:
        raise errors.InputError(f"{param.name} must be a number, not {raw!r}.") from None
    if param.kind == "int":
        if not number.is_integer():
            raise errors.InputError(f"{param.name} must be a whole number, not {raw!r}.")
        return int(number)
    return number


def parse_settings(table: ParamTable, values: Mapping[str, str]) -> dict[str, object]:
    """Settings from {parameter name in any spelling: text}; empty texts are left out."""
    settings: dict[str, object] = {}
    for name, text in values.items():
        if text is None or not str(text).strip():
            continue
        param = find_param(table, name)
        if param is None:
            known = ", ".join(table.params)
            raise errors.InputError(f"{name!r} is not a parameter of the model (known: {known}).")
        settings[param.name] = parse_value(param, str(text))
    return settings


# -- items ---------------------------------------------------------------------------------------


def _safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("._")[:80] or "model"


def assign_outputs(items: list[Item], out_dir: str) -> None:
    """<out_dir>/<name>.glb for each item, names made unique."""
    taken: set[str] = set()
    for item in items:
        stem = _safe_name(item.name)
        candidate, n = stem, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{stem}-{n}"
        taken.add(candidate.lower())
        item.output = os.path.join(out_dir, candidate + ".glb")


def items_from_folder(folder: str, settings: Mapping[str, object]) -> list[Item]:
    """One item per image file in the folder (by extension; the content is checked later)."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise errors.InputError(f"The folder {folder!r} cannot be read ({exc.strerror}).") from None
    items = []
    for name in names:
        path = os.path.join(folder, name)
        if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES and os.path.isfile(path):
            stem = os.path.splitext(name)[0]
            items.append(Item(key=name, name=stem, images=[path], settings=dict(settings)))
    if not items:
        raise errors.InputError(
            f"The folder {folder!r} holds no images.",
            fix="Put PNG or JPEG files in it, or pass a CSV file.",
        )
    return items


def items_from_csv(path: str, table: ParamTable, settings: Mapping[str, object]) -> list[Item]:
    """One item per row: `image` (or `images`, separated by ';', relative to the CSV's
    folder), an optional `name`, and any parameter columns (empty cell: the default)."""
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
            header = [h.strip() for h in (rows[0].keys() if rows else [])]
    except OSError as exc:
        raise errors.InputError(f"The CSV file {path!r} cannot be read ({exc.strerror}).") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise errors.InputError(f"The CSV file {path!r} is not valid CSV ({exc}).") from None
    if not rows:
        raise errors.InputError(f"The CSV file {path!r} has no rows.")
    image_col = next((h for h in header if h.lower() in ("image", "images")), None)
    if image_col is None:
        raise errors.InputError(
            f"The CSV file {path!r} needs an 'image' column (several images: 'a.png;b.png')."
        )
    unknown = [
        h for h in header if h != image_col and h.lower() != "name" and not find_param(table, h)
    ]
    if unknown:
        raise errors.InputError(
            f"The CSV file {path!r} has columns that are not parameters: {', '.join(unknown)}.",
            fix="Known parameters: " + ", ".join(table.params) + ".",
        )
    items = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(rows, start=2):  # row 1 is the header
        row = {(k or "").strip(): (v or "") for k, v in raw.items()}
        paths = [p.strip() for p in row.get(image_col, "").split(";") if p.strip()]
        paths = [p if os.path.isabs(p) else os.path.join(base, p) for p in paths]
        name = row.get("name", "").strip() or next(
            (h for h in header if h.lower() == "name" and row.get(h, "").strip()), ""
        )
        name = name or (os.path.splitext(os.path.basename(paths[0]))[0] if paths else "")
        key = row.get("name", "").strip() or ";".join(os.path.basename(p) for p in paths)
        key = key or f"row {number}"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}#{seen[key]}"
        item = Item(key=key, name=name or f"row-{number}", images=paths, settings=dict(settings))
        params = {h: row[h] for h in header if h != image_col and h.lower() != "name"}
        try:
            item.settings.update(parse_settings(table, params))
        except errors.InputError as exc:
            item.problem = f"CSV row {number}: {exc.message}"
        if not paths:
            item.problem = f"CSV row {number} names no image."
        items.append(item)
    return items


def load_items(source: str, table: ParamTable, settings: Mapping[str, object]) -> list[Item]:
    """Items from a folder of images or a CSV file."""
    if os.path.isdir(source):
        return items_from_folder(source, settings)
    if os.path.isfile(source):
        return items_from_csv(source, table, settings)
    raise errors.InputError(f"{source!r} is neither a folder nor a CSV file.")


# -- the state file ------------------------------------------------------------------------------

_SAVED = (
    "status",
    "local_id",
    "job_id",
    "paid",
    "price",
    "cost",
    "fingerprint",
    "error",
    "hint",
    "error_kind",
    "reused",
    "note",
)


class StateFile:
    """<out>/yvo3d-batch.json: each item's status and job ids, every change appended at once to
    its journal and the whole rewritten (atomically) every few seconds and at the end, so that
    a re-run skips what is done and follows, never re-sends, what was paid."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.saved: dict[str, dict[str, Any]] = {}
        self._mine: set[str] = set()
        self._me = f"{owners.me()}:{uuid.uuid4().hex[:6]}"  # this run (one StateFile each)
        self._lock = threading.Lock()
        self.journal = Journal(path)  # the changes since the summary was last written
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:
            raise errors.InputError(
                f"The batch state file {path!r} is damaged ({exc}).",
                fix="Move it away to start the batch over (jobs already paid are then "
                "reused from the library where they finished).",
            ) from None
        found = data.get("items") if isinstance(data, dict) else None
        if isinstance(found, dict):
            self.saved = {k: v for k, v in found.items() if isinstance(v, dict)}
        self.saved.update(self.journal.replay())

    def restore(self, item: Item) -> None:
        saved = self.saved.get(item.key)
        if not saved:
            return
        for name in _SAVED:
            if name in saved:
                setattr(item, name, saved[name])

    def save(self, items: Iterable[Item], compact: bool = True) -> None:
        """Record this run's items: one journal line (O(1)) while the summary is not due, else
        the whole summary, merged with what other runs wrote to the same folder since (their
        journal lines included): a key another run owns is kept as it is on disk, and a paid
        entry is never replaced by an unpaid one. Both happen under the folder's lock file."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with self._lock:
            changed = []
            for item in items:
                self.saved[item.key] = {
                    "name": item.name,
                    "images": item.images,
                    "output": item.output,
                    "by": self._me,
                    **{n: getattr(item, n) for n in _SAVED},
                }
                self._mine.add(item.key)
                changed.append(item.key)
            compact = compact or self.journal.due()
            with _exclusive(self.path + ".lock"):
                if not compact:
                    if changed:
                        self.journal.append({key: self.saved[key] for key in changed})
                    return
                started = time.monotonic()
                on_disk = _read_items(self.path)
                on_disk.update(self.journal.replay())  # every run's changes not summarised yet
                for key, theirs in on_disk.items():
                    ours = self.saved.get(key)
                    if theirs.get("by") == self._me:
                        continue  # written by this run: ours is newer
                    if (
                        key not in self._mine
                        or ours is None
                        or (
                            theirs.get("paid")
                            and not ours.get("paid")
                            and ours.get("status") != "done"
                        )
                    ):
                        self.saved[key] = theirs
                data = {"version": STATE_VERSION, "updated": time.time(), "items": self.saved}
                tmp = f"{self.path}.{os.getpid()}.tmp"
                with open(tmp, "w", encoding="utf-8") as fh:
                    fh.write(sanitize.scrub(json.dumps(data, indent=1, sort_keys=True)))
                os.replace(tmp, self.path)
                self.journal.compacted(time.monotonic() - started)


def _read_items(path: str) -> dict[str, dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    found = data.get("items") if isinstance(data, dict) else None
    return (
        {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}
    )


def _abandoned(lock: str, stale: float) -> bool:
    """A lock file whose writer is gone: its owner (host:pid) no longer runs (a run killed while
    writing), or it is older than `stale` seconds. Raises OSError when it vanished meanwhile."""
    with open(lock, "rb") as fh:
        owner = fh.read(300).decode("utf-8", "replace").strip()
    if owner and not owners.alive(owner):
        return True
    return time.time() - os.path.getmtime(lock) > stale


@contextlib.contextmanager
def _exclusive(lock: str, wait: float = 10.0, stale: float = 60.0) -> Iterator[None]:
    """A lock file between processes (O_EXCL works everywhere), holding its owner's host:pid;
    one whose owner is gone, or a stale one, is broken."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.write(fd, owners.me().encode())
            break
        except FileExistsError:
            try:
                if _abandoned(lock, stale):
                    os.remove(lock)
                    continue
            except OSError:
                continue
            if time.monotonic() > deadline:
                raise errors.InputError(
                    f"The batch state file is locked by another run ({lock}).",
                    fix="Wait for the other run, or delete the .lock file if none is running.",
                ) from None
            time.sleep(0.02)
    try:
        yield
    finally:
        os.close(fd)
        os.remove(lock)


# -- the run -------------------------------------------------------------------------------------


def copy_glb(source: str, dest: str) -> None:
    """Copy a GLB (checked) to dest through dest.part, so dest is whole or absent."""
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    part = dest + ".part"
    shutil.copyfile(source, part)
    check_glb(part)
    os.replace(part, dest)


def adopt(manager: JobManager, job_id: str, name: str, **request: Any) -> JobRecord:
    """Follow a job known only by Scenario's job id and download its result (free)."""
    return manager.adopt(job_id, name, **request)


def find_record(manager: JobManager, ident: str) -> JobRecord | None:
    """A job by the store's id (yj_...) or Scenario's job id (the newest record with it)."""
    found = manager.get(ident)
    if found is not None:
        return found
    return next((r for r in manager.jobs() if r.job_id and r.job_id == ident), None)


_TERMINAL = frozenset(
    {Stage.READY, Stage.IMPORTED, Stage.FAILED, Stage.CANCELLED, Stage.UNKNOWN, Stage.STALLED}
)


@dataclass
class Run:
    """One run over a list of items with a job manager (main thread)."""

    manager: JobManager
    items: list[Item]
    emit: Emit = lambda line: None
    state: StateFile | None = None
    concurrency: int = 2
    retry_failed: bool = False
    force: bool = False
    """Send even when an identical result is already in the library."""
    stop: threading.Event = field(default_factory=threading.Event)
    grace: float = 15.0
    """Seconds to wait for cancelled jobs to end after a stop."""
    drain_events: bool = True
    """Empty the manager's event queue (nobody else reads it in a script)."""
    convert: Callable[[str], str] | None = None
    """Makes an 8-bit PNG of an image the service may not take (Blender does it)."""
    dry_run: bool = False
    """Plan and price only: nothing is started, copied or saved."""
    service: str | None = None
    """The service URL: only its results in the library are reused (None: any)."""
    interrupted: bool = False
    paid_by_price_check: str = ""
    """The job a price check of this run started (a service or proxy ignored dryRun): this
    run paid for it, dry run or not."""
    _printed: dict[str, tuple[str, int]] = field(default_factory=dict)
    _inflight: dict[str, Item] = field(default_factory=dict)
    _twins: dict[str, list[Item]] = field(default_factory=dict)

    @property
    def table(self) -> ParamTable:
        return self.manager.table

    def save(self, *items: Item) -> None:
        if self.state is not None and not self.dry_run:
            self.state.save(items or self.items, compact=not items)

    def save_due(self) -> None:
        """The summary rewritten when the journal holds changes and it is due (bounded rate)."""
        if self.state is not None and not self.dry_run and self.state.journal.pending:
            self.state.save((), compact=False)

    # -- planning (no request is sent) --

    def plan(self) -> list[Item]:
        """Restore saved state, settle what needs no request, and return the items to send."""
        if self.state is not None:
            for item in self.items:
                self.state.restore(item)
        to_send = []
        first: dict[str, Item] = {}
        for item in self.items:
            if not self._settle(item):
                continue
            twin = first.setdefault(item.fingerprint, item) if not self.force else item
            if twin is item:
                to_send.append(item)
            else:  # an identical row: generated once, then copied (free)
                self._twins.setdefault(twin.key, []).append(item)
                item.note = f"identical to {twin.key}: generated once and copied"
        self.save()
        return to_send

    def _settle(self, item: Item) -> bool:
        """Decide an item's fate from what is known; True when it has to be sent."""
        if item.status == Status.DONE and item.output and os.path.isfile(item.output):
            item.note = "already done"
            return False
        record = self.manager.get(item.local_id) if item.local_id else None
        if record is not None and record_paid(record):
            # The store knows more than the state file (a run killed mid-request).
            item.paid, item.job_id = True, item.job_id or record.job_id
        if item.paid or item.job_id:
            return self._settle_paid(item)
        if item.status == Status.UNKNOWN:
            return False
        # Nothing was paid for it: (re)start from scratch.
        for name in ("error", "hint", "error_kind", "note", "local_id", "job_id"):
            setattr(item, name, "")
        item.status, item.reused, item.cost = Status.PENDING, False, None
        return self._prepare(item)

    def _settle_paid(self, item: Item) -> bool:
        record = self.manager.get(item.local_id) if item.local_id else None
        if record is None and item.job_id:
            record = find_record(self.manager, item.job_id)
        if item.status == Status.DONE:
            # Its file is gone: copy it again from the library, or download it again.
            if record is not None and record.glb_path and os.path.isfile(record.glb_path):
                self._finish_ready(item, record)
                return False
            return self._follow(item, record)
        if item.status in (Status.FAILED, Status.CANCELLED):
            if not self.retry_failed:
                item.note = "paid before and not successful: --retry-failed sends it again"
                return False
            item.paid, item.job_id, item.local_id = False, "", ""
            item.status, item.error, item.hint, item.error_kind = Status.PENDING, "", "", ""
            return self._prepare(item)
        if item.status == Status.UNKNOWN:
            return False
        return self._follow(item, record)

    def _follow(self, item: Item, record: JobRecord | None) -> bool:
        """Follow a paid item again (never re-send it)."""
        if self.dry_run:
            item.status, item.note = Status.RUNNING, "paid before: a real run follows it"
            return False
        if record is None:
            if not item.job_id:
                item.status = Status.UNKNOWN
                item.error = "The job of this item is not in the job store; it may have been paid."
                item.hint = "Check your jobs on app.scenario.com."
                item.error_kind = "service"
                return False
            record = adopt(self.manager, item.job_id, item.name)
            item.local_id = record.id
        elif record.stage in (Stage.READY, Stage.IMPORTED) and os.path.isfile(record.glb_path):
            self._finish_ready(item, record)
            return False
        elif record.id not in self.manager.running():
            if record.stage in (Stage.READY, Stage.IMPORTED) and record.job_id:
                record = adopt(self.manager, record.job_id, item.name)  # its file is gone
            else:
                # Followable: a worker follows it; before payment: it ends, nothing paid;
                # ended: nothing starts and the next look reports how it ended.
                self.manager.resume(record.id)
                record = self.manager.get(record.id) or record
                if record.stage not in _TERMINAL and record.id not in self.manager.running():
                    item.status, item.error_kind = Status.UNKNOWN, "service"
                    item.error = f"The job is at stage {record.stage!r} and cannot be followed."
                    item.hint = "Check your jobs on app.scenario.com."
                    return False
            item.local_id = record.id
        item.status = Status.RUNNING
        self._inflight[item.key] = item
        self.emit(f"[yvo3d] {item.key}: following the paid job again")
        return False

    def _prepare(self, item: Item) -> bool:
        """Check images and settings, reuse an identical result; True when it must be sent."""
        try:
            if item.problem:
                raise errors.InputError(item.problem)
            problems = self.table.validate(item.settings, len(item.images))
            if problems:
                raise errors.InputError(
                    "; ".join(p.message for p in problems),
                    fix="Change the parameters named above.",
                )
            item.send_paths, item.hashes = [], []
            for path in item.images:
                info, _ = images.check(path)
                if images.needs_conversion(info) and self.convert is not None:
                    path = self.convert(path)
                    images.check(path)
                item.send_paths.append(path)
                item.hashes.append(images.file_sha256(path))
        except errors.Yvo3dError as exc:
            item.fail(exc)
            self.emit(f"[yvo3d] {item.key}: failed: {exc.user_text()}")
            return False
        except OSError as exc:
            item.fail(errors.InputError(f"An image of {item.key!r} cannot be read: {exc}"))
            self.emit(f"[yvo3d] {item.key}: failed: {item.error}")
            return False
        item.fingerprint = self.table.fingerprint(item.settings, item.hashes)
        if not self.force:
            matches = self.manager.library.find(item.fingerprint, service=self.service)
            if matches and self.dry_run:
                item.price, item.note = 0.0, "identical to an earlier result: would be reused"
                return False
            if matches:
                copy_glb(matches[0].glb_path, item.output)
                item.status, item.reused, item.cost = Status.DONE, True, 0.0
                item.glb_path = matches[0].glb_path
                item.note = "identical to an earlier result in the library: reused, free"
                self.emit(f"[yvo3d] {item.key}: reused from the library (free) -> {item.output}")
                return False
            for record in self.manager.unfinished():
                if record.fingerprint == item.fingerprint and (
                    record.stage in FOLLOWABLE or record.stage == Stage.SUBMITTING
                ):
                    # The same request is already paid (another run, a crash before the state
                    # file was written): follow that one instead of paying again.
                    item.paid, item.local_id, item.job_id = True, record.id, record.job_id
                    return self._follow(item, record)
        return True

    # -- pricing (free: uploads and dry runs) --

    def price(self, items: list[Item], client_factory: ClientFactory) -> float:
        """Price each item (a dry run per distinct parameter set); failures fail the item."""
        if not items:
            return 0.0
        client = client_factory()
        uploads: UploadCache = self.manager.uploads
        cache: dict[str, float] = {}
        total = 0.0
        for index, item in enumerate(items):
            try:
                pairs = zip(item.send_paths, item.hashes, strict=True)
                ids = [uploads.upload(client, p, h) for p, h in pairs]
                body = self.table.to_request(item.settings, ids)
                # The price depends on the parameters and the number of images, not on the
                # pictures: one dry run per distinct set is enough.
                key = json.dumps(
                    [len(ids), {k: v for k, v in body.items() if k != "images"}], sort_keys=True
                )
                if key not in cache:
                    cache[key] = client.estimate(body, self.manager.model_id).cost
                item.price = cache[key]
                total += item.price
            except errors.PaidDryRunError as exc:
                # The service (or a proxy) ignored dryRun: the next price check would start
                # another paid job. This one is the item's own request: follow it; send nothing
                # more, not even for the other items.
                self._follow_paid_price_check(item, exc, items[index + 1 :])
                break
            except errors.Yvo3dError as exc:
                item.fail(exc)
                self.emit(f"[yvo3d] {item.key}: cannot be priced: {exc.user_text()}")
        self.save()
        return total

    def _follow_paid_price_check(
        self, item: Item, exc: errors.PaidDryRunError, rest: list[Item]
    ) -> None:
        record = adopt(
            self.manager,
            exc.job_id,
            item.name,
            fingerprint=item.fingerprint,  # a later run knows this request as paid
            settings=dict(item.settings),
            images=list(item.images),
            image_hashes=list(item.hashes),
            cost=exc.cost,
        )
        item.paid, item.job_id, item.local_id = True, exc.job_id, record.id
        item.cost = exc.cost
        self.paid_by_price_check = exc.job_id
        item.status = Status.RUNNING
        item.note = "its price check started a paid job: followed as its job"
        if not self.dry_run:
            self._inflight[item.key] = item
        self.emit(
            f"[yvo3d] {item.key}: the price check started a paid job ({exc.job_id}): it is "
            "followed as this item's job and its model kept; nothing more is sent"
        )
        for other in rest:
            if other.status != Status.PENDING:
                continue
            other.fail(
                errors.PriceCheckError(
                    f"Not priced and not sent: the price check of {item.key} started a paid job "
                    "(the service or a proxy ignored dryRun), so no other request was sent.",
                    fix="Check the service URL and any proxy, then run the batch again: "
                    "the job already paid is followed, never sent twice.",
                )
            )

    # -- running --

    def run(self, to_send: list[Item], *, timeout: float | None = None) -> None:
        """Send `to_send` (at most `concurrency` jobs at once) and follow everything in flight
        until it ends, the time runs out, or `stop` is set (then jobs not paid yet stop; paid ones
        keep running on Scenario and a re-run follows them)."""
        queue = [i for i in to_send if i.status == Status.PENDING]
        deadline = None if timeout is None else time.monotonic() + timeout
        cancel_deadline: float | None = None
        limit = max(1, self.concurrency)
        try:
            while True:
                if self.drain_events:
                    self.manager.drain()
                for item in list(self._inflight.values()):
                    self._update(item)
                self.save_due()
                if self.stop.is_set() and cancel_deadline is None:
                    self.interrupted = True
                    cancel_deadline = time.monotonic() + self.grace
                    queue.clear()
                    self._stop_unpaid()
                while queue and len(self._inflight) < limit and cancel_deadline is None:
                    self._submit(queue.pop(0))
                unpaid = [i for i in self._inflight.values() if not i.paid]
                if not queue and (not self._inflight or (cancel_deadline and not unpaid)):
                    break
                now = time.monotonic()
                if cancel_deadline is not None and now > cancel_deadline:
                    break
                if deadline is not None and now > deadline:
                    for item in self._inflight.values():
                        item.note = "still running when the time limit ran out: re-run to follow it"
                    break
                time.sleep(_STEP)
        finally:
            self.save()  # also when a second Ctrl-C ends the wait

    def _stop_unpaid(self) -> None:
        """Ctrl-C: jobs not paid yet stop here; Scenario cannot cancel a paid YVO3D job, so a
        paid one is left running there, saved in the state, and followed by a re-run."""
        for item in self._inflight.values():
            if not item.paid and self.manager.cancel(item.local_id):
                self.emit(f"[yvo3d] {item.key}: stopping (nothing paid)")
            elif item.paid:
                item.note = "paid and still running on Scenario: re-run to follow it"
                self.emit(f"[yvo3d] {item.key}: {item.note}")

    def _submit(self, item: Item) -> None:
        record = self.manager.submit(
            name=item.name,
            images=item.send_paths or item.images,
            settings=item.settings,
            expected_cost=item.price,
        )
        item.local_id, item.status = record.id, Status.RUNNING
        self._inflight[item.key] = item
        self.save(item)  # before the worker can reach the paid request

    def _update(self, item: Item) -> None:
        record = self.manager.get(item.local_id)
        if record is None:
            return
        changed = False
        if record.job_id and not item.job_id:
            item.job_id, item.paid, changed = record.job_id, True, True
        if record.stage == Stage.SUBMITTING and not item.paid:
            item.paid, changed = True, True
        self._progress(item, record)
        if record.stage in _TERMINAL and record.id not in self.manager.running():
            del self._inflight[item.key]
            self._end(item, record)
            changed = True
        if changed:
            self.save(item)

    def _progress(self, item: Item, record: JobRecord) -> None:
        try:
            label = LABELS[Stage(record.stage)]
        except ValueError:
            label = record.stage
        step = int(record.progress * 10)
        if self._printed.get(item.key) != (label, step) and record.stage not in _TERMINAL:
            self._printed[item.key] = (label, step)
            self.emit(f"[yvo3d] {item.key}: {label} {record.progress * 100:3.0f}%")
        item.stage = record.stage
        item.progress = record.progress

    def _end(self, item: Item, record: JobRecord) -> None:
        item.cost = record.cost if record.cost is not None else item.cost
        # A refused paid request (402, 400: no job id) paid nothing and may be sent again.
        item.paid = bool(record.job_id) or record.stage == Stage.UNKNOWN
        if record.stage in (Stage.READY, Stage.IMPORTED):
            self._finish_ready(item, record)
            return
        item.error = record.error or record.message
        item.hint = record.hint
        if record.stage == Stage.CANCELLED:
            item.status = Status.CANCELLED
            item.error_kind = "service" if item.paid else "user"
            self.emit(f"[yvo3d] {item.key}: cancelled{'' if item.paid else ' (nothing paid)'}")
            return
        if record.stage == Stage.UNKNOWN:
            item.status, item.error_kind = Status.UNKNOWN, "service"
        elif record.stage == Stage.STALLED:
            item.status, item.error_kind = Status.RUNNING, "service"
            item.note = "still running on Scenario: re-run to follow it again"
        else:
            item.status = Status.FAILED
            item.error_kind = "user" if record.error_code in USER_CODES else "service"
        text = f"{item.error} {item.hint}".strip()
        self.emit(f"[yvo3d] {item.key}: {item.status}: {text}")
        for twin in self._twins.pop(item.key, []):
            twin.status, twin.error_kind = Status.FAILED, item.error_kind
            twin.error, twin.hint = f"Not sent: identical to {item.key}, which did not finish.", ""
            self.save(twin)

    @staticmethod
    def _write_output(item: Item, glb_path: str) -> bool:
        """Copy the model to the item's output (when it has one); False, the item failed (the
        user's to fix), when it cannot be written."""
        try:
            if item.output:
                copy_glb(glb_path, item.output)
        except (OSError, errors.Yvo3dError) as exc:
            item.status, item.error_kind = Status.FAILED, "user"
            item.error = f"The model could not be written to {item.output}: {exc}"
            return False
        return True

    def _finish_ready(self, item: Item, record: JobRecord) -> None:
        if not self._write_output(item, record.glb_path):
            self.emit(f"[yvo3d] {item.key}: {item.error}")
            return
        item.status, item.error, item.hint, item.error_kind = Status.DONE, "", "", ""
        item.job_id = item.job_id or record.job_id
        item.local_id = record.id
        item.cost = record.cost if record.cost is not None else item.cost
        item.glb_path = record.glb_path
        cost = f" ({item.cost:g} credits)" if item.cost else ""
        self.emit(f"[yvo3d] {item.key}: done -> {item.output or item.glb_path}{cost}")
        for twin in self._twins.pop(item.key, []):
            if self._write_output(twin, record.glb_path):
                twin.status, twin.reused, twin.cost = Status.DONE, True, 0.0
                twin.glb_path, twin.job_id = record.glb_path, record.job_id
                self.emit(f"[yvo3d] {twin.key}: identical to {item.key}: copied (free)")
            self.save(twin)


def record_paid(record: JobRecord) -> bool:
    """Whether a job's paid request was (or may have been) sent."""
    return (
        bool(record.job_id)
        or record.stage in (Stage.SUBMITTING, Stage.UNKNOWN)
        or (
            record.stage not in BEFORE_PAYMENT
            and record.stage not in (Stage.FAILED, Stage.CANCELLED)
        )
    )


def exit_code(items: list[Item], interrupted: bool = False, dry_run: bool = False) -> int:
    """0 all done, 3 some done, else 1 when every failure is the user's to fix, else 2;
    130 after Ctrl-C. A dry run counts every item that could be priced or reused as done."""
    if interrupted:
        return EXIT_INTERRUPTED
    if dry_run:
        bad = [i for i in items if i.status in (Status.FAILED, Status.UNKNOWN, Status.CANCELLED)]
    else:
        bad = [i for i in items if i.status != Status.DONE]
    if not bad:
        return EXIT_OK
    if len(bad) < len(items):
        return EXIT_PARTIAL
    if all(i.error_kind == "user" for i in bad):
        return EXIT_USER
    return EXIT_SERVICE


def summary(items: list[Item]) -> dict[str, int]:
    counts: dict[str, int] = {s.value: 0 for s in Status}
    for item in items:
        counts[item.status] = counts.get(item.status, 0) + 1
    return counts


def record_dict(record: JobRecord) -> dict[str, Any]:
    """A job for `yvo3d jobs --json`: what a script needs, nothing secret (records hold none)."""
    keep = (
        "id",
        "name",
        "stage",
        "job_id",
        "cost",
        "progress",
        "glb_path",
        "library_id",
        "error",
        "hint",
        "created",
        "updated",
        "images",
    )
    known = {f.name for f in fields(JobRecord)}
    return {k: getattr(record, k) for k in keep if k in known}
