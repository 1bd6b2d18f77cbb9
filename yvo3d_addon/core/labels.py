"""Parameters as an artist reads them: "Texture Resolution: 2K", not "textureResolution: 2K".

Works on either form a job keeps: the request body (API values: "ON"/"OFF", enum values) or
the UI settings (bools, enum values). Keys the table does not know are shown as they are.
"""

from __future__ import annotations

from collections.abc import Mapping

from .params import ParamTable


def shown_value(table: ParamTable, name: str, value: object) -> str:
    """One value as the panel would show it."""
    param = table.params.get(name)
    if param is None:
        return str(value)
    if param.kind in ("bool", "onoff"):
        on = value is True or (isinstance(value, str) and value.upper() in ("ON", "TRUE"))
        return "On" if on else "Off"
    if param.kind == "enum":
        choice = param.choice(str(value))
        return choice.label if choice is not None else str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe(table: ParamTable, values: Mapping[str, object]) -> list[str]:
    """ "Label: value" for each parameter, in the table's order, unknown keys last."""
    known = [name for name in table.params if name in values]
    unknown = sorted(name for name in values if name not in table.params)
    lines = []
    for name in known + unknown:
        param = table.params.get(name)
        label = param.label if param is not None else name
        lines.append(f"{label}: {shown_value(table, name, values[name])}")
    return lines
