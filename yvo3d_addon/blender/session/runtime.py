"""Session layer: the session's one job manager, pricer and credentials snapshot: the only holder
of process state.

Everything here is created on the main thread. Worker threads only ever reach `make_client`,
which reads the plain-data snapshot taken on the main thread: workers never touch bpy.

The job engine, the pricer, the client and `requests` (~90 ms to import) are imported on first
use, not when the add-on is enabled: registration must stay cheap (docs/performance.md).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import bpy

from ...core import errors
from ..settings import preferences, properties
from . import network

if TYPE_CHECKING:
    import bpy.utils.previews

    from ...core.client import ScenarioClient
    from ...core.jobs import JobManager, PollPolicy
    from ...core.pricing import Pricer, Quote, UploadCache
    from ...core.spend import Budget


log = logging.getLogger(__name__)


ENV_USER_DIR = "YVO3D_USER_DIR"
"""Root of the job store and library instead of the extension's user folder (tests, scripts)."""


ENV_POLL_FIRST = "YVO3D_POLL_SECONDS"
"""First poll interval in seconds instead of the policy's (tests, scripts)."""


ONLINE_HINT = network.ONLINE_HINT


CREDENTIALS_HINT = preferences.CREDENTIALS_HINT


TEMP_MAX_AGE = 2 * 24 * 3600.0


@dataclass(frozen=True)
class Credentials:
    """What a client needs, copied out of Blender on the main thread."""

    key: str
    secret: str
    base_url: str
    project_id: str
    online: bool
    verify: str | bool = True
    """A CA bundle path for HTTPS, or True for the default authorities."""
    max_download: int = 2 * 1024**3

    def __repr__(self) -> str:  # never show the key or the secret
        return f"Credentials(base_url={self.base_url!r}, online={self.online})"


@dataclass
class ConnectionTest:
    state: str = "idle"  # idle | testing | ok | error
    message: str = ""


_lock = threading.Lock()


_credentials: Credentials | None = None


_online = False
"""Blender's online access as the main thread last saw it (workers may not read bpy)."""


_manager: JobManager | None = None


_pricer: Pricer | None = None


_uploads: UploadCache | None = None


_threads: list[threading.Thread] = []


_messages: list[tuple[str, str]] = []


_previews: bpy.utils.previews.ImagePreviewCollection | None = None  # slot thumbnails


_price_wanted = False


connection = ConnectionTest()


follower_active = False
"""A modal operator is following the jobs (only one at a time)."""
shading_told = False
"""The Solid-view note about textures was reported once this session."""
held: set[str] = set()
"""Jobs whose model landed while the user could not be interrupted (Edit Mode, Sculpt, another
tool running): "Ready to import", imported at the first tick back in Object Mode."""


fingerprints: dict[str, str] = {}
"""Local job id -> request fingerprint known at submit time (before the worker stores it)."""


library_match: dict[str, str] = {}
"""The last Generate refused as a duplicate: {"fingerprint", "entry", "name"}."""


def take_snapshot(context: bpy.types.Context | None = None) -> Credentials | None:
    """Copy the credentials, service URL, CA bundle and online state out of Blender (main
    thread). The credentials come from `preferences.credentials`: the fields, else the
    environment."""
    global _credentials, _online
    context = context or bpy.context
    found = preferences.credentials(context)
    prefs = preferences.get_prefs(context)
    snapshot = None
    if found is not None:
        snapshot = Credentials(
            key=found[0],
            secret=found[1],
            base_url=preferences.service_url_effective(context),
            project_id=prefs.project_id.strip() if prefs is not None else "",
            online=bool(bpy.app.online_access),
            verify=preferences.ca_bundle_path(context) or True,
            max_download=int(prefs.max_download_mb) * 1024**2 if prefs is not None else 2 * 1024**3,
        )
    with _lock:
        _credentials = snapshot
        _online = bool(bpy.app.online_access)
    network.set_online(_online)
    return snapshot


