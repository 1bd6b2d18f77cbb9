"""Blender layer: the YVO3D sidebar of the 3D Viewport: images, settings, price, jobs.

Draw code reads only memory (scene settings, the job manager's snapshot, the pricer's quote):
no file access, no network, nothing created.
"""

import os
import textwrap
import time
from typing import Any

import bpy
from bpy.types import Panel

from ...core.jobs import ACTIVE, FOLLOWABLE, LABELS, Stage
from ...core.params import MAX_IMAGES, Param
from ...core.store import JobRecord
from ..ops import common, generate
from ..scene import targets
from ..session import runtime
from ..settings import preferences, properties

CATEGORY = common.SIDEBAR_CATEGORY
MULTI_VIEW_LINE = "Multi-view: the result will be shape only"
MAX_LISTED = 8
STORE_RECOVERED = (
    "The job list was damaged, so a new one was started; jobs it held are no longer "
    "followed (their models stay in the library). The damaged file was kept as"
)
STAGE_LABELS: dict[str, str] = {str(stage): text for stage, text in LABELS.items()}
STAGE_ICONS: dict[str, str] = {
    Stage.READY: "CHECKMARK",
    Stage.IMPORTED: "CHECKMARK",
    Stage.FAILED: "ERROR",
    Stage.CANCELLED: "CANCEL",
    Stage.UNKNOWN: "QUESTION",
    Stage.STALLED: "TIME",
}
# Texture finishing options live in their own, closed-by-default sub-panel.
TEXTURE_OPTIONS = tuple(
    name
    for name, param in properties.TABLE.params.items()
    if param.scope == "textured" and name != "textureResolution"
)


def _chars(context: bpy.types.Context) -> int:
    """About how many characters fit on a line of the sidebar."""
    region = getattr(context, "region", None)
    width = getattr(region, "width", 0) or 300
    prefs = getattr(context, "preferences", None)
    scale = (prefs.system.ui_scale if prefs is not None else 0.0) or 1.0  # 0 without a window
    return max(24, int(width / (6.5 * scale)) - 6)


def wrapped(
    layout: Any,
    context: bpy.types.Context,
    text: str,
    *,
    icon: str = "NONE",
    alert: bool = False,
) -> None:
    """A paragraph as several labels (Blender labels do not wrap)."""
    column = layout.column(align=True)
    column.alert = alert
    lines = textwrap.wrap(text, _chars(context)) or [""]
    for index, line in enumerate(lines):
        column.label(
            text=line, icon=icon if index == 0 else ("BLANK1" if icon != "NONE" else "NONE")
        )


def _elapsed(record: JobRecord) -> str:
    end = record.finished_at or time.time()
    seconds = max(0, int(end - record.created))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _label(stage: str) -> str:
    return STAGE_LABELS.get(stage, stage)


class _Sidebar:
    bl_space_type: Any = "VIEW_3D"
    bl_region_type: Any = "UI"
    bl_category = CATEGORY


class YVO3D_PT_main(_Sidebar, Panel):
    """Turn 1-4 photos into a 3D model with Scenario YVO3D"""

    bl_idname = "YVO3D_PT_main"
    bl_label = "Image to 3D"

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        settings = common.scene_settings(context)
        if preferences.credentials(context) is None:
            wrapped(layout, context, runtime.CREDENTIALS_HINT, icon="ERROR", alert=True)
            op = layout.operator(
                "preferences.addon_show", text="Open Preferences", icon="PREFERENCES"
            )
            op.module = preferences.BASE_PACKAGE
        if not bpy.app.online_access:
            wrapped(
                layout,
                context,
                f"Online access is off. {runtime.ONLINE_HINT}.",
                icon="ERROR",
                alert=True,
            )
        if runtime.connection.state in ("testing", "error"):
            wrapped(
                layout,
                context,
                runtime.connection.message,
                icon="INFO" if runtime.connection.state == "testing" else "ERROR",
                alert=runtime.connection.state == "error",
            )
        if settings is None:
            return
        column = layout.column()
        column.use_property_split = True
        column.use_property_decorate = False
        column.prop(settings, "name")
        column.prop(settings, "placement")
        if settings.placement == "PLACEHOLDER":
            column.prop(settings, "placeholder")
            column.prop(settings, "fit_mode")
            line = targets.targets_line(context, settings)
            if line:
                wrapped(column, context, line, icon="INFO")
        column.prop(settings, "takes")


