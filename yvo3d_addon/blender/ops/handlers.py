"""Blender layer: app handlers: follow unfinished jobs again after a file load or a restart."""

import logging
from typing import Any

import bpy
from bpy.app.handlers import persistent

from ...core import errors
from ...core.store import JobRecord
from ..session import runtime
from ..settings import properties
from . import common, follow

log = logging.getLogger(__name__)


def resume_pending(context: bpy.types.Context) -> list[JobRecord]:
    """Re-take the credentials snapshot, follow unfinished jobs again, restart the follower.

    Plain function: load_post and the one-shot register timer call it, and so do tests (timers
    never fire without a window). Jobs stay in the store untouched while credentials or online
    access are missing: they are resumed on a later load or with the Resume button."""
    snapshot = runtime.take_snapshot(context)
    _reload_thumbnails()
    if snapshot is None or not snapshot.online:
        return []
    try:
        manager = runtime.manager(context)
    except errors.Yvo3dError as exc:  # e.g. a library folder that cannot be created
        log.warning("YVO3D jobs not resumed: %s", exc.user_text())
        return []
    resumed = manager.resume()
    if manager.running() or not manager.events.empty():  # events: a result may await import
        _follow_soon()
    return resumed


def _reload_thumbnails() -> None:
    for scene in bpy.data.scenes:
        settings: Any = getattr(scene, "yvo3d", None)
        if settings is None:
            continue
        for slot in settings.images:
            if slot.image is None and slot.filepath.strip():
                runtime.load_thumbnail(properties.slot_path(slot))


def _start_follower() -> float | None:
    """Timer callback: start the modal follower in the first window (None: done)."""
    wm: Any = bpy.context.window_manager
    windows = list(getattr(wm, "windows", ()))
    if not windows:
        return 1.0  # the window is not there yet (Blender starting): try again shortly
    with bpy.context.temp_override(window=windows[0]):
        follow.ensure_follower(bpy.context)
    return None


def _follow_soon() -> None:
    # A modal operator cannot be started from inside a file load: a timer does it right after.
    if common.headless() or runtime.follower_active:
        return
    if not bpy.app.timers.is_registered(_start_follower):
        bpy.app.timers.register(_start_follower, first_interval=0.2)


def on_load_post(*_args: object) -> None:
    resume_pending(bpy.context)


persistent(on_load_post)  # marks it to survive file loads (used as a decorator elsewhere)


def _resume_at_start() -> None:
    resume_pending(bpy.context)


def _ours(handler: object) -> bool:
    # Match by name: after a reload of the add-on the old function object is a different one.
    return (
        getattr(handler, "__name__", "") == "on_load_post"
        and getattr(handler, "__module__", "") == __name__
    )


def register() -> None:
    handlers = bpy.app.handlers.load_post
    for handler in [h for h in handlers if _ours(h)]:
        handlers.remove(handler)
    handlers.append(on_load_post)
    # Nothing on the network at register time: the timer runs once Blender is up.
    bpy.app.timers.register(_resume_at_start, first_interval=1.0)


def unregister() -> None:
    handlers = bpy.app.handlers.load_post
    for handler in [h for h in handlers if _ours(h)]:
        handlers.remove(handler)
    for timer in (_resume_at_start, _start_follower):
        if bpy.app.timers.is_registered(timer):
            bpy.app.timers.unregister(timer)
    alive = runtime.shutdown()
    if alive:
        log.warning("YVO3D threads still stopping: %s", ", ".join(alive))
