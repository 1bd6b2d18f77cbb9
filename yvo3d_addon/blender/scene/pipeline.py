"""Scene layer: the import pipeline, in order: import -> stamp -> place or fit -> clean up ->
mark as asset.

Each step is a function of its own module that takes its inputs as arguments; this is the one
place that runs them, in this order. The stamp comes right after the import because the later
steps find the result (and the asset its provenance) by it. Everything an import needs is in an
`ImportPlan` of plain data that the caller (an operator) gathers from the settings, the session
and the job: no step reads the preferences or the session itself.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import bpy

from . import assets, cleanup, fit, importer, takes

if TYPE_CHECKING:
    from ...core.library import LibraryEntry
    from ..settings.import_options import Options
    from .importer import ImportResult


@dataclass
class ImportPlan:
    """One import, as plain data."""

    glb_path: str
    name: str
    placement: Mapping[str, Any]
    """{"mode": "CURSOR" | "PLACEHOLDER", "location": [x, y, z], placeholder id and fit}."""
    stamp: Mapping[str, object]
    options: "Options"
    """The clean-up preset (and asset marking) for this import."""
    shape_only: bool = False
    images_mode: str = "PACK"
    use_recorded_location: bool = False
    secrets: Sequence[str] = ()
    """Strings never written into the scene (the credentials): stamps holding one are dropped."""
    entry: "LibraryEntry | None" = None
    """The library entry, for the asset's preview and provenance."""
    render_folder: str = ""
    """Where an asset preview may be rendered when the entry has none."""
    select: bool = True
    """Select the new model and make it active; False leaves the selection and the active
    object exactly as they were (the user changed them since Generate)."""


def import_model(context: bpy.types.Context, plan: ImportPlan) -> "ImportResult":
    """Run the pipeline; RuntimeError when the import or the placement fails (nothing is left
    in the scene then, and the placeholder is untouched). The later steps never raise: the
    model is in the scene and stays there whatever they do; their notes become warnings."""
    kept = _selection(context)
    mode = plan.placement.get("mode", "CURSOR")
    placeholder = takes.find(dict(plan.placement)) if mode == "PLACEHOLDER" else None
    location: tuple[float, float, float] | None = None
    recorded = plan.placement.get("location")
    if placeholder is None and plan.use_recorded_location and isinstance(recorded, list | tuple):
        location = (float(recorded[0]), float(recorded[1]), float(recorded[2]))
    result = importer.import_glb(
        context,
        plan.glb_path,
        name=plan.name,
        location=location,
        shape_only=plan.shape_only,
        images_mode=plan.images_mode,
    )
    importer.stamp(result.root, plan.stamp, plan.secrets)
    if mode == "PLACEHOLDER":
        # After the import succeeded: only now may the placeholder change (hidden, kept).
        fit.place(context, result, placeholder, dict(plan.placement))
    try:
        result.warnings += cleanup.apply(context, result.root, plan.options)
    except (RuntimeError, ValueError, ReferenceError) as exc:
        result.warnings.append(f"Clean-up stopped: {exc}")
    if plan.options.mark_asset:
        result.warnings += assets.mark_imported(
            context, result, plan.entry, plan.options, render_folder=plan.render_folder
        )
    if plan.select:
        _select(context, result.objects, result.root)
    else:
        _restore(context, kept)
    return result


def _selection(context: bpy.types.Context) -> tuple[list[Any], Any]:
    layer = context.view_layer
    if layer is None:
        return [], None
    return [o for o in layer.objects if o.select_get()], layer.objects.active


def _select(context: bpy.types.Context, objects: Sequence[Any], active: Any) -> None:
    layer = context.view_layer
    if layer is None or not active.visible_get():
        return  # a hidden take waits for Next Take: the shown one keeps the selection
    for obj in layer.objects:
        if obj.select_get():
            obj.select_set(False)
    for obj in objects:
        if obj.visible_get():
            obj.select_set(True)
    layer.objects.active = active


def _restore(context: bpy.types.Context, kept: tuple[list[Any], Any]) -> None:
    """The selection and the active object exactly as they were before the import."""
    layer = context.view_layer
    if layer is None:
        return
    chosen, active = kept
    pointers = {o.as_pointer() for o in chosen}
    for obj in layer.objects:
        want = obj.as_pointer() in pointers
        if obj.select_get() != want:
            try:
                obj.select_set(want)
            except RuntimeError:
                pass  # not selectable in this view layer any more
    layer.objects.active = active
