"""Operators layer: free calls to Scenario the user asks for: Test Connection and Refresh Price."""

import bpy
from bpy.types import Operator

# The image checks, the importer and the client are imported by the functions that use them:
# enabling the add-on imports this module and must stay cheap (docs/performance.md).
from ...core import errors
from ..scene import image_files
from ..session import runtime
from ..settings import properties
from . import common
from .common import Result, _can_reach_service, _wm, scene_settings
from .follow import _redraw


class YVO3D_OT_test_connection(Operator):
    """Check the API key, secret and service URL by reading the model's parameters"""

    bl_idname = "yvo3d.test_connection"
    bl_label = "Test Connection"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _can_reach_service(cls, context) and runtime.connection.state != "testing"

    def _finish(self) -> Result:
        state, message = runtime.connection.state, runtime.connection.message
        self.report({"INFO"} if state == "ok" else {"ERROR"}, message)
        return {"FINISHED"} if state == "ok" else {"CANCELLED"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if common.headless() or context.window is None:
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
                if not properties.slot_path(slot) and not properties.temp_copy_path(slot):
                    image_files.save_image_copy(slot.image, runtime.temp_dir())
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        runtime.request_price(context)
        return {"FINISHED"}


classes = (
    YVO3D_OT_test_connection,
    YVO3D_OT_refresh_price,
)
