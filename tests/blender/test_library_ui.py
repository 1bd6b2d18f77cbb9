"""The Library panel in real Blender: the list from disk, thumbnails, search, free re-import over
the stand-in (no request), recall, reveal, delete, and the identical-request offer."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bpy
import pytest

from tests.blender import test_panels
from tests.blender.test_generate import (
    add_images,
    core,
    mod,
    new_objects,
    server_fixture,  # noqa: F401 - the `server` fixture, used by `yvo`
    settings,
    write_png,
    yvo_fixture,  # noqa: F401 - the `yvo` fixture
)
from tests.blender.test_panels import draw
from tests.standin import glb

popup = test_panels.popup  # the fixture: a real UILayout to draw into


def add_entry(
    yvo: SimpleNamespace,
    name: str,
    *,
    created: float,
    preview: bytes | None = None,
    tint: int = 0,
) -> Any:
    """A library entry made the way a finished job makes one (no request): GLB, input copy,
    optionally the service's preview."""
    library = mod("runtime").manager(bpy.context).library
    entry_id = "lib_" + uuid.uuid4().hex[:10]
    Path(library.glb_dest(entry_id)).write_bytes(glb.textured_glb(triangles=500, texture_size=64))
    photo = write_png(yvo.images, f"{name.lower()}.png", tint=tint)
    settings_ = core("params").DEFAULT_TABLE.defaults()
    settings_["creativity"] = 2 + tint // 40
    entry = core("library").new_entry(
        id=entry_id,
        name=name,
        created=created,
        job_id=f"job_{name.lower()}",
        asset_ids=["asset_glb"],
        glb_asset_id="asset_glb",
        fingerprint=f"fp-{name}",
        settings=settings_,
        body={"images": ["asset_img"], **settings_},
        cost=20.0,
        images=[{"name": os.path.basename(photo), "sha256": "0" * 64}],
    )
    if preview is not None:
        (Path(library.folder(entry_id)) / "preview.png").write_bytes(preview)
        entry.preview = "preview.png"
    return library.add(entry, [photo])


def items() -> list[Any]:
    return list(bpy.context.window_manager.yvo3d_library.items)


def listed_order(search: str = "") -> list[str]:
    """Names in the order the UIList shows them, after its filter."""
    data = bpy.context.window_manager.yvo3d_library
    data.search = search
    ui_list = mod("library_ui").YVO3D_UL_library
    fake = SimpleNamespace(bitflag_filter_item=1 << 30, filter_name="")
    flags, ranks = ui_list.filter_items(fake, bpy.context, data, "items")
    shown = [i for i in range(len(data.items)) if flags[i]]
    return [data.items[i].name for i in sorted(shown, key=lambda i: ranks[i])]


def test_list_newest_first_with_thumbnails_and_search(yvo: SimpleNamespace) -> None:
    ui = mod("library_ui")
    now = time.time()
    add_entry(yvo, "Old Chair", created=now - 3000)
    lamp = add_entry(yvo, "Desk Lamp", created=now - 10, preview=glb.base_color_png(64), tint=40)
    add_entry(yvo, "Armchair", created=now - 200, tint=80)

    assert ui.refresh(bpy.context) == 3
    assert [i.name for i in items()] == ["Desk Lamp", "Armchair", "Old Chair"]
    assert listed_order() == ["Desk Lamp", "Armchair", "Old Chair"]
    assert listed_order("CHAIR") == ["Armchair", "Old Chair"]
    assert listed_order("lamp") == ["Desk Lamp"]
    # Thumbnails: the service's preview for the lamp, the input copy for the others.
    assert ui.thumbnail_path(lamp).endswith("preview.png")
    # (Icon ids stay 0 without a window; the previews themselves are real.)
    sizes = {i.name: tuple(ui.preview(i.entry_id).image_size) for i in items()}
    assert sizes == {"Desk Lamp": (64, 64), "Armchair": (128, 128), "Old Chair": (128, 128)}
    for item in items():
        assert tuple(ui.preview(f"{item.entry_id}/input0").image_size) == (128, 128)
    assert items()[0].job_id == "job_desk lamp"
    assert items()[0].date == time.strftime("%Y-%m-%d %H:%M", time.localtime(lamp.created))
    assert yvo.server.counts() == {}  # the library is local: nothing was asked of the service