class YVO3D_PT_images(_Sidebar, Panel):
    """Reference images: 1 photo, or 2-4 views of one subject"""

    bl_idname = "YVO3D_PT_images"
    bl_label = "Images"
    bl_parent_id = "YVO3D_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        settings = common.scene_settings(context)
        if settings is None:
            return
        count = properties.image_count(settings)
        multi = count >= 2
        if multi:
            layout.label(text=MULTI_VIEW_LINE, icon="INFO")
        used = 0
        for index, slot in enumerate(settings.images):
            filled = slot.image is not None or slot.filepath.strip()
            if filled:
                used += 1
            box = layout.box()
            row = box.row()
            icon = 0
            if slot.image is not None:
                icon = layout.icon(slot.image)
            elif slot.filepath.strip():
                icon = runtime.thumbnail_icon(properties.slot_path(slot))
            if icon:
                row.template_icon(icon_value=icon, scale=3.0)
            else:
                row.label(text="", icon="FILE_IMAGE")
            column = row.column(align=True)
            title = f"View {used} of one subject" if multi and filled else "Reference image"
            column.label(text=title)
            if slot.image is not None:
                column.prop(slot, "image", text="")
            else:
                column.prop(slot, "filepath", text="")
            remove = row.operator("yvo3d.remove_image", text="", icon="X", emboss=False)
            remove.index = index
        if not settings.images:
            layout.label(text="Add a photo of the subject, or 2-4 views of it", icon="INFO")
        if count > MAX_IMAGES:
            wrapped(
                layout,
                context,
                f"Too many reference images: {count}, at most {MAX_IMAGES}.",
                icon="ERROR",
                alert=True,
            )
        row = layout.row(align=True)
        row.enabled = len(settings.images) < MAX_IMAGES or count < len(settings.images)
        row.operator("yvo3d.add_images", text="Add Photos", icon="FILEBROWSER")
        row.operator("yvo3d.add_blender_image", text="Blender Image", icon="IMAGE_DATA")
        if settings.images:
            layout.operator("yvo3d.clear_images", text="Clear", icon="TRASH")


def _problems_by_field(settings: Any) -> tuple[dict[str, object], int, dict[str, list[str]]]:
    values = properties.settings_dict(settings)
    count = properties.image_count(settings)
    found: dict[str, list[str]] = {}
    for problem in properties.TABLE.validate(values, count):
        if problem.field != "images":
            found.setdefault(problem.field, []).append(problem.message)
    return values, count, found


def _draw_params(
    layout: Any,
    context: bpy.types.Context,
    settings: Any,
    params: list[Param],
) -> None:
    values, count, problems = _problems_by_field(settings)
    column = layout.column()
    column.use_property_split = True
    column.use_property_decorate = False
    last_reason = ""
    for param in params:
        applies, reason = properties.TABLE.applies(param.name, values, count)
        row = column.row()
        row.enabled = applies
        row.prop(settings, param.name)
        if not applies and reason != last_reason:
            # One line per run of rows disabled for the same reason, not one per row.
            wrapped(column, context, reason, icon="INFO")
        last_reason = "" if applies else reason
        for message in problems.get(param.name, ()):
            wrapped(column, context, message, icon="ERROR", alert=True)


class YVO3D_PT_settings(_Sidebar, Panel):
    """The model's parameters"""

    bl_idname = "YVO3D_PT_settings"
    bl_label = "Settings"
    bl_parent_id = "YVO3D_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        settings = common.scene_settings(context)
        if settings is None:
            return
        params = [p for name, p in properties.TABLE.params.items() if name not in TEXTURE_OPTIONS]
        _draw_params(self.layout, context, settings, params)


class YVO3D_PT_texture_options(_Sidebar, Panel):
    """Texture finishing options (single image with texture only)"""

    bl_idname = "YVO3D_PT_texture_options"
    bl_label = "Texture Options"
    bl_parent_id = "YVO3D_PT_settings"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        settings = common.scene_settings(context)
        if settings is None:
            return
        params = [properties.TABLE.params[name] for name in TEXTURE_OPTIONS]
        _draw_params(self.layout, context, settings, params)


class YVO3D_PT_generate(_Sidebar, Panel):
    """The price of the current settings and the Generate button"""

    bl_idname = "YVO3D_PT_generate"
    bl_label = "Generate"
    bl_parent_id = "YVO3D_PT_main"
    bl_options = {"HIDE_HEADER"}

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        blocker = generate.generate_blocker(context)
        quote = runtime.quote()
        text = "Generate"
        row = layout.row(align=True)
        if quote.state == "ok" and quote.cost is not None:
            jobs = targets.job_count(context, common.scene_settings(context))
            line, text = targets.price_texts(jobs, quote.cost)
            row.label(text=line, icon="FUND")
        elif quote.state == "pending":
            row.label(text="Pricing…", icon="SORTTIME")
        elif quote.state == "error":
            row.label(text="Price unavailable", icon="ERROR")
        elif not blocker:
            row.label(text="Price: not checked yet", icon="FUND")
        row.operator("yvo3d.refresh_price", text="", icon="FILE_REFRESH")
        if quote.state == "error" and quote.message:
            wrapped(layout, context, quote.message, alert=True)
        big = layout.row()
        big.scale_y = 1.6
        big.operator("yvo3d.generate", text=text, icon="MESH_MONKEY")
        if blocker:
            wrapped(layout, context, blocker, icon="ERROR", alert=True)
        match = runtime.library_match
        if match.get("entry"):
            box = layout.box()
            wrapped(
                box,
                context,
                f"An identical model is in the library ({match.get('name', '')}).",
                icon="ASSET_MANAGER",
            )
            row = box.row(align=True)
            op = row.operator("yvo3d.import_job", text="Import from Library (free)", icon="IMPORT")
            op.library_id = match["entry"]
            again = row.operator("yvo3d.generate", text="Generate Anyway", icon="FILE_REFRESH")
            again.force = True


