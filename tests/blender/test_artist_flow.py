"""Out of the artist's way (issue 12), in real Blender against the stand-in: a model that lands
never changes the user's mode or selection, nothing pays without a yes, one credential lookup,
free re-imports land where a paid result would, a job lands with the options of its Generate,
and a budget refuses a request that would cross it before anything is paid."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bpy
import pytest

from tests.blender.test_generate import (
    Reports,
    add_images,
    core,
    mod,
    prefs,
    server_fixture,  # noqa: F401 - the `server` fixture, used by `yvo`
    settings,
    wait_for,
    write_png,
    yvo_fixture,  # noqa: F401 - the `yvo` fixture
)
from tests.blender.test_placeholders import check_fit, cube, select_only, takes_of


def start_job(yvo: SimpleNamespace, name: str = "Chair") -> Any:
    """A job started the way Generate starts it (with what it keeps of this moment), without
    blocking: the test drives the follower's event handling itself."""
    runtime = mod("session.runtime")
    runtime.take_snapshot(bpy.context)
    manager = runtime.manager(bpy.context)
    defaults = core("params").DEFAULT_TABLE.defaults()
    placement = {"mode": "CURSOR", "location": [0.0, 0.0, 0.0]}
    placement.update(mod("ops.follow").at_generate(bpy.context))
    return manager.submit(
        name=name,
        images=[write_png(yvo.images, f"{name.lower()}.png")],
        settings=defaults,
        placement=placement,
    )


def land(record: Any, reports: Reports) -> Any:
    """Wait for the job to end, handing each event to the follower as its tick would."""
    manager = mod("session.runtime").existing_manager()
    follow = mod("ops.follow")
    assert manager.wait(30, lambda e: follow.handle_event(bpy.context, e, reports), [record.id])
    return manager.get(record.id)


def selection() -> tuple[list[str], str]:
    active = bpy.context.view_layer.objects.active
    return sorted(o.name for o in bpy.context.selected_objects), active.name if active else ""


# -- 1. a finished job never hijacks the session ---------------------------------------------


@pytest.mark.parametrize("mode, context_mode", [("EDIT", "EDIT_MESH"), ("SCULPT", "SCULPT")])
def test_a_model_landing_in_a_mode_waits_and_goes_in_back_in_object_mode(
    yvo: SimpleNamespace, mode: str, context_mode: str
) -> None:
    work = cube("Sculpted")
    select_only(work)
    record = start_job(yvo)
    bpy.ops.object.mode_set(mode=mode)
    assert bpy.context.mode == context_mode
    objects_before = set(bpy.data.objects.keys())
    reports = Reports()

    landed = land(record, reports)

    # The user is still in their mode, with their selection; nothing was imported yet.
    assert bpy.context.mode == context_mode
    assert selection() == (["Sculpted"], "Sculpted")
    assert set(bpy.data.objects.keys()) == objects_before
    assert landed.stage == "ready" and record.id in mod("session.runtime").held
    assert any("back in Object Mode" in t for t in reports.texts("INFO"))
    # A tick in that mode still waits.
    follow = mod("ops.follow")
    follow.tick(bpy.context, reports)
    assert mod("session.runtime").existing_manager().get(record.id).stage == "ready"

    bpy.ops.object.mode_set(mode="OBJECT")
    follow.tick(bpy.context, reports)  # the first tick back in Object Mode imports it

    done = mod("session.runtime").existing_manager().get(record.id)
    assert done.stage == "imported", reports.items
    assert record.id not in mod("session.runtime").held
    assert done.imported_as in bpy.data.objects
    # Generate left the selection alone, so the new model takes it.
    assert selection()[1] == done.imported_as
    assert yvo.server.paid_requests == 1


