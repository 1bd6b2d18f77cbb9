"""UI layer: the Jobs sub-panel: one compact row per job, the selected job's details below.

`draw_job_row` and `draw_job_details` are the two places a job is drawn (a price column or
line goes in one of them)."""

import os
import time
from typing import Any

import bpy
from bpy.types import Panel

from ...core import spend
from ...core.jobs import ACTIVE, BEFORE_PAYMENT, FOLLOWABLE, LABELS, Stage
from ...core.store import JobRecord
from ..ops import common
from ..session import runtime
from .text import wrapped

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
ACTIONS: dict[str, str] = {
    # What to do about a job that ended badly, by its error class (core.errors codes).
    "input": "Fix the image or setting named above",
    "config": "Fix the setting named above in Preferences",
    "auth": "Check the API key and secret in Preferences",
    "permission": "Check the key's project in Scenario",
    "credits": "Add credits in Scenario, then generate again",
    "not_found": "Gone on Scenario (404): generate again",
    "conflict": "Wait for the other request, then try again",
    "too_large": "Use a smaller image, then generate again",
    "invalid_request": "Refused (422): change what it names, retry",
    "rate_limited": "Wait a minute, then generate again",
    "server": "Scenario had a problem: try again later",
    "network": "Check your connection, then resume",
    "invalid_response": "Try again; report it if it repeats",
    "download": "Resume to download it again (free)",
    "expired_url": "Resume to download it again (free)",
    "job_failed": "Change the photo or settings, then retry",
    "no_result": "Nothing was delivered: generate again",
    "outcome_unknown": "Check the job in Scenario before retrying",
    "still_running": "Resume to keep following it (free)",
    "interrupted": "Resume to keep following it (free)",
    "internal": "Report it: the job record is kept",
    "price_check": "Not a price: check the service URL or proxy",
    "paid_dry_run": "The price check started a job: follow it",
    "unsafe_file": "Refused file: check the job in Scenario",
    "too_large_download": "Raise Maximum Download, then resume",
}
FALLBACK_ACTION = "Check the job in Scenario before retrying"


def elapsed(record: JobRecord) -> str:
    end = record.finished_at or time.time()
    seconds = max(0, int(end - record.created))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def stage_label(stage: str) -> str:
    return STAGE_LABELS.get(stage, stage)


def listed(manager: Any, settings: Any) -> list[JobRecord]:
    """The jobs shown: the manager's event-kept view of unfinished and recent jobs (never a
    walk of the whole history)."""
    show_finished = settings is None or settings.show_finished
    return list(manager.shown(show_finished)[:MAX_LISTED])


def price_text(record: JobRecord) -> str:
    """A job's price: what it cost, or its quote while it has not paid yet; "" for a job that
    costs nothing (failed: Scenario refunds it; cancelled before paying) or is not priced."""
    charged = spend.charged(record)
    if charged:
        return f"{charged:g} cr"
    quote = record.cost if record.cost is not None else record.expected_cost
    if record.stage in ACTIVE and quote is not None:
        return f"~{quote:g} cr"
    return ""


def spend_text(context: bpy.types.Context) -> str:
    """What this session and today cost, and the budget (from the session's cache: no I/O)."""
    session, today = runtime.spend()
    text = f"Spent: {session:g} credits this session, {today:g} today"
    caps = runtime.budget_left(context)
    return f"{text} ({', '.join(caps)})" if caps else text


def draw_job_row(layout: Any, record: JobRecord, selected: bool) -> None:
    """One line: the job's name (click to select it), its price and its stage."""
    row = layout.row(align=True)
    pick = row.operator(
        "yvo3d.select_job",
        text=record.name,
        icon=STAGE_ICONS.get(record.stage, "SORTTIME"),
        depress=selected,
    )
    pick.job_id = record.id
    price = price_text(record)
    if price:
        row.label(text=price)
    if record.stage in ACTIVE:
        row.label(text=f"{record.progress * 100:.0f}%")
    else:
        row.label(text=stage_label(record.stage))