def secrets(context: bpy.types.Context | None = None) -> list[str]:
    """The credential strings nothing may write into the scene, a file or a message."""
    found = preferences.credentials(context or bpy.context)
    snapshot = credentials()
    values = [*(found or ()), *((snapshot.key, snapshot.secret) if snapshot is not None else ())]
    return sorted({value for value in values if value})


def credentials() -> Credentials | None:
    with _lock:
        return _credentials


def make_client(wait: object = None) -> ScenarioClient:
    """A client from the last snapshot; safe to call on any thread."""
    snapshot = credentials()
    if snapshot is None:
        raise errors.ConfigError(
            "No Scenario API key and secret are set.", fix=CREDENTIALS_HINT + "."
        )
    if not snapshot.online:
        raise errors.ConfigError("Blender's online access is off.", fix=ONLINE_HINT + ".")
    from ...core.client import ScenarioClient

    return ScenarioClient(
        snapshot.base_url,
        snapshot.key,
        snapshot.secret,
        project_id=snapshot.project_id,
        wait=wait if callable(wait) else None,
        verify=snapshot.verify,
        session=network.online_only_session_type()(),
        max_download=snapshot.max_download,
    )


def user_dir() -> str:
    """Where the job store (and by default the library) lives."""
    override = os.environ.get(ENV_USER_DIR, "").strip()
    if override:
        os.makedirs(override, exist_ok=True)
        return override
    return str(bpy.utils.extension_path_user(preferences.BASE_PACKAGE, path="", create=True))


def library_dir(context: bpy.types.Context | None = None) -> str:
    if os.environ.get(ENV_USER_DIR, "").strip():
        return os.path.join(user_dir(), "library")
    return preferences.library_path(context or bpy.context)


def captures_dir() -> str:
    """Where captures and preview renders are written (made on first use by the writer)."""
    return os.path.join(user_dir(), "captures")


def temp_dir() -> str:
    path = os.path.join(user_dir(), "tmp")
    os.makedirs(path, exist_ok=True)
    return path


def _clean_temp() -> None:
    folder = os.path.join(user_dir(), "tmp")
    try:
        names = os.listdir(folder)
    except OSError:
        return
    cutoff = time.time() - TEMP_MAX_AGE
    for name in names:
        path = os.path.join(folder, name)
        try:
            if os.path.getmtime(path) < cutoff:
                os.remove(path)
        except OSError:
            pass  # in use or already gone: the next session tries again


def _poll_policy(context: bpy.types.Context) -> PollPolicy:
    from ...core.jobs import PollPolicy

    policy = PollPolicy()
    prefs = preferences.get_prefs(context)
    if prefs is not None:
        policy.cap = max(policy.first, float(prefs.poll_seconds_max))
    first = os.environ.get(ENV_POLL_FIRST, "").strip()
    if first:
        try:
            policy.first = max(0.05, float(first))
        except ValueError:
            log.warning("%s=%r is not a number; ignored", ENV_POLL_FIRST, first)
    return policy


def _upload_cache() -> UploadCache:
    global _uploads
    if _uploads is None:
        from ...core.pricing import UploadCache

        _uploads = UploadCache()
    return _uploads


SESSION_START = time.time()
"""When this Blender session began (the add-on was first loaded): "this session" in spend."""
budget_override: float | None = None
"""A per-run limit for the command line's `--budget` (replaces the preferences' limits)."""
_spend_cache: tuple[float, float] | None = None


def budget(context: bpy.types.Context | None = None) -> Budget:
    """The spending limits in force: `--budget` for a command-line run, else the preferences'."""
    from ...core.spend import Budget

    if budget_override is not None:
        return Budget(per_session=budget_override, session_start=SESSION_START)
    prefs = preferences.get_prefs(context or bpy.context)
    if prefs is None:
        return Budget(session_start=SESSION_START)
    return Budget(
        per_session=float(prefs.budget_session),
        per_day=float(prefs.budget_day),
        session_start=SESSION_START,
    )


