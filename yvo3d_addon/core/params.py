"""Parameters of model_yvo3d-image-to-3d as data, with the rules that decide what is sent."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from .errors import InputError

MODEL_ID = "model_yvo3d-image-to-3d"
MIN_IMAGES, MAX_IMAGES = 1, 4

KINDS = ("bool", "enum", "onoff", "int", "float")
SCOPES = ("always", "single", "textured", "shape", "prime")

MULTI_VIEW_REASON = "Multi-view (2-4 images) results are shape only"
TEXTURE_OFF_REASON = "Texture is off: the result is shape only"
AUTOPOLY_REASON = "Auto Poly is on: the model chooses the polygon count"


@dataclass(frozen=True)
class Choice:
    """One allowed value of an enum parameter."""

    value: str
    """The value sent to the API."""
    label: str
    """What the user sees."""
    description: str = ""
    """Tooltip."""


@dataclass(frozen=True)
class Param:
    """One model input besides `images`."""

    name: str
    """API name, e.g. "textureResolution"."""
    kind: str
    """bool | enum | onoff (string "ON"/"OFF" in the API, a bool in the UI) | int | float."""
    default: bool | int | float | str
    """UI value: onoff defaults are bools here and become "ON"/"OFF" only in the request."""
    label: str
    description: str
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    scope: str = "always"
    """When it applies: "always" | "single" (1 image) | "textured" (1 image and texture on) |
    "shape" (texture off or 2-4 images) | "prime" (Ultima Prime generator only)."""
    cost_impact: bool = False
    """Changing it changes the price (the estimate must be fetched again)."""

    def choice(self, value: str) -> Choice | None:
        return next((c for c in self.choices if c.value == value), None)


@dataclass(frozen=True)
class Problem:
    """A reason the request cannot be sent, in user words."""

    field: str
    """The parameter's API name, or "images" for the image count."""
    message: str


def _num(value: float) -> str:
    """A number as a user reads it: 100000, 0.85, never 1e+05."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6g}"


def _is_number(value: object) -> bool:
    # bool is an int subclass, but True is not a polygon count.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _snap(param: Param, value: float) -> float:
    """A float on the parameter's step grid (from its minimum), kept inside its range."""
    step = param.step
    if not step or not math.isfinite(value):
        return value
    base = param.minimum or 0.0
    snapped = base + round((value - base) / step) * step
    if param.maximum is not None and snapped > param.maximum + 1e-9:
        snapped -= step
    # Round away binary noise (0.86000000000000001) so equal requests print equal JSON.
    return round(snapped, 10)


def _prettify(value: str) -> str:
    """A label for a value the model record names without one: "ULTIMA_PRIME" -> "Ultima Prime"."""
    return " ".join(w.capitalize() for w in value.replace("-", "_").split("_") if w) or value


