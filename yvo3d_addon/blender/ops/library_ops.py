"""Operators layer: the Library: fill the list from the job manager's library (with thumbnails),
refresh, recall parameters, reveal, delete."""

import os
import time
from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import (
    BoolProperty,
    StringProperty,
)
from bpy.types import Operator

from ...core import errors, glbcheck, images
from ...core.library import LibraryEntry
from ..session import runtime
from ..settings import properties
from ..settings.library_list import state

if TYPE_CHECKING:
    import bpy.utils.previews
    from bpy.stub_internal.rna_enums import OperatorReturnItems


Result = set["OperatorReturnItems"]


_previews: "bpy.utils.previews.ImagePreviewCollection | None" = None
"""Made on the first thumbnail (bpy.utils.previews is imported then, not at enable time)."""


_entries: dict[str, LibraryEntry] = {}
"""The entries of the last refresh, by id (draw reads these, never the disk)."""


_NEVER = object()

Row = tuple[str, str, float, str]
"""(entry id, name, created, job id): a row of the library's index listing."""


_seen: object = _NEVER
"""`_signature()` at the last refresh: a change (a new download, another library folder, the
manager gone after a restart) means the list is out of date."""


def _format_date(created: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(created))


def thumbnail_path(entry: LibraryEntry) -> str:
    """The picture for the entry: the service's preview, else its first input copy ("")."""
    candidates = [entry.preview] if entry.preview else []
    candidates += [str(i.get("copy", "")) for i in entry.images if i.get("copy")]
    for name in candidates:
        path = os.path.join(entry.folder, name)
        # Decoded whole by Blender: a shared library's 30000x30000 picture is never loaded.
        if os.path.isfile(path) and glbcheck.picture_ok(path, images.MAX_SIDE):
            return path
    return ""


def _input_paths(entry: LibraryEntry) -> list[str]:
    paths = []
    for image in entry.images:
        copy = str(image.get("copy", ""))
        path = os.path.join(entry.folder, copy) if copy else ""
        paths.append(path if path and os.path.isfile(path) else "")
    return paths


def _load_preview(key: str, path: str) -> None:
    global _previews
    if _previews is None:
        from bpy.utils import previews

        _previews = previews.new()
    if key in _previews:
        return
    try:
        _previews.load(key, path, "IMAGE")  # Blender reads the file when first drawn
    except (KeyError, RuntimeError):
        pass  # no thumbnail: the list shows an icon instead


def preview(key: str) -> bpy.types.ImagePreview | None:
    """The cached thumbnail for `key` (an entry id, or "<entry id>/input<n>"), if any."""
    if _previews is None or key not in _previews:
        return None
    return _previews[key]


def thumb_icon(key: str) -> int:
    """The icon id of a loaded thumbnail, 0 when there is none (no I/O)."""
    if _previews is None or key not in _previews:
        return 0
    return int(_previews[key].icon_id)


def _signature() -> object:
    """What the list depends on, from memory only (None while there is no job manager): the
    library's index counts its own adds and deletes, so no job is looked at."""
    manager = runtime.existing_manager()
    if manager is None:
        return None
    return (id(manager), manager.library.root, manager.library.index.version)


PAGE = 1000
"""Rows the list holds at first: the newest entries, or the newest that match the search (found
in the whole library's index). Show More adds as many. Each row is a Blender collection item
made on the main thread: a library of 20,000 is never turned into 20,000 items at once."""


class _Listing:
    """The list as plain Python, in the collection's order, made at each refresh: the UIList's
    filter and sort read these, never the Blender collection (whose indexing is O(i))."""

    ids: list[str] = []
    names: list[str] = []  # lower-cased, for the search
    ranks: list[int] = []  # newest first
    flags: dict[tuple[str, int], list[int]] = {}
    query: str = ""
    """The search the list was filled for (another one typed: refresh)."""
    limit = PAGE
    total = 0
    """Entries that match `query` in the whole library (the list holds at most `limit`)."""
    lowered: tuple[int, list[str]] = (-1, [])
    """(index version, every entry's lower-cased name, newest first): searched without
    lower-casing 20,000 names again at each key."""


def listing_counts() -> tuple[int, int]:
    """(rows the list holds, entries that match its search): the panel offers Show More."""
    return len(_Listing.ids), _Listing.total