def budget_left(context: bpy.types.Context | None = None) -> list[str]:
    """What is left of each spending limit in force, in words ("120 credits left today"), from
    the session's cached spend (no I/O); empty when no limit is set."""
    session, today = spend()
    label = {"session": "this session", "today": "today"}
    remaining = budget(context).remaining(session, today)
    return [f"{left:g} credits left {label[key]}" for key, _, left in remaining]


def spend() -> tuple[float, float]:
    """(this session, today) in credits, from the job store; cached until a job changes (the
    follower's tick calls `spend_changed`), so a redraw never walks the job history."""
    global _spend_cache
    if _spend_cache is None:
        from ...core.spend import day_start, spent_since

        since = min(SESSION_START, day_start())  # today's and this session's jobs only
        records = _manager.jobs_since(since) if _manager is not None else []
        _spend_cache = (spent_since(records, SESSION_START), spent_since(records, day_start()))
    return _spend_cache


def spend_changed() -> None:
    global _spend_cache
    _spend_cache = None


def manager(context: bpy.types.Context | None = None) -> JobManager:
    """The session's job manager, created on first use (main thread: it opens the store)."""
    global _manager
    if _manager is None:
        from ...core.jobs import JobManager
        from ...core.library import Library
        from ...core.store import JobStore

        context = context or bpy.context
        store = JobStore(os.path.join(user_dir(), "jobs.sqlite"))
        try:
            library = Library(library_dir(context))
        except errors.Yvo3dError:
            store.close()
            raise
        _manager = JobManager(
            store,
            library,
            make_client,
            poll=_poll_policy(context),
            uploads=_upload_cache(),
        )
        _clean_temp()
        spend_changed()
    _manager.budget = budget(context)
    return _manager


def existing_manager() -> JobManager | None:
    """The manager if one was created (draw code must not create one: that opens files)."""
    return _manager


def pricer() -> Pricer:
    global _pricer
    if _pricer is None:
        from ...core.pricing import Pricer

        _pricer = Pricer(make_client, _upload_cache(), on_paid_job=_follow_paid_price_check)
    return _pricer


def _follow_paid_price_check(job_id: str, cost: float | None, request: dict[str, Any]) -> bool:
    """A price check started a paid job (dryRun ignored on the way): follow it like any job,
    known by its request's fingerprint, so a Generate of the same request never pays again."""
    found = existing_manager()
    if found is None:
        return False
    found.adopt(job_id, "Paid price check", cost=cost, **request)
    return True


def quote() -> Quote:
    """The price of the current request; "idle" when there is nothing that can be priced."""
    if _pricer is None or not _price_wanted:
        from ...core.pricing import Quote

        return Quote("idle")
    return _pricer.quote()


def request_price(context: bpy.types.Context | None = None) -> None:
    """Ask for the price of the scene's current request (debounced, never blocks)."""
    global _price_wanted
    _price_wanted = False
    context = context or bpy.context
    scene = getattr(context, "scene", None)
    settings = getattr(scene, "yvo3d", None) if scene is not None else None
    if settings is None:
        return
    snapshot = take_snapshot(context)
    if snapshot is None or not snapshot.online:
        return  # the panel says why; nothing can be priced
    count = properties.image_count(settings)
    paths = properties.image_paths(settings)
    if count == 0 or len(paths) != count:
        return  # no image yet, or a Blender image without its copy: priced at Generate
    values = properties.settings_dict(settings)
    if properties.TABLE.validate(values, count):
        return  # the panel shows the rule problem instead of a price
    # The job manager exists before any price check leaves: a service that takes one for a
    # generation starts a paid job, and the pricer's thread hands it to the manager to follow.
    # A library folder that cannot be used is reported by Generate and the Library panel; the
    # price is still asked for (a paid job is then named in the price line, with how to follow
    # it by its job id).
    try:
        manager(context)
    except errors.Yvo3dError as exc:
        log.info("no job manager for the price check (%s)", exc.user_text())
    pricer().request(paths, values)
    _price_wanted = True


