"""Operators layer: a job's id and where to see it: select a job in the list, copy its Scenario
job id, open Scenario, follow a job by its Scenario job id (free), and show textures in the
viewport after an import."""

import re
from typing import Any

import bpy
from bpy.props import StringProperty
from bpy.types import Operator

from ..session import runtime
from . import common
from .common import Result, _can_reach_service, _wm, scene_settings
from .follow import ensure_follower, run_to_end

SCENARIO_APP_URL = "https://app.scenario.com"
JOB_ID = re.compile(r"job_[A-Za-z0-9_-]{4,80}")


class YVO3D_OT_select_job(Operator):
    """Show this job's details below the list"""

    bl_idname = "yvo3d.select_job"
    bl_label = "Select Job"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(name="Job", options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> Result:
        settings = scene_settings(context)
        if settings is None:
            return {"CANCELLED"}
        settings.active_job = self.job_id
        return {"FINISHED"}


class YVO3D_OT_copy_job_id(Operator):
    """Copy Scenario's id of this job, to find it in Scenario or give it to support"""

    bl_idname = "yvo3d.copy_job_id"
    bl_label = "Copy Job ID"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(name="Job ID", options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> Result:
        if not JOB_ID.fullmatch(self.job_id):
            self.report({"ERROR"}, "This job has no Scenario job id yet")
            return {"CANCELLED"}
        _wm(context).clipboard = self.job_id
        self.report({"INFO"}, f"Copied {self.job_id}")
        return {"FINISHED"}


class YVO3D_OT_open_in_scenario(Operator):
    """Open Scenario in the web browser, with this job's id on the clipboard to find it"""

    bl_idname = "yvo3d.open_in_scenario"
    bl_label = "Open in Scenario"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(name="Job ID", options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> Result:
        if JOB_ID.fullmatch(self.job_id):
            _wm(context).clipboard = self.job_id
            self.report({"INFO"}, f"{self.job_id} is on the clipboard")
        bpy.ops.wm.url_open(url=SCENARIO_APP_URL)
        return {"FINISHED"}


class YVO3D_OT_follow_job_id(Operator):
    """Follow a job by its Scenario job id (started elsewhere) and import its model: free"""

    bl_idname = "yvo3d.follow_job_id"
    bl_label = "Follow Job by ID"
    bl_options = {"REGISTER"}

    job_id: StringProperty(
        name="Job ID", description="Scenario's job id, such as job_AbC123", options={"SKIP_SAVE"}
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _can_reach_service(cls, context)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if self.job_id or common.headless():
            return self.execute(context)
        shown: Result = _wm(context).invoke_props_dialog(self, confirm_text="Follow")
        return shown

    def execute(self, context: bpy.types.Context) -> Result:
        from ...core.batch import find_record

        job_id = self.job_id.strip()
        if not JOB_ID.fullmatch(job_id):
            self.report(
                {"ERROR"},
                "That is not a Scenario job id: it starts with job_ (copy it from Scenario)",
            )
            return {"CANCELLED"}
        runtime.take_snapshot(context)
        manager = runtime.manager(context)
        known = find_record(manager, job_id)
        if known is not None:
            self.report({"INFO"}, f"{job_id} is already in the list as {known.name}")
            return {"CANCELLED"}
        record = manager.adopt(job_id, job_id)
        settings = scene_settings(context)
        if settings is not None:
            settings.active_job = record.id
        self.report({"INFO"}, f"Following {job_id}: nothing is paid again")
        if common.headless():
            return run_to_end(context, [record.id], self.report)
        ensure_follower(context)
        return {"FINISHED"}


class YVO3D_OT_show_textures(Operator):
    """Show the viewport in Material Preview, where the models' textures show"""

    bl_idname = "yvo3d.show_textures"
    bl_label = "Show Textures"
    bl_options = {"REGISTER"}

    def execute(self, context: bpy.types.Context) -> Result:
        space: Any = getattr(context, "space_data", None)
        spaces = [space] if getattr(space, "type", "") == "VIEW_3D" else []
        screen = getattr(context, "screen", None)
        for area in getattr(screen, "areas", ()) if not spaces else ():
            spaces += [s for s in area.spaces if s.type == "VIEW_3D"]
        if not spaces:
            self.report({"ERROR"}, "Open a 3D Viewport first")
            return {"CANCELLED"}
        for view in spaces:
            view.shading.type = "MATERIAL"
        return {"FINISHED"}


classes = (
    YVO3D_OT_select_job,
    YVO3D_OT_copy_job_id,
    YVO3D_OT_open_in_scenario,
    YVO3D_OT_follow_job_id,
    YVO3D_OT_show_textures,
)
