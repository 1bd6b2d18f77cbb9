"""Blender layer: operators: generate (and the modal job follower), job actions, image slots."""

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, IntProperty, StringProperty
from bpy.types import Operator, OperatorFileListElement

# The image checks, the importer and the client are imported by the functions that use them:
# enabling the add-on imports this module and must stay cheap (docs/performance.md).
from ..core import errors
from ..core.jobs import ACTIVE, BEFORE_PAYMENT, LABELS, NOT_IMPORTED, Event, Stage
from ..core.params import MAX_IMAGES
from ..core.store import JobRecord
from . import cleanup, placeholders, preferences, properties, runtime, statusbar

TIMER_STEP = 0.1
LIBRARY_MESSAGE = (
    "An identical model is in the library: use Import from Library (free) or Generate Anyway"
)
IMAGE_EXTENSIONS = ".png;.jpg;.jpeg;.webp;.gif;.tif;.tiff;.bmp;.tga;.exr;.hdr;.avif;.heic"
IMAGE_GLOB = ";".join("*" + ext for ext in IMAGE_EXTENSIONS.split(";"))
UNDO_MESSAGE = "YVO3D import"

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

    from .importer import ImportResult

Result = set["OperatorReturnItems"]
Report = Callable[[Any, str], object]
"""An operator's `report` (or anything with its signature)."""


def headless() -> bool:
    """No event loop (blender -b, the bpy module): operators run jobs to the end themselves.

    A function, not a constant, so tests can drive the windowed code paths too."""
    return bool(bpy.app.background)


def scene_settings(context: bpy.types.Context) -> Any:
    """The scene's YVO3D settings, or None (no scene, or the add-on is not registered)."""
    scene = getattr(context, "scene", None)
    return getattr(scene, "yvo3d", None) if scene is not None else None


def _wm(context: bpy.types.Context) -> Any:
    return context.window_manager


# -- why Generate cannot run ------------------------------------------------------------------


def generate_blocker(context: bpy.types.Context) -> str:
    """Why Generate is unavailable right now ("" when it can run). No I/O, no network."""
    scene = getattr(context, "scene", None)
    settings = getattr(scene, "yvo3d", None) if scene is not None else None
    if settings is None:
        return "Open a scene to generate"
    if preferences.credentials(context) is None:
        return runtime.CREDENTIALS_HINT
    if not bpy.app.online_access:
        return f"Online access is off: {runtime.ONLINE_HINT}"
    from ..core.client import check_base_url

    try:
        check_base_url(preferences.service_url_effective(context))
    except errors.ConfigError as exc:
        return exc.user_text()
    count = properties.image_count(settings)
    if count == 0:
        return f"Add a reference image (1 to {MAX_IMAGES})"
    if count > MAX_IMAGES:
        return (
            f"Too many reference images: {count}, at most {MAX_IMAGES} "
            f"(remove {count - MAX_IMAGES})"
        )
    problems = properties.TABLE.validate(properties.settings_dict(settings), count)
    if problems:
        return problems[0].message
    return placeholders.blocker(context, settings)


# -- reports ----------------------------------------------------------------------------------


def _deferred_report(level: set[str], text: str) -> None:
    """Reports made without an operator reach the user through the next operator's tick."""
    runtime.post(next(iter(level)), text)


def _flush_messages(report: Report) -> None:
    for level, text in runtime.take_messages():
        report({level}, text)


def _record_error(record: JobRecord) -> str:
    text = record.error or record.message or record.stage
    if record.hint and record.hint not in text:
        text = f"{text} {record.hint}"
    return f"{record.name}: {text}"


# -- importing results ------------------------------------------------------------------------


