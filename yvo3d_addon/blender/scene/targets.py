"""Scene layer: what a Generate will make: the selected placeholders (or the cursor) times takes,
the jobs planned and the confirmation text."""

from collections.abc import Sequence
from typing import Any

import bpy

from .bounds import GEOMETRY_TYPES, hierarchy
from .takes import (
    MAX_TAKES,
    PLACEHOLDER_ID,
    _new_uuid,
    ensure_id,
    idprops,
    is_placeholder,
    is_result,
    placeholder_of,
    takes,
)


def _candidate(obj: bpy.types.Object | None) -> bpy.types.Object | None:
    """What an object stands for when Generate replaces the selection: a take stands for its
    placeholder; any other generated object for nothing; a mesh for itself."""
    if obj is None:
        return None
    if is_result(obj):
        return placeholder_of(obj)
    if is_placeholder(obj) or any(o.type in GEOMETRY_TYPES for o in hierarchy(obj)):
        return obj  # a mesh, or a blockout of several parts under one parent
    return None


def targets(context: bpy.types.Context, settings: Any) -> list[bpy.types.Object]:
    """The placeholders Generate replaces: the picked one, else every selected mesh that is
    not a generated model (a selected take stands for its placeholder), else the active one."""
    if settings is None or settings.placement != "PLACEHOLDER":
        return []
    picked = getattr(settings, "placeholder", None)
    if picked is not None:
        found = _candidate(picked)
        return [found] if found is not None else []
    selected = list(getattr(context, "selected_objects", None) or ())
    if not selected:
        active = getattr(context, "active_object", None)
        selected = [active] if active is not None else []
    chosen: dict[str, bpy.types.Object] = {}
    for obj in selected:
        found = _candidate(obj)
        if found is not None:
            chosen.setdefault(found.name, found)
    members = set(chosen.values())
    # A part of a selected blockout belongs to that placeholder, not to one of its own.
    return [o for name, o in sorted(chosen.items()) if not any(p in members for p in _ancestors(o))]


def _ancestors(obj: bpy.types.Object) -> list[bpy.types.Object]:
    found = []
    parent = obj.parent
    while parent is not None:
        found.append(parent)
        parent = parent.parent
    return found


def take_count(settings: Any) -> int:
    return max(1, min(MAX_TAKES, int(getattr(settings, "takes", 1) or 1)))


def job_count(context: bpy.types.Context, settings: Any) -> int:
    """How many paid jobs Generate starts now: placeholders x takes (no placeholder: takes)."""
    if settings is None:
        return 0
    count = take_count(settings)
    if settings.placement == "PLACEHOLDER":
        return len(targets(context, settings)) * count
    return count


def blocker(context: bpy.types.Context, settings: Any) -> str:
    """Why Generate cannot replace placeholders now ("" when it can)."""
    if settings is not None and settings.placement == "PLACEHOLDER":
        if not targets(context, settings):
            return "Select the objects to replace (meshes), or pick a placeholder"
    return ""


def confirm_message(context: bpy.types.Context, settings: Any, cost: float | None) -> str:
    """The question asked before paid jobs start: what will be made, and the price."""
    count = job_count(context, settings)
    replacing = settings is not None and settings.placement == "PLACEHOLDER"
    if count <= 1 and not replacing:
        if cost is None:
            return "Generate 1 model: the price is not known yet (it is checked before paying)."
        return f"Generate 1 model for {cost:g} credits."
    takes_each = take_count(settings)
    if replacing:
        places = len(targets(context, settings))
        what = f"Replace {places} placeholder{'s' if places != 1 else ''}"
        if takes_each > 1:
            what += f" with {takes_each} takes each"
    else:
        what = f"Generate {takes_each} takes"
    if cost is None:
        price = "the price is not known yet; each job is priced when it starts"
    else:
        price = f"{count} x {cost:g} = {count * cost:g} credits"
    return f"{what}: {count} job{'s' if count != 1 else ''}, {price}."


def plan(
    context: bpy.types.Context, settings: Any, cursor: Sequence[float], base_name: str
) -> list[tuple[str, dict[str, Any]]]:
    """One (job name, placement) per job Generate starts: takes x placeholders, or takes at
    the cursor. Gives each placeholder its uuid (the only change before a result arrives)."""
    location = [float(v) for v in cursor]
    count = take_count(settings)
    if settings.placement != "PLACEHOLDER":
        if count == 1:
            return [(base_name, {"mode": "CURSOR", "location": location})]
        batch = _new_uuid()
        return [
            (
                f"{base_name} #{i + 1}",
                {
                    "mode": "PLACEHOLDER",
                    "anchor": True,
                    "uuid": batch,
                    "object": f"{base_name} Takes",
                    "fit": "LONGEST",
                    "take": i,
                    "takes": count,
                    "show": i == 0,
                    "name": base_name,
                    "location": location,
                },
            )
            for i in range(count)
        ]
    found = targets(context, settings)
    jobs = []
    for placeholder in found:
        uid = ensure_id(placeholder)
        first = len(takes(placeholder)) if is_placeholder(placeholder) else 0
        for i in range(count):
            name = base_name if len(found) == 1 else f"{base_name} ({placeholder.name})"
            if count > 1:
                name += f" #{first + i + 1}"
            jobs.append(
                (
                    name,
                    {
                        "mode": "PLACEHOLDER",
                        "object": placeholder.name,
                        "uuid": uid,
                        "fit": str(settings.fit_mode),
                        "take": first + i,
                        "takes": count,
                        "show": i == 0,
                        "name": base_name,
                        "location": location,
                    },
                )
            )
    return jobs


def same_target(placement: dict[str, Any], context: bpy.types.Context, settings: Any) -> bool:
    """Whether a running job aims where Generate would now (a second click), as opposed to
    another placeholder with the same inputs. Reads only: a refused Generate changes nothing."""
    if placement.get("mode", "CURSOR") != "PLACEHOLDER" or placement.get("anchor"):
        return bool(settings.placement != "PLACEHOLDER")
    wanted = str(placement.get("uuid", ""))
    return any(
        str(idprops(t).get(PLACEHOLDER_ID, "")) == wanted for t in targets(context, settings)
    )


def price_texts(jobs: int, cost: float) -> tuple[str, str]:
    """The panel's price line and Generate button text for `jobs` jobs at `cost` each."""
    if jobs <= 1:
        return f"Price: {cost:g} credits", f"Generate ({cost:g} credits)"
    total = jobs * cost
    return f"Price: {jobs} x {cost:g} = {total:g} credits", f"Generate {jobs} ({total:g} credits)"


def targets_line(context: bpy.types.Context, settings: Any) -> str:
    """What Generate will replace, for the panel ("" when a placeholder is picked)."""
    if settings is None or settings.placement != "PLACEHOLDER" or settings.placeholder is not None:
        return ""
    found = targets(context, settings)
    if not found:
        return "Pick a placeholder, or select the objects to replace"
    names = ", ".join(o.name for o in found[:3]) + (
        f" (+{len(found) - 3})" if len(found) > 3 else ""
    )
    return f"Replaces {names}"