def _listed(manager: Any, settings: Any) -> list[JobRecord]:
    show_finished = settings is None or settings.show_finished
    return list(manager.shown(show_finished)[:MAX_LISTED])


def price_text(record: JobRecord) -> str:
    """A job's price: what it cost, or its quote before the paid request ("" unknown)."""
    if record.cost is not None:
        return f"{record.cost:g} cr"
    if record.expected_cost is not None:
        return f"~{record.expected_cost:g} cr"
    return ""


def spend_text(context: bpy.types.Context) -> str:
    """What this session and today cost, and the budget (from the session's cache: no I/O)."""
    session, today = runtime.spend()
    limits = runtime.budget(context)
    text = f"Spent: {session:g} credits this session, {today:g} today"
    caps = []
    if limits.per_session > 0:
        caps.append(f"{max(0.0, limits.per_session - session):g} left this session")
    if limits.per_day > 0:
        caps.append(f"{max(0.0, limits.per_day - today):g} left today")
    return f"{text} ({', '.join(caps)})" if caps else text


def _draw_job(layout: Any, context: bpy.types.Context, record: JobRecord, running: bool) -> None:
    stage = record.stage
    box = layout.box()
    head = box.row()
    head.label(text=record.name, icon=STAGE_ICONS.get(stage, "SORTTIME"))
    head.label(text=price_text(record))
    head.label(text=_elapsed(record))
    if not running:
        dismiss = head.operator("yvo3d.dismiss_job", text="", icon="X", emboss=False)
        dismiss.job_id = record.id
    label = _label(stage)
    if stage in ACTIVE:
        percent = f"{label} {record.progress * 100:.0f}%"
        if hasattr(box, "progress"):
            box.progress(factor=max(0.0, min(1.0, record.progress)), type="BAR", text=percent)
        else:
            box.label(text=percent)
        cancel = box.operator("yvo3d.cancel_job", text="Cancel", icon="CANCEL")
        cancel.job_id = record.id
        if record.cancel_requested:
            box.label(text="Cancelling…", icon="INFO")
    else:
        box.label(text=label)
    interrupted = not running and (stage in FOLLOWABLE or stage == Stage.SUBMITTING)
    if stage == Stage.STALLED or interrupted:
        if stage != Stage.STALLED:
            wrapped(
                box, context, "Not followed right now (Blender restarted or the add-on was off)."
            )
        resume = box.operator("yvo3d.resume_job", text="Resume", icon="PLAY")
        resume.job_id = record.id
    if stage == Stage.READY:
        if record.id in runtime.held:
            box.label(text="Ready to import: goes in back in Object Mode", icon="PAUSE")
        if record.message.startswith("Import failed"):
            wrapped(box, context, record.message, icon="ERROR", alert=True)
        op = box.operator("yvo3d.import_job", text="Import", icon="IMPORT")
        op.job_id = record.id
    elif stage == Stage.IMPORTED:
        if record.imported_as:
            box.label(text=f"As {record.imported_as}", icon="OBJECT_DATA")
        op = box.operator("yvo3d.import_job", text="Re-import (free)", icon="IMPORT")
        op.job_id = record.id
    elif stage in (Stage.FAILED, Stage.UNKNOWN, Stage.STALLED):
        if record.error or record.message:
            wrapped(box, context, record.error or record.message, icon="ERROR", alert=True)
        if record.hint:
            wrapped(box, context, record.hint, icon="INFO")
    elif stage == Stage.CANCELLED and record.message:
        box.label(text=record.message)


class YVO3D_PT_jobs(_Sidebar, Panel):
    """Running and recent jobs"""

    bl_idname = "YVO3D_PT_jobs"
    bl_label = "Jobs"
    bl_parent_id = "YVO3D_PT_main"

    def draw_header_preset(self, context: bpy.types.Context) -> None:
        settings = common.scene_settings(context)
        if settings is not None:
            layout: Any = self.layout
            layout.prop(settings, "show_finished", text="", icon="FILTER", emboss=False)

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        manager = runtime.existing_manager()
        recovered = manager.store.recovered_from if manager is not None else ""
        if recovered:
            wrapped(
                layout,
                context,
                f"{STORE_RECOVERED} {os.path.basename(recovered)}",
                icon="ERROR",
                alert=True,
            )
        layout.label(text=spend_text(context), icon="FUND")
        records = _listed(manager, common.scene_settings(context)) if manager else []
        if not records:
            layout.label(text="No jobs yet", icon="INFO")
            return
        running = set(manager.running()) if manager is not None else set()
        for record in records:
            _draw_job(layout, context, record, record.id in running)


classes = (
    YVO3D_PT_main,
    YVO3D_PT_images,
    YVO3D_PT_settings,
    YVO3D_PT_texture_options,
    YVO3D_PT_generate,
    YVO3D_PT_jobs,
)