class ParamTable:
    """The model's parameters and the rules between them; immutable once built."""

    def __init__(self, params: Iterable[Param]) -> None:
        self.params: dict[str, Param] = {p.name: p for p in params}

    def __repr__(self) -> str:
        return f"ParamTable({list(self.params)!r})"

    # -- values ---------------------------------------------------------------------------

    def defaults(self) -> dict[str, object]:
        """UI values of every parameter (onoff parameters as bools)."""
        return {name: p.default for name, p in self.params.items()}

    def _value(self, settings: Mapping[str, object], name: str) -> object:
        # A missing key or None (an unset UI field) means "the default".
        value = settings.get(name)
        return self.params[name].default if value is None else value

    def is_prime(self, generator: str) -> bool:
        """Whether a generator value is the Ultima Prime tier.

        Matched by name rather than one fixed value because the model record may rename or add
        tiers (e.g. "ULTIMA_PRIME_V2"); the label from the record counts too.
        """
        if "PRIME" in str(generator).upper():
            return True
        param = self.params.get("modelGenerator")
        choice = param.choice(str(generator)) if param else None
        return choice is not None and "PRIME" in choice.label.upper()

    def is_textured(self, settings: Mapping[str, object], n_images: int) -> bool:
        """A single image with texture on: the only case where texture options are sent."""
        return n_images <= 1 and self._value(settings, "texture") is True

    # -- rules ----------------------------------------------------------------------------

    def applies(self, name: str, settings: Mapping[str, object], n_images: int) -> tuple[bool, str]:
        """Whether a parameter is used for these settings and image count, and if not, why.

        No images yet counts as a single view, so the panel shows texture options before the
        user picks an image (validate() reports the missing image).
        """
        param = self.params.get(name)
        if param is None:
            return False, f"{name} is not a parameter of this model"
        multi = n_images > 1
        if param.scope == "single" and multi:
            return False, MULTI_VIEW_REASON
        if param.scope == "textured" and not self.is_textured(settings, n_images):
            return False, MULTI_VIEW_REASON if multi else TEXTURE_OFF_REASON
        if param.scope == "shape" and self.is_textured(settings, n_images):
            return False, (
                f"{param.label} applies to shape-only generation (texture off, or 2-4 images); "
                "it is ignored for textured single-image models"
            )
        if param.scope == "prime" and not self.is_prime(
            str(self._value(settings, "modelGenerator"))
        ):
            return False, f"{param.label} is available with the Ultima Prime generator only"
        if (
            name == "polycount"
            and "autopoly" in self.params
            and self._value(settings, "autopoly") is True
            and self.applies("autopoly", settings, n_images)[0]
        ):
            return False, AUTOPOLY_REASON
        return True, ""

    def _value_problem(self, param: Param, value: object) -> str:
        """Why a UI value is not acceptable for a parameter, or ""."""
        label = param.label
        if param.kind in ("bool", "onoff"):
            if not isinstance(value, bool):
                return f"{label} must be on or off, not {value!r}."
            return ""
        if param.kind == "enum":
            values = [c.value for c in param.choices]
            if not isinstance(value, str) or value not in values:
                listed = ", ".join(
                    c.value if c.label == c.value else f"{c.value} ({c.label})"
                    for c in param.choices
                )
                return f"{label} {value!r} is not available: choose one of {listed}."
            return ""
        if not _is_number(value):
            return f"{label} must be a number, not {value!r}."
        assert isinstance(value, int | float)
        if not math.isfinite(value):
            return f"{label} must be a finite number, not {value!r}."
        if param.kind == "int" and not float(value).is_integer():
            return f"{label} must be a whole number, not {_num(value)}."
        lo, hi = param.minimum, param.maximum
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if lo is not None and hi is not None:
                allowed = f"{_num(lo)} to {_num(hi)}"
            elif lo is not None:
                allowed = f"at least {_num(lo)}"
            else:
                allowed = f"at most {_num(hi or 0)}"
            return f"{label} is {_num(value)}, outside the allowed range {allowed}."
        if param.kind == "int" and param.step and param.step > 1:
            # Whole-number grids (polycount in thousands) are refused off-grid by the service;
            # float grids are snapped in the request instead (a 0.855 typed in is meant as-is).
            base = param.minimum or 0
            if (value - base) % param.step:
                if base % param.step:
                    grid = f"in steps of {_num(param.step)} from {_num(base)}"
                else:
                    grid = f"a multiple of {_num(param.step)}"
                return f"{label} must be {grid}, not {_num(value)}."
        return ""

    def validate(self, settings: Mapping[str, object], n_images: int) -> list[Problem]:
        """Every reason these settings cannot be sent with this many images (empty: fine)."""
        problems: list[Problem] = []
        if n_images < MIN_IMAGES or n_images > MAX_IMAGES:
            allowed = f"{MIN_IMAGES} to {MAX_IMAGES} images are allowed"
            lead = "Add a reference image" if n_images < MIN_IMAGES else "Too many reference images"
            problems.append(Problem("images", f"{lead}: {allowed}, there are {n_images}."))

        for name, param in self.params.items():
            value = self._value(settings, name)
            applies, _ = self.applies(name, settings, n_images)
            if applies:
                message = self._value_problem(param, value)
                if message:
                    problems.append(Problem(name, message))
            elif param.scope == "prime" and value is True:
                # Silently dropping a paid option the user asked for would be a surprise.
                generator = self._value(settings, "modelGenerator")
                gen_param = self.params.get("modelGenerator")
                choice = gen_param.choice(str(generator)) if gen_param else None
                shown = choice.label if choice else str(generator)
                problems.append(
                    Problem(
                        name,
                        f"{param.label} is available with the Ultima Prime generator only "
                        f"(the generator is {shown}): choose Ultima Prime or turn "
                        f"{param.label} off.",
                    )
                )

        high, low = self.params.get("highdetails"), self.params.get("lowpoly")
        if (
            high is not None
            and low is not None
            and self._value(settings, "highdetails") is True
            and self._value(settings, "lowpoly") is True
            and self.applies("lowpoly", settings, n_images)[0]
        ):
            problems.append(
                Problem(
                    "highdetails",
                    f"{high.label} and {low.label} cannot be used together: turn one of them off.",
                )
            )
        return problems

    # -- request --------------------------------------------------------------------------

    def _request_params(self, settings: Mapping[str, object], n_images: int) -> dict[str, object]:
        """The parameters of the request body (without images), in wire form, unvalidated."""
        body: dict[str, object] = {}
        for name, param in self.params.items():
            if not self.applies(name, settings, n_images)[0]:
                continue
            value = self._value(settings, name)
            if param.kind == "onoff":
                body[name] = "ON" if value is True else "OFF"
            elif param.kind == "int" and _is_number(value):
                assert isinstance(value, int | float)
                body[name] = int(value) if math.isfinite(value) else value
            elif param.kind == "float" and _is_number(value):
                assert isinstance(value, int | float)
                body[name] = _snap(param, float(value))
            else:
                body[name] = value
        return body

    def to_request(self, settings: Mapping[str, object], asset_ids: list[str]) -> dict[str, object]:
        """The JSON body of POST /generate/custom/{MODEL_ID}; raises InputError if not valid."""
        problems = self.validate(settings, len(asset_ids))
        for i, asset_id in enumerate(asset_ids, 1):
            if not isinstance(asset_id, str) or not asset_id:
                problems.append(Problem("images", f"Reference image {i} has not been uploaded."))
        if problems:
            raise InputError(
                " ".join(p.message for p in problems),
                fix="Change the settings named above, then generate again.",
            )
        return {"images": list(asset_ids), **self._request_params(settings, len(asset_ids))}

    def fingerprint(self, settings: Mapping[str, object], image_hashes: list[str]) -> str:
        """sha256 hex of the canonical request: same images and same sent values, same print.

        Parameters that do not apply are not sent, so they do not change it.
        """
        canonical = {
            "model": MODEL_ID,
            "images": list(image_hashes),
            "params": self._request_params(settings, len(image_hashes)),
        }
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=repr)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    # -- the model record -----------------------------------------------------------------

    def updated_from_model(self, record: object) -> ParamTable:
        """A new table with choices, ranges, defaults and labels from GET /models/{id}.

        Accepts {"model": {...}} or the inner dict. Inputs this table does not know, and any
        field that is malformed or inconsistent, are ignored: the built-in value stays. Never
        raises.
        """
        try:
            return self._updated_from_model(record)
        except Exception:  # a strange record must never break the panel
            return self

    def _updated_from_model(self, record: object) -> ParamTable:
        if not isinstance(record, dict):
            return self
        model = record.get("model", record)
        if not isinstance(model, dict):
            return self
        inputs = model.get("inputs")
        if not isinstance(inputs, list):
            return self
        ui = model.get("uiConfig")
        selects = ui.get("selects") if isinstance(ui, dict) else None
        if not isinstance(selects, dict):
            selects = {}

        updated = dict(self.params)
        for entry in inputs:
            if not isinstance(entry, dict):
                continue
            name = entry.get("name")
            if not isinstance(name, str) or name not in self.params:
                continue
            labels = selects.get(name)
            new = _merge(self.params[name], entry, labels if isinstance(labels, dict) else {})
            if new is not None:
                updated[name] = new
        return ParamTable(updated.values())


