"""The YVO3D sidebar as text: every panel drawn in real Blender through a recording layout, in
the order the sidebar shows them, with closed sub-panels shown by their header only.

`sidebar()` returns a `Sheet`: the lines an artist sees, the controls (properties, buttons,
menus), and for each greyed-out control how many explanation lines follow it. docs/panel.md is
written from these sheets by tests/blender/test_panel_layout.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import bpy

CONTROLS = frozenset(
    {
        "prop",
        "operator",
        "menu",
        "prop_enum",
        "prop_search",
        "prop_menu_enum",
        "operator_menu_enum",
        "template_list",
        "template_ID",
        "popover",
    }
)
WIDGETS = CONTROLS | {"label", "progress", "template_icon", "template_icon_view"}


@dataclass
class Widget:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    line: int
    disabled: bool
    alert: bool

    @property
    def text(self) -> str:
        if "text" in self.kwargs:
            return str(self.kwargs["text"])
        if self.name == "prop":
            prop = self.args[0].bl_rna.properties.get(self.args[1])
            return str(prop.name) if prop is not None else self.args[1]
        if self.name == "operator":
            category, _, op = self.args[0].partition(".")
            return str(getattr(getattr(bpy.ops, category), op).get_rna_type().name)
        if self.name == "template_list":
            return "[list]"
        return ""

    def render(self) -> str:
        text = self.text
        if self.name == "prop":
            prop = self.args[0].bl_rna.properties[self.args[1]]
            value = getattr(self.args[0], self.args[1])
            if prop.type == "ENUM" and isinstance(value, str):
                value = next((i.name for i in prop.enum_items if i.identifier == value), value)
            elif prop.type == "POINTER":
                value = getattr(value, "name", "") if value is not None else "-"
            elif prop.type == "FLOAT" and isinstance(value, float):
                value = f"{value:.3g}"
            elif prop.type == "BOOLEAN":
                return f"[{'x' if value else ' '}] {text}".rstrip()
            shown = f"{text}: {value}" if text else str(value)
            return f"<{shown}>"
        if self.name in ("operator", "menu", "popover", "operator_menu_enum"):
            return f"[{text}]" if text else "[icon]"
        if self.name == "progress":
            return f"[{text} ====]"
        if self.name in ("template_icon", "template_icon_view"):
            return "(preview)"
        return text


@dataclass
class Sheet:
    lines: list[str] = field(default_factory=list)
    widgets: list[Widget] = field(default_factory=list)
    panels: list[str] = field(default_factory=list)
    """The idnames of the panels shown (open or closed), in order."""

    @property
    def controls(self) -> list[Widget]:
        return [w for w in self.widgets if w.name in CONTROLS]

    def text(self) -> str:
        return "\n".join(self.lines)

    def greyed_explanations(self) -> list[tuple[str, int]]:
        """(greyed control, lines of text right after it that are not controls)."""
        found = []
        for index, widget in enumerate(self.widgets):
            if widget.name not in CONTROLS or not widget.disabled:
                continue
            lines: set[int] = set()
            for after in self.widgets[index + 1 :]:
                if after.name in CONTROLS:
                    break
                if after.name == "label" and after.text:
                    lines.add(after.line)
            found.append((widget.text, len(lines)))
        return found


class _Line:
    """Allocates display lines: each widget in a column starts a line, widgets in a row share."""

    def __init__(self) -> None:
        self.count = 0


class Forwarding:
    """Forwards every call to a real UILayout (Blender checks the arguments), checks that the
    property or operator it names exists, and hands each call to `_record`; a sub-layout comes
    back wrapped by `_child`. The enabled, active and alert flags set on it or a parent are
    read with `_flag`."""

    def __init__(self, real: Any, parent: Forwarding | None = None) -> None:
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_parent", parent)
        object.__setattr__(self, "_state", {})

    def _flag(self, name: str, value: bool) -> bool:
        if self._state.get(name) is value:
            return True
        return self._parent._flag(name, value) if self._parent is not None else False

    def _record(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        raise NotImplementedError

    def _child(self, real: Any, name: str) -> Forwarding:
        raise NotImplementedError

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._real, name, value)
        self._state[name] = value

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._real, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            if name == "prop":
                assert args[1] in args[0].bl_rna.properties, f"no property {args[1]!r}"
            if name == "operator":
                category, _, op = args[0].partition(".")
                getattr(getattr(bpy.ops, category), op).get_rna_type()  # KeyError if unknown
            result = value(*args, **kwargs)
            self._record(name, args, kwargs)
            if isinstance(result, bpy.types.UILayout):
                return self._child(result, name)
            return result

        return call


class Recorder(Forwarding):
    """Records the widgets with the display line each lands on."""

    def __init__(
        self,
        real: Any,
        sheet: Sheet,
        counter: _Line,
        parent: Recorder | None = None,
        horizontal: bool = False,
    ) -> None:
        super().__init__(real, parent)
        object.__setattr__(self, "_sheet", sheet)
        object.__setattr__(self, "_counter", counter)
        object.__setattr__(self, "_horizontal", horizontal)
        object.__setattr__(self, "_row_line", None)

    def _line(self) -> int:
        """The display line of the next widget placed in this container."""
        if self._horizontal:
            if self._row_line is None:
                parent = self._parent
                parent_line = parent._line() if isinstance(parent, Recorder) else None
                object.__setattr__(self, "_row_line", parent_line if parent_line is not None else 0)
            return int(self._row_line)
        self._counter.count += 1
        return self._counter.count

    def _record(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if name in WIDGETS:
            self._sheet.widgets.append(
                Widget(
                    name,
                    args,
                    kwargs,
                    self._line(),
                    self._flag("enabled", False) or self._flag("active", False),
                    self._flag("alert", True),
                )
            )

    def _child(self, real: Any, name: str) -> Recorder:
        horizontal = name in ("row", "split", "grid_flow") or (name == "column_flow")
        return Recorder(real, self._sheet, self._counter, self, horizontal)


def sidebar_panels(addon: Any) -> list[type]:
    """The add-on's 3D Viewport sidebar panels, parents before children, in sidebar order."""
    panels = [
        cls
        for cls in addon.all_classes()
        if issubclass(cls, bpy.types.Panel)
        and getattr(cls, "bl_space_type", "") == "VIEW_3D"
        and getattr(cls, "bl_region_type", "") == "UI"
    ]
    by_parent: dict[str, list[type]] = {}
    for cls in panels:
        by_parent.setdefault(getattr(cls, "bl_parent_id", ""), []).append(cls)
    ordered: list[type] = []

    def walk(parent: str) -> None:
        children = sorted(by_parent.get(parent, ()), key=lambda c: getattr(c, "bl_order", 0))
        for cls in children:
            ordered.append(cls)
            walk(cls.bl_idname)

    walk("")
    return ordered