def _images_mode(context: bpy.types.Context) -> str:
    prefs = preferences.get_prefs(context)
    return prefs.images_mode if prefs is not None else "PACK"


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
) -> "ImportResult":
    """Import a downloaded GLB (no network) where `placement` says; RuntimeError on failure."""
    from . import importer

    shape_only = not properties.TABLE.is_textured(settings, len(image_names))
    mode = placement.get("mode", "CURSOR")
    placeholder = placeholders.find(placement) if mode == "PLACEHOLDER" else None
    location: tuple[float, float, float] | None = None
    recorded = placement.get("location")
    if placeholder is None and use_recorded_location and isinstance(recorded, list | tuple):
        location = (float(recorded[0]), float(recorded[1]), float(recorded[2]))
    result = importer.import_glb(
        context,
        glb_path,
        name=name,
        location=location,
        stamp=stamp,
        shape_only=shape_only,
        images_mode=_images_mode(context),
    )
    if mode == "PLACEHOLDER":
        # After the import succeeded: only now may the placeholder change (hidden, kept).
        placeholders.place(context, result, placeholder, placement)
    # The clean-up preset (and asset marking) once the model is in place; never raises.
    result.warnings += cleanup.after_import(context, result, stamp)
    return result


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
        report({"ERROR"}, f"{record.name}: {message}. The model is kept: press Import to retry.")
        return False
    if push_undo:
        _undo_push()
    manager.mark_imported(record.id, result.root.name)
    for warning in result.warnings:
        report({"WARNING"}, warning)
    landed = statusbar.landed_text(record.name, record.created)
    report({"INFO"}, f"{landed} ({len(result.objects)} objects)")
    return True


# -- following jobs ---------------------------------------------------------------------------


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
        if record.cancel_requested:  # "Don't Import": the paid result stays in the library
            report({"INFO"}, f"{record.name}: {record.message}")
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
    for event in manager.drain():
        handle_event(context, event, report)
    _redraw(context)
    return bool(manager.running()) or not manager.events.empty()


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
    if headless() or context.window is None:
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


# -- generate ---------------------------------------------------------------------------------


def prepare_images(settings: Any) -> tuple[list[str], list[str]]:
    """Files ready to upload for the used slots (main thread: Blender images are saved, odd
    formats converted) and the non-blocking warnings. InputError names the refused image."""
    from ..core import images

    paths: list[str] = []
    warnings: list[str] = []
    for slot in properties.used_slots(settings):
        path = properties.slot_path(slot)
        if slot.image is not None and (not path or not os.path.isfile(path)):
            path = runtime.save_image_copy(slot.image)
        info, notes = images.check(path)
        if images.needs_conversion(info):
            path = runtime.convert_to_png(path)
            info, notes = images.check(path)
        paths.append(path)
        warnings += [n for n in notes if "converted" not in n]
    return paths, warnings


def _default_name(settings: Any, paths: list[str]) -> str:
    name = str(settings.name).strip()
    if name and name != properties.DEFAULT_NAME:
        return name
    slots = properties.used_slots(settings)
    if slots and slots[0].image is not None:
        return str(slots[0].image.name)
    if paths:
        stem = os.path.splitext(os.path.basename(paths[0]))[0]
        return stem or properties.DEFAULT_NAME
    return properties.DEFAULT_NAME


def _submit(op: Operator, context: bpy.types.Context, force: bool) -> Result:
    from ..core import images

    runtime.take_snapshot(context)
    reason = generate_blocker(context)
    if reason:
        op.report({"ERROR"}, reason)
        return {"CANCELLED"}
    settings = scene_settings(context)
    try:
        manager = runtime.manager(context)
        paths, warnings = prepare_images(settings)
        values = properties.settings_dict(settings)
        hashes = [images.file_sha256(p) for p in paths]
    except errors.Yvo3dError as exc:
        op.report({"ERROR"}, exc.user_text())
        return {"CANCELLED"}
    except OSError as exc:
        op.report({"ERROR"}, f"A reference image cannot be read: {exc}")
        return {"CANCELLED"}
    fingerprint = manager.table.fingerprint(values, hashes)
    if not force and placeholders.take_count(settings) == 1:
        snapshot = runtime.credentials()
        matches = manager.library.find(
            fingerprint, service=snapshot.base_url if snapshot is not None else None
        )
        if matches:
            runtime.library_match.clear()
            runtime.library_match.update(
                fingerprint=fingerprint, entry=matches[0].id, name=matches[0].name
            )
            op.report({"ERROR"}, LIBRARY_MESSAGE)
            return {"CANCELLED"}
    for record in manager.jobs():
        known = record.fingerprint or runtime.fingerprints.get(record.id, "")
        if (
            record.stage in ACTIVE
            and known == fingerprint
            and placeholders.same_target(record.placement, context, settings)
        ):
            op.report(
                {"WARNING"},
                f"This request is already running as {record.name!r}: see the Jobs panel",
            )
            return {"CANCELLED"}
    runtime.library_match.clear()
    quote = runtime.quote()
    expected = quote.cost if quote.state == "ok" and quote.key == fingerprint else None
    scene: Any = context.scene
    # One job per placeholder and take, each priced again before it pays (expected_cost).
    name = _default_name(settings, paths)
    planned = placeholders.plan(context, settings, scene.cursor.location, name)
    records = [
        manager.submit(
            name=name, images=paths, settings=values, placement=placement, expected_cost=expected
        )
        for name, placement in planned
    ]
    for record in records:
        runtime.fingerprints[record.id] = fingerprint
    for warning in warnings:
        op.report({"WARNING"}, warning)
    if headless():
        return run_to_end(context, [r.id for r in records], op.report)
    started = records[0].name if len(records) == 1 else f"{len(records)} jobs"
    if runtime.follower_active:
        op.report({"INFO"}, f"{started}: started; follow it in the Jobs panel")
        return {"FINISHED"}
    op.report({"INFO"}, f"{started}: started")
    return _start_following(op, context)