def _finite(value: object) -> float | None:
    if _is_number(value):
        assert isinstance(value, int | float)
        if math.isfinite(value):
            return float(value)
    return None


def _merge(old: Param, entry: dict[str, object], labels: dict[object, object]) -> Param | None:
    """`old` updated from one model-record input; None when the entry does not fit it."""
    changes: dict[str, object] = {}
    kind = old.kind
    api_type = entry.get("type")
    allowed = entry.get("allowedValues")

    if api_type == "boolean":
        if old.kind not in ("bool", "onoff"):
            return None
        kind = "bool"
    elif api_type == "string":
        if old.kind in ("bool", "onoff"):
            # The record decides the wire form of a switch: ON/OFF strings or JSON booleans.
            if not (isinstance(allowed, list) and set(allowed) == {"ON", "OFF"}):
                return None
            kind = "onoff"
        elif old.kind != "enum":
            return None
    elif api_type == "number":
        if old.kind not in ("int", "float"):
            return None
    elif api_type is not None:
        return None
    changes["kind"] = kind

    for key, attr in (("label", "label"), ("description", "description")):
        text = entry.get(key)
        if isinstance(text, str) and text.strip():
            changes[attr] = text.strip()
    if isinstance(entry.get("costImpact"), bool):
        changes["cost_impact"] = entry["costImpact"]

    if kind == "enum":
        values = allowed if isinstance(allowed, list) else list(labels)
        values = [v for v in values if isinstance(v, str) and v]
        if values:
            choices = []
            for value in dict.fromkeys(values):  # drop duplicates, keep order
                known = old.choice(value)
                label = labels.get(value)
                if not (isinstance(label, str) and label.strip()):
                    label = known.label if known else _prettify(value)
                choices.append(Choice(value, label.strip(), known.description if known else ""))
            changes["choices"] = tuple(choices)

    if kind in ("int", "float"):
        lo, hi, step = (_finite(entry.get(k)) for k in ("min", "max", "step"))
        if lo is not None and hi is not None and lo > hi:
            lo = hi = None
        if lo is not None:
            changes["minimum"] = lo
        if hi is not None:
            changes["maximum"] = hi
        if step is not None and step > 0:
            changes["step"] = step
            if kind == "int" and not step.is_integer():
                changes["kind"] = kind = "float"

    default = entry.get("default")
    if kind == "onoff" and default in ("ON", "OFF"):
        changes["default"] = default == "ON"
    elif kind in ("bool", "onoff") and isinstance(default, bool):
        changes["default"] = default
    elif kind == "enum" and isinstance(default, str):
        changes["default"] = default
    elif kind in ("int", "float") and _finite(default) is not None:
        assert isinstance(default, int | float)
        if kind == "int" and float(default).is_integer():
            changes["default"] = int(default)
        else:
            changes["default"] = float(default)
            if kind == "int":
                changes["kind"] = kind = "float"

    new = replace(old, **changes)  # type: ignore[arg-type]
    if kind == "float" and old.kind == "int" and isinstance(new.default, int):
        new = replace(new, default=float(new.default))
    if kind in ("bool", "onoff") and not isinstance(new.default, bool):
        new = replace(new, default=bool(old.default))
    probe = ParamTable([new])
    if probe._value_problem(new, new.default):
        # The record's default does not fit its own rules: keep the old one if that fits.
        if "default" in changes and not probe._value_problem(new, old.default):
            return replace(new, default=old.default)
        return None
    return new