def test_reimport_is_free_and_recall_offers_the_library_first(
    yvo: SimpleNamespace, popup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = yvo.server
    ui = mod("library_ui")
    add_images([write_png(yvo.images, "teapot.png")])
    s = settings()
    s.name = "Teapot"
    s.creativity = 5
    assert bpy.ops.yvo3d.generate() == {"FINISHED"}
    assert server.paid_requests == 1

    assert ui.refresh(bpy.context) == 1
    entry = ui.active_entry(bpy.context)
    assert entry is not None and entry.name == "Teapot" and entry.job_id
    server.reset()
    before = {o.name for o in bpy.data.objects}
    assert bpy.ops.yvo3d.import_job(library_id=entry.id) == {"FINISHED"}
    again = new_objects(before)
    assert again and any(o.get("yvo3d_library_id") == entry.id for o in again)
    assert server.counts() == {}  # re-import: not a single request

    # Other settings and no image, then Recall: the parameters and images come back ...
    s.creativity = 1
    s.name = "Something else"
    bpy.ops.yvo3d.clear_images()
    assert bpy.ops.yvo3d.library_recall(entry_id=entry.id, images=True) == {"FINISHED"}
    assert s.name == "Teapot" and s.creativity == 5
    recalled = mod("properties").settings_dict(s)
    assert {k: recalled[k] for k in entry.settings if k in recalled} == {
        k: v for k, v in entry.settings.items() if k in recalled
    }
    assert len(s.images) == 1 and s.images[0].filepath.startswith(entry.folder)

    # ... and Generate on the same request offers the free import before any payment.
    with pytest.raises(RuntimeError, match="identical model is in the library"):
        bpy.ops.yvo3d.generate()
    assert server.counts() == {} and server.paid_requests == 0
    drawn = draw(popup, monkeypatch, "YVO3D_PT_generate")
    assert [c.text for c in drawn.operators("yvo3d.import_job")] == ["Import from Library (free)"]
    assert [c.text for c in drawn.operators("yvo3d.generate")][-1] == "Generate Anyway"
    drawn = draw(popup, monkeypatch, "YVO3D_PT_library")
    assert "Identical to your current request" in drawn.labels()
    assert server.counts() == {}


def test_panel_draws_from_memory(
    yvo: SimpleNamespace, popup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ui = mod("library_ui")
    drawn = draw(popup, monkeypatch, "YVO3D_PT_library")  # `draw` refuses file access
    assert "No downloaded models yet" in drawn.labels()
    assert bpy.app.timers.is_registered(ui._refresh_timer)  # draw asked for a refresh, later

    entry = add_entry(yvo, "Stool", created=time.time())
    ui._refresh_timer()  # what the timer does once draw returned (timers need a window)
    bpy.context.window_manager.yvo3d_library.show_params = True
    drawn = draw(popup, monkeypatch, "YVO3D_PT_library")
    labels = drawn.labels()
    assert "Stool" in labels and f"Job {entry.job_id}" in labels
    assert "stool.png" in labels and "Paid 20 credits" in labels
    assert "Creativity: 2" in labels  # the label, never the API name
    assert not any(t.startswith("creativity") for t in labels)
    # No region here (template_list needs one): the list is drawn as plain rows instead.
    assert not any(c.name == "template_list" for c in drawn.calls)
    # One row of the UIList (called the way template_list calls it).
    calls: list[Any] = []
    row_layout = test_panels.Recorder(popup.layout.column(), calls)
    data = bpy.context.window_manager.yvo3d_library
    ui.YVO3D_UL_library.draw_item(
        SimpleNamespace(), bpy.context, row_layout, data, data.items[0], 0, data, "index"
    )
    assert [c.text for c in calls if c.name == "label"][:1] == ["Stool"]
    for idname in (
        "yvo3d.import_job",
        "yvo3d.library_recall",
        "yvo3d.library_reveal",
        "yvo3d.library_delete",
    ):
        assert drawn.operators(idname), idname


def test_reveal_and_delete(yvo: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    ui = mod("library_ui")
    keep = add_entry(yvo, "Keep", created=time.time() - 5)
    drop = add_entry(yvo, "Drop", created=time.time())
    ui.refresh(bpy.context)
    opened: list[str] = []
    monkeypatch.setattr(ui, "open_folder", opened.append)
    assert bpy.ops.yvo3d.library_reveal(entry_id=drop.id) == {"FINISHED"}
    assert opened == [drop.folder] and os.path.isfile(os.path.join(opened[0], "model.glb"))

    mod("runtime").library_match.update(entry=drop.id, name="Drop", fingerprint="x")
    assert bpy.ops.yvo3d.library_delete("INVOKE_DEFAULT", entry_id=drop.id) == {"FINISHED"}
    assert not os.path.exists(drop.folder) and os.path.isdir(keep.folder)
    assert [i.name for i in items()] == ["Keep"]
    assert ui.preview(drop.id) is None and ui.preview(keep.id) is not None
    assert mod("runtime").library_match == {}
    with pytest.raises(RuntimeError, match="missing"):
        bpy.ops.yvo3d.library_reveal(entry_id=drop.id)
    assert yvo.server.counts() == {}


class _Counted:
    """A collection stand-in that counts what a filter asks of it."""

    def __init__(self, items: Any) -> None:
        self.items, self.indexed, self.passes = items, 0, 0

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Any:
        self.passes += 1
        return iter(self.items)

    def __getitem__(self, index: int) -> Any:
        self.indexed += 1
        return self.items[index]


def plain_entries(library: Any, prefix: str = "lib") -> Any:
    """add(n): a small entry "Model n" (id prefix_000n), created at 1000 + n (newer as n grows).
    Tests use different prefixes: the session remembers whose thumbnails it tried."""
    model = glb.textured_glb(triangles=4, texture_size=4)

    def add(n: int) -> str:
        entry_id = f"{prefix}_{n:04d}"
        Path(library.glb_dest(entry_id)).write_bytes(model)
        library.add(
            core("library").new_entry(
                id=entry_id,
                name=f"Model {n}",
                created=1000.0 + n,
                job_id=f"job{n}",
                asset_ids=[],
                glb_asset_id="",
                fingerprint=f"fp{n}",
                settings={},
                body={},
            ),
            [],
        )
        return entry_id

    return add


def test_a_long_library_is_held_a_page_at_a_time_and_searched_whole(
    yvo: SimpleNamespace, popup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list holds the newest page of the library (the first fill of 20,000 entries never
    makes 20,000 Blender items); a search finds old entries too, from the index; Show More
    holds another page; a landing keeps the page's length."""
    ops = mod("ops.library_ops")
    monkeypatch.setattr(ops, "PAGE", 5)
    monkeypatch.setattr(ops._Listing, "limit", 5)
    add = plain_entries(mod("runtime").manager(bpy.context).library, prefix="page")
    for n in range(12):
        add(n)
    data = bpy.context.window_manager.yvo3d_library
    assert ops.refresh(bpy.context) == 12
    assert [i.name for i in items()] == [f"Model {n}" for n in (11, 10, 9, 8, 7)]
    assert ops.listing_counts() == (5, 12) and not ops.stale(bpy.context)
    drawn = draw(popup, monkeypatch, "YVO3D_PT_library")
    assert "The newest 5 of 12" in drawn.labels() and drawn.operators("yvo3d.library_more")

    data.search = "model 1"  # typed: the list is out of date until the refresh after draw
    assert ops.stale(bpy.context)
    ops.refresh(bpy.context)
    assert [i.name for i in items()] == ["Model 11", "Model 10", "Model 1"]  # Model 1 is old
    assert ops.listing_counts() == (3, 3)
    drawn = draw(popup, monkeypatch, "YVO3D_PT_library")
    assert not drawn.operators("yvo3d.library_more")
    data.search = "no such model"
    ops.refresh(bpy.context)
    assert "Nothing matches the search" in draw(popup, monkeypatch, "YVO3D_PT_library").labels()

    data.search = ""
    ops.refresh(bpy.context)
    assert bpy.ops.yvo3d.library_more() == {"FINISHED"}
    assert ops.listing_counts() == (10, 12) and items()[-1].name == "Model 2"
    add(12)  # a job lands: newest at the top, the page keeps its length
    ops.refresh(bpy.context)
    assert ops.listing_counts() == (10, 13)
    assert items()[0].name == "Model 12" and items()[-1].name == "Model 3"


def test_a_long_library_costs_no_walk_per_redraw(
    yvo: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """N = 200 entries: a redraw's filter and sort index the Blender collection zero times
    (indexing it is O(i), so a sort key reading items[i] is quadratic) and read no entry.json;
    a new download refreshes the list by reading its own record only."""
    ui = mod("library_ui")
    library = mod("runtime").manager(bpy.context).library
    add = plain_entries(library)
    for n in range(200):
        add(n)
    reads: list[str] = []
    real_get = type(library).get
    monkeypatch.setattr(type(library), "get", lambda self, i: reads.append(i) or real_get(self, i))
    assert ui.refresh(bpy.context) == 200
    # The first fill reads the newest entries' records for their thumbnails, not all 200.
    assert len(reads) == ui.THUMBS_AT_REFRESH < 200
    reads.clear()
    data = bpy.context.window_manager.yvo3d_library
    fake = SimpleNamespace(bitflag_filter_item=1 << 30, filter_name="")
    for search, shown in (("", 200), ("model 19", 11)):
        data.search = search
        counted = _Counted(data.items)
        flags, ranks = ui.YVO3D_UL_library.filter_items(
            fake, bpy.context, SimpleNamespace(items=counted), "items"
        )
        assert counted.indexed == 0 and sum(1 for f in flags if f) == shown
        assert data.items[ranks.index(0)].name == "Model 199"  # newest first
    assert reads == []
    data.search = ""  # the whole list again (a search holds only its matches)
    ui.refresh(bpy.context)
    reads.clear()

    newest = add(500)
    assert ui.refresh(bpy.context) == 201
    assert reads == [newest] and data.items[0].entry_id == newest
    assert ui.active_entry(bpy.context) is not None

    # An old row scrolled into view: its thumbnail is read right after that draw, from the
    # index (no entry.json), and asked for once only.
    ui.want_thumbnail("lib_0003")
    assert bpy.app.timers.is_registered(ui._thumbs_timer)
    ui._thumbs_timer()  # what the timer does (timers need a window)
    bpy.app.timers.unregister(ui._thumbs_timer)
    ui.want_thumbnail("lib_0003")
    assert not bpy.app.timers.is_registered(ui._thumbs_timer)
    assert reads == [newest]
