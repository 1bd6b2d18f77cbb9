"""Operators layer: the job follower: drain job events on the main thread, import what is ready
(modal timer in a window, to the end in background mode)."""

import os
import time
from typing import TYPE_CHECKING, Any

import bpy
from bpy.types import Operator

# The image checks, the importer and the client are imported by the functions that use them:
# enabling the add-on imports this module and must stay cheap (docs/performance.md).
from ...core import errors
from ...core.jobs import LABELS, Event, Stage
from ...core.store import JobRecord
from ..scene import pipeline
from ..session import runtime
from ..settings import import_options, preferences, properties
from . import common
from .common import Report, Result, _deferred_report, _flush_messages, _record_error, _wm

if TYPE_CHECKING:
    from ..scene.importer import ImportResult

TIMER_STEP = 0.1


UNDO_MESSAGE = "YVO3D import"


def import_result(
    context: bpy.types.Context,
    *,
    glb_path: str,
    name: str,
    settings: dict[str, object],
    image_names: list[str],
    placement: dict[str, object],
    stamp: dict[str, object],
    use_recorded_location: bool,
    select: bool | None = None,
) -> "ImportResult":
    """Import a downloaded GLB (no network) where `placement` says; RuntimeError on failure.

    Gathers what the scene's import pipeline needs from the preferences and the session. The
    clean-up options are the job's own (from Generate time) when it recorded them. `select`:
    whether the new model takes the selection (default: only when the user left the selection
    as it was at Generate)."""
    prefs = preferences.get_prefs(context)
    library_id = str(stamp.get("library_id", "") or "")
    entry = None
    if library_id:
        try:
            entry = runtime.manager(context).library.get(library_id)
        except errors.Yvo3dError:
            entry = None
    plan = pipeline.ImportPlan(
        glb_path=glb_path,
        name=name,
        placement=placement,
        stamp=stamp,
        options=import_options.from_snapshot(placement.get(OPTIONS_KEY))
        or preferences.effective_import_options(context),
        shape_only=not properties.TABLE.is_textured(settings, len(image_names)),
        images_mode=prefs.images_mode if prefs is not None else "PACK",
        use_recorded_location=use_recorded_location,
        secrets=runtime.secrets(context),
        entry=entry,
        render_folder=runtime.captures_dir(),
    )
    plan.select = select if select is not None else selection_unchanged(context, placement)
    return pipeline.import_model(context, plan)


# -- a landing never hijacks the session -------------------------------------------------------

SHADING_NOTE = "Textures show in Material Preview"
"""How the importer's Solid-view note starts (scene.importer.SHADING_WARNING)."""
OPTIONS_KEY = "import_options"
"""In a job's placement: the clean-up options as they were at Generate."""
SELECTION_KEY = "selection"
"""In a job's placement: the selection at Generate (names and the active object)."""


def selection_now(context: bpy.types.Context) -> dict[str, object]:
    """The selection as plain data (names, active): what a landing compares against."""
    active = getattr(context, "active_object", None)
    chosen = getattr(context, "selected_objects", None) or ()
    return {"names": sorted(o.name for o in chosen), "active": active.name if active else ""}


def selection_unchanged(context: bpy.types.Context, placement: dict[str, object]) -> bool:
    """Whether the user left the selection as it was at Generate (then the new model may take
    it); a job without a record of it (older, or from the command line) does not take it."""
    then = placement.get(SELECTION_KEY)
    return isinstance(then, dict) and then == selection_now(context)


def at_generate(context: bpy.types.Context) -> dict[str, object]:
    """What a job's placement keeps of this moment: the selection and the import options."""
    options = preferences.effective_import_options(context)
    return {SELECTION_KEY: selection_now(context), OPTIONS_KEY: import_options.snapshot(options)}


def import_blocker(context: bpy.types.Context) -> str:
    """Why a landed model must wait before it is imported ("" when it can go in now)."""
    mode = str(getattr(context, "mode", "OBJECT"))
    if mode != "OBJECT":
        return f"you are in {mode.replace('_', ' ').title()} mode"
    window = getattr(context, "window", None)
    for op in getattr(window, "modal_operators", None) or ():
        # A running operator names itself YVO3D_OT_follow_jobs (not yvo3d.follow_jobs): our own
        # modals (the follower itself, Generate, Test Connection) never hold a model back.
        if not op.bl_idname.startswith("YVO3D_OT_"):
            return "another tool is running"
    return ""


def import_held(context: bpy.types.Context, report: Report) -> None:
    """Import the models that waited, now that nothing stands in the way."""
    if not runtime.held or import_blocker(context):
        return
    manager = runtime.manager(context)
    for local_id in list(runtime.held):
        runtime.held.discard(local_id)
        record = manager.get(local_id)
        if record is not None and record.stage == Stage.READY:
            import_record(context, record, report, recorded=True)