def stale(context: bpy.types.Context) -> bool:
    """The list no longer shows what it should: the library changed or the search did."""
    data = state(context)
    query = str(getattr(data, "search", "") or "")
    return _signature() != _seen or query != _Listing.query


def list_filter(text: str, bit: int, count: int) -> tuple[list[int], list[int]] | None:
    """(flags, ranks) for the UIList from the last refresh (None: the collection changed
    under it, e.g. another file loaded, and the caller reads it once)."""
    if len(_Listing.ids) != count:
        return None
    key = (text, bit)
    flags = _Listing.flags.get(key)
    if flags is None:
        flags = [bit if not text or text in name else 0 for name in _Listing.names]
        _Listing.flags = {key: flags}  # one search text at a time
    return flags, _Listing.ranks


def _load_thumbnails(entry: LibraryEntry) -> None:
    thumb = thumbnail_path(entry)
    if thumb:
        _load_preview(entry.id, thumb)
    for index, path in enumerate(_input_paths(entry)):
        if path:
            _load_preview(f"{entry.id}/input{index}", path)


def _add_item(data: Any, entry_id: str, name: str, created: float, job_id: str) -> None:
    item = data.items.add()
    item.name = name
    item.entry_id = entry_id
    item.created = created
    item.date = _format_date(created)
    item.job_id = job_id


def _sync(data: Any, held: list[str], wanted: set[str], rows: list[Row]) -> list[Row]:
    """Make the collection hold `rows`, in their order, touching only what changed (a new
    download: one item added at the top); returns the rows it did not hold."""
    known = set(held)
    new = [row for row in rows if row[0] not in known]
    kept = [entry_id for entry_id in held if entry_id in wanted]
    at_top = [row[0] for row in rows[: len(new)]] == [row[0] for row in new]
    if not held or not at_top or kept != [row[0] for row in rows[len(new) :]]:
        data.items.clear()
        for row in rows:
            _add_item(data, *row)
        return new
    for index in reversed([i for i, entry_id in enumerate(held) if entry_id not in wanted]):
        data.items.remove(index)
    for position, row in enumerate(new):
        _add_item(data, *row)
        data.items.move(len(data.items) - 1, position)
    return new


def _remember(rows: list[Row]) -> None:
    _Listing.ids = [row[0] for row in rows]
    _Listing.names = [row[1].lower() for row in rows]
    _Listing.ranks = list(range(len(rows)))
    _Listing.flags = {}


def refresh(context: bpy.types.Context) -> int:
    """Bring the list up to date with the library's index (keeps the selection when it still
    exists); returns how many entries there are. Only what changed is read: the new entries'
    records (for their thumbnails), nothing for the others."""
    global _seen
    data = state(context)
    if data is None:
        return 0
    library = runtime.manager(context).library
    every = library.index.listing()  # newest first
    query = str(data.search or "")
    matching = _matching(every, query.lower(), library.index.version)
    rows = matching[: _Listing.limit]
    selected = ""
    if 0 <= data.index < len(data.items):
        selected = data.items[data.index].entry_id
    held = list(_Listing.ids)  # what the collection holds since the last refresh ...
    if len(held) != len(data.items):  # ... unless it changed under us (one pass over it)
        held = [item.entry_id for item in data.items]
    wanted = {row[0] for row in rows}
    new = _sync(data, held, wanted, rows)
    for gone in set(_entries) - wanted:
        del _entries[gone]
    for entry_id, *_ in new[:THUMBS_AT_REFRESH]:  # the newest; the others when drawn
        _thumbs_tried.add(entry_id)
        entry = library.get(entry_id)
        if entry is not None:
            _entries[entry_id] = entry
            _load_thumbnails(entry)
    _remember(rows)
    _Listing.query, _Listing.total = query, len(matching)
    data.index = _Listing.ids.index(selected) if selected in wanted else 0
    _seen = _signature()
    return len(every)


def _matching(every: list[Row], needle: str, version: int) -> list[Row]:
    """The entries whose name contains `needle`, newest first (all of them for "")."""
    if not needle:
        return every
    if _Listing.lowered[0] != version or len(_Listing.lowered[1]) != len(every):
        _Listing.lowered = (version, [row[1].lower() for row in every])
    names = _Listing.lowered[1]
    return [row for row, name in zip(every, names, strict=True) if needle in name]


