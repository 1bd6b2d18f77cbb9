"""Blender layer: operators, right-click menu and sidebar panel for placeholders and their takes."""

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy.types import Menu, Operator, Panel

from ..core import errors, sanitize
from ..core.jobs import LABELS, Stage
from ..core.library import LibraryEntry
from ..core.store import JobRecord
from . import operators, placeholders, preferences, properties, runtime
from .operators import Result

MENU_ICON = "MESH_MONKEY"


# -- what the active object is ----------------------------------------------------------------


def _active(context: bpy.types.Context) -> bpy.types.Object | None:
    return getattr(context, "active_object", None)


def active_placeholder(context: bpy.types.Context) -> bpy.types.Object | None:
    """The placeholder the active object is, or whose take it is."""
    return placeholders.placeholder_of(_active(context))


def active_root(context: bpy.types.Context) -> bpy.types.Object | None:
    """The generated model the active object stands for: its own root, or, on a placeholder,
    the take shown (or last shown) in its place."""
    obj = _active(context)
    root = placeholders.result_root(obj)
    if root is not None:
        return root
    placeholder = placeholders.placeholder_of(obj)
    if placeholder is None:
        return None
    live = placeholders.live_takes(placeholder)
    return live[placeholders.active_index(placeholder)][1] if live else None


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
        params = json.loads(str(placeholders.idprops(root).get("yvo3d_params", "{}")))
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
    record = manager.get(str(placeholders.idprops(root).get("yvo3d_local_id", "")))
    library_id = str(placeholders.idprops(root).get("yvo3d_library_id", "")) or (
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


# -- operators: placeholder and takes ---------------------------------------------------------


def _poll_placeholder(cls: Any, context: bpy.types.Context, least: int = 1) -> bool:
    placeholder = active_placeholder(context)
    if placeholder is None:
        cls.poll_message_set("Select a placeholder or one of its generated takes")
        return False
    if len(placeholders.live_takes(placeholder)) < least:
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
        if placeholders.toggle(context, placeholder):
            self.report({"INFO"}, f"{placeholder.name}: generated model shown")
        else:
            self.report({"INFO"}, f"{placeholder.name}: placeholder shown")
        return {"FINISHED"}


_FIT_ITEMS = [("KEEP", "Current", "Keep the placeholder's fit mode")] + [
    (mode, placeholders.FIT_LABELS[mode], f"Fit by {placeholders.FIT_LABELS[mode].lower()}")
    for mode in placeholders.FIT_MODES
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
        count = placeholders.refit(context, placeholder, mode)
        label = placeholders.FIT_LABELS[placeholders.fit_mode(placeholder)].lower()
        self.report({"INFO"}, f"{placeholder.name}: {count} take(s) fitted by {label}")
        return {"FINISHED"}


def _step(op: Operator, context: bpy.types.Context, delta: int) -> Result:
    placeholder = active_placeholder(context)
    if placeholder is None:
        return {"CANCELLED"}
    index = placeholders.step(context, placeholder, delta)
    count = len(placeholders.live_takes(placeholder))
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
        gone = placeholders.keep(context, placeholder)
        if not gone:
            self.report({"INFO"}, "Only one take: nothing to archive")
            return {"CANCELLED"}
        self.report(
            {"INFO"},
            f"{placeholder.name}: take kept; {len(gone)} other take(s) archived "
            "(still in the library)",
        )
        return {"FINISHED"}


# -- operators: from a generated object -------------------------------------------------------


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
    box = placeholders.bounds(placeholders.hierarchy(root), context.evaluated_depsgraph_get())
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
    placeholder = placeholders.placeholder_of(source.root)
    if placeholder is None:
        return source.name, {"mode": "CURSOR", "location": _base_location(context, source.root)}
    index = len(placeholders.takes(placeholder))
    return f"{source.name} #{index + 1}", {
        "mode": "PLACEHOLDER",
        "object": placeholder.name,
        "uuid": placeholders.ensure_id(placeholder),
        "fit": placeholders.fit_mode(placeholder),
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

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        if operators.headless() or context.window is None:
            return self.execute(context)
        source = _source_or_report(self, context)
        if source is None:
            return {"CANCELLED"}
        price = f"{source.cost:g} credits" if source.cost is not None else "priced when it starts"
        wm: Any = context.window_manager
        confirmed: Result = wm.invoke_confirm(
            self,
            event,
            title="Regenerate",
            message=f"Generate a new take of {source.name} from the same inputs: {price}.",
            confirm_text="Generate",
        )
        return confirmed

    def execute(self, context: bpy.types.Context) -> Result:
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
        if operators.headless():
            return operators.run_to_end(context, [record.id], self.report)
        operators.ensure_follower(context)
        self.report({"INFO"}, f"{record.name}: started; follow it in the Jobs panel")
        return {"FINISHED"}


def load_variation(context: bpy.types.Context, source: Source) -> list[str]:
    """Put a model's images and parameters into the scene's YVO3D settings, aimed at its
    placeholder; returns notes for the user."""
    settings: Any = operators.scene_settings(context)
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
    placeholder = placeholders.placeholder_of(source.root)
    if placeholder is not None:
        settings.placement = "PLACEHOLDER"
        settings.placeholder = placeholder
        settings.fit_mode = placeholders.fit_mode(placeholder)
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
        if operators.scene_settings(context) is None:
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
    job_id = (record.job_id if record else "") or str(
        placeholders.idprops(root).get("yvo3d_job_id", "")
    )
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
    lines.append("Parameters: " + ", ".join(f"{k}={v}" for k, v in sorted(params.items())))
    library_id = (
        entry.id
        if entry is not None
        else str(placeholders.idprops(root).get("yvo3d_library_id", ""))
    )
    if library_id:
        lines.append(f"Library entry: {sanitize.clean(library_id, limit=80)}")
    placeholder = placeholders.placeholder_of(root)
    if placeholder is not None:
        live = placeholders.live_takes(placeholder)
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
        if operators.headless() or context.window is None:
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


# -- right-click menu and sidebar panel -------------------------------------------------------


def draw_actions(layout: Any, context: bpy.types.Context) -> None:
    """The actions that apply to the active object (the menu and the panel share them)."""
    root = active_root(context)
    placeholder = active_placeholder(context)
    if root is not None:
        layout.operator("yvo3d.regenerate", text="Regenerate (New Take)", icon="FILE_REFRESH")
        layout.operator("yvo3d.variation", text="Variation…", icon="PRESET")
    if placeholder is not None and placeholders.live_takes(placeholder):
        back = placeholders.swapped_back(placeholder)
        layout.operator(
            "yvo3d.swap_back",
            text="Show Generated Model" if back else "Swap Back to Placeholder",
            icon="UV_SYNC_SELECT",
        )
        if len(placeholders.live_takes(placeholder)) > 1:
            layout.operator("yvo3d.previous_take", icon="TRIA_LEFT")
            layout.operator("yvo3d.next_take", icon="TRIA_RIGHT")
            layout.operator("yvo3d.keep_take", icon="CHECKMARK")
        layout.operator("yvo3d.refit", text="Re-fit to Placeholder", icon="FULLSCREEN_ENTER")
    if root is not None:
        layout.operator("yvo3d.job_details", text="Job Details", icon="INFO")


def applies(context: bpy.types.Context) -> bool:
    """Whether the active object is a generated model or a placeholder with takes."""
    return active_root(context) is not None or active_placeholder(context) is not None


class YVO3D_MT_object(Menu):
    """YVO3D actions for a generated model or its placeholder"""

    bl_idname = "YVO3D_MT_object"
    bl_label = "YVO3D"

    def draw(self, context: bpy.types.Context) -> None:
        draw_actions(self.layout, context)


def draw_context_menu(self: Any, context: bpy.types.Context) -> None:
    """Appended to the viewport's object context menu: shown only where it applies."""
    if not applies(context):
        return
    layout = self.layout
    layout.separator()
    layout.menu(YVO3D_MT_object.bl_idname, icon=MENU_ICON)


class YVO3D_PT_placeholder(Panel):
    """The active placeholder: its takes, swap back, fit"""

    bl_idname = "YVO3D_PT_placeholder"
    bl_label = "Placeholder"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "YVO3D"
    bl_parent_id = "YVO3D_PT_main"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return active_placeholder(context) is not None

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        placeholder = active_placeholder(context)
        if placeholder is None:
            return
        live = placeholders.live_takes(placeholder)
        back = placeholders.swapped_back(placeholder)
        layout.label(text=f"Placeholder: {placeholder.name}", icon="MESH_CUBE")
        if not live:
            layout.label(text="No generated take in the scene", icon="INFO")
        else:
            index = placeholders.active_index(placeholder)
            row = layout.row(align=True)
            row.operator("yvo3d.previous_take", text="", icon="TRIA_LEFT")
            shown = f"Take {index + 1} of {len(live)}"
            row.label(text=f"{shown} (placeholder shown)" if back else shown)
            row.operator("yvo3d.next_take", text="", icon="TRIA_RIGHT")
            keep = layout.row()
            keep.enabled = len(live) > 1
            keep.operator("yvo3d.keep_take", icon="CHECKMARK")
            layout.operator(
                "yvo3d.swap_back",
                text="Show Generated Model" if back else "Swap Back to Placeholder",
                icon="UV_SYNC_SELECT",
            )
            current = placeholders.fit_mode(placeholder)
            layout.label(text="Fit")
            fits = layout.row(align=True)
            for mode in placeholders.FIT_MODES:
                op = fits.operator(
                    "yvo3d.refit", text=placeholders.FIT_LABELS[mode], depress=mode == current
                )
                op.fit = mode
            layout.operator("yvo3d.refit", text="Re-fit to Placeholder", icon="FULLSCREEN_ENTER")
        gone = placeholders.archived(placeholder)
        if gone:
            layout.label(text=f"{len(gone)} archived take(s) in the library", icon="ASSET_MANAGER")


def register() -> None:
    bpy.types.VIEW3D_MT_object_context_menu.append(draw_context_menu)


def unregister() -> None:
    bpy.types.VIEW3D_MT_object_context_menu.remove(draw_context_menu)


classes = (
    YVO3D_OT_swap_back,
    YVO3D_OT_refit,
    YVO3D_OT_next_take,
    YVO3D_OT_previous_take,
    YVO3D_OT_keep_take,
    YVO3D_OT_regenerate,
    YVO3D_OT_variation,
    YVO3D_OT_job_details,
    YVO3D_MT_object,
    YVO3D_PT_placeholder,
)
