"""The YVO3D sidebar as an artist sees it, in six states, drawn in real Blender through a
recording layout (tests/blender/panel_text.py); and Blender's UI conventions checked over every
property and operator the add-on registers.

docs/panel.md is written from these drawings: when it differs from what the panels draw, the
test rewrites it and fails, so the committed file cannot drift from the code.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bpy
import pytest

from tests.blender import panel_text
from tests.blender.conftest import REPO_ROOT
from tests.blender.test_generate import (
    add_images,
    mod,
    prefs,
    server_fixture,  # noqa: F401 - the `server` fixture, used by `yvo`
    settings,
    wait_for,
    yvo_fixture,  # noqa: F401 - the `yvo` fixture
)
from tests.blender.test_operators import job, start_job
from tests.blender.test_placeholders import cube, select_only
from tests.media import png_bytes

DOC = REPO_ROOT / "docs" / "panel.md"
MAX_DEFAULT_CONTROLS = 12
SIDEBAR_ORDER = [
    "YVO3D_PT_main",
    "YVO3D_PT_capture",
    "YVO3D_PT_geometry",
    "YVO3D_PT_texture_options",
    "YVO3D_PT_prime",
    "YVO3D_PT_placement",
    "YVO3D_PT_generate",
    "YVO3D_PT_placeholder",
    "YVO3D_PT_result",
    "YVO3D_PT_jobs",
    "YVO3D_PT_import_options",
    "YVO3D_PT_library",
]
OPTION_PANELS = ("YVO3D_PT_geometry", "YVO3D_PT_texture_options", "YVO3D_PT_prime")
BRITISH = re.compile(
    r"\b(colours?|centre[sd]?|behaviour|grey|normalis\w*|initialis\w*|organis\w*|"
    r"optimis\w*|recognis\w*|licence)\b",
    re.IGNORECASE,
)
SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "per"}
SMALL_WORDS |= {"the", "to", "with", "into", "s", "min", "x"}
DATA_OPERATORS = {"yvo3d.set_active_image", "yvo3d.select_job", "yvo3d.copy_job_id"}
"""Buttons whose text is data (a file, a job's name or id), not a label."""


@pytest.fixture(scope="module", name="popup")
def popup_fixture() -> Any:
    # Never ended (ending it would show it, and crashes without a display), as in test_panels.
    return bpy.context.window_manager.popmenu_begin__internal("YVO3D layout", icon="NONE")


def subject_png(folder: Path, name: str, size: int = 512, tint: int = 0) -> str:
    """A well framed reference: an opaque subject in the middle, transparent around it."""
    low, high = size // 5, size - size // 5

    def pixel(x: int, y: int) -> tuple[int, int, int, int]:
        inside = low <= x < high and low <= y < high
        return ((x + tint) % 256, y % 256, 120, 255) if inside else (0, 0, 0, 0)

    path = folder / name
    path.write_bytes(png_bytes(size, size, channels=4, pixel=pixel))
    return str(path)


def sheet(addon: Any, popup: Any, *opened: str) -> panel_text.Sheet:
    return panel_text.sidebar(addon, popup, opened)


def priced() -> None:
    runtime = mod("runtime")
    runtime.request_price(bpy.context)
    wait_for(lambda: runtime.quote().state not in ("pending", "idle"))


# -- the states --------------------------------------------------------------------------------


def fresh_install(yvo: SimpleNamespace, online: Any) -> None:
    prefs().api_key = prefs().api_secret = ""
    online(False)


def one_image(yvo: SimpleNamespace) -> None:
    add_images([subject_png(yvo.images, "kettle.png")])
    priced()


def three_images(yvo: SimpleNamespace) -> None:
    add_images([subject_png(yvo.images, f"view{i}.png", tint=40 * i) for i in range(3)])
    priced()


def placeholder_selected(yvo: SimpleNamespace) -> None:
    block = cube("Block", location=(0.0, 0.0, 1.0))
    select_only(block)
    add_images([subject_png(yvo.images, "chair.png")])
    s = settings()
    s.name, s.placement, s.takes = "Chair", "PLACEHOLDER", 2
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    select_only(block)


def job_running(yvo: SimpleNamespace) -> None:
    add_images([subject_png(yvo.images, "lamp.png")])
    yvo.server.script_job(outcome="never")
    record = start_job(yvo, "Lamp", png=subject_png(yvo.images, "lamp-job.png"))
    wait_for(lambda: job(record.id).stage == "running")
    priced()  # the drawing must not depend on whether the price came back yet


def job_failed(yvo: SimpleNamespace) -> None:
    yvo.server.script_job(
        outcome="failure", error="The photo is too dark.", hint="Use a brighter photo."
    )
    add_images([subject_png(yvo.images, "dark.png")])
    settings().name = "Dark"
    with pytest.raises(RuntimeError, match="too dark"):
        bpy.ops.yvo3d.generate()
    priced()


STATES = {
    "Fresh install (no key, online access off)": fresh_install,
    "Key and one image (the default)": one_image,
    "Three images (multi-view)": three_images,
    "A placeholder selected (two takes)": placeholder_selected,
    "A job running": job_running,
    "A job failed": job_failed,
}


def _set_up(name: str, yvo: SimpleNamespace, online: Any) -> None:
    runtime = mod("session.runtime")
    runtime.connection = type(runtime.connection)()  # no Test Connection result of another test
    step = STATES[name]
    if step is fresh_install:
        step(yvo, online)
    else:
        step(yvo)


_drawn: dict[str, tuple[panel_text.Sheet, panel_text.Sheet]] = {}
"""State -> (the sidebar as it opens, the same with the option sub-panels opened)."""


@pytest.mark.parametrize("state", list(STATES))
def test_sidebar_state(
    state: str, yvo: SimpleNamespace, addon: Any, popup: Any, online: Any
) -> None:
    _set_up(state, yvo, online)
    closed = sheet(addon, popup)
    opened = sheet(addon, popup, *OPTION_PANELS, "YVO3D_PT_placement")
    _drawn[state] = (closed, opened)

    shown = [p for p in SIDEBAR_ORDER if p in closed.panels]
    assert closed.panels == shown, "the panels are not in the expected order"
    for widget, lines in opened.greyed_explanations():
        assert lines <= 1, f"{widget} (greyed) is explained in {lines} lines"
    labels = [w.text for w in opened.controls if w.name == "operator"]
    assert labels, "no buttons drawn"

    if state.startswith("Fresh"):
        ops = [w.args[0] for w in closed.controls if w.name == "operator"]
        assert "extensions.userpref_allow_online" in ops
        keys = [w for w in closed.controls if w.args[0] == "wm.url_open"]
        assert keys and "settings/api" in mod("settings.preferences").KEYS_URL
    if state.startswith("Key and one image"):
        assert len(closed.controls) <= MAX_DEFAULT_CONTROLS, closed.text()
        assert "Price:" in closed.text()
        assert "framing looks good" in closed.text()
    if state.startswith("Three"):
        assert "Multi-view: shape only, no texture" in closed.text()
        assert "Texture Resolution" not in closed.text()
    if state.startswith("A placeholder"):
        order = closed.panels
        assert order.index("YVO3D_PT_placeholder") == order.index("YVO3D_PT_generate") + 1
        assert "Take 1 of 2" in closed.text() or "Take 2 of 2" in closed.text()
    if state == "A job running":
        assert [w for w in closed.widgets if w.name == "progress"]
        assert [w for w in closed.controls if w.args and w.args[0] == "yvo3d.cancel_job"]
    if state == "A job failed":
        text = closed.text()
        assert "The photo is too dark." in text and "Use a brighter photo." in text
        assert mod("ui.jobs_panel").ACTIONS["job_failed"] in text  # what to do, own line
        ids = [w for w in closed.controls if w.args and w.args[0] == "yvo3d.copy_job_id"]
        assert ids and ids[0].text.startswith("job")
        assert [w for w in closed.controls if w.args and w.args[0] == "yvo3d.open_in_scenario"]


def _stable(text: str) -> str:
    """The drawing without what changes from run to run (times, ids, progress, temp paths)."""
    text = re.sub(r"job_[A-Za-z0-9_-]+", "job_…", text)
    text = re.sub(r"\b\d+ (min \d+ )?s\b", "3 s", text)
    text = re.sub(r"\b\d+%", "40%", text)
    text = re.sub(r"Take \d of", "Take 1 of", text)  # the takes finish in any order
    text = re.sub(r"\[kettle-job[^\]]*\]", "[…]", text)
    return re.sub(r"/tmp/\S+/", "", text)


def test_docs_panel_md_matches_the_panels(
    yvo: SimpleNamespace, addon: Any, popup: Any, online: Any
) -> None:
    if len(_drawn) < len(STATES):
        for state in STATES:  # run alone: draw every state here
            if state not in _drawn:
                bpy.ops.wm.read_homefile(use_empty=True)
                mod("runtime").shutdown()
                _set_up(state, yvo, online)
                _drawn[state] = (sheet(addon, popup), sheet(addon, popup, *OPTION_PANELS))
    parts = [
        "# The YVO3D sidebar, as text\n",
        "Generated by `tests/blender/test_panel_layout.py` from the panels drawn in real Blender"
        " (a recording layout): do not edit by hand. `<Name: value>` is a field, `[x]` a"
        " checkbox, `[Text]` a button, `[icon]` an icon button, `▸` a closed sub-panel.\n",
    ]
    for state, (closed, _) in _drawn.items():
        parts.append(
            f"## {state}\n\n{len(closed.controls)} controls, {len(closed.lines)} lines.\n\n"
            f"```\n{_stable(closed.text())}\n```\n"
        )
    _, opened = _drawn["Key and one image (the default)"]
    parts.append(
        f"## Key and one image, option sub-panels opened\n\n```\n{_stable(opened.text())}\n```\n"
    )
    text = "\n".join(parts)
    old = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    if old != text:
        DOC.write_text(text, encoding="utf-8")
        pytest.fail("docs/panel.md was out of date: it has been rewritten, review and commit it")


# -- conventions over everything registered ------------------------------------------------------


def title_case(text: str) -> bool:
    """Every word capitalised but the small ones; a unit in brackets ("(40 credits)") and a
    file extension (".blend") are not words of the label."""
    text = re.sub(r"\([^)]*\)|\.\w+|\b\d+ ?px\b", "", text)
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", text)
    for index, word in enumerate(words):
        if index and word in SMALL_WORDS:
            continue
        if not word[0].isupper():
            return False
    return True


def tooltip_ok(text: str) -> bool:
    return bool(text) and not text.rstrip().endswith(".") and text[0].isupper()


def _properties(rna: Any) -> list[Any]:
    return [p for p in rna.properties if p.identifier not in ("rna_type", "bl_idname")]


def test_labels_and_tooltips_follow_blenders_conventions(addon: Any) -> None:
    problems = []
    structs = []
    for cls in addon.all_classes():
        rna = cls.bl_rna
        kind = cls.__name__
        if issubclass(cls, bpy.types.Operator):
            category, _, name = cls.bl_idname.partition(".")
            rna = getattr(getattr(bpy.ops, category), name).get_rna_type()
            if not title_case(rna.name):
                problems.append(f"{kind}: label {rna.name!r} is not Title Case")
            if not tooltip_ok(rna.description):
                problems.append(f"{kind}: tooltip {rna.description!r}")
            structs.append((kind, rna))
        elif issubclass(cls, bpy.types.PropertyGroup | bpy.types.AddonPreferences):
            structs.append((kind, rna))
        elif issubclass(cls, bpy.types.Panel | bpy.types.Menu):
            if not title_case(cls.bl_label):
                problems.append(f"{kind}: label {cls.bl_label!r} is not Title Case")
    for kind, rna in structs:
        for prop in _properties(rna):
            if getattr(prop, "is_hidden", False):
                continue
            where = f"{kind}.{prop.identifier}"
            if not prop.name or not title_case(prop.name):
                problems.append(f"{where}: label {prop.name!r} is not Title Case")
            if re.fullmatch(r"[a-z]+[A-Z]\w*", prop.name or ""):
                problems.append(f"{where}: label {prop.name!r} is a raw API name")
            if prop.description and not tooltip_ok(prop.description):
                problems.append(f"{where}: tooltip {prop.description!r}")
            for text in (prop.name, prop.description):
                if text and BRITISH.search(text):
                    problems.append(f"{where}: British spelling in {text!r}")
            if prop.type == "FLOAT" and re.search("angle|rotation", prop.identifier):
                if prop.subtype != "ANGLE":
                    problems.append(f"{where}: an angle without the ANGLE subtype")
            if prop.type == "ENUM":
                for item in prop.enum_items:
                    if not title_case(item.name):
                        problems.append(f"{where}: choice {item.name!r} is not Title Case")
                    if item.description and BRITISH.search(item.description):
                        problems.append(f"{where}: British spelling in {item.description!r}")
    assert not problems, "\n".join(problems)


def test_drawn_buttons_are_title_case(
    yvo: SimpleNamespace, addon: Any, popup: Any, online: Any
) -> None:
    job_failed(yvo)
    drawn = sheet(addon, popup, *OPTION_PANELS, "YVO3D_PT_capture", "YVO3D_PT_placement")
    bad = [
        w.text
        for w in drawn.controls
        if w.name == "operator" and w.text and w.args[0] not in DATA_OPERATORS
        if not title_case(w.text)
    ]
    assert not bad, bad
    british = [w.text for w in drawn.widgets if BRITISH.search(w.text)]
    assert not british, british


def test_after_an_import_in_solid_view_one_click_shows_textures(
    yvo: SimpleNamespace, addon: Any, popup: Any
) -> None:
    add_images([subject_png(yvo.images, "vase.png")])
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}  # imported, and selected
    area = next(a for a in bpy.context.screen.areas if a.type == "VIEW_3D")
    area.spaces.active.shading.type = "SOLID"
    with bpy.context.temp_override(area=area):
        drawn = sheet(addon, popup)
        assert "YVO3D_PT_result" in drawn.panels
        assert [w for w in drawn.controls if w.args and w.args[0] == "yvo3d.show_textures"]
        assert bpy.ops.yvo3d.show_textures() == {"FINISHED"}
        again = sheet(addon, popup)
    assert area.spaces.active.shading.type == "MATERIAL"
    assert not [w for w in again.controls if w.args and w.args[0] == "yvo3d.show_textures"]