class YVO3D_OT_generate(Operator):
    """Send the reference images to Scenario YVO3D and import the model it makes (costs credits)"""

    bl_idname = "yvo3d.generate"
    bl_label = "Generate 3D Model"
    # No UNDO: a redo would send the paid request again.
    bl_options = {"REGISTER"}

    force: BoolProperty(
        name="Generate Anyway",
        description="Generate even when an identical model is already in the library",
        default=False,
        options={"SKIP_SAVE"},
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = generate_blocker(context)
        if reason:
            cls.poll_message_set(reason)
            return False
        return True

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        quote = runtime.quote()
        cost = quote.cost if quote.state == "ok" else None
        question = placeholders.confirm_message(context, scene_settings(context), cost)
        if question and not headless() and context.window is not None:
            # Several paid jobs (placeholders x takes): the total is confirmed first.
            confirmed: Result = _wm(context).invoke_confirm(
                self, event, title="Generate", message=question, confirm_text="Generate"
            )
            return confirmed
        return _submit(self, context, self.force)

    def execute(self, context: bpy.types.Context) -> Result:
        return _submit(self, context, self.force)

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        return _modal(self, context, event)

    def cancel(self, context: bpy.types.Context) -> None:
        _stop_following(self, context)


class YVO3D_OT_follow_jobs(Operator):
    """Follow running YVO3D jobs and import their results when they are ready"""

    bl_idname = "yvo3d.follow_jobs"
    bl_label = "Follow YVO3D Jobs"
    bl_options = {"INTERNAL"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if runtime.follower_active or headless():
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


# -- job actions ------------------------------------------------------------------------------


def _job(context: bpy.types.Context, job_id: str) -> JobRecord | None:
    return runtime.manager(context).get(job_id) if job_id else None


class YVO3D_OT_cancel_job(Operator):
    """Before the paid request: cancel the job. After it: don't import its result (Scenario
    cannot cancel a started job; it finishes, is charged and stays in the library)"""

    bl_idname = "yvo3d.cancel_job"
    bl_label = "Cancel Job"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(name="Job", options={"SKIP_SAVE"})

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if headless() or context.window is None:
            return self.execute(context)
        record = _job(context, self.job_id)
        name = record.name if record is not None else "this job"
        if record is None or record.stage in BEFORE_PAYMENT:
            title, message = "Cancel Job", f"Cancel {name}? Nothing has been paid yet."
        else:
            title = "Don't Import"
            message = (
                f"Scenario cannot cancel {name}: it will finish and be charged. Keep its result "
                "in the library without putting it in the scene?"
            )
        confirmed: Result = _wm(context).invoke_confirm(
            self, event, title=title, message=message, confirm_text=title, icon="WARNING"
        )
        return confirmed

    def execute(self, context: bpy.types.Context) -> Result:
        manager = runtime.manager(context)
        record = manager.get(self.job_id)
        if record is None or not manager.cancel(self.job_id):
            self.report({"WARNING"}, "That job is not running")
            return {"CANCELLED"}
        if record.stage in BEFORE_PAYMENT:
            self.report({"INFO"}, f"{record.name}: cancelling; nothing was paid")
        else:
            self.report({"INFO"}, f"{record.name}: {NOT_IMPORTED}")
        ensure_follower(context)
        return {"FINISHED"}


def _can_reach_service(cls: Any, context: bpy.types.Context) -> bool:
    """The shared part of poll() for operators that talk to Scenario; says why not."""
    if not bpy.app.online_access:
        cls.poll_message_set(f"Online access is off: {runtime.ONLINE_HINT}")
        return False
    if preferences.credentials(context) is None:
        cls.poll_message_set(runtime.CREDENTIALS_HINT)
        return False
    return True


class YVO3D_OT_resume_job(Operator):
    """Follow this job again (or every interrupted job): nothing is paid again"""

    bl_idname = "yvo3d.resume_job"
    bl_label = "Resume"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(name="Job", description="Empty: every job", options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _can_reach_service(cls, context)

    def execute(self, context: bpy.types.Context) -> Result:
        runtime.take_snapshot(context)
        manager = runtime.manager(context)
        resumed = manager.resume(self.job_id or None)
        if not resumed:
            self.report({"INFO"}, "Nothing to resume")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Following {len(resumed)} job(s) again")
        if headless():
            return run_to_end(context, [r.id for r in resumed], self.report)
        ensure_follower(context)
        return {"FINISHED"}


class YVO3D_OT_import_job(Operator):
    """Import this model again from the library: free, nothing is sent to Scenario"""

    bl_idname = "yvo3d.import_job"
    bl_label = "Import"
    bl_options = {"REGISTER", "UNDO"}

    job_id: StringProperty(name="Job", options={"SKIP_SAVE"})
    library_id: StringProperty(
        name="Library Entry", description="Import a library entry instead", options={"SKIP_SAVE"}
    )

    def execute(self, context: bpy.types.Context) -> Result:
        manager = runtime.manager(context)
        if self.job_id:
            record = manager.get(self.job_id)
            if record is None or record.stage not in (Stage.READY, Stage.IMPORTED):
                self.report({"ERROR"}, "That job has no downloaded model to import")
                return {"CANCELLED"}
            if not import_record(context, record, self.report, recorded=False, push_undo=False):
                return {"CANCELLED"}
            return {"FINISHED"}
        entry = manager.library.get(self.library_id) if self.library_id else None
        if entry is None or not os.path.isfile(entry.glb_path):
            self.report({"ERROR"}, "That library entry is missing")
            return {"CANCELLED"}
        try:
            result = import_result(
                context,
                glb_path=entry.glb_path,
                name=entry.name,
                settings=entry.settings,
                image_names=[str(i.get("name", "")) for i in entry.images],
                placement={"mode": "CURSOR"},
                stamp={
                    "job_id": entry.job_id,
                    "library_id": entry.id,
                    "images": [str(i.get("name", "")) for i in entry.images],
                    "params": {k: v for k, v in entry.body.items() if k != "images"},
                    "cost": entry.cost,
                    "fingerprint": entry.fingerprint,
                },
                use_recorded_location=False,
            )
        except RuntimeError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for warning in result.warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"{entry.name}: imported from the library")
        runtime.library_match.clear()
        return {"FINISHED"}


class YVO3D_OT_dismiss_job(Operator):
    """Remove this job from the list (a downloaded model stays in the library)"""

    bl_idname = "yvo3d.dismiss_job"
    bl_label = "Dismiss"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(name="Job", options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> Result:
        manager = runtime.manager(context)
        if self.job_id in manager.running():
            self.report({"WARNING"}, "The job is still running: cancel it first")
            return {"CANCELLED"}
        if manager.get(self.job_id) is None:
            return {"CANCELLED"}
        manager.forget(self.job_id)
        runtime.fingerprints.pop(self.job_id, None)
        return {"FINISHED"}


# -- image slots ------------------------------------------------------------------------------


def _free_slot(settings: Any) -> Any:
    for slot in settings.images:
        if slot.image is None and not slot.filepath.strip():
            return slot
    if len(settings.images) >= MAX_IMAGES:
        return None
    return settings.images.add()


def _slot_paths(settings: Any) -> set[str]:
    return {properties.slot_path(s) for s in properties.used_slots(settings)} - {""}


class YVO3D_OT_add_images(Operator):
    """Add reference photos (1 to 4; several are views of one subject from different angles)"""

    bl_idname = "yvo3d.add_images"
    bl_label = "Add Reference Images"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE", "HIDDEN"})
    directory: StringProperty(subtype="DIR_PATH", options={"SKIP_SAVE", "HIDDEN"})
    files: CollectionProperty(type=OperatorFileListElement, options={"SKIP_SAVE", "HIDDEN"})
    filter_image: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_folder: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_glob: StringProperty(default=IMAGE_GLOB, options={"HIDDEN", "SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return getattr(getattr(context, "scene", None), "yvo3d", None) is not None

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if (self.directory and len(self.files) > 0) or self.filepath:
            return self.execute(context)  # dropped files (FileHandler) or a scripted call
        _wm(context).fileselect_add(self)
        return {"RUNNING_MODAL"}

    def _paths(self) -> list[str]:
        names = [f.name for f in self.files if f.name]
        if self.directory and names:
            return [os.path.join(self.directory, n) for n in names]
        return [self.filepath] if self.filepath else []

    def execute(self, context: bpy.types.Context) -> Result:
        from ..core import images

        settings = scene_settings(context)
        added: list[str] = []
        refused: list[str] = []
        existing = _slot_paths(settings)
        for raw in self._paths():
            path = os.path.normpath(bpy.path.abspath(raw))
            name = os.path.basename(path)
            if path in existing:
                refused.append(f'"{name}" is already a reference image')
                continue
            try:
                _, notes = images.check(path)
            except errors.Yvo3dError as exc:
                refused.append(exc.user_text())
                continue
            slot = _free_slot(settings)
            if slot is None:
                refused.append(
                    f'"{name}" was not added: at most {MAX_IMAGES} reference images are used'
                )
                continue
            slot.image = None
            slot.filepath = path
            existing.add(path)
            runtime.load_thumbnail(path)
            added.append(name)
            for note in notes:
                self.report({"WARNING"}, note)
        settings.active_image = max(0, len(settings.images) - 1)
        for text in refused:
            self.report({"WARNING"} if added else {"ERROR"}, text)
        if not added:
            return {"CANCELLED"}
        self.report({"INFO"}, "Added " + ", ".join(added))
        return {"FINISHED"}


_image_items: list[tuple[str, str, str, int, int]] = []


def _blender_image_items(
    self: object, context: bpy.types.Context | None
) -> list[tuple[str, str, str, int, int]]:
    # Blender keeps only pointers to the strings: the list must outlive this call.
    _image_items[:] = [
        (img.name, img.name, f"{img.type.replace('_', ' ').title()} {img.name}", 0, index)
        for index, img in enumerate(bpy.data.images)
    ]
    if not _image_items:
        _image_items.append(("", "No images", "There are no images in this file", 0, 0))
    return _image_items


class YVO3D_OT_add_blender_image(Operator):
    """Use an image from this file (a render, a painted or loaded image) as reference"""

    bl_idname = "yvo3d.add_blender_image"
    bl_label = "Add Blender Image"
    bl_options = {"REGISTER", "UNDO"}
    bl_property = "image"

    image: EnumProperty(name="Image", items=_blender_image_items, options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return getattr(getattr(context, "scene", None), "yvo3d", None) is not None

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        _wm(context).invoke_search_popup(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> Result:
        from ..core import images

        settings = scene_settings(context)
        image = bpy.data.images.get(self.image) if self.image else None
        if image is None:
            self.report({"ERROR"}, "Pick an image")
            return {"CANCELLED"}
        if any(s.image == image for s in properties.used_slots(settings)):
            self.report({"ERROR"}, f'"{image.name}" is already a reference image')
            return {"CANCELLED"}
        try:
            path = properties.image_file(image)
            if not path or not os.path.isfile(path):
                # The pixels in memory are what the user sees, even when the file is gone.
                path = runtime.save_image_copy(image)
            _, notes = images.check(path)
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        slot = _free_slot(settings)
        if slot is None:
            self.report({"ERROR"}, f"At most {MAX_IMAGES} reference images are used")
            return {"CANCELLED"}
        slot.filepath = ""
        slot.image = image
        settings.active_image = list(settings.images).index(slot)
        for note in notes:
            self.report({"WARNING"}, note)
        self.report({"INFO"}, f"Added {image.name}")
        return {"FINISHED"}


class YVO3D_OT_remove_image(Operator):
    """Remove this reference image"""

    bl_idname = "yvo3d.remove_image"
    bl_label = "Remove Image"
    bl_options = {"REGISTER", "UNDO"}

    index: IntProperty(name="Index", default=-1, options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> Result:
        settings = scene_settings(context)
        index = self.index if self.index >= 0 else settings.active_image
        if not 0 <= index < len(settings.images):
            return {"CANCELLED"}
        settings.images.remove(index)
        settings.active_image = min(settings.active_image, max(0, len(settings.images) - 1))
        runtime.request_price(context)
        return {"FINISHED"}


class YVO3D_OT_clear_images(Operator):
    """Remove every reference image"""

    bl_idname = "yvo3d.clear_images"
    bl_label = "Clear Images"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> Result:
        settings = scene_settings(context)
        settings.images.clear()
        settings.active_image = 0
        runtime.request_price(context)
        return {"FINISHED"}


# -- service ----------------------------------------------------------------------------------


class YVO3D_OT_test_connection(Operator):
    """Check the API key, secret and service URL by reading the model's parameters"""

    bl_idname = "yvo3d.test_connection"
    bl_label = "Test Connection"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _can_reach_service(cls, context) and runtime.connection.state != "testing"

    def _finish(self) -> Result:
        state, message = runtime.connection.state, runtime.connection.message
        self.report({"INFO"} if state == "ok" else {"ERROR"}, message)
        return {"FINISHED"} if state == "ok" else {"CANCELLED"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if headless() or context.window is None:
            return self.execute(context)
        runtime.take_snapshot(context)
        self._thread = runtime.start_connection_test()
        wm = _wm(context)
        self._timer = wm.event_timer_add(0.2, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if event.type != "TIMER" or self._thread.is_alive():
            return {"PASS_THROUGH"}
        self.cancel(context)
        _redraw(context)
        return self._finish()

    def cancel(self, context: bpy.types.Context) -> None:
        timer = getattr(self, "_timer", None)
        if timer is not None:
            _wm(context).event_timer_remove(timer)
            self._timer = None

    def execute(self, context: bpy.types.Context) -> Result:
        # No event loop to come back to (scripts, background): wait for the answer here.
        runtime.take_snapshot(context)
        runtime.start_connection_test().join(120.0)
        return self._finish()


class YVO3D_OT_refresh_price(Operator):
    """Ask Scenario again for the price of the current settings (free)"""

    bl_idname = "yvo3d.refresh_price"
    bl_label = "Refresh Price"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _can_reach_service(cls, context)

    def execute(self, context: bpy.types.Context) -> Result:
        settings = scene_settings(context)
        try:
            for slot in properties.used_slots(settings):
                if not properties.slot_path(slot) and not runtime.temp_copy_path(slot):
                    runtime.save_image_copy(slot.image)
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        runtime.request_price(context)
        return {"FINISHED"}


class YVO3D_FH_reference_images(bpy.types.FileHandler):
    """Drop image files on the 3D Viewport to add them as YVO3D reference images."""

    bl_idname = "YVO3D_FH_reference_images"
    bl_label = "YVO3D reference images"
    bl_import_operator = "yvo3d.add_images"
    bl_file_extensions = IMAGE_EXTENSIONS

    @classmethod
    def poll_drop(cls, context: bpy.types.Context) -> bool:
        area = getattr(context, "area", None)
        return area is not None and area.type == "VIEW_3D"


def unregister() -> None:
    runtime.follower_active = False
    _image_items.clear()


classes = (
    YVO3D_OT_generate,
    YVO3D_OT_follow_jobs,
    YVO3D_OT_cancel_job,
    YVO3D_OT_resume_job,
    YVO3D_OT_import_job,
    YVO3D_OT_dismiss_job,
    YVO3D_OT_add_images,
    YVO3D_OT_add_blender_image,
    YVO3D_OT_remove_image,
    YVO3D_OT_clear_images,
    YVO3D_OT_test_connection,
    YVO3D_OT_refresh_price,
    YVO3D_FH_reference_images,
)
