"""The local library of downloaded results: each GLB with a record of its inputs and provenance.

Blender-free. One folder per result (`<root>/<entry id>/`): `model.glb`, `entry.json`, the input
images (small ones copied, as thumbnails and provenance) and the service's preview when there
is one. Re-importing from here costs nothing and sends no request.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from . import errors, ids, sanitize
from .library_index import LibraryIndex, Row

MAX_INPUT_COPY = 10 * 1024 * 1024


@dataclass
class LibraryEntry:
    id: str
    name: str
    created: float
    job_id: str
    asset_ids: list[str]
    glb_asset_id: str
    fingerprint: str
    settings: dict[str, Any]
    body: dict[str, Any]
    images: list[dict[str, Any]] = field(default_factory=list)  # name, sha256, copy (file name)
    cost: float | None = None
    glb_size: int = 0
    preview: str = ""  # file name inside the entry folder, when the service sent a preview
    service: str = ""  # the service URL it came from: a stand-in result never matches a real one
    folder: str = ""  # filled on load, not stored

    @property
    def glb_path(self) -> str:
        return os.path.join(self.folder, "model.glb")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("folder")
        return data


class Library:
    def __init__(self, root: str) -> None:
        self.root = root
        try:
            os.makedirs(root, exist_ok=True)
        except OSError as exc:
            raise errors.ConfigError(
                f"The library folder {root!r} cannot be created ({exc.strerror}).",
                fix="Choose another library folder in Preferences > Add-ons > YVO3D.",
            ) from None
        if not os.access(root, os.W_OK):
            raise errors.ConfigError(
                f"The library folder {root!r} is not writable.",
                fix="Choose another library folder in Preferences > Add-ons > YVO3D.",
            )
        self.index = LibraryIndex(root, self._index_row)

    def _index_row(self, entry_id: str) -> Row | None:
        entry = self.get(entry_id)
        if entry is None or not os.path.isfile(entry.glb_path):
            return None
        return entry.to_dict()

    def entry_of(self, data: Row) -> LibraryEntry:
        """The entry an index row holds (no file read)."""
        known = {f.name for f in fields(LibraryEntry)}
        entry = LibraryEntry(**{k: v for k, v in data.items() if k in known})
        entry.folder = os.path.join(self.root, entry.id)
        return entry

    def path(self, entry_id: str) -> str:
        """The folder of an entry id, checked (InvalidResponseError when it could escape)."""
        return ids.child(self.root, entry_id)

    def folder(self, entry_id: str) -> str:
        path = self.path(entry_id)
        os.makedirs(path, exist_ok=True)
        return path

    def glb_dest(self, entry_id: str) -> str:
        """Where a job downloads its GLB (the entry becomes visible only once `add` is called)."""
        return os.path.join(self.folder(entry_id), "model.glb")

    def add(self, entry: LibraryEntry, image_paths: list[str]) -> LibraryEntry:
        folder = self.folder(entry.id)
        entry.folder = folder
        if not os.path.isfile(entry.glb_path):
            raise errors.DownloadError("The result file is missing from the library.")
        entry.glb_size = os.path.getsize(entry.glb_path)
        for index, path in enumerate(image_paths):
            if index >= len(entry.images):
                break
            try:
                if os.path.getsize(path) <= MAX_INPUT_COPY:
                    copy = f"input_{index}{os.path.splitext(path)[1].lower()}"
                    shutil.copyfile(path, os.path.join(folder, copy))
                    entry.images[index]["copy"] = copy
            except OSError:
                pass  # provenance copy only: the hash in the record still identifies the input
        text = sanitize.scrub(json.dumps(entry.to_dict(), indent=1, sort_keys=True))
        tmp = os.path.join(folder, "entry.json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, os.path.join(folder, "entry.json"))
        self.index.put(json.loads(text))  # the index holds what the file holds: scrubbed
        return entry

    def get(self, entry_id: str) -> LibraryEntry | None:
        """The entry in folder `entry_id`; None when missing, unreadable or not trustworthy (an
        id that is not its folder's, file names that leave the folder: a tampered library)."""
        try:
            folder = self.path(entry_id)
            with open(os.path.join(folder, "entry.json"), encoding="utf-8") as fh:
                data = json.load(fh)
            known = {f.name for f in fields(LibraryEntry)}
            entry = LibraryEntry(**{k: v for k, v in data.items() if k in known})
        except (OSError, ValueError, TypeError, errors.Yvo3dError):
            return None
        names = [entry.preview] + [
            str(i.get("copy", "")) for i in entry.images if isinstance(i, dict)
        ]
        if entry.id != entry_id or not all(isinstance(i, dict) for i in entry.images):
            return None
        if any(n and not ids.is_id(n) for n in names):
            return None
        entry.folder = folder
        return entry

    def entries(self, search: str = "", offset: int = 0, limit: int = -1) -> list[LibraryEntry]:
        """Complete entries, newest first, from the index (paged by `offset` and `limit`);
        `search` matches the name, case-insensitively."""
        return [self.entry_of(row) for row in self.index.page(search, offset, limit)]

    def find(self, fingerprint: str, service: str | None = None) -> list[LibraryEntry]:
        """Past results of an identical request (same images, same parameters), from the same
        service when `service` is given."""
        if not fingerprint:
            return []
        found = [self.entry_of(row) for row in self.index.find(fingerprint, service)]
        return [e for e in found if os.path.isfile(e.glb_path)]  # a file deleted by hand

    def delete(self, entry_id: str) -> None:
        """Remove one entry's folder: only a real folder inside the library, by a checked id."""
        path = self.path(entry_id)
        if os.path.islink(path) or not os.path.isdir(path):
            raise errors.InvalidResponseError(
                "Refused to delete: that entry is not a library folder."
            )
        shutil.rmtree(path, ignore_errors=True)
        self.index.remove(entry_id)


def new_entry(**kwargs: Any) -> LibraryEntry:
    kwargs.setdefault("created", time.time())
    return LibraryEntry(**kwargs)
