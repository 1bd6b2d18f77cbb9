"""Running jobs in the status bar, the button that opens the Jobs panel, and the report for a
model that lands long after it was started."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import bpy
import pytest

from tests.blender.test_generate import (
    mod,
    server_fixture,  # noqa: F401 - the `server` fixture, used by `yvo`
    wait_for,
    yvo_fixture,  # noqa: F401 - the `yvo` fixture
)
from tests.blender.test_operators import job, start_job
from tests.blender.test_panels import Recorder, no_file_access, popup  # noqa: F401


def draw_status(popup: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:  # noqa: F811
    calls: list[Any] = []
    layout = Recorder(popup.layout.column(), calls)
    with no_file_access(monkeypatch):
        mod("statusbar").draw_status(SimpleNamespace(layout=layout), bpy.context)
    return calls


def test_status_bar_shows_running_jobs_and_nothing_when_idle(
    yvo: SimpleNamespace,
    popup: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    statusbar = mod("statusbar")
    assert statusbar.draw_status in bpy.types.STATUSBAR_HT_header._dyn_ui_initialize()
    assert draw_status(popup, monkeypatch) == []  # nothing runs: nothing drawn
    # jobs that end by themselves: Scenario cannot cancel a paid YVO3D job (400 "Cannot cancel
    # this type of job", scenario_sdk resources/jobs.py), so Cancel no longer ends them
    yvo.server.script_job(seconds=4.0)
    first = start_job(yvo, "Kettle")
    wait_for(lambda: job(first.id).stage == "running")
    calls = draw_status(popup, monkeypatch)
    bars = [c for c in calls if c.name == "progress"]
    assert len(bars) == 1 and bars[0].text.startswith("YVO3D Kettle: Generating")
    assert 0.0 < bars[0].kwargs["factor"] <= 1.0
    assert [c.args[0] for c in calls if c.name == "operator"] == ["yvo3d.show_jobs"]
    yvo.server.script_job(seconds=4.0)
    second = start_job(yvo, "Lamp")
    wait_for(lambda: job(second.id).stage == "running")
    bars = [c for c in draw_status(popup, monkeypatch) if c.name == "progress"]
    assert bars[0].text.startswith("YVO3D: 2 jobs")
    manager = mod("runtime").existing_manager()
    wait_for(lambda: not manager.running(), timeout=30)
    assert draw_status(popup, monkeypatch) == []


def test_show_jobs_opens_the_sidebar_of_every_3d_viewport(addon: Any) -> None:
    spaces = [
        area.spaces.active
        for window in bpy.context.window_manager.windows
        for area in window.screen.areas
        if area.type == "VIEW_3D"
    ]
    assert spaces, "the home file has a 3D Viewport"
    for space in spaces:
        space.show_region_ui = False
    assert bpy.ops.yvo3d.show_jobs() == {"FINISHED"}
    assert all(space.show_region_ui for space in spaces)


@pytest.mark.parametrize(
    "age, words",
    [
        (5, "Chair: imported"),
        (300, "Chair is ready and imported (started 5 min ago)"),
        (3 * 3600, "(started 3.0 h ago)"),
    ],
)
def test_a_model_that_lands_long_after_it_started_is_announced(
    addon: Any, age: float, words: str
) -> None:
    assert words in mod("statusbar").landed_text("Chair", 1000.0, now=1000.0 + age)


def test_a_tick_asks_for_a_redraw_only_when_what_is_shown_changed(
    yvo: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The follower ticks 10 times a second; redrawing the sidebar and the status bar at every
    tick costs a frame's work per tick however little changed. A stage change redraws at once;
    ticks with nothing new ask for nothing."""
    follow = mod("ops.follow")
    redraws: list[int] = []
    monkeypatch.setattr(follow, "_redraw", lambda context: redraws.append(1))
    # A job that ends by itself (Scenario cannot cancel a paid job: issue 10).
    yvo.server.script_job(outcome="failure", error="The photo shows no object")
    first = start_job(yvo, "Kettle")
    manager = mod("runtime").existing_manager()
    wait_for(lambda: job(first.id).stage == "failed" and not manager.running())
    follow.tick(bpy.context)  # the stage changes so far: one redraw
    assert len(redraws) == 1
    for _ in range(5):
        follow.tick(bpy.context)  # nothing new: nothing asked
    assert len(redraws) == 1
    manager.forget(first.id)  # gone from the Jobs panel: shown, so redrawn ...
    time.sleep(follow.REDRAW_EVERY)  # ... no event came with it: at the paced rate
    follow.tick(bpy.context)
    assert len(redraws) == 2
