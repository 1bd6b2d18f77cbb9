"""The stand-in's record of `model_yvo3d-image-to-3d`: inputs, request validation and pricing."""

from __future__ import annotations

from typing import Any

MODEL_ID = "model_yvo3d-image-to-3d"

_ON_OFF = ["ON", "OFF"]


def _inp(name: str, type_: str, label: str, description: str, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"name": name, "type": type_, "label": label}
    record["description"] = description
    record.update(extra)
    record.setdefault("required", {"always": False})
    record.setdefault("costImpact", False)
    return record


INPUTS: list[dict[str, Any]] = [
    _inp(
        "images",
        "file_array",
        "Images",
        "1 image for a single view; 2-4 photos of the same subject from different angles for "
        "multi-view (always shape only).",
        kind="image",
        min=1,
        max=4,
        parent=True,
        required={"always": True},
        costImpact=True,
        group="Input",
    ),
    _inp(
        "texture",
        "boolean",
        "Texture",
        "Generate surface colour and material (single image only). Off: bare shape.",
        default=True,
        costImpact=True,
        group="Texture",
    ),
    _inp(
        "modelGenerator",
        "string",
        "Model Generator",
        "Shape quality tier; higher tiers cost more.",
        default="FAST_TRUE",
        allowedValues=["FAST_TRUE", "ULTIMA_PRIME"],
        costImpact=True,
        group="Geometry",
    ),
    _inp(
        "textureResolution",
        "string",
        "Texture Resolution",
        "Texture detail for a textured single image; higher costs more.",
        default="1K",
        allowedValues=["1K", "2K", "4K"],
        costImpact=True,
        group="Texture",
    ),
    _inp(
        "polycount",
        "number",
        "Polycount",
        "Target polygon count (shape-only and multi-view; ignored for a textured single image).",
        default=100000,
        min=1000,
        max=500000,
        step=1000,
        group="Geometry",
    ),
    _inp(
        "lowpoly",
        "boolean",
        "Low Poly",
        "Simplified stylised low-poly model (shape-only generation).",
        default=False,
        group="Geometry",
    ),
    _inp(
        "highdetails",
        "boolean",
        "High Details",
        "Finer geometric detail (Ultima Prime only, not with Low Poly); extra cost.",
        default=False,
        costImpact=True,
        group="Geometry",
    ),
    _inp(
        "autopoly",
        "boolean",
        "Auto Poly",
        "Let the model pick the polygon count (Ultima Prime only).",
        default=False,
        group="Geometry",
    ),
    _inp(
        "realismLevel",
        "number",
        "Realism Level",
        "Photorealism of the texture.",
        default=0.85,
        min=0,
        max=1,
        step=0.01,
        group="Texture",
    ),
    _inp(
        "creativity",
        "number",
        "Creativity",
        "0 = faithful to the image ... 5 = imaginative.",
        default=3,
        min=0,
        max=5,
        step=1,
        group="Settings",
    ),
    _inp(
        "generateUvs",
        "string",
        "Generate UVs",
        "Create UV maps when missing.",
        default="ON",
        allowedValues=_ON_OFF,
        group="Settings",
    ),
    _inp(
        "hyperMode",
        "string",
        "Hyper Mode",
        "Faster, cheaper texturing with a small quality drop.",
        default="OFF",
        allowedValues=_ON_OFF,
        costImpact=True,
        group="Texture",
    ),
    _inp(
        "insideOut",
        "string",
        "Inside Out",
        "Also texture inside surfaces; extra cost.",
        default="OFF",
        allowedValues=_ON_OFF,
        costImpact=True,
        group="Texture",
    ),
    _inp(
        "unlit",
        "string",
        "Unlit",
        "Bake the texture without lighting or shadows.",
        default="OFF",
        allowedValues=_ON_OFF,
        group="Texture",
    ),
    _inp(
        "textureSharpness",
        "number",
        "Texture Sharpness",
        "Higher enhances fine detail.",
        default=0.5,
        min=0,
        max=1,
        step=0.01,
        group="Texture",
    ),
    _inp(
        "textureAdherence",
        "string",
        "Texture Adherence",
        "Keep the texture closer to the source image.",
        default="OFF",
        allowedValues=_ON_OFF,
        group="Texture",
    ),
    _inp(
        "roughness",
        "number",
        "Roughness",
        "Higher = more matte, lower = glossier.",
        default=1.3,
        min=0,
        max=2,
        step=0.01,
        group="Texture",
    ),
]

_BY_NAME = {i["name"]: i for i in INPUTS}

