"""The sidebar panels drawn in real Blender, in every state a user meets.

Each draw() gets a recording proxy around a real UILayout (from a popup menu that is never
shown): Blender itself checks every call's arguments (icons, keywords, enum values), and the
proxy keeps what was drawn, whether its row was disabled or alerted, so the test can read it.
"""

from __future__ import annotations

import builtins
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import bpy
import pytest

from tests.blender.panel_text import Forwarding
from tests.blender.test_generate import (
    add_images,
    mod,
    prefs,
    server_fixture,  # noqa: F401 - the `server` fixture, used by `yvo`
    settings,
    wait_for,
    write_png,
    yvo_fixture,  # noqa: F401 - the `yvo` fixture
)
from tests.blender.test_operators import job, start_job

PANELS = (
    "YVO3D_PT_main",
    "YVO3D_PT_geometry",
    "YVO3D_PT_texture_options",
    "YVO3D_PT_prime",
    "YVO3D_PT_placement",
    "YVO3D_PT_generate",
    "YVO3D_PT_jobs",
)


@dataclass
class Call:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    disabled: bool
    alert: bool

    @property
    def text(self) -> str:
        return str(self.kwargs.get("text", ""))


class Recorder(Forwarding):
    """Records every call with its row's state (disabled, alert)."""

    def __init__(self, real: Any, log: list[Call], parent: Recorder | None = None) -> None:
        super().__init__(real, parent)
        object.__setattr__(self, "_log", log)

    def _record(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._log.append(
            Call(name, args, kwargs, self._flag("enabled", False), self._flag("alert", True))
        )

    def _child(self, real: Any, name: str) -> Recorder:
        return Recorder(real, self._log, self)


@pytest.fixture(scope="module")
def popup() -> Any:
    # Ending this popup would try to show it (and crashes without a display): it stays open,
    # and each draw gets a fresh column inside it.
    return bpy.context.window_manager.popmenu_begin__internal("YVO3D panel test", icon="NONE")


@contextlib.contextmanager
def no_file_access(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Python-level file access raises while draw() runs."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("draw() touched the file system")

    with monkeypatch.context() as patch:
        for owner, name in (
            (builtins, "open"),
            (os, "stat"),
            (os, "listdir"),
            (os, "scandir"),
            (os.path, "isfile"),
            (os.path, "exists"),
            (os.path, "getsize"),
        ):
            patch.setattr(owner, name, refuse)
        yield


class Drawn:
    def __init__(self, calls: list[Call]) -> None:
        self.calls = calls

    def text(self) -> str:
        return " ".join(c.text for c in self.calls if c.text)

    def labels(self, alert: bool | None = None) -> list[str]:
        return [
            c.text for c in self.calls if c.name == "label" and (alert is None or c.alert == alert)
        ]

    def props(self) -> dict[str, Call]:
        return {c.args[1]: c for c in self.calls if c.name == "prop"}

    def operators(self, idname: str) -> list[Call]:
        return [c for c in self.calls if c.name == "operator" and c.args[0] == idname]


def draw(popup: Any, monkeypatch: pytest.MonkeyPatch, *names: str) -> Drawn:
    calls: list[Call] = []
    server = getattr(draw, "server", None)
    before = server.counts() if server is not None else None
    with no_file_access(monkeypatch):
        for name in names or PANELS:
            panel = getattr(bpy.types, name)
            layout = Recorder(popup.layout.column(), calls)
            panel.draw(SimpleNamespace(layout=layout), bpy.context)
            if hasattr(panel, "draw_header_preset"):
                panel.draw_header_preset(SimpleNamespace(layout=layout), bpy.context)
    if server is not None:
        assert server.counts() == before, "draw() sent a request"
    return Drawn(calls)


@pytest.fixture
def ui(yvo: SimpleNamespace, popup: Any) -> Iterator[SimpleNamespace]:
    draw.server = yvo.server  # type: ignore[attr-defined]
    try:
        yield yvo
    finally:
        draw.server = None  # type: ignore[attr-defined]


def test_every_panel_draws_on_an_empty_scene(addon: Any, popup: Any, monkeypatch: Any) -> None:
    drawn = draw(popup, monkeypatch)
    assert drawn.operators("yvo3d.add_images")
    assert drawn.operators("yvo3d.generate")
    assert "No jobs yet" in drawn.labels()


def test_no_credentials(ui: SimpleNamespace, popup: Any, monkeypatch: Any) -> None:
    prefs().api_key = ""
    add_images([write_png(ui.images, "a.png")])
    drawn = draw(popup, monkeypatch, "YVO3D_PT_main", "YVO3D_PT_generate")
    hint = mod("runtime").CREDENTIALS_HINT
    assert hint in drawn.text()
    assert any(c.alert for c in drawn.calls if c.name == "label" and hint.startswith(c.text))
    assert drawn.operators("preferences.addon_show")
    assert not bpy.ops.yvo3d.generate.poll()


def test_online_access_off(ui: SimpleNamespace, popup: Any, monkeypatch: Any, online: Any) -> None:
    add_images([write_png(ui.images, "a.png")])
    online(False)
    main = draw(popup, monkeypatch, "YVO3D_PT_main")
    assert "Blender's online access is off" in main.text()
    assert main.operators("extensions.userpref_allow_online")  # Blender's own, one click
    generate = draw(popup, monkeypatch, "YVO3D_PT_generate")
    assert "Online access is off" in generate.text()
    assert any(c.alert for c in generate.calls if c.name == "label")


def test_one_image(ui: SimpleNamespace, popup: Any, monkeypatch: Any) -> None:
    add_images([write_png(ui.images, "a.png")])
    drawn = draw(popup, monkeypatch)
    assert [c.text for c in drawn.operators("yvo3d.set_active_image")] == ["a.png"]
    assert "Multi-view" not in drawn.text()
    props = drawn.props()
    assert not props["texture"].disabled and not props["textureResolution"].disabled
    assert props["polycount"].disabled and props["lowpoly"].disabled
    assert "Shape only: Texture off or 2-4 views" in drawn.labels()
    assert props["highdetails"].disabled
    assert "Ultima Prime generator only" in drawn.labels()
    assert not props["roughness"].disabled  # texture options apply to a textured image


def test_three_images(ui: SimpleNamespace, popup: Any, monkeypatch: Any) -> None:
    add_images([write_png(ui.images, f"v{i}.png", tint=i * 30) for i in range(3)])
    drawn = draw(popup, monkeypatch)
    labels = drawn.labels()
    assert [f"View {i + 1}: v{i}.png" for i in range(3)] == [
        c.text for c in drawn.operators("yvo3d.set_active_image")
    ]
    assert "Multi-view: shape only, no texture" in labels
    props = drawn.props()
    assert "texture" not in props and "textureResolution" not in props  # hidden, not greyed
    assert props["roughness"].disabled
    assert not props["polycount"].disabled and not props["creativity"].disabled
    assert "Single image only" in labels
    assert len(drawn.operators("yvo3d.remove_image")) == 3
    assert bpy.ops.yvo3d.generate.poll()


def test_conflicting_options_are_an_error_line(
    ui: SimpleNamespace, popup: Any, monkeypatch: Any
) -> None:
    add_images([write_png(ui.images, "a.png")])
    s = settings()
    s.texture = False
    s.modelGenerator = "ULTIMA_PRIME"
    s.highdetails = True
    s.lowpoly = True
    drawn = draw(popup, monkeypatch, "YVO3D_PT_geometry", "YVO3D_PT_prime", "YVO3D_PT_generate")
    errors = " ".join(drawn.labels(alert=True))  # a long message is wrapped over labels
    assert "High Details and Low Poly cannot be used together" in errors
    assert not bpy.ops.yvo3d.generate.poll()


def test_price_and_generate_button(ui: SimpleNamespace, popup: Any, monkeypatch: Any) -> None:
    add_images([write_png(ui.images, "a.png")])  # asks for the price (debounced, off-thread)
    runtime = mod("runtime")
    assert runtime.quote().state == "pending"
    assert "Pricing…" in draw(popup, monkeypatch, "YVO3D_PT_generate").labels()
    wait_for(lambda: runtime.quote().state != "pending")
    quote = runtime.quote()
    assert quote.state == "ok", quote
    drawn = draw(popup, monkeypatch, "YVO3D_PT_generate")
    assert f"Price: {quote.cost:g} credits" in drawn.labels()
    assert [c.text for c in drawn.operators("yvo3d.generate")] == [
        f"Generate ({quote.cost:g} credits)"
    ]
    assert ui.server.paid_requests == 0 and ui.server.count("estimate") == 1


def test_running_job(ui: SimpleNamespace, popup: Any, monkeypatch: Any) -> None:
    ui.server.script_job(outcome="never")
    record = start_job(ui, "Kettle")
    wait_for(lambda: job(record.id).stage == "running")
    drawn = draw(popup, monkeypatch, "YVO3D_PT_jobs")
    assert [c.text for c in drawn.operators("yvo3d.select_job")] == ["Kettle"]
    bars = [c for c in drawn.calls if c.name == "progress"]
    assert len(bars) == 1 and 0.0 <= bars[0].kwargs["factor"] <= 1.0
    assert bars[0].text.startswith("Generating")
    cancels = drawn.operators("yvo3d.cancel_job")
    # paid: Scenario cannot cancel it, so the button offers what it can do (issue 10)
    assert len(cancels) == 1 and cancels[0].text == "Don't Import"
    assert not drawn.operators("yvo3d.dismiss_job")  # a running job cannot be dismissed
    assert mod("runtime").existing_manager().cancel(record.id)


def test_failed_job(ui: SimpleNamespace, popup: Any, monkeypatch: Any) -> None:
    ui.server.script_job(
        outcome="failure", error="The photo is too dark.", hint="Use a brighter photo."
    )
    add_images([write_png(ui.images, "dark.png")])
    settings().name = "Dark"
    with pytest.raises(RuntimeError, match="too dark"):
        bpy.ops.yvo3d.generate()
    drawn = draw(popup, monkeypatch, "YVO3D_PT_jobs")
    text = drawn.text()
    assert "Dark" in drawn.text() and "Failed" in drawn.labels()
    ids = drawn.operators("yvo3d.copy_job_id")
    assert len(ids) == 1 and ids[0].text.startswith("job")  # the job id, copyable
    assert drawn.operators("yvo3d.open_in_scenario")
    assert "The photo is too dark." in text and "Use a brighter photo." in text
    assert "The photo is too dark." in " ".join(drawn.labels(alert=True))
    assert drawn.operators("yvo3d.dismiss_job") and not drawn.operators("yvo3d.cancel_job")


def test_a_job_with_no_glb_yet_offers_resume(
    ui: SimpleNamespace, popup: Any, monkeypatch: Any
) -> None:
    """A paid job whose assets hold no GLB (Scenario may list a model late: assets can be
    `pending` after success, scenario_sdk types/asset_retrieve_response.py) is never a dead
    end: it stalls with a clear message and the panel offers Resume, like `jobs follow`."""
    ui.server.script_job(assets=("png", "obj", "fbx"))
    record = start_job(ui, "Vase")
    wait_for(lambda: job(record.id).stage == "stalled", timeout=30)
    drawn = draw(popup, monkeypatch, "YVO3D_PT_jobs")
    assert "no GLB model" in drawn.text() and "Resume" in drawn.text()
    assert drawn.operators("yvo3d.resume_job")
    assert ui.server.paid_requests == 1


def test_library_match_offers_free_import(
    ui: SimpleNamespace, popup: Any, monkeypatch: Any
) -> None:
    add_images([write_png(ui.images, "a.png")])
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    with pytest.raises(RuntimeError, match="identical model"):
        bpy.ops.yvo3d.generate()
    drawn = draw(popup, monkeypatch, "YVO3D_PT_generate", "YVO3D_PT_jobs")
    imports = [c for c in drawn.operators("yvo3d.import_job") if "Library" in c.text]
    assert [c.text for c in imports] == ["Import from Library (free)"]
    assert [c.text for c in drawn.operators("yvo3d.generate")][-1] == "Generate Anyway"
    assert any(c.text.startswith("Re-import") for c in drawn.operators("yvo3d.import_job"))