def _stamp(record: JobRecord) -> dict[str, object]:
    params = {k: v for k, v in record.body.items() if k != "images"} or record.settings
    return {
        "job_id": record.job_id,
        "local_id": record.id,
        "images": [os.path.basename(p) for p in record.images],
        "params": params,
        "cost": record.cost,
        "library_id": record.library_id,
        "fingerprint": record.fingerprint,
    }


def _undo_push() -> None:
    try:
        bpy.ops.ed.undo_push(message=UNDO_MESSAGE)
    except RuntimeError:
        pass  # no undo stack in this context (some scripted runs): the import still stands


def import_record(
    context: bpy.types.Context,
    record: JobRecord,
    report: Report,
    *,
    recorded: bool,
    push_undo: bool = True,
) -> bool:
    """Import a READY (or re-import an IMPORTED) job's GLB; reports; True when it is in.

    `recorded`: place it where the job's placement says (else on the cursor as it is now);
    `push_undo`: push the one undo step (an UNDO operator pushes its own)."""
    manager = runtime.manager(context)
    try:
        if not record.glb_path or not os.path.isfile(record.glb_path):
            raise RuntimeError(
                f"the downloaded model is missing from the library ({record.glb_path or '?'})"
            )
        result = import_result(
            context,
            glb_path=record.glb_path,
            name=record.name,
            settings=record.settings,
            image_names=record.images,
            placement=record.placement,
            stamp=_stamp(record),
            use_recorded_location=recorded,
        )
    except RuntimeError as exc:
        message = str(exc)
        manager.mark_import_failed(record.id, f"Import failed: {message}")
        retry = (
            "" if message.startswith("Refused") else " The model is kept: press Import to retry."
        )
        report({"ERROR"}, f"{record.name}: {message}.{retry}")
        return False
    if push_undo:
        _undo_push()
    manager.mark_imported(record.id, result.root.name)
    for warning in result.warnings:
        if warning.startswith(SHADING_NOTE):
            # Said once a session: Selected Model has the one-click Material Preview.
            if runtime.shading_told:
                continue
            runtime.shading_told = True
        report({"WARNING"}, warning)
    landed = landed_text(record.name, record.created)
    report({"INFO"}, f"{landed} ({len(result.objects)} objects)")
    return True


def handle_event(
    context: bpy.types.Context, event: Event, report: Report, own: set[str] | None = None
) -> None:
    """React to one job event on the main thread: import ready models, report endings.

    Endings of jobs outside `own` are reported as warnings so a background run of one job is
    not failed by another."""
    record = event.record
    error_level = "ERROR" if own is None or record.id in own else "WARNING"
    if event.kind == "ready":
        runtime.fingerprints.pop(record.id, None)
        reason = import_blocker(context)
        if record.cancel_requested:  # "Don't Import": the paid result stays in the library
            report({"INFO"}, f"{record.name}: {record.message}")
        elif reason:
            # Never change the user's mode: the model waits, "Ready to import", and goes in
            # on its own at the first tick back in Object Mode (or with its Import button).
            runtime.held.add(record.id)
            report({"INFO"}, f"{record.name} is ready: it is imported when {_when(reason)}")
        else:
            import_record(context, record, report, recorded=True)
    elif event.kind == "ended":
        runtime.fingerprints.pop(record.id, None)
        if record.stage == Stage.FAILED:
            report({error_level}, _record_error(record))
        elif record.stage == Stage.CANCELLED:
            report({"INFO"}, f"{record.name}: {record.message or 'Cancelled.'}")
        else:
            report({"WARNING"}, _record_error(record))


def _when(reason: str) -> str:
    if reason.startswith("you are in"):
        return "you are back in Object Mode (or press Import in the Jobs panel)"
    return "that is done (or press Import in the Jobs panel)"


def _redraw(context: bpy.types.Context) -> None:
    wm = getattr(context, "window_manager", None)
    for window in getattr(wm, "windows", ()):
        screen = window.screen
        if screen is None:
            continue
        for area in screen.areas:
            if area.type in ("VIEW_3D", "PREFERENCES"):
                for region in area.regions:
                    if region.type in ("UI", "WINDOW"):
                        region.tag_redraw()


REDRAW_EVERY = 0.25
"""Seconds between redraws for progress alone (4 Hz); a stage change redraws at once."""


_redraw_due = {"at": 0.0, "version": -1}


def _redraw_if_changed(context: bpy.types.Context, manager: Any, events: list[Event]) -> bool:
    """Ask for a redraw only when something shown changed, progress at most every
    REDRAW_EVERY seconds; True when it asked."""
    version = manager.view.version
    if version == _redraw_due["version"]:
        return False
    now = time.monotonic()
    urgent = any(e.kind != "progress" for e in events)
    if not urgent and now - _redraw_due["at"] < REDRAW_EVERY:
        return False
    _redraw_due.update(at=now, version=version)
    _redraw(context)
    return True