def _refresh_timer() -> None:
    global _seen
    try:
        refresh(bpy.context)
    except errors.Yvo3dError:
        # The panel shows the list it has; the refresh button reports the problem. No retry
        # on every redraw: only a change of what the list depends on asks again.
        _seen = _signature()
        return
    _tag_viewports()


def _tag_viewports() -> None:
    wm: Any = bpy.context.window_manager
    for window in getattr(wm, "windows", ()):
        for area in window.screen.areas if window.screen else ():
            if area.type == "VIEW_3D":
                area.tag_redraw()


THUMBS_AT_REFRESH = 32
"""Entries whose thumbnails a refresh reads, newest first; the others' when their row is first
drawn (a library of thousands never reads thousands of files at once)."""

_thumbs_tried: set[str] = set()
_thumbs_wanted: set[str] = set()


def want_thumbnail(entry_id: str) -> None:
    """From draw: read this row's thumbnail right after (draw may not read files)."""
    if entry_id in _thumbs_tried:
        return
    _thumbs_tried.add(entry_id)
    _thumbs_wanted.add(entry_id)
    if not bpy.app.timers.is_registered(_thumbs_timer):
        bpy.app.timers.register(_thumbs_timer, first_interval=0.0)


def _lookup(entry_id: str) -> LibraryEntry | None:
    """An entry from memory, else from the library's index (one indexed read, no file)."""
    entry = _entries.get(entry_id)
    manager = runtime.existing_manager()
    if entry is None and manager is not None:
        row = manager.library.index.get(entry_id)
        entry = manager.library.entry_of(row) if row is not None else None
        if entry is not None:
            _entries[entry_id] = entry
    return entry


def _thumbs_timer() -> None:
    for entry_id in list(_thumbs_wanted):
        entry = _lookup(entry_id)
        if entry is not None:
            _load_thumbnails(entry)
    _thumbs_wanted.clear()
    _tag_viewports()


def _refresh_soon() -> None:
    """From draw: a refresh right after (draw may neither read files nor write ID data)."""
    if not bpy.app.timers.is_registered(_refresh_timer):
        bpy.app.timers.register(_refresh_timer, first_interval=0.0)


def active_entry(context: bpy.types.Context) -> LibraryEntry | None:
    data = state(context)
    if data is None or not 0 <= data.index < len(_Listing.ids):
        return None
    return _lookup(_Listing.ids[data.index])


def _entry(context: bpy.types.Context, entry_id: str) -> LibraryEntry | None:
    if not entry_id:
        return active_entry(context)
    return _entries.get(entry_id) or runtime.manager(context).library.get(entry_id)


class YVO3D_OT_library_more(Operator):
    """Show more of the library's entries in the list"""

    bl_idname = "yvo3d.library_more"
    bl_label = "Show More"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> Result:
        _Listing.limit += PAGE
        try:
            refresh(context)
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        return {"FINISHED"}


class YVO3D_OT_library_refresh(Operator):
    """Read the library folder again"""

    bl_idname = "yvo3d.library_refresh"
    bl_label = "Refresh Library"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> Result:
        try:
            runtime.manager(context).library.index.reconcile()  # folders changed by hand
            count = refresh(context)
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        self.report({"INFO"}, f"{count} result(s) in the library")
        return {"FINISHED"}


def recall(settings: Any, entry: LibraryEntry, *, with_images: bool = False) -> list[str]:
    """Put the entry's parameters (and name, and with `with_images` its input copies) into the
    scene's settings; returns the parameters that could not be set."""
    skipped = []
    for name, param in properties.TABLE.params.items():
        if name not in entry.settings:
            continue
        value = entry.settings[name]
        try:
            if param.kind in ("bool", "onoff"):
                setattr(settings, name, bool(value))
            elif param.kind == "int":
                setattr(settings, name, int(value))
            elif param.kind == "enum":
                setattr(settings, name, str(value))
            else:
                setattr(settings, name, float(value))
        except (TypeError, ValueError):
            skipped.append(name)
    settings.name = entry.name
    if with_images:
        paths = [p for p in _input_paths(entry) if p]
        if paths:
            settings.images.clear()
            for path in paths:
                slot = settings.images.add()
                slot.filepath = path
                runtime.load_thumbnail(path)
            settings.active_image = 0
    return skipped