def action(record: JobRecord) -> str:
    """What to do about a failed, unknown or stalled job (one line), from its error class."""
    return ACTIONS.get(record.error_code, FALLBACK_ACTION)


def _draw_ids(layout: Any, record: JobRecord) -> None:
    if not record.job_id:
        return
    row = layout.row(align=True)
    copy = row.operator("yvo3d.copy_job_id", text=record.job_id, icon="COPYDOWN")
    copy.job_id = record.job_id
    link = row.operator("yvo3d.open_in_scenario", text="", icon="URL")
    link.job_id = record.job_id


def draw_job_details(
    layout: Any, context: bpy.types.Context, record: JobRecord, running: bool
) -> None:
    """The selected job: progress and its actions, or its error, hint and what to do."""
    stage = record.stage
    box = layout.box()
    head = box.row()
    head.label(text=f"{stage_label(stage)} · {elapsed(record)}")
    if not running:
        dismiss = head.operator("yvo3d.dismiss_job", text="", icon="X", emboss=False)
        dismiss.job_id = record.id
    if stage in ACTIVE:
        box.progress(
            factor=max(0.0, min(1.0, record.progress)),
            type="BAR",
            text=f"{stage_label(stage)} {record.progress * 100:.0f}%",
        )
        paid = stage not in BEFORE_PAYMENT
        if not (paid and record.cancel_requested):
            # after the paid request Scenario cannot cancel: all a user can have is no import
            text, icon = ("Don't Import", "IMPORT") if paid else ("Cancel", "CANCEL")
            cancel = box.operator("yvo3d.cancel_job", text=text, icon=icon)
            cancel.job_id = record.id
        if record.cancel_requested:
            wrapped(box, context, record.message if paid else "Cancelling…", icon="INFO")
    interrupted = not running and (stage in FOLLOWABLE or stage == Stage.SUBMITTING)
    if stage == Stage.STALLED or interrupted:
        if stage != Stage.STALLED:
            box.label(text="Not followed right now", icon="INFO")
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
        box.label(text=action(record), icon="RIGHTARROW")
    elif stage == Stage.CANCELLED and record.message:
        box.label(text=record.message)
    if stage in (Stage.FAILED, Stage.UNKNOWN, Stage.STALLED) or stage in ACTIVE:
        _draw_ids(box, record)


class YVO3D_PT_jobs(Panel):
    """Running and recent jobs"""

    bl_idname = "YVO3D_PT_jobs"
    bl_label = "Jobs"
    bl_space_type: Any = "VIEW_3D"
    bl_region_type: Any = "UI"
    bl_category = common.SIDEBAR_CATEGORY
    bl_parent_id = "YVO3D_PT_main"
    bl_order = 80

    def draw_header_preset(self, context: bpy.types.Context) -> None:
        settings = common.scene_settings(context)
        layout: Any = self.layout
        manager = runtime.existing_manager()
        if settings is None or manager is None or not manager.jobs():
            return  # nothing to filter yet; Follow Job by ID is in Object > YVO3D and F3
        layout.prop(settings, "show_finished", text="", icon="FILTER", emboss=False)
        layout.operator("yvo3d.follow_job_id", text="", icon="URL", emboss=False)

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
        settings = common.scene_settings(context)
        records = listed(manager, settings) if manager else []
        if records or runtime.budget(context).active:
            layout.label(text=spend_text(context), icon="FUND")
        if not records:
            layout.label(text="No jobs yet", icon="INFO")
            return
        running = set(manager.running()) if manager is not None else set()
        chosen = settings.active_job if settings is not None else ""
        selected = next((r for r in records if r.id == chosen), records[0])
        column = layout.column(align=True)
        for record in records:
            draw_job_row(column, record, record is selected)
        draw_job_details(layout, context, selected, selected.id in running)


classes = (YVO3D_PT_jobs,)
