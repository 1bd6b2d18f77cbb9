"""Operators layer: Generate: check, snapshot the request, hand it to the job manager, follow it."""

import os
from typing import Any

import bpy
from bpy.props import BoolProperty, StringProperty
from bpy.types import Operator

# The image checks, the importer and the client are imported by the functions that use them:
# enabling the add-on imports this module and must stay cheap (docs/performance.md).
from ...core import errors
from ...core.jobs import ACTIVE
from ...core.params import MAX_IMAGES
from ..scene import image_files, targets
from ..session import runtime
from ..settings import preferences, properties
from . import common, consent, follow
from .common import Result, scene_settings
from .follow import _modal, _start_following, _stop_following, run_to_end

LIBRARY_MESSAGE = (
    "An identical model is in the library: use Import from Library (free) or Generate Anyway"
)


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
    from ...core.wire import check_base_url

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
    return targets.blocker(context, settings)


def prepare_images(settings: Any) -> tuple[list[str], list[str]]:
    """Files ready to upload for the used slots (main thread: Blender images are saved, odd
    formats converted) and the non-blocking warnings. InputError names the refused image."""
    from ...core import images

    paths: list[str] = []
    warnings: list[str] = []
    for slot in properties.used_slots(settings):
        path = properties.slot_path(slot)
        if slot.image is not None and (not path or not os.path.isfile(path)):
            path = image_files.save_image_copy(slot.image, runtime.temp_dir())
        info, notes = images.check(path)
        if images.needs_conversion(info):
            path = image_files.convert_to_png(path, runtime.temp_dir())
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
    from ...core import images

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
    if not force and targets.take_count(settings) == 1:
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
    for record in manager.active():
        known = record.fingerprint or runtime.fingerprints.get(record.id, "")
        if (
            record.stage in ACTIVE
            and known == fingerprint
            # A job with no target (a price check the service took for a generation, a command
            # line run) is the same request whatever Generate aims at now: it is paid already.
            and (not record.placement or targets.same_target(record.placement, context, settings))
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
    planned = targets.plan(context, settings, scene.cursor.location, name)
    if expected is not None and manager.budget.active:
        # The whole run against the budget before anything is paid (each job is checked
        # again, at its own price, right before its paid request).
        refusal = manager.budget.refusal(manager.budget_pool(), expected * len(planned))
        if refusal:
            op.report({"ERROR"}, refusal)
            return {"CANCELLED"}
    now = follow.at_generate(context)  # the selection and import options the jobs land with
    records = [
        manager.submit(
            name=name,
            images=paths,
            settings=values,
            placement={**placement, **now},
            expected_cost=expected,
        )
        for name, placement in planned
    ]
    for record in records:
        runtime.fingerprints[record.id] = fingerprint
    for warning in warnings:
        op.report({"WARNING"}, warning)
    if common.headless():
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
    token: StringProperty(
        name="Confirmation", description="Set by the confirmation", options={"HIDDEN", "SKIP_SAVE"}
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = generate_blocker(context)
        if reason:
            cls.poll_message_set(reason)
            return False
        return True

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if not consent.interactive(context):
            return _submit(self, context, self.force)
        quote = runtime.quote()
        cost = quote.cost if quote.state == "ok" else None
        question = targets.confirm_message(context, scene_settings(context), cost)
        return consent.confirm(self, context, event, title="Generate", message=question)

    def execute(self, context: bpy.types.Context) -> Result:
        if not consent.may_pay(self, context):
            return {"CANCELLED"}
        return _submit(self, context, self.force)

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        return _modal(self, context, event)

    def cancel(self, context: bpy.types.Context) -> None:
        _stop_following(self, context)


classes = (YVO3D_OT_generate,)