class YVO3D_OT_library_recall(Operator):
    """Put this result's parameters (and name) back into the YVO3D panel"""

    bl_idname = "yvo3d.library_recall"
    bl_label = "Recall Parameters"
    bl_options = {"REGISTER", "UNDO"}

    entry_id: StringProperty(name="Entry", options={"SKIP_SAVE"})
    images: BoolProperty(
        name="Images Too",
        description="Also put the result's source images back into the image slots",
        default=False,
        options={"SKIP_SAVE"},
    )

    def execute(self, context: bpy.types.Context) -> Result:
        settings = getattr(context.scene, "yvo3d", None)
        entry = _entry(context, self.entry_id)
        if settings is None or entry is None:
            self.report({"ERROR"}, "That library entry is missing")
            return {"CANCELLED"}
        skipped = recall(settings, entry, with_images=self.images)
        if skipped:
            self.report({"WARNING"}, f"Not recalled (out of range now): {', '.join(skipped)}")
        self.report({"INFO"}, f"{entry.name}: parameters recalled")
        return {"FINISHED"}


def open_folder(path: str) -> None:
    """Show a folder in the system's file browser."""
    bpy.ops.wm.path_open(filepath=path)


class YVO3D_OT_library_reveal(Operator):
    """Show this result's folder (model.glb, its inputs, entry.json) in the file browser"""

    bl_idname = "yvo3d.library_reveal"
    bl_label = "Reveal Files"
    bl_options = {"INTERNAL"}

    entry_id: StringProperty(name="Entry", options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> Result:
        entry = _entry(context, self.entry_id)
        if entry is None or not os.path.isdir(entry.folder):
            self.report({"ERROR"}, "That library entry is missing")
            return {"CANCELLED"}
        open_folder(entry.folder)
        return {"FINISHED"}


class YVO3D_OT_library_delete(Operator):
    """Delete this result from the library (its files on disk; models in scenes stay)"""

    bl_idname = "yvo3d.library_delete"
    bl_label = "Delete from Library"
    bl_options = {"INTERNAL"}

    entry_id: StringProperty(name="Entry", options={"SKIP_SAVE"})

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> Result:
        entry = _entry(context, self.entry_id)
        if entry is None:
            self.report({"ERROR"}, "That library entry is missing")
            return {"CANCELLED"}
        if context.window is None or bpy.app.background:
            return self.execute(context)
        wm: Any = context.window_manager
        confirmed: Result = wm.invoke_confirm(
            self,
            event,
            title="Delete from Library",
            message=(
                f"Delete {entry.name} from the library? Importing it again would then cost "
                "a new generation."
            ),
            confirm_text="Delete",
            icon="WARNING",
        )
        return confirmed

    def execute(self, context: bpy.types.Context) -> Result:
        entry = _entry(context, self.entry_id)
        if entry is None:
            self.report({"ERROR"}, "That library entry is missing")
            return {"CANCELLED"}
        try:
            runtime.manager(context).library.delete(entry.id)
        except errors.Yvo3dError as exc:
            self.report({"ERROR"}, exc.user_text())
            return {"CANCELLED"}
        if _previews is not None:
            for key in [k for k in _previews if k == entry.id or k.startswith(entry.id + "/")]:
                del _previews[key]
        _thumbs_tried.discard(entry.id)
        if runtime.library_match.get("entry") == entry.id:
            runtime.library_match.clear()
        refresh(context)
        self.report({"INFO"}, f"{entry.name}: deleted from the library")
        return {"FINISHED"}


def unregister() -> None:
    global _previews, _seen
    if bpy.app.timers.is_registered(_refresh_timer):
        bpy.app.timers.unregister(_refresh_timer)
    if _previews is not None:
        from bpy.utils import previews

        previews.remove(_previews)
        _previews = None
    _entries.clear()
    _thumbs_tried.clear()
    _thumbs_wanted.clear()
    if bpy.app.timers.is_registered(_thumbs_timer):
        bpy.app.timers.unregister(_thumbs_timer)
    _remember([])
    _seen = _NEVER


classes = (
    YVO3D_OT_library_more,
    YVO3D_OT_library_refresh,
    YVO3D_OT_library_recall,
    YVO3D_OT_library_reveal,
    YVO3D_OT_library_delete,
)