def load_thumbnail(path: str) -> None:
    """Queue a file's thumbnail for the Images panel (Blender loads it lazily)."""
    global _previews
    if _previews is None:
        from bpy.utils import previews

        _previews = previews.new()
    if path and path not in _previews:
        try:
            _previews.load(path, path, "IMAGE")
        except (KeyError, RuntimeError):
            pass  # no thumbnail: the panel shows an icon instead


def thumbnail_icon(path: str) -> int:
    """The icon id of a loaded thumbnail, 0 when there is none (no I/O)."""
    if _previews is None or path not in _previews:
        return 0
    return int(_previews[path].icon_id)


_checks: dict[str, Any] = {}
"""Reference image key (properties.slot_key) -> its core.reference.Check, for the panel."""


def remember_check(key: str, found: Any) -> None:
    """Keep a reference image's local check for the panel to show (None forgets it)."""
    if found is None:
        _checks.pop(key, None)
    else:
        _checks[key] = found


def reference_check(key: str) -> Any:
    """The check kept for a reference image, or None (no I/O)."""
    return _checks.get(key)


def post(level: str, text: str) -> None:
    """A report for the user, shown by the next tick (any thread)."""
    with _lock:
        _messages.append((level, text))


def take_messages() -> list[tuple[str, str]]:
    with _lock:
        out = list(_messages)
        _messages.clear()
    return out


def start_connection_test() -> threading.Thread:
    """Diagnose the connection on a thread (which step failed: DNS, proxy, TLS, connection,
    key, permission, credits); the result lands in `connection`."""

    from ...core.diagnose import diagnose  # late: it imports requests

    def run() -> None:
        try:
            ok, text = diagnose(make_client())
            result = ConnectionTest("ok" if ok else "error", text)
        except errors.Yvo3dError as exc:
            result = ConnectionTest("error", exc.user_text())
        except Exception as exc:  # the button must always answer
            log.exception("connection test failed")
            result = ConnectionTest("error", f"Connection test failed ({type(exc).__name__}).")
        connection.state, connection.message = result.state, result.message

    connection.state, connection.message = "testing", "Testing the connection…"
    thread = threading.Thread(target=run, name="yvo3d-connection-test", daemon=True)
    with _lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        _threads.append(thread)
    thread.start()
    return thread


def register() -> None:
    properties.on_change(request_price)


def unregister() -> None:
    properties.on_change(None)


def shutdown(timeout: float = 5.0) -> list[str]:
    """Stop following jobs (they stay resumable in the store) and stop the pricer.

    Returns the names of threads still alive (empty when everything stopped)."""
    global _manager, _pricer, follower_active, _price_wanted
    alive: list[str] = []
    manager_, pricer_ = _manager, _pricer
    _manager = _pricer = None
    follower_active = _price_wanted = False
    held.clear()
    deadline = time.monotonic() + timeout
    if manager_ is not None:
        manager_.stopping.set()  # from here a cut request means "stop", never "failed"
    network.cut_free_requests()  # a worker blocked on a stalled answer would outlive the add-on
    if manager_ is not None:
        stuck = manager_.shutdown(timeout)
        alive += stuck
        if not stuck:  # a worker still running would write to a closed store
            manager_.store.close()
    if pricer_ is not None:
        pricer_.stop(max(0.1, deadline - time.monotonic()))
        thread = getattr(pricer_, "_thread", None)
        if thread is not None and thread.is_alive():
            alive.append(thread.name)
    with _lock:
        threads = list(_threads)
        _threads.clear()
    for thread in threads:
        thread.join(max(0.1, deadline - time.monotonic()))
        if thread.is_alive():
            alive.append(thread.name)
    fingerprints.clear()
    library_match.clear()
    take_messages()
    _release_previews()
    return alive


def _release_previews() -> None:
    global _previews
    if _previews is not None:
        from bpy.utils import previews

        previews.remove(_previews)
        _previews = None
