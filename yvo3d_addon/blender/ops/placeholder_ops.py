"""Operators layer: placeholders and takes: swap back, re-fit, cycle and keep takes, regenerate,
variation, job details."""

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy.types import Operator

from ...core import errors, sanitize
from ...core.jobs import LABELS, Stage
from ...core.labels import describe
from ...core.library import LibraryEntry
from ...core.params import DEFAULT_TABLE
from ...core.store import JobRecord
from ..scene import fit, takes
from ..scene.bounds import hierarchy
from ..scene.takes import active_placeholder, active_root
from ..session import runtime
from ..settings import preferences, properties
from . import common, consent, follow
from .common import Result


def _service_blocker(context: bpy.types.Context) -> str:
    if preferences.credentials(context) is None:
        return runtime.CREDENTIALS_HINT
    if not bpy.app.online_access:
        return f"Online access is off: {runtime.ONLINE_HINT}"
    return ""


@dataclass
class Source:
    """Where a generated model came from: what a new take or a variation starts from."""

    root: bpy.types.Object
    record: JobRecord | None
    entry: LibraryEntry | None
    name: str
    settings: dict[str, Any]
    images: list[str] = field(default_factory=list)
    """Reference images that still exist (the originals, else the library's copies)."""
    missing_images: int = 0
    cost: float | None = None


def _stamp_settings(root: bpy.types.Object) -> dict[str, Any]:
    """Parameters from the request stamped on the model (API values back to UI values)."""
    try:
        params = json.loads(str(takes.idprops(root).get("yvo3d_params", "{}")))
    except ValueError:
        params = {}
    values: dict[str, Any] = properties.TABLE.defaults()
    for name, value in params.items() if isinstance(params, dict) else ():
        param = properties.TABLE.params.get(name)
        if param is None:
            continue
        values[name] = value == "ON" if param.kind == "onoff" and isinstance(value, str) else value
    return values


def source_of(context: bpy.types.Context, root: bpy.types.Object) -> Source:
    """The job record, library entry, parameters and images behind a generated model (reads the
    job store and the library: operators only, never draw code)."""
    manager = runtime.manager(context)
    record = manager.get(str(takes.idprops(root).get("yvo3d_local_id", "")))
    library_id = str(takes.idprops(root).get("yvo3d_library_id", "")) or (
        record.library_id if record else ""
    )
    entry = manager.library.get(library_id) if library_id else None
    if record is not None and record.settings:
        settings = dict(record.settings)
    elif entry is not None and entry.settings:
        settings = dict(entry.settings)
    else:
        settings = _stamp_settings(root)
    wanted = len(record.images) if record is not None else len(entry.images) if entry else 0
    images = [p for p in record.images if os.path.isfile(p)] if record is not None else []
    if len(images) < wanted and entry is not None:
        copies = [os.path.join(entry.folder, str(i.get("copy", ""))) for i in entry.images]
        images = [p for p in copies if os.path.basename(p) and os.path.isfile(p)]
    placement = record.placement if record is not None else {}
    name = str(placement.get("name") or (record.name if record else "") or "")
    name = name or (entry.name if entry is not None else "") or root.name
    cost = record.cost if record is not None and record.cost is not None else None
    if cost is None and entry is not None:
        cost = entry.cost
    return Source(root, record, entry, name, settings, images, max(0, wanted - len(images)), cost)


def _root_or_report(op: Operator, context: bpy.types.Context) -> bpy.types.Object | None:
    root = active_root(context)
    if root is None:
        op.report({"ERROR"}, "Select a generated model or its placeholder")
    return root


def _source_or_report(op: Operator, context: bpy.types.Context) -> Source | None:
    root = _root_or_report(op, context)
    if root is None:
        return None
    try:
        return source_of(context, root)
    except errors.Yvo3dError as exc:
        op.report({"ERROR"}, exc.user_text())
        return None


def _poll_placeholder(cls: Any, context: bpy.types.Context, least: int = 1) -> bool:
    placeholder = active_placeholder(context)
    if placeholder is None:
        cls.poll_message_set("Select a placeholder or one of its generated takes")
        return False
    if len(takes.live_takes(placeholder)) < least:
        cls.poll_message_set(
            "This placeholder has no generated take in the scene"
            if least == 1
            else f"This needs at least {least} takes in the scene"
        )
        return False
    return True