_TEXTURED_ONLY = "Single image with texture only."

DEFAULT_TABLE = ParamTable(
    [
        Param(
            "texture",
            "bool",
            True,
            "Texture",
            "On, the model comes with surface color and material; off, you get the bare shape "
            "only. Single image only: multi-view uploads are always shape only.",
            scope="single",
            # UNVERIFIED: texturing is presumably priced as its own stage.
            cost_impact=True,
        ),
        Param(
            "modelGenerator",
            "enum",
            "FAST_TRUE",
            "Generator",
            "The shape quality level. Higher tiers produce better geometry but cost more.",
            # UNVERIFIED beyond FAST_TRUE: the model record replaces these choices.
            choices=(
                Choice("FAST_TRUE", "Fast", "Good geometry quickly, at the lowest price."),
                Choice(
                    "ULTIMA_PRIME",
                    "Ultima Prime",
                    "The best geometry; costs more. Enables High Details and Auto Poly.",
                ),
            ),
            cost_impact=True,
        ),
        Param(
            "textureResolution",
            "enum",
            "1K",
            "Texture Resolution",
            "The detail level of the surface texture. Higher resolutions look sharper but cost "
            "more. " + _TEXTURED_ONLY,
            choices=(
                Choice("1K", "1K", "1024 pixel texture."),
                Choice("2K", "2K", "2048 pixel texture; costs more."),
                Choice("4K", "4K", "4096 pixel texture; costs the most."),
            ),
            scope="textured",
            cost_impact=True,
        ),
        Param(
            "polycount",
            "int",
            100000,
            "Polycount",
            "The target number of polygons in the model: more polygons mean finer detail and "
            "heavier files. Applies to shape-only and multi-view generation; ignored for "
            "textured single-image models.",
            minimum=1000,
            maximum=500000,
            step=1000,
            scope="shape",
        ),
        Param(
            "lowpoly",
            "bool",
            False,
            "Low Poly",
            "Produces a simplified, low-polygon model for a lighter, stylized look. Applies to "
            "shape-only generation.",
            scope="shape",
        ),
        Param(
            "highdetails",
            "bool",
            False,
            "High Details",
            "Adds finer geometric detail for an extra cost. Available with the Ultima Prime "
            "generator only; can't be combined with Low Poly.",
            scope="prime",
            cost_impact=True,
        ),
        Param(
            "autopoly",
            "bool",
            False,
            "Auto Poly",
            "Lets the model pick the best polygon count for you. Available with the Ultima "
            "Prime generator only.",
            scope="prime",
        ),
        Param(
            "realismLevel",
            "float",
            0.85,
            "Realism Level",
            "How photorealistic the texture looks. Higher values are more realistic. "
            + _TEXTURED_ONLY,
            minimum=0.0,
            maximum=1.0,
            step=0.01,
            scope="textured",
        ),
        Param(
            "creativity",
            "int",
            3,
            "Creativity",
            "How much creative freedom the model takes. 0 stays faithful to your image; 5 "
            "allows more imaginative interpretation.",
            minimum=0,
            maximum=5,
            step=1,
        ),
        Param(
            "generateUvs",
            "onoff",
            True,
            "Generate UVs",
            "Automatically creates UV maps (the layout that lets a texture wrap correctly onto "
            "the 3D surface) when they're missing.",
        ),
        Param(
            "hyperMode",
            "onoff",
            False,
            "Hyper Mode",
            "Processes textures faster and at lower cost, with a small drop in quality. "
            + _TEXTURED_ONLY,
            scope="textured",
            cost_impact=True,
        ),
        Param(
            "insideOut",
            "onoff",
            False,
            "Inside Out",
            "Textures the inside surfaces of the model as well as the outside. Adds cost. "
            + _TEXTURED_ONLY,
            scope="textured",
            cost_impact=True,
        ),
        Param(
            "unlit",
            "onoff",
            False,
            "Unlit",
            "Bakes the texture without any lighting or shadows, so the model looks the same "
            "under any lighting in your scene. " + _TEXTURED_ONLY,
            scope="textured",
        ),
        Param(
            "textureSharpness",
            "float",
            0.5,
            "Texture Sharpness",
            "How sharp and detailed the texture appears. Higher values enhance fine detail. "
            + _TEXTURED_ONLY,
            minimum=0.0,
            maximum=1.0,
            step=0.01,
            scope="textured",
        ),
        Param(
            "textureAdherence",
            "onoff",
            False,
            "Texture Adherence",
            "When on, keeps the generated texture closer to the look of your source image. "
            + _TEXTURED_ONLY,
            scope="textured",
        ),
        Param(
            "roughness",
            "float",
            1.3,
            "Roughness",
            "How matte or glossy the surface looks. Higher values are more matte; lower values "
            "are shinier. " + _TEXTURED_ONLY,
            minimum=0.0,
            maximum=2.0,
            step=0.01,
            scope="textured",
        ),
    ]
)
"""The built-in table: the documented defaults; the fallback when the model record is absent."""
