"""Operators layer: actions on one job: cancel, resume, import again, dismiss."""

import os

import bpy
from bpy.props import StringProperty
from bpy.types import Operator

# The image checks, the importer and the client are imported by the functions that use them:
# enabling the add-on imports this module and must stay cheap (docs/performance.md).
from ...core.jobs import Stage
from ..session import runtime
from . import common
from .common import Result, _can_reach_service, _job, _wm
from .follow import ensure_follower, import_record, import_result, run_to_end


class YVO3D_OT_cancel_job(Operator):
    """Cancel this job (asks Scenario to stop it if it already started)"""

    bl_idname = "yvo3d.cancel_job"
    bl_label = "Cancel Job"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(name="Job", options={"SKIP_SAVE"})

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if common.headless() or context.window is None:
            return self.execute(context)
        record = _job(context, self.job_id)
        name = record.name if record is not None else "this job"
        confirmed: Result = _wm(context).invoke_confirm(
            self,
            event,
            title="Cancel Job",
            message=f"Cancel {name}? Credits already charged by Scenario may not be refunded.",
            confirm_text="Cancel Job",
            icon="WARNING",
        )
        return confirmed

    def execute(self, context: bpy.types.Context) -> Result:
        manager = runtime.manager(context)
        record = manager.get(self.job_id)
        if record is None or not manager.cancel(self.job_id):
            self.report({"WARNING"}, "That job is not running")
            return {"CANCELLED"}
        self.report({"INFO"}, f"{record.name}: cancelling")
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


classes = (
    YVO3D_OT_cancel_job,
    YVO3D_OT_resume_job,
    YVO3D_OT_import_job,
    YVO3D_OT_dismiss_job,
)