class YVO3D_OT_swap_back(Operator):
    """Show the placeholder again in place of its generated model, or the model again (nothing
    is deleted)"""

    bl_idname = "yvo3d.swap_back"
    bl_label = "Swap Back to Placeholder"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_placeholder(cls, context)

    def execute(self, context: bpy.types.Context) -> Result:
        placeholder = active_placeholder(context)
        if placeholder is None:
            return {"CANCELLED"}
        if takes.toggle(context, placeholder):
            self.report({"INFO"}, f"{placeholder.name}: generated model shown")
        else:
            self.report({"INFO"}, f"{placeholder.name}: placeholder shown")
        return {"FINISHED"}


_FIT_ITEMS = [("KEEP", "Current", "Keep the placeholder's fit mode")] + [
    (mode, takes.FIT_LABELS[mode], f"Fit by {takes.FIT_LABELS[mode].lower()}")
    for mode in takes.FIT_MODES
]


class YVO3D_OT_refit(Operator):
    """Fit the generated takes again to the placeholder as it is now (after you moved, rotated
    or scaled it)"""

    bl_idname = "yvo3d.refit"
    bl_label = "Re-fit to Placeholder"
    bl_options = {"REGISTER", "UNDO"}

    fit: EnumProperty(
        name="Fit",
        description="How the model is scaled to the placeholder's bounding box",
        items=_FIT_ITEMS,
        default="KEEP",
        options={"SKIP_SAVE"},
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_placeholder(cls, context)

    def execute(self, context: bpy.types.Context) -> Result:
        placeholder = active_placeholder(context)
        if placeholder is None:
            return {"CANCELLED"}
        mode = None if self.fit == "KEEP" else str(self.fit)
        count = fit.refit(context, placeholder, mode)
        label = takes.FIT_LABELS[takes.fit_mode(placeholder)].lower()
        self.report({"INFO"}, f"{placeholder.name}: {count} take(s) fitted by {label}")
        return {"FINISHED"}


def _step(op: Operator, context: bpy.types.Context, delta: int) -> Result:
    placeholder = active_placeholder(context)
    if placeholder is None:
        return {"CANCELLED"}
    index = takes.step(context, placeholder, delta)
    count = len(takes.live_takes(placeholder))
    op.report({"INFO"}, f"{placeholder.name}: take {index + 1} of {count}")
    return {"FINISHED"}


class YVO3D_OT_next_take(Operator):
    """Show the next take of this placeholder in place"""

    bl_idname = "yvo3d.next_take"
    bl_label = "Next Take"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_placeholder(cls, context)

    def execute(self, context: bpy.types.Context) -> Result:
        return _step(self, context, 1)


class YVO3D_OT_previous_take(Operator):
    """Show the previous take of this placeholder in place"""

    bl_idname = "yvo3d.previous_take"
    bl_label = "Previous Take"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_placeholder(cls, context)

    def execute(self, context: bpy.types.Context) -> Result:
        return _step(self, context, -1)


class YVO3D_OT_keep_take(Operator):
    """Keep the take shown; the others leave the scene (their models stay in the library and
    can be imported again for free)"""

    bl_idname = "yvo3d.keep_take"
    bl_label = "Keep This Take"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_placeholder(cls, context, least=2)

    def execute(self, context: bpy.types.Context) -> Result:
        placeholder = active_placeholder(context)
        if placeholder is None:
            return {"CANCELLED"}
        gone = takes.keep(context, placeholder)
        if not gone:
            self.report({"INFO"}, "Only one take: nothing to archive")
            return {"CANCELLED"}
        self.report(
            {"INFO"},
            f"{placeholder.name}: take kept; {len(gone)} other take(s) archived "
            "(still in the library)",
        )
        return {"FINISHED"}


def _poll_generated(cls: Any, context: bpy.types.Context, service: bool = False) -> bool:
    if active_root(context) is None:
        cls.poll_message_set("Select a generated model or its placeholder")
        return False
    reason = _service_blocker(context) if service else ""
    if reason:
        cls.poll_message_set(reason)
        return False
    return True


def _base_location(context: bpy.types.Context, root: bpy.types.Object) -> list[float]:
    box = fit.bounds(hierarchy(root), context.evaluated_depsgraph_get())
    if box is None:
        origin = root.matrix_world.translation
        return [origin.x, origin.y, origin.z]
    low, high = box
    return [(low.x + high.x) / 2, (low.y + high.y) / 2, low.z]


def _xyz(vector: Any) -> list[float]:
    return [float(vector.x), float(vector.y), float(vector.z)]


def regenerate_plan(context: bpy.types.Context, source: Source) -> tuple[str, dict[str, Any]]:
    """The job name and placement of a new take: in the same placeholder, shown on arrival;
    a model without placeholder gets its new take where it stands."""
    placeholder = takes.placeholder_of(source.root)
    if placeholder is None:
        return source.name, {"mode": "CURSOR", "location": _base_location(context, source.root)}
    index = len(takes.takes(placeholder))
    return f"{source.name} #{index + 1}", {
        "mode": "PLACEHOLDER",
        "object": placeholder.name,
        "uuid": takes.ensure_id(placeholder),
        "fit": takes.fit_mode(placeholder),
        "take": index,
        "takes": 1,
        "show": True,
        "name": source.name,
        "location": _xyz(placeholder.matrix_world.translation),
    }


class YVO3D_OT_regenerate(Operator):
    """Generate a new take from the same images and parameters (a paid job); it appears in
    place and the previous takes are kept"""

    bl_idname = "yvo3d.regenerate"
    bl_label = "Regenerate (New Take)"
    # No UNDO: a redo would send the paid request again.
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_generated(cls, context, service=True)

    token: StringProperty(
        name="Confirmation", description="Set by the confirmation", options={"HIDDEN", "SKIP_SAVE"}
    )

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if not consent.interactive(context):
            return self.execute(context)
        source = _source_or_report(self, context)
        if source is None:
            return {"CANCELLED"}
        price = (
            f"{source.cost:g} credits"
            if source.cost is not None
            else "price unknown until it starts (it is checked before paying)"
        )
        return consent.confirm(
            self,
            context,
            event,
            title="Regenerate",
            message=f"Generate a new take of {source.name} from the same inputs: {price}.",
        )

    def execute(self, context: bpy.types.Context) -> Result:
        if not consent.may_pay(self, context):
            return {"CANCELLED"}
        runtime.take_snapshot(context)
        reason = _service_blocker(context)
        if reason:
            self.report({"ERROR"}, reason)
            return {"CANCELLED"}
        source = _source_or_report(self, context)
        if source is None:
            return {"CANCELLED"}
        if not source.images or source.missing_images:
            self.report(
                {"ERROR"},
                f"{source.name}: its reference images are gone (and not in the library): "
                "load them again with Variation, then Generate",
            )
            return {"CANCELLED"}
        problems = properties.TABLE.validate(source.settings, len(source.images))
        if problems:
            self.report({"ERROR"}, problems[0].message)
            return {"CANCELLED"}
        name, placement = regenerate_plan(context, source)
        placement.update(follow.at_generate(context))
        manager = runtime.manager(context)
        # The new take is priced again before it pays: a higher price stops it, unpaid.
        record = manager.submit(
            name=name,
            images=source.images,
            settings=source.settings,
            placement=placement,
            expected_cost=source.cost,
        )
        if source.record is not None and source.record.fingerprint:
            runtime.fingerprints[record.id] = source.record.fingerprint
        if common.headless():
            return follow.run_to_end(context, [record.id], self.report)
        follow.ensure_follower(context)
        self.report({"INFO"}, f"{record.name}: started; follow it in the Jobs panel")
        return {"FINISHED"}


def load_variation(context: bpy.types.Context, source: Source) -> list[str]:
    """Put a model's images and parameters into the scene's YVO3D settings, aimed at its
    placeholder; returns notes for the user."""
    settings: Any = common.scene_settings(context)
    notes: list[str] = []
    for name, value in source.settings.items():
        if name not in properties.TABLE.params:
            continue
        try:
            setattr(settings, name, value)
        except (TypeError, ValueError, AttributeError):
            notes.append(f"{name}: {value!r} does not fit this version's settings; left as is")
    if source.images:
        settings.images.clear()
        for path in source.images[: properties.MAX_SLOTS]:
            slot = settings.images.add()
            slot.filepath = path
            runtime.load_thumbnail(path)
        settings.active_image = 0
    if source.missing_images or not source.images:
        notes.append(f"{source.name}: its reference images are gone: add them again")
    settings.name = source.name
    placeholder = takes.placeholder_of(source.root)
    if placeholder is not None:
        settings.placement = "PLACEHOLDER"
        settings.placeholder = placeholder
        settings.fit_mode = takes.fit_mode(placeholder)
    else:
        settings.placement = "CURSOR"
    settings.takes = 1
    return notes


def _show_sidebar(context: bpy.types.Context) -> None:
    screen = getattr(context, "screen", None)
    for area in getattr(screen, "areas", ()):
        if area.type == "VIEW_3D":
            space: Any = area.spaces.active
            space.show_region_ui = True
            area.tag_redraw()


class YVO3D_OT_variation(Operator):
    """Load this model's images and parameters into the YVO3D panel to change them and
    generate a variation"""

    bl_idname = "yvo3d.variation"
    bl_label = "Variation…"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if common.scene_settings(context) is None:
            cls.poll_message_set("Open a scene first")
            return False
        return _poll_generated(cls, context)

    def execute(self, context: bpy.types.Context) -> Result:
        source = _source_or_report(self, context)
        if source is None:
            return {"CANCELLED"}
        for note in load_variation(context, source):
            self.report({"WARNING"}, note)
        _show_sidebar(context)
        runtime.request_price(context)
        self.report(
            {"INFO"}, f"{source.name}: parameters loaded in the YVO3D panel; change them, Generate"
        )
        return {"FINISHED"}


def details_lines(source: Source) -> list[str]:
    """The job details of a generated model, one fact per line."""
    record, entry, root = source.record, source.entry, source.root
    lines = [f"Model: {source.name}"]
    job_id = (record.job_id if record else "") or str(takes.idprops(root).get("yvo3d_job_id", ""))
    # Stamps come from a .blend someone else may have made: shown, never trusted as text.
    lines.append(f"Scenario job: {sanitize.clean(job_id, limit=80) or 'unknown'}")
    if record is not None:
        try:
            stage = LABELS[Stage(record.stage)]
        except ValueError:
            stage = record.stage
        lines.append(f"Local job: {record.id} ({stage})")
        lines.append("Started: " + time.strftime("%Y-%m-%d %H:%M", time.localtime(record.created)))
    if source.cost is not None:
        lines.append(f"Cost: {source.cost:g} credits")
    names = [os.path.basename(p) for p in (record.images if record else [])]
    if not names and entry is not None:
        names = [str(i.get("name", "")) for i in entry.images]
    if names:
        lines.append("Images: " + ", ".join(names))
    body = (record.body if record else {}) or (entry.body if entry else {})
    params = {k: v for k, v in body.items() if k != "images"} or source.settings
    lines.append("Parameters: " + ", ".join(describe(DEFAULT_TABLE, params)))
    library_id = (
        entry.id if entry is not None else str(takes.idprops(root).get("yvo3d_library_id", ""))
    )
    if library_id:
        lines.append(f"Library entry: {sanitize.clean(library_id, limit=80)}")
    placeholder = takes.placeholder_of(root)
    if placeholder is not None:
        live = takes.live_takes(placeholder)
        index = next((i for i, (_, r) in enumerate(live) if r == root), 0)
        lines.append(f"Placeholder: {placeholder.name}, take {index + 1} of {len(live)}")
    return lines


class YVO3D_OT_job_details(Operator):
    """Show where this model came from: job, price, images, parameters, library entry"""

    bl_idname = "yvo3d.job_details"
    bl_label = "Job Details"
    bl_options = {"REGISTER"}

    details: StringProperty(name="Details", options={"SKIP_SAVE", "HIDDEN"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_generated(cls, context)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if common.headless() or context.window is None:
            return self.execute(context)
        source = _source_or_report(self, context)
        if source is None:
            return {"CANCELLED"}
        self.details = "\n".join(details_lines(source))
        wm: Any = context.window_manager
        shown: Result = wm.invoke_popup(self, width=460)
        return shown

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        column = layout.column(align=True)
        for line in self.details.split("\n"):
            column.label(text=line)

    def execute(self, context: bpy.types.Context) -> Result:
        source = _source_or_report(self, context)
        if source is None:
            return {"CANCELLED"}
        self.details = "\n".join(details_lines(source))
        self.report({"INFO"}, self.details.replace("\n", "; "))
        return {"FINISHED"}


classes = (
    YVO3D_OT_swap_back,
    YVO3D_OT_refit,
    YVO3D_OT_next_take,
    YVO3D_OT_previous_take,
    YVO3D_OT_keep_take,
    YVO3D_OT_regenerate,
    YVO3D_OT_variation,
    YVO3D_OT_job_details,
)