def test_a_changed_selection_is_kept_exactly(yvo: SimpleNamespace) -> None:
    first, other = cube("First"), cube("Other", location=(3.0, 0.0, 0.0))
    select_only(first)
    record = start_job(yvo)
    select_only(other)  # the user moved on while the job ran
    other.select_set(True)
    first.select_set(True)
    bpy.context.view_layer.objects.active = other
    before = selection()

    done = land(record, Reports())

    assert done.stage == "imported"
    assert selection() == before
    root = bpy.data.objects[done.imported_as]
    assert not root.select_get()


def test_import_waits_for_object_mode_instead_of_switching(yvo: SimpleNamespace) -> None:
    work = cube("Editing")
    select_only(work)
    record = start_job(yvo)
    bpy.ops.object.mode_set(mode="EDIT")
    land(record, Reports())
    assert not bpy.ops.yvo3d.import_job.poll()
    assert bpy.context.mode == "EDIT_MESH"
    bpy.ops.object.mode_set(mode="OBJECT")
    assert bpy.ops.yvo3d.import_job(job_id=record.id) == {"FINISHED"}
    assert mod("session.runtime").existing_manager().get(record.id).stage == "imported"


# -- 2. no credits without a yes ----------------------------------------------------------------


class Window:
    """A window manager that records confirmations and says no (a user who did not click)."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def invoke_confirm(self, op: Any, event: Any, **kwargs: Any) -> set[str]:
        self.asked.append({"token": op.token, **kwargs})
        return {"RUNNING_MODAL"}


def windowed(monkeypatch: pytest.MonkeyPatch) -> tuple[SimpleNamespace, Window, list[str]]:
    """A context with a window (headless() False) and a record of the operators re-opened."""
    monkeypatch.setattr(mod("ops.common"), "headless", lambda: False)
    reopened: list[str] = []
    monkeypatch.setattr(mod("ops.consent"), "ask_again", reopened.append)
    wm = Window()
    context = SimpleNamespace(
        window=object(),
        window_manager=wm,
        scene=bpy.context.scene,
        view_layer=bpy.context.view_layer,
        active_object=bpy.context.active_object,
        selected_objects=list(bpy.context.selected_objects),
        mode="OBJECT",
        preferences=bpy.context.preferences,
        evaluated_depsgraph_get=bpy.context.evaluated_depsgraph_get,
    )
    return context, wm, reopened


def operator(cls: Any, **props: Any) -> SimpleNamespace:
    fake = SimpleNamespace(
        bl_idname=cls.bl_idname, report=Reports(), token="", force=False, _timer=None
    )
    fake.__dict__.update(props)
    return fake


def test_execute_in_a_window_never_pays_without_the_confirmation(
    yvo: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_images([write_png(yvo.images, "chair.png")])
    generate = mod("ops.generate").YVO3D_OT_generate
    context, wm, reopened = windowed(monkeypatch)

    # Repeat Last / F3 Repeat History / a keymap item / a console script: execute() directly.
    again = operator(generate)
    assert generate.execute(again, context) == {"CANCELLED"}
    again.token = "a-token-from-an-old-dialog"  # a replayed or forged token is no yes either
    assert generate.execute(again, context) == {"CANCELLED"}
    assert reopened == ["yvo3d.generate", "yvo3d.generate"]
    assert yvo.server.paid_requests == 0
    assert any("nothing was paid" in t for t in again.report.texts("WARNING"))

    # A click: invoke() shows the price and asks; nothing is paid before the yes.
    click = operator(generate)
    assert generate.invoke(click, context, None) == {"RUNNING_MODAL"}
    (question,) = wm.asked
    assert question["title"] == "Generate" and "Generate 1 model" in question["message"]
    assert "Budget" not in question["message"]  # no limit set: nothing to say
    assert yvo.server.paid_requests == 0
    prefs().budget_day = 500.0  # with a limit, the question says what is left of it
    try:
        assert generate.invoke(operator(generate), context, None) == {"RUNNING_MODAL"}
        assert wm.asked[-1]["message"].endswith("Budget: 500 credits left today.")
        wm.asked.pop()
    finally:
        prefs().budget_day = 0.0

    # The yes: Blender runs execute with the token the dialog carries; it pays once, and the
    # same token replayed (Repeat Last of the confirmed run) pays nothing more.
    monkeypatch.setattr(mod("ops.generate"), "_start_following", lambda op, ctx: {"RUNNING_MODAL"})
    assert generate.execute(click, context) == {"RUNNING_MODAL"}
    manager = mod("session.runtime").existing_manager()
    wait_for(lambda: not manager.running(), timeout=30)
    assert yvo.server.paid_requests == 1
    assert generate.execute(click, context) == {"CANCELLED"}
    assert yvo.server.paid_requests == 1


def test_regenerate_in_a_window_never_pays_without_the_confirmation(
    yvo: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_images([write_png(yvo.images, "chair.png")])
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}  # background: a script pays, no dialog
    assert yvo.server.paid_requests == 1
    root = next(o for o in bpy.data.objects if "yvo3d_job_id" in o.keys() and o.parent is None)
    select_only(root)
    regenerate = mod("ops.placeholder_ops").YVO3D_OT_regenerate
    context, wm, reopened = windowed(monkeypatch)
    context.active_object = root

    again = operator(regenerate)
    assert regenerate.execute(again, context) == {"CANCELLED"}
    assert reopened == ["yvo3d.regenerate"] and yvo.server.paid_requests == 1

    click = operator(regenerate)
    assert regenerate.invoke(click, context, None) == {"RUNNING_MODAL"}
    assert wm.asked and wm.asked[0]["title"] == "Regenerate"
    assert yvo.server.paid_requests == 1


# -- 3. one credential lookup -----------------------------------------------------------------


def test_environment_credentials_work_in_the_panel_and_the_cli(
    yvo: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = prefs()
    p.api_key = p.api_secret = ""
    generate = mod("ops.generate")
    add_images([write_png(yvo.images, "chair.png")])
    blocked = generate.generate_blocker(bpy.context)
    assert "SCENARIO_SDK_API_KEY" in blocked and "Preferences" in blocked  # names both ways
    monkeypatch.setenv("SCENARIO_SDK_API_KEY", yvo.server.api_key)
    monkeypatch.setenv("SCENARIO_SDK_API_SECRET", yvo.server.api_secret)
    assert generate.generate_blocker(bpy.context) == ""
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    assert yvo.server.paid_requests == 1
    price = mod("ops.cli").price([write_png(yvo.images, "other.png", tint=40)])
    assert price["exit_code"] == 0 and price["price"] > 0
    assert yvo.server.paid_requests == 1


# -- 4. free re-imports respect placement -----------------------------------------------------


def test_library_reimport_into_two_selected_placeholders_fits_both_for_free(
    yvo: SimpleNamespace,
) -> None:
    add_images([write_png(yvo.images, "chair.png")])
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    manager = mod("session.runtime").existing_manager()
    (entry,) = manager.library.entries()
    crate = cube("Crate", location=(4.0, 0.0, 0.5), scale=(0.5, 0.5, 0.5))
    tall = cube("Tall", location=(-4.0, 0.0, 2.0), scale=(0.3, 0.3, 2.0))
    select_only(crate, tall)
    settings().placement = "PLACEHOLDER"
    settings().fit_mode = "HEIGHT"
    settings().takes = 2  # Takes are for paid runs: a free import brings one model each
    yvo.server.reset()

    assert bpy.ops.yvo3d.import_job(library_id=entry.id) == {"FINISHED"}

    assert yvo.server.counts() == {}, yvo.server.counts()  # not one request
    assert yvo.server.paid_requests == 0
    for block in (crate, tall):
        (root,) = takes_of(block)
        assert root["yvo3d_library_id"] == entry.id
        check_fit(root, block, "HEIGHT")


def test_a_job_reimported_replaces_its_take(yvo: SimpleNamespace) -> None:
    crate = cube("Crate", location=(0.0, 0.0, 0.5), scale=(0.5, 0.5, 0.5))
    select_only(crate)
    add_images([write_png(yvo.images, "chair.png")])
    settings().placement = "PLACEHOLDER"
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    (record,) = mod("session.runtime").existing_manager().jobs()
    (first,) = takes_of(crate)
    first_name = first.name

    assert bpy.ops.yvo3d.import_job(job_id=record.id) == {"FINISHED"}

    (again,) = takes_of(crate)
    assert first_name not in bpy.data.objects or bpy.data.objects[first_name] == again
    assert yvo.server.paid_requests == 1


# -- 5. options of Generate time --------------------------------------------------------------


def test_a_job_lands_with_the_import_options_of_generate_time(yvo: SimpleNamespace) -> None:
    group = bpy.context.scene.yvo3d_import
    group.use_override = True
    group.mark_asset = False
    record = start_job(yvo)
    kept = record.placement[mod("ops.follow").OPTIONS_KEY]
    assert kept["mark_asset"] is False and json.dumps(kept)  # plain data, in the store too
    group.mark_asset = True  # changed while the job runs: not for this job

    done = land(record, Reports())

    assert done.stage == "imported"
    assert bpy.data.objects[done.imported_as].asset_data is None


# -- 6. spend in plain sight, and the budget ----------------------------------------------------


def test_the_budget_refuses_a_request_that_would_cross_it(yvo: SimpleNamespace) -> None:
    add_images([write_png(yvo.images, "chair.png")])
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    assert yvo.server.paid_requests == 1
    runtime = mod("session.runtime")
    session, today = runtime.spend()
    price = mod("session.runtime").existing_manager().jobs()[0].cost
    assert price and session == price and today == price
    text = mod("ui.jobs_panel").spend_text(bpy.context)
    assert f"Spent: {price:g} credits this session" in text

    prefs().budget_day = price * 1.5  # room for half a job more
    try:
        settings().images[0].filepath = write_png(yvo.images, "other.png", tint=60)
        runtime.take_snapshot(bpy.context)
        mod("session.runtime").manager(bpy.context)  # picks the budget up
        with pytest.raises(RuntimeError, match="Over budget"):
            bpy.ops.yvo3d.generate()
        assert yvo.server.paid_requests == 1
        assert "left today" in mod("ui.jobs_panel").spend_text(bpy.context)
    finally:
        prefs().budget_day = 0.0


def test_the_cli_respects_and_reports_the_budget(yvo: SimpleNamespace, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(3):
        write_png(folder, f"prop{index}.png", tint=index * 30)
    cli = mod("ops.cli")
    priced = cli.batch(str(folder), "", dry_run=True)
    total = priced["price_total"]
    assert total > 0

    refused = cli.batch(str(folder), str(tmp_path / "out"), yes=True, budget=total - 1)

    assert refused["exit_code"] == 1 and "Over budget" in refused["error"]
    assert "left" in refused["budget"]["text"]
    assert yvo.server.paid_requests == 0
    one = cli.generate(
        [write_png(yvo.images, "single.png", tint=90)], str(tmp_path / "one.glb"), budget=1
    )
    assert one["exit_code"] == 1 and "Over budget" in json.dumps(one)
    assert yvo.server.paid_requests == 0


def test_a_model_waits_while_another_tool_runs_but_not_for_our_own(addon: Any) -> None:
    blocker = mod("ops.follow").import_blocker

    def context(*running: str) -> SimpleNamespace:
        ops = [SimpleNamespace(bl_idname=name) for name in running]
        return SimpleNamespace(mode="OBJECT", window=SimpleNamespace(modal_operators=ops))

    assert blocker(context()) == ""
    assert blocker(context("YVO3D_OT_follow_jobs", "YVO3D_OT_test_connection")) == ""
    assert blocker(context("YVO3D_OT_follow_jobs", "TRANSFORM_OT_translate")) != ""
    assert "Sculpt" in blocker(SimpleNamespace(mode="SCULPT", window=None))
