"""A job's assets as Scenario lists them, and which one is the job's GLB: typed as a GLB, the
job's own model before a conversion of it, complete and self-contained once downloaded.

Blender-free.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import errors, glbcheck

GLB_MIME = "model/gltf-binary"


GLB_MIMES = frozenset({GLB_MIME, "model/glb"})  # Scenario types GLBs either way


NOT_GLB_MIMES = frozenset(
    {"model/obj", "model/x-fbx", "model/fbx", "application/octet-stream", "model/vnd.usdz+zip"}
)


@dataclass
class Asset:
    id: str
    url: str
    mime_type: str
    kind: str
    status: str
    type: str
    properties: dict[str, Any]
    parent_id: str = ""
    original_mime_type: str = ""
    preview_url: str = ""  # the asset's own preview/thumbnail image (SDK AssetPreview)

    def __repr__(self) -> str:  # the URL is signed: never in a repr
        return f"Asset(id={self.id!r}, mime_type={self.mime_type!r}, kind={self.kind!r})"


def is_glb(asset: Asset) -> bool:
    """Typed as a GLB: `model/gltf-binary` or `model/glb` (scenario_api.md, corrections of
    2026-12-04). An FBX, OBJ, USDZ or octet-stream asset never is, whatever its name says."""
    mime = asset.mime_type.lower()
    if mime in GLB_MIMES:
        return True
    return not mime and str(asset.properties.get("format", "")).lower() == "glb"


def _derived(asset: Asset, ids: set[str]) -> int:
    """How much an asset looks like a conversion of another one rather than the job's own
    model (SDK types/asset_retrieve_response.py: metadata.parentId, originalMimeType,
    properties.format; metadata.type names what made it)."""
    score = 0
    if asset.parent_id and asset.parent_id in ids:
        score += 2
    if asset.original_mime_type and asset.original_mime_type.lower() not in GLB_MIMES:
        score += 1
    fmt = str(asset.properties.get("format", "")).lower()
    if fmt and fmt != "glb":
        score += 1
    if any(word in asset.type.lower() for word in ("convert", "texture", "preview", "thumb")):
        score += 1
    return score


def pick_glb(assets: Iterable[Asset]) -> Asset | None:
    """The job's GLB: a ready asset typed as a GLB, the job's primary model first (an asset
    that is a conversion of another asset of the job comes last)."""
    listed = list(assets)
    ids = {a.id for a in listed}
    ready = [a for a in listed if a.status in ("success", "") and a.url and is_glb(a)]
    if not ready:
        return None
    return min(ready, key=lambda a: _derived(a, ids))  # stable: the first of equals


def pending_assets(assets: Iterable[Asset]) -> list[Asset]:
    """Assets Scenario is still preparing (an asset may be `pending` after the job's success)."""
    return [a for a in assets if a.status == "pending"]


def check_glb(path: str) -> None:
    """A complete GLB that references nothing outside itself (glbcheck). DownloadError (retried)
    when the file is cut short, UnsafeFileError (final) when it is something else."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(12)
    if len(head) == 12 and head[:4] == b"glTF":
        length = int.from_bytes(head[8:12], "little")
        if length > size:
            raise errors.DownloadError(
                f"The downloaded GLB is incomplete ({size} of {length} bytes).",
                fix="It is downloaded again automatically.",
            )
    glbcheck.check(path)
