"""Operators layer: helpers every operator module shares (reports, the scene's settings, why a
service call cannot run)."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import bpy

# The image checks, the importer and the client are imported by the functions that use them:
# enabling the add-on imports this module and must stay cheap (docs/performance.md).
from ...core.store import JobRecord
from ..session import runtime
from ..settings import preferences

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

SIDEBAR_CATEGORY = "YVO3D"
"""The sidebar tab of every YVO3D panel."""
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


def _job(context: bpy.types.Context, job_id: str) -> JobRecord | None:
    return runtime.manager(context).get(job_id) if job_id else None


def _can_reach_service(cls: Any, context: bpy.types.Context) -> bool:
    """The shared part of poll() for operators that talk to Scenario; says why not."""
    if not bpy.app.online_access:
        cls.poll_message_set(f"Online access is off: {runtime.ONLINE_HINT}")
        return False
    if preferences.credentials(context) is None:
        cls.poll_message_set(runtime.CREDENTIALS_HINT)
        return False
    return True