UI_SELECTS: dict[str, dict[str, str]] = {
    "modelGenerator": {"FAST_TRUE": "Fast", "ULTIMA_PRIME": "Ultima Prime"},
    "textureResolution": {"1K": "1K", "2K": "2K", "4K": "4K"},
    **{
        name: {"ON": "On", "OFF": "Off"}
        for name in _BY_NAME
        if _BY_NAME[name].get("allowedValues") == _ON_OFF
    },
}


def model_record(created_at: str) -> dict[str, Any]:
    """The `model` object of GET /v1/models/model_yvo3d-image-to-3d, shaped like a real record."""
    return {
        "id": MODEL_ID,
        "name": "YVO3D Image to 3D",
        "shortDescription": "Turns 1-4 photos of an object into a textured 3D model (GLB).",
        "type": "custom",
        "custom": True,
        "privacy": "public",
        "source": "other",
        "status": "trained",
        "capabilities": ["img23d"],
        "tags": ["Image to 3D", "sc:third-party"],
        "collectionIds": [],
        "exampleAssetIds": [],
        "trainingImagesNumber": 0,
        "trainingImagePairs": [],
        "parameters": {},
        "accessRestrictions": 0,
        "createdAt": created_at,
        "updatedAt": created_at,
        "ownerId": "proj_standin",
        "authorId": "user_standin",
        "userId": "user_standin",
        "inputs": [dict(i) for i in INPUTS],
        "uiConfig": {"selects": {k: dict(v) for k, v in UI_SELECTS.items()}},
    }


def is_textured(body: dict[str, Any]) -> bool:
    """A single image with texture on (the default) produces a textured model."""
    images = body.get("images")
    return isinstance(images, list) and len(images) == 1 and body.get("texture", True) is True


def price(body: dict[str, Any]) -> int:
    """Creative units a valid request costs in the stand-in: FAST_TRUE 30, ULTIMA_PRIME 60;
    textured single image +10/+20/+40 (1K/2K/4K); highdetails +20; insideOut +10; hyperMode -5."""
    cost = 60 if body.get("modelGenerator") == "ULTIMA_PRIME" else 30
    if is_textured(body):
        cost += {"1K": 10, "2K": 20, "4K": 40}.get(str(body.get("textureResolution", "1K")), 10)
    if body.get("highdetails") is True:
        cost += 20
    if body.get("insideOut") == "ON":
        cost += 10
    if body.get("hyperMode") == "ON":
        cost -= 5
    return cost


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate(body: object, image_ids: set[str]) -> str | None:
    """Why the service would refuse this body with 400, or None when it would accept it.
    `image_ids` are the ids of image assets that exist."""
    if not isinstance(body, dict):
        return "Request body must be a JSON object"
    for key, value in body.items():
        if key == "dryRun":
            continue  # the real service ignores it in the body (and runs a paid job)
        spec = _BY_NAME.get(key)
        if spec is None:
            return f"Unknown input '{key}' for model {MODEL_ID}"
        kind = spec["type"]
        if kind == "file_array":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return f"'{key}' must be an array of asset ids"
            if not spec["min"] <= len(value) <= spec["max"]:
                return f"'{key}' must contain between {spec['min']} and {spec['max']} items"
            missing = [v for v in value if v not in image_ids]
            if missing:
                return f"Asset not found or not an image: {missing[0]}"
        elif kind == "boolean":
            if not isinstance(value, bool):
                return f"'{key}' must be a boolean"
        elif kind == "string":
            if not isinstance(value, str):
                return f"'{key}' must be a string"
            allowed = spec.get("allowedValues")
            if allowed and value not in allowed:
                return f"'{key}' must be one of {', '.join(allowed)}"
        elif kind == "number":
            if not _is_number(value):
                return f"'{key}' must be a number"
            if not spec["min"] <= value <= spec["max"]:
                return f"'{key}' must be between {spec['min']} and {spec['max']}"
            steps = (value - spec["min"]) / spec["step"]
            if abs(steps - round(steps)) > 1e-6:
                return f"'{key}' must be a multiple of {spec['step']}"
    if "images" not in body:
        return "'images' is required"
    if body.get("highdetails") is True and body.get("lowpoly") is True:
        return "'highdetails' cannot be combined with 'lowpoly'"
    if body.get("modelGenerator", "FAST_TRUE") != "ULTIMA_PRIME":
        for name in ("highdetails", "autopoly"):
            if body.get(name) is True:
                return f"'{name}' requires modelGenerator ULTIMA_PRIME"
    return None