def sidebar(addon: Any, popup: Any, opened: tuple[str, ...] = ()) -> Sheet:
    """The sidebar as drawn now. Sub-panels closed by default stay closed unless `opened`."""
    sheet = Sheet()
    closed: set[str] = set()
    for cls in sidebar_panels(addon):
        parent = getattr(cls, "bl_parent_id", "")
        if parent in closed or parent and parent not in sheet.panels:
            if parent in closed:
                closed.add(cls.bl_idname)
            continue
        poll = getattr(cls, "poll", None)
        if poll is not None and not poll(bpy.context):
            continue
        sheet.panels.append(cls.bl_idname)
        options = getattr(cls, "bl_options", set())
        is_closed = "DEFAULT_CLOSED" in options and cls.bl_idname not in opened
        depth = _depth(cls)
        indent = "  " * depth
        if "HIDE_HEADER" not in options:
            header = f"{'▸' if is_closed else '▾'} {cls.bl_label}"
            extra = _header_extra(cls, sheet, popup)
            sheet.lines.append(indent + header + (f"  {extra}" if extra else ""))
        if is_closed:
            closed.add(cls.bl_idname)
            continue
        start = len(sheet.widgets)
        counter = _Line()
        layout = Recorder(popup.layout.column(), sheet, counter)
        cls.draw(SimpleNamespace(layout=layout), bpy.context)
        drawn = sheet.widgets[start:]
        lines: dict[int, list[str]] = {}
        for widget in drawn:
            rendered = widget.render()
            if rendered:
                lines.setdefault(widget.line, []).append(rendered)
        for key in sorted(lines):
            sheet.lines.append(indent + "  " + "  ".join(lines[key]))
    return sheet


def _depth(cls: type) -> int:
    depth = 0
    parent = getattr(cls, "bl_parent_id", "")
    while parent:
        depth += 1
        parent = getattr(getattr(bpy.types, parent), "bl_parent_id", "")
    return depth


def _header_extra(cls: type, sheet: Sheet, popup: Any) -> str:
    draw = getattr(cls, "draw_header_preset", None)
    if draw is None:
        return ""
    start = len(sheet.widgets)
    draw(SimpleNamespace(layout=Recorder(popup.layout.row(), sheet, _Line())), bpy.context)
    return " ".join(w.render() for w in sheet.widgets[start:])
