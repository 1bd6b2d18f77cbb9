"""Scene layer: YVO3D results as assets: a preview, their provenance, and a copy in a library.

A single-object result is marked itself; a result of several objects is marked through its
collection (appending one object of a hierarchy would leave its children behind). The preview
is the service's preview when the library has one, else a small render of the model.
"""

import json
import os
import re
import time
from array import array
from typing import TYPE_CHECKING, Any, cast

import bpy

from ...core import errors
from ...core.library import LibraryEntry
from ..settings import capture_options, import_options
from . import capture, cleanup

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

    from .importer import ImportResult


Result = set["OperatorReturnItems"]


AUTHOR = "Scenario YVO3D"


TAGS = ("YVO3D", "Image to 3D")


PREVIEW_SIZE = 256


PREVIEW_SHOT = capture_options.Shot(
    view="THREE_QUARTER", margin=0.04, resolution=PREVIEW_SIZE, transparent=True
)


def asset_id(root: bpy.types.Object) -> bpy.types.ID:
    """What stands for the result in the Asset Browser: the root object when it is the whole
    result, else the collection that holds exactly the result's objects."""
    if not root.children:
        return root
    members = {o.as_pointer() for o in cleanup.hierarchy(root)}
    for collection in root.users_collection:
        if {o.as_pointer() for o in collection.all_objects} == members:
            return collection
    return root


def provenance(root: bpy.types.Object, entry: LibraryEntry | None) -> dict[str, object]:
    """Job id, source images, parameters and dates: from the library entry, else the stamp."""
    if entry is not None:
        params = {k: v for k, v in entry.body.items() if k != "images"} or entry.settings
        return {
            "job_id": entry.job_id,
            "library_id": entry.id,
            "images": [str(i.get("name", "")) for i in entry.images],
            "params": params,
            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.created)),
            "cost": entry.cost,
        }
    stamped: Any = root  # ID properties: the stubs do not know their values
    images = stamped.get("yvo3d_images", [])
    params_text = stamped.get("yvo3d_params", "{}")
    try:
        params = json.loads(params_text) if isinstance(params_text, str) else {}
    except ValueError:
        params = {}
    return {
        "job_id": str(stamped.get("yvo3d_job_id", "")),
        "library_id": str(stamped.get("yvo3d_library_id", "")),
        "images": [str(i) for i in images],
        "params": params,
        "created": "",
        "cost": stamped.get("yvo3d_cost"),
    }


def _preview_file(entry: LibraryEntry | None) -> str:
    if entry is None or not entry.preview:
        return ""
    path = os.path.join(entry.folder, entry.preview)
    return path if os.path.isfile(path) else ""


def set_preview_from_file(target: bpy.types.ID, path: str) -> None:
    """The ID's preview becomes the picture in `path` (scaled to the preview size)."""
    image = bpy.data.images.load(path, check_existing=False)
    try:
        width, height = image.size[:]
        if not width or not height:
            raise errors.InputError(f"The preview {os.path.basename(path)!r} has no pixels.")
        if max(width, height) > PREVIEW_SIZE:
            factor = PREVIEW_SIZE / max(width, height)
            image.scale(max(1, round(width * factor)), max(1, round(height * factor)))
            width, height = image.size[:]
        pixels = array("f", bytes(16 * width * height))
        cast(Any, image.pixels).foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    preview = target.preview_ensure()
    preview.image_size = (width, height)
    cast(Any, preview.image_pixels_float).foreach_set(pixels)


def render_preview(context: bpy.types.Context, root: bpy.types.Object, folder: str) -> str:
    """A small transparent three-quarter render of the result (a PNG in `folder`)."""
    path = capture.new_capture_path(folder, f"{root.name}-preview")
    return capture.render_objects(context, cleanup.hierarchy(root), PREVIEW_SHOT, path)


