"""Operators layer: free re-imports (from the library, or a job imported before) that land
exactly where a paid result would: the panel's Placement, Fit and selected placeholders.

Nothing here sends a request: the GLB is the library's.
"""

from typing import Any

import bpy

from ...core.library import LibraryEntry
from ...core.store import JobRecord
from ..scene import takes, targets
from ..scene.bounds import hierarchy
from .common import Report, scene_settings
from .follow import import_result


def entry_stamp(entry: LibraryEntry) -> dict[str, object]:
    names = [str(i.get("name", "")) for i in entry.images]
    return {
        "job_id": entry.job_id,
        "library_id": entry.id,
        "images": names,
        "params": {k: v for k, v in entry.body.items() if k != "images"},
        "cost": entry.cost,
        "fingerprint": entry.fingerprint,
    }


def _archived_home(entry: LibraryEntry) -> dict[str, Any] | None:
    """An archived take (put away by Keep) goes back into its placeholder's takes."""
    for obj in bpy.data.objects:
        if takes.is_placeholder(obj) and any(t.library == entry.id for t in takes.archived(obj)):
            return {
                "mode": "PLACEHOLDER",
                "object": obj.name,
                "uuid": takes.ensure_id(obj),
                "fit": takes.fit_mode(obj),
                "show": True,
                "name": entry.name,
            }
    return None


def placements(context: bpy.types.Context, entry: LibraryEntry) -> list[dict[str, Any]]:
    """Where a free import of `entry` goes: one model per selected placeholder when the
    panel's Placement is Replace Selected (fitted, a new take), else an archived take's own
    placeholder, else the 3D cursor. Raises ValueError with the panel's reason when Replace
    Selected has nothing to replace."""
    settings = scene_settings(context)
    scene: Any = context.scene
    cursor = [float(v) for v in scene.cursor.location]
    if settings is not None and settings.placement == "PLACEHOLDER":
        reason = targets.blocker(context, settings)
        if reason:
            raise ValueError(reason)
        planned = targets.plan(context, settings, cursor, entry.name)
        seen: set[str] = set()
        found = []
        for _, placement in planned:  # one model per placeholder: Takes are for paid runs
            if placement["uuid"] not in seen:
                seen.add(placement["uuid"])
                found.append({**placement, "show": True, "takes": 1})
        return found
    home = _archived_home(entry)
    return [home] if home else [{"mode": "CURSOR", "location": cursor}]


def import_entry(context: bpy.types.Context, entry: LibraryEntry, report: Report) -> int:
    """Import a library entry where `placements` says; returns how many models went in."""
    try:
        where = placements(context, entry)
    except ValueError as exc:
        report({"ERROR"}, str(exc))
        return 0
    done = 0
    for placement in where:
        try:
            result = import_result(
                context,
                glb_path=entry.glb_path,
                name=entry.name,
                settings=entry.settings,
                image_names=[str(i.get("name", "")) for i in entry.images],
                placement=placement,
                stamp=entry_stamp(entry),
                use_recorded_location=True,
                select=True,
            )
        except RuntimeError as exc:
            report({"ERROR"}, f"{entry.name}: {exc}")
            continue
        done += 1
        for warning in result.warnings:
            report({"WARNING"}, warning)
    return done


def replace_previous_take(record: JobRecord, keep: str) -> None:
    """After a job was imported again into its placeholder, the take it had before goes: a
    re-import replaces the current take instead of stacking a copy (`keep`: the new root)."""
    if record.placement.get("mode") != "PLACEHOLDER":
        return
    placeholder = takes.find(record.placement)
    if placeholder is None:
        return
    for take, root in takes.live_takes(placeholder):
        if take.job == record.id and root.name != keep:
            takes.remove_objects(hierarchy(root))
    takes.prune(placeholder)
