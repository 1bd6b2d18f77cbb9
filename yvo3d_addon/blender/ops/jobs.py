"""Operators layer: actions on one job: cancel, resume, import again, dismiss."""

import os

import bpy
from bpy.props import StringProperty
from bpy.types import Operator

# The image checks, the importer and the client are imported by the functions that use them:
# enabling the add-on imports this module and must stay cheap (docs/performance.md).
from ...core.jobs import BEFORE_PAYMENT, NOT_IMPORTED, Stage
from ..session import runtime
from . import common, reimport
from .common import Result, _can_reach_service, _job, _wm
from .follow import ensure_follower, import_record, run_to_end


class YVO3D_OT_cancel_job(Operator):
    """Before the paid request: cancel the job. After it: don't import its result (Scenario
    cannot cancel a started job; it finishes, is charged and stays in the library)"""

    bl_idname = "yvo3d.cancel_job"
    bl_label = "Cancel Job"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(name="Job", options={"SKIP_SAVE"})

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if common.headless() or context.window is None:
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
        if common.headless():
            return run_to_end(context, [r.id for r in resumed], self.report)
        ensure_follower(context)
        return {"FINISHED"}


class YVO3D_OT_import_job(Operator):
    """Import this model again from the library: free, nothing is sent to Scenario"""

    bl_idname = "yvo3d.import_job"
    bl_label = "Import Generated Model"
    bl_options = {"REGISTER", "UNDO"}

    job_id: StringProperty(name="Job", options={"SKIP_SAVE"})
    library_id: StringProperty(
        name="Library Entry", description="Import a library entry instead", options={"SKIP_SAVE"}
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if getattr(context, "mode", "OBJECT") != "OBJECT":
            cls.poll_message_set("Switch to Object Mode to import (the model waits for you)")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> Result:
        manager = runtime.manager(context)
        if self.job_id:
            record = manager.get(self.job_id)
            if record is None or record.stage not in (Stage.READY, Stage.IMPORTED):
                self.report({"ERROR"}, "That job has no downloaded model to import")
                return {"CANCELLED"}
            runtime.held.discard(record.id)
            if not import_record(context, record, self.report, recorded=False, push_undo=False):
                return {"CANCELLED"}
            landed = manager.get(record.id)
            reimport.replace_previous_take(record, landed.imported_as if landed else "")
            return {"FINISHED"}
        entry = manager.library.get(self.library_id) if self.library_id else None
        if entry is None or not os.path.isfile(entry.glb_path):
            self.report({"ERROR"}, "That library entry is missing")
            return {"CANCELLED"}
        count = reimport.import_entry(context, entry, self.report)
        if not count:
            return {"CANCELLED"}
        where = f"{count} placeholders" if count > 1 else "the scene"
        self.report({"INFO"}, f"{entry.name}: imported from the library into {where} (free)")
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


classes = (
    YVO3D_OT_cancel_job,
    YVO3D_OT_resume_job,
    YVO3D_OT_import_job,
    YVO3D_OT_dismiss_job,
)