def mark_as_asset(
    root: bpy.types.Object,
    entry: LibraryEntry | None,
    *,
    context: bpy.types.Context | None = None,
    preview_path: str = "",
    render_folder: str = "",
) -> bpy.types.ID:
    """Mark the result as an asset: description, author, tags, provenance as custom metadata
    (job id, source images, parameters) and a preview: `preview_path`, else the entry's
    preview, else a render into `render_folder` (when given), else Blender's own. Returns the
    marked ID."""
    context = context or bpy.context
    target = asset_id(root)
    target.asset_mark()
    data: Any = target.asset_data
    info = provenance(root, entry)
    images = [str(i) for i in info["images"]] if isinstance(info["images"], list) else []
    name = entry.name if entry is not None else root.name
    lines = [f"{name}: made by Scenario YVO3D from {', '.join(images) or 'photos'}."]
    if info["created"]:
        lines.append(f"Generated {info['created']}.")
    if info["job_id"]:
        lines.append(f"Job {info['job_id']}.")
    data.description = " ".join(lines)
    data.author = AUTHOR
    params = info["params"] if isinstance(info["params"], dict) else {}
    wanted = [*TAGS]
    generator = params.get("modelGenerator")
    if isinstance(generator, str) and generator:
        wanted.append(generator)
    have = {tag.name for tag in data.tags}
    for tag in wanted:
        if tag not in have:
            data.tags.new(tag, skip_if_exists=True)
    data["yvo3d_job_id"] = str(info["job_id"])
    data["yvo3d_library_id"] = str(info["library_id"])
    data["yvo3d_images"] = images
    data["yvo3d_params"] = json.dumps(params, sort_keys=True, default=str)
    if info["created"]:
        data["yvo3d_created"] = str(info["created"])
    if isinstance(info["cost"], int | float):
        data["yvo3d_cost"] = float(info["cost"])

    for source in (preview_path or _preview_file(entry), "render" if render_folder else ""):
        try:
            path = render_preview(context, root, render_folder) if source == "render" else source
            if path:
                set_preview_from_file(target, path)
                return target
        except (errors.Yvo3dError, RuntimeError):
            continue  # an unreadable preview file, or no renderable geometry: the next one
    target.asset_generate_preview()  # slow (a few seconds), but better than no preview
    return target


def libraries(context: bpy.types.Context) -> list[tuple[str, str]]:
    """(name, folder) of the asset libraries set up in Preferences > File Paths."""
    found: list[tuple[str, str]] = []
    prefs = context.preferences
    if prefs is None:
        return found
    for library in prefs.filepaths.asset_libraries:
        found.append((str(library.name), str(library.path)))
    return found


def library_folder(context: bpy.types.Context, name: str) -> str:
    """The folder of the asset library `name` (empty: the first one); ConfigError if none."""
    known = libraries(context)
    for lib_name, folder in known:
        if not name or lib_name == name:
            if folder:
                return os.path.normpath(bpy.path.abspath(folder))
    if name:
        raise errors.ConfigError(
            f"There is no asset library named {name!r}.",
            fix="Add it in Preferences > File Paths > Asset Libraries, or pick another.",
        )
    raise errors.ConfigError(
        "No asset library is set up.",
        fix="Add a folder in Preferences > File Paths > Asset Libraries.",
    )


def _safe(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("._")[:60] or "asset"


def save_to_library(root: bpy.types.Object, folder: str) -> str:
    """Write the marked result (with its meshes, materials and textures) into a new .blend in
    `folder`; returns its path. Existing files are never overwritten."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise errors.ConfigError(
            f"The asset library folder {folder!r} cannot be created ({exc.strerror})."
        ) from None
    target = asset_id(root)
    stem = _safe(target.name)
    path = os.path.join(folder, f"{stem}.blend")
    counter = 1
    while os.path.exists(path):
        path = os.path.join(folder, f"{stem}_{counter}.blend")
        counter += 1
    blocks: set[bpy.types.ID] = {target, *cleanup.hierarchy(root)}
    try:
        bpy.data.libraries.write(path, blocks, path_remap="ABSOLUTE", fake_user=True, compress=True)
    except (OSError, RuntimeError) as exc:
        raise errors.ConfigError(f"The asset could not be saved to {path!r} ({exc}).") from None
    return path


def mark_imported(
    context: bpy.types.Context,
    result: "ImportResult",
    entry: LibraryEntry | None,
    options: "import_options.Options",
    *,
    render_folder: str = "",
) -> list[str]:
    """Auto-mark after an import (the preference or the scene's import options); notes."""
    notes: list[str] = []
    try:
        mark_as_asset(result.root, entry, context=context, render_folder=render_folder)
        if options.save_asset:
            folder = library_folder(context, options.asset_library)
            save_to_library(result.root, folder)
    except errors.Yvo3dError as exc:
        notes.append(f"Not saved as an asset: {exc.user_text()}")
    except RuntimeError as exc:
        notes.append(f"Not marked as an asset: {exc}")
    return notes