def tick(context: bpy.types.Context, report: Report | None = None) -> bool:
    """One step of the follower: drain events, import what is ready, redraw. Never waits.

    Returns whether there is still something to follow."""
    manager = runtime.existing_manager()
    if manager is None:
        return False
    report = report or _deferred_report
    runtime.take_snapshot(context)  # workers started later use the current preferences
    if report is not _deferred_report:
        _flush_messages(report)
    events = manager.drain()
    if events:
        runtime.spend_changed()
    for event in events:
        handle_event(context, event, report)
    import_held(context, report)
    _redraw_if_changed(context, manager, events)
    return bool(manager.running()) or not manager.events.empty() or bool(runtime.held)


def _progress_line(event: Event) -> str:
    record = event.record
    try:
        label = LABELS[Stage(record.stage)]
    except ValueError:
        label = record.stage
    line = f"[YVO3D] {record.name}: {label} {record.progress * 100:3.0f}%"
    if event.kind == "progress" and record.message and record.message != label:
        line += f" ({record.message})"
    return line


def run_to_end(context: bpy.types.Context, ids: list[str], report: Report) -> Result:
    """Background mode: follow the given jobs on this thread until they end; import results."""
    manager = runtime.manager(context)
    own = set(ids)
    timeout = manager.poll.overall_timeout + 600.0

    last: dict[str, str] = {}

    def on_event(event: Event) -> None:
        line = _progress_line(event)
        if last.get(event.record.id) != line:
            last[event.record.id] = line
            print(line, flush=True)  # noqa: T201 - background mode's only progress display
        handle_event(context, event, report, own)

    done = manager.wait(timeout, on_event=on_event, ids=ids)
    runtime.spend_changed()
    _flush_messages(report)
    if not done:
        report({"ERROR"}, "Still running after the time limit: follow it in the Jobs panel.")
        return {"CANCELLED"}
    records = [manager.get(i) for i in ids]
    if records and all(r is not None and r.stage == Stage.IMPORTED for r in records):
        return {"FINISHED"}
    return {"CANCELLED"}


def _stop_following(op: object, context: bpy.types.Context) -> None:
    timer = getattr(op, "_timer", None)
    if timer is not None:
        try:
            _wm(context).event_timer_remove(timer)
        except (ReferenceError, RuntimeError, ValueError):
            pass  # already gone with its window
        try:
            op._timer = None  # type: ignore[attr-defined]
        except AttributeError:
            pass
    runtime.follower_active = False


def _start_following(op: Operator, context: bpy.types.Context) -> Result:
    wm = _wm(context)
    op._timer = wm.event_timer_add(TIMER_STEP, window=context.window)  # type: ignore[attr-defined]
    wm.modal_handler_add(op)
    runtime.follower_active = True
    return {"RUNNING_MODAL"}


def ensure_follower(context: bpy.types.Context) -> bool:
    """Start the modal follower when a window exists and none runs; True if one runs."""
    if runtime.follower_active:
        return True
    if common.headless() or context.window is None:
        return False
    try:
        ops: Any = bpy.ops  # the stubs do not know operators registered by add-ons
        ops.yvo3d.follow_jobs("INVOKE_DEFAULT")
    except RuntimeError:
        return False
    return runtime.follower_active


def _modal(op: object, context: bpy.types.Context, event: object) -> Result:
    if getattr(event, "type", "") != "TIMER":
        return {"PASS_THROUGH"}  # never react to keys: a stray Esc must not stop a paid job
    report = getattr(op, "report", None)
    if tick(context, report if callable(report) else None):
        return {"PASS_THROUGH"}
    _stop_following(op, context)
    return {"FINISHED"}


class YVO3D_OT_follow_jobs(Operator):
    """Follow running YVO3D jobs and import their results when they are ready"""

    bl_idname = "yvo3d.follow_jobs"
    bl_label = "Follow YVO3D Jobs"
    bl_options = {"INTERNAL"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if runtime.follower_active or common.headless():
            return {"CANCELLED"}
        return _start_following(self, context)

    def execute(self, context: bpy.types.Context) -> Result:
        manager = runtime.existing_manager()
        if manager is None or not manager.running():
            return {"CANCELLED"}
        return run_to_end(context, manager.running(), self.report)

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        return _modal(self, context, event)

    def cancel(self, context: bpy.types.Context) -> None:
        _stop_following(self, context)


def unregister() -> None:
    runtime.follower_active = False


classes = (YVO3D_OT_follow_jobs,)


LONG_AGO = 60.0
"""A job that lands this many seconds after it was started is announced by name and age."""


def landed_text(name: str, created: float, now: float | None = None) -> str:
    """The report for a model that is in the scene; names the wait when it was a long one."""
    age = (now if now is not None else time.time()) - created
    if age < LONG_AGO:
        return f"{name}: imported"
    minutes = age / 60
    ago = f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"
    return f"{name} is ready and imported (started {ago} ago)"
