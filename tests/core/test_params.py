"""Tests of the model's parameter table: the rules as one table, requests, fingerprints, records."""

from __future__ import annotations

import copy
import itertools
import json

import pytest

from yvo3d_addon.core.errors import InputError
from yvo3d_addon.core.params import (
    AUTOPOLY_REASON,
    DEFAULT_TABLE,
    MAX_IMAGES,
    MIN_IMAGES,
    MODEL_ID,
    MULTI_VIEW_REASON,
    TEXTURE_OFF_REASON,
    Param,
    ParamTable,
)

T = DEFAULT_TABLE
PRIME = "ULTIMA_PRIME"
TEXTURED_OPTIONS = (
    "textureResolution",
    "realismLevel",
    "hyperMode",
    "insideOut",
    "unlit",
    "textureSharpness",
    "textureAdherence",
    "roughness",
)
API_ORDER = [
    "texture",
    "modelGenerator",
    "textureResolution",
    "polycount",
    "lowpoly",
    "highdetails",
    "autopoly",
    "realismLevel",
    "creativity",
    "generateUvs",
    "hyperMode",
    "insideOut",
    "unlit",
    "textureSharpness",
    "textureAdherence",
    "roughness",
]


def ids(n: int) -> list[str]:
    return [f"asset_{i}" for i in range(n)]


# -- the built-in table ----------------------------------------------------------------------


def test_table_has_the_16_documented_parameters_in_api_order() -> None:
    assert MODEL_ID == "model_yvo3d-image-to-3d"
    assert (MIN_IMAGES, MAX_IMAGES) == (1, 4)
    assert list(T.params) == API_ORDER
    for p in T.params.values():
        assert p.label and p.description, p.name
        assert p.kind in ("bool", "enum", "onoff", "int", "float")
        assert p.scope in ("always", "single", "textured", "shape", "prime")
        if p.kind == "enum":
            assert p.default in [c.value for c in p.choices]
        if p.kind in ("int", "float"):
            assert p.minimum is not None and p.maximum is not None
            assert p.minimum <= p.default <= p.maximum


def test_defaults_are_the_documented_ones_as_ui_values() -> None:
    assert T.defaults() == {
        "texture": True,
        "modelGenerator": "FAST_TRUE",
        "textureResolution": "1K",
        "polycount": 100000,
        "lowpoly": False,
        "highdetails": False,
        "autopoly": False,
        "realismLevel": 0.85,
        "creativity": 3,
        "generateUvs": True,
        "hyperMode": False,
        "insideOut": False,
        "unlit": False,
        "textureSharpness": 0.5,
        "textureAdherence": False,
        "roughness": 1.3,
    }


def test_default_request_matches_the_api_page_example_where_it_applies() -> None:
    # The API page example sends every parameter; a textured single image must send exactly
    # the ones that apply, with the same values.
    example = {
        "texture": True,
        "modelGenerator": "FAST_TRUE",
        "textureResolution": "1K",
        "realismLevel": 0.85,
        "creativity": 3,
        "generateUvs": "ON",
        "hyperMode": "OFF",
        "insideOut": "OFF",
        "unlit": "OFF",
        "textureSharpness": 0.5,
        "textureAdherence": "OFF",
        "roughness": 1.3,
    }
    body = T.to_request({}, ["asset_a"])
    assert list(body)[0] == "images"
    assert body == {"images": ["asset_a"], **example}
    assert json.loads(json.dumps(body)) == body


@pytest.mark.parametrize(
    ("generator", "prime"),
    [
        ("FAST_TRUE", False),
        ("ULTIMA_PRIME", True),
        ("ultima_prime", True),
        ("ULTIMA_PRIME_V2", True),
        ("PRIME", True),
        ("ULTIMA", False),
        ("", False),
    ],
)
def test_is_prime(generator: str, prime: bool) -> None:
    assert T.is_prime(generator) is prime


@pytest.mark.parametrize(
    ("settings", "n", "textured"),
    [
        ({}, 1, True),
        ({"texture": False}, 1, False),
        ({}, 2, False),
        ({}, 4, False),
        ({"texture": True}, 3, False),
    ],
)
def test_is_textured(settings: dict[str, object], n: int, textured: bool) -> None:
    assert T.is_textured(settings, n) is textured


# -- the rules: one row per rule -------------------------------------------------------------

# (case, settings, n_images, problems as (field, [fragments]), sent, not_sent)
RULES = [
    ("no images", {}, 0, [("images", ["1 to 4", "there are 0"])], None, None),
    ("five images", {}, 5, [("images", ["1 to 4", "there are 5"])], None, None),
    ("one image is fine", {}, 1, [], ["texture", "textureResolution"], ["polycount"]),
    ("four images are fine", {}, 4, [], ["polycount"], []),
    (
        "multi-view is shape only: texture and textured options not sent",
        {"texture": True, "hyperMode": True, "textureResolution": "4K"},
        2,
        [],
        ["modelGenerator", "polycount", "creativity", "generateUvs", "lowpoly"],
        ["texture", *TEXTURED_OPTIONS],
    ),
    (
        "texture off with one image is shape only",
        {"texture": False, "unlit": True},
        1,
        [],
        ["texture", "polycount", "lowpoly"],
        list(TEXTURED_OPTIONS),
    ),
    (
        "polycount ignored for a textured single image",
        {"polycount": 20000},
        1,
        [],
        ["textureResolution"],
        ["polycount", "lowpoly"],
    ),
    (
        "polycount sent for shape only",
        {"texture": False, "polycount": 20000},
        1,
        [],
        ["polycount"],
        [],
    ),
    ("polycount sent for multi-view", {"polycount": 20000}, 3, [], ["polycount"], []),
    ("lowpoly applies to shape only", {"texture": False, "lowpoly": True}, 1, [], ["lowpoly"], []),
    ("lowpoly not sent when textured", {"lowpoly": True}, 1, [], [], ["lowpoly"]),
    (
        "highdetails and lowpoly never together",
        {"modelGenerator": PRIME, "texture": False, "highdetails": True, "lowpoly": True},
        1,
        [("highdetails", ["High Details", "Low Poly"])],
        None,
        None,
    ),
    (
        "highdetails needs the Ultima Prime tier",
        {"highdetails": True},
        1,
        [("highdetails", ["High Details", "Ultima Prime", "Fast"])],
        None,
        None,
    ),
    (
        "autopoly needs the Ultima Prime tier",
        {"autopoly": True, "texture": False},
        1,
        [("autopoly", ["Auto Poly", "Ultima Prime"])],
        None,
        None,
    ),
    (
        "highdetails and autopoly sent with Ultima Prime",
        {"modelGenerator": PRIME, "highdetails": True, "autopoly": True},
        1,
        [],
        ["highdetails", "autopoly"],
        [],
    ),
    (
        "prime options not sent with another tier when off",
        {},
        1,
        [],
        [],
        ["highdetails", "autopoly"],
    ),
    (
        "autopoly on: polycount not sent",
        {"modelGenerator": PRIME, "autopoly": True, "texture": False},
        1,
        [],
        ["autopoly", "lowpoly"],
        ["polycount"],
    ),
    (
        "autopoly off with prime: polycount sent",
        {"modelGenerator": PRIME, "texture": False},
        1,
        [],
        ["polycount", "autopoly"],
        [],
    ),
    (
        "number below the range",
        {"texture": False, "polycount": 500},
        1,
        [("polycount", ["Polycount", "500", "1000 to 500000"])],
        None,
        None,
    ),
    (
        "number above the range",
        {"roughness": 2.5},
        1,
        [("roughness", ["Roughness", "2.5", "0 to 2"])],
        None,
        None,
    ),
    (
        "int must be whole",
        {"creativity": 2.5},
        1,
        [("creativity", ["Creativity", "whole number", "2.5"])],
        None,
        None,
    ),
    ("whole float accepted for an int", {"creativity": 4.0}, 1, [], ["creativity"], []),
    (
        "int off its step grid",
        {"texture": False, "polycount": 1500},
        1,
        [("polycount", ["Polycount", "multiple of 1000", "1500"])],
        None,
        None,
    ),
    (
        "enum value not among choices",
        {"textureResolution": "8K"},
        1,
        [("textureResolution", ["Texture Resolution", "8K", "1K", "2K", "4K"])],
        None,
        None,
    ),
    (
        "unknown generator lists the choices",
        {"modelGenerator": "TURBO"},
        1,
        [("modelGenerator", ["TURBO", "FAST_TRUE", "ULTIMA_PRIME"])],
        None,
        None,
    ),
    (
        "booleans must be bools",
        {"texture": "yes", "generateUvs": 1},
        1,
        [("texture", ["Texture", "on or off"]), ("generateUvs", ["Generate UVs", "on or off"])],
        None,
        None,
    ),
    (
        "a number must not be a bool",
        {"creativity": True},
        1,
        [("creativity", ["Creativity", "number"])],
        None,
        None,
    ),
    (
        "out-of-range value of a param that does not apply is not a problem",
        {"roughness": 99.0},
        2,
        [],
        [],
        ["roughness"],
    ),
    ("unknown keys are ignored", {"seed": 42, "whatever": "x"}, 1, [], [], ["seed", "whatever"]),
    (
        "every problem is reported, not just the first",
        {"creativity": 9, "textureResolution": "8K", "highdetails": True},
        5,
        [
            ("images", ["there are 5"]),
            ("highdetails", ["Ultima Prime"]),
            ("creativity", ["Creativity"]),
        ],
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("settings", "n", "problems", "sent", "not_sent"),
    [pytest.param(*row[1:], id=row[0]) for row in RULES],
)
def test_rules(
    settings: dict[str, object],
    n: int,
    problems: list[tuple[str, list[str]]],
    sent: list[str] | None,
    not_sent: list[str] | None,
) -> None:
    found = T.validate(settings, n)
    assert [p.field for p in found] == [field for field, _ in problems], found
    for problem, (_, fragments) in zip(found, problems, strict=True):
        for fragment in fragments:
            assert fragment in problem.message, (fragment, problem.message)
    if problems:
        with pytest.raises(InputError) as caught:
            T.to_request(settings, ids(n))
        for problem in found:
            assert problem.message in caught.value.message
        return
    body = T.to_request(settings, ids(n))
    assert list(body)[0] == "images" and body["images"] == ids(n)
    for name in sent or []:
        assert name in body, name
        assert T.applies(name, settings, n) == (True, "")
    for name in not_sent or []:
        assert name not in body, name
        if name in T.params:
            applies, reason = T.applies(name, settings, n)
            assert not applies and reason
    # Whatever is sent is in wire form, and only parameters that apply are sent.
    for name, value in body.items():
        if name == "images":
            continue
        assert T.applies(name, settings, n)[0], name
        if T.params[name].kind == "onoff":
            assert value in ("ON", "OFF")


@pytest.mark.parametrize(
    ("name", "settings", "n", "reason"),
    [
        ("texture", {}, 2, MULTI_VIEW_REASON),
        ("hyperMode", {}, 3, MULTI_VIEW_REASON),
        ("roughness", {"texture": False}, 1, TEXTURE_OFF_REASON),
        ("polycount", {}, 1, "ignored for textured single-image models"),
        ("lowpoly", {}, 1, "shape-only"),
        ("highdetails", {}, 1, "Ultima Prime generator only"),
        ("autopoly", {"modelGenerator": "FAST_TRUE"}, 2, "Ultima Prime generator only"),
        ("polycount", {"modelGenerator": PRIME, "autopoly": True}, 2, AUTOPOLY_REASON),
        ("nonsense", {}, 1, "not a parameter"),
    ],
)
def test_applies_reasons(name: str, settings: dict[str, object], n: int, reason: str) -> None:
    applies, why = T.applies(name, settings, n)
    assert not applies
    assert reason in why
    assert "model chooses" in AUTOPOLY_REASON


def test_no_images_yet_shows_texture_options() -> None:
    # The panel asks before any image is picked; validate() is what reports the count.
    assert T.applies("textureResolution", {}, 0) == (True, "")
    assert [p.field for p in T.validate({}, 0)] == ["images"]


def test_onoff_and_number_conversion_in_the_request() -> None:
    body = T.to_request(
        {
            "generateUvs": False,
            "unlit": True,
            "creativity": 5.0,
            "roughness": 1,
            "realismLevel": 0,
        },
        ["asset_x"],
    )
    assert body["generateUvs"] == "OFF" and body["unlit"] == "ON"
    assert body["creativity"] == 5 and type(body["creativity"]) is int
    assert body["roughness"] == 1.0 and type(body["roughness"]) is float
    assert body["realismLevel"] == 0.0 and type(body["realismLevel"]) is float
    assert body["texture"] is True


def test_floats_snap_to_their_step_in_the_request() -> None:
    body = T.to_request({"realismLevel": 0.857, "roughness": 2.0, "textureSharpness": 0.3}, ["a"])
    assert (body["realismLevel"], body["roughness"], body["textureSharpness"]) == (0.86, 2.0, 0.3)
    assert T.fingerprint({"realismLevel": 0.857}, ["h"]) == T.fingerprint(
        {"realismLevel": 0.86}, ["h"]
    )
    coarse = ParamTable([Param("x", "float", 0.0, "X", "", minimum=0, maximum=1, step=0.4)])
    assert coarse.to_request({"x": 1.0}, ["a"])["x"] == 0.8  # never past the maximum


def test_multi_view_request_body_exactly() -> None:
    body = T.to_request({"texture": True, "hyperMode": True, "polycount": 30000}, ids(3))
    assert body == {
        "images": ids(3),
        "modelGenerator": "FAST_TRUE",
        "polycount": 30000,
        "lowpoly": False,
        "creativity": 3,
        "generateUvs": "ON",
    }


def test_to_request_refuses_missing_asset_ids() -> None:
    with pytest.raises(InputError, match="2 has not been uploaded"):
        T.to_request({}, ["asset_a", ""])


def test_settings_are_not_modified() -> None:
    settings: dict[str, object] = {"texture": False, "generateUvs": True}
    before = dict(settings)
    T.to_request(settings, ["a"])
    T.validate(settings, 1)
    T.fingerprint(settings, ["h"])
    assert settings == before


# -- fingerprint -----------------------------------------------------------------------------


def test_fingerprint_same_request_same_print() -> None:
    a = T.fingerprint({}, ["h1"])
    assert len(a) == 64 and int(a, 16) >= 0
    assert T.fingerprint({}, ["h1"]) == a
    # Spelled-out defaults, unknown keys and equal numbers make the same request.
    assert T.fingerprint(T.defaults(), ["h1"]) == a
    assert T.fingerprint({"whatever": 1, "creativity": 3.0}, ["h1"]) == a


@pytest.mark.parametrize(
    ("settings", "hashes"),
    [
        ({}, ["h2"]),
        ({}, ["h1", "h2"]),
        ({"creativity": 4}, ["h1"]),
        ({"texture": False}, ["h1"]),
        ({"generateUvs": False}, ["h1"]),
        ({"modelGenerator": PRIME}, ["h1"]),
    ],
)
def test_fingerprint_changes_with_what_is_sent(
    settings: dict[str, object], hashes: list[str]
) -> None:
    assert T.fingerprint(settings, hashes) != T.fingerprint({}, ["h1"])


def test_fingerprint_image_order_matters() -> None:
    assert T.fingerprint({}, ["a", "b"]) != T.fingerprint({}, ["b", "a"])


@pytest.mark.parametrize(
    ("settings", "n"),
    [
        ({"polycount": 20000}, 1),  # ignored when textured
        ({"hyperMode": True, "roughness": 0.2}, 2),  # multi-view: shape only
        ({"texture": False}, 3),  # texture not sent for multi-view
        ({"textureSharpness": 0.9}, 2),
        ({"modelGenerator": PRIME, "autopoly": True, "polycount": 5000}, 2),
    ],
)
def test_fingerprint_ignores_params_that_do_not_apply(settings: dict[str, object], n: int) -> None:
    hashes = [f"h{i}" for i in range(n)]
    base = dict(settings)
    if "autopoly" in base:
        base.pop("polycount")
    else:
        base = {}
    assert T.fingerprint(settings, hashes) == T.fingerprint(base, hashes)


# -- the model record ------------------------------------------------------------------------


def record() -> dict[str, object]:
    """A model record shaped like the stand-in's GET /models/{id}, with today's values."""
    inputs: list[dict[str, object]] = [
        {"name": "images", "type": "file_array", "required": {"always": True}},
        {"name": "texture", "type": "boolean", "default": True},
        {
            "name": "modelGenerator",
            "type": "string",
            "default": "FAST_TRUE",
            "allowedValues": ["FAST_TRUE", "ULTIMA_PRIME"],
            "costImpact": True,
        },
        {
            "name": "textureResolution",
            "type": "string",
            "default": "1K",
            "allowedValues": ["1K", "2K", "4K"],
        },
        {"name": "polycount", "type": "number", "default": 100000, "min": 1000, "max": 500000},
        {"name": "creativity", "type": "number", "default": 3, "min": 0, "max": 5, "step": 1},
        {"name": "generateUvs", "type": "string", "default": "ON", "allowedValues": ["ON", "OFF"]},
        {"name": "roughness", "type": "number", "default": 1.3, "min": 0, "max": 2},
    ]
    return {
        "model": {
            "id": MODEL_ID,
            "name": "YVO3D Image to 3D",
            "capabilities": ["img23d"],
            "inputs": inputs,
            "uiConfig": {
                "selects": {"modelGenerator": {"FAST_TRUE": "Fast", "ULTIMA_PRIME": "Ultima Prime"}}
            },
        }
    }


def inputs_of(rec: dict[str, object]) -> list[dict[str, object]]:
    return rec["model"]["inputs"]


def entry(rec: dict[str, object], name: str) -> dict[str, object]:
    return next(i for i in inputs_of(rec) if i["name"] == name)


def test_record_with_todays_values_changes_nothing_that_matters() -> None:
    new = T.updated_from_model(record())
    assert new is not T
    assert list(new.params) == API_ORDER
    assert new.defaults() == T.defaults()
    assert new.to_request({}, ["a"]) == T.to_request({}, ["a"])
    assert new.params["modelGenerator"].choices == T.params["modelGenerator"].choices


def test_record_inner_dict_accepted() -> None:
    rec = record()
    entry(rec, "creativity")["max"] = 10
    assert T.updated_from_model(rec["model"]).params["creativity"].maximum == 10


def test_record_new_generator_tier_appears() -> None:
    rec = record()
    gen = entry(rec, "modelGenerator")
    gen["allowedValues"] = ["FAST_TRUE", "ULTIMA_PRIME", "PRIME_PLUS", "BALANCED"]
    rec["model"]["uiConfig"]["selects"]["modelGenerator"]["PRIME_PLUS"] = "Prime Plus"
    new = T.updated_from_model(rec)
    choices = new.params["modelGenerator"].choices
    assert [c.value for c in choices] == ["FAST_TRUE", "ULTIMA_PRIME", "PRIME_PLUS", "BALANCED"]
    assert [c.label for c in choices] == ["Fast", "Ultima Prime", "Prime Plus", "Balanced"]
    # Built-in tooltips survive for known values.
    assert choices[1].description == T.params["modelGenerator"].choices[1].description
    assert new.is_prime("PRIME_PLUS") and not new.is_prime("BALANCED")
    assert new.validate({"modelGenerator": "BALANCED"}, 1) == []
    body = new.to_request({"modelGenerator": "PRIME_PLUS", "highdetails": True}, ["a"])
    assert body["modelGenerator"] == "PRIME_PLUS" and body["highdetails"] is True
    # The built-in table still refuses what it does not know.
    assert [p.field for p in T.validate({"modelGenerator": "BALANCED"}, 1)] == ["modelGenerator"]


def test_record_tier_renamed_by_label_counts_as_prime() -> None:
    rec = record()
    entry(rec, "modelGenerator")["allowedValues"] = ["FAST_TRUE", "ULTIMA_V3"]
    rec["model"]["uiConfig"]["selects"]["modelGenerator"] = {"ULTIMA_V3": "Ultima Prime 3"}
    assert T.updated_from_model(rec).is_prime("ULTIMA_V3")


def test_record_changed_default() -> None:
    rec = record()
    entry(rec, "textureResolution")["default"] = "2K"
    entry(rec, "generateUvs")["default"] = "OFF"
    entry(rec, "creativity")["default"] = 1
    new = T.updated_from_model(rec)
    assert new.defaults()["textureResolution"] == "2K"
    assert new.defaults()["generateUvs"] is False
    assert new.defaults()["creativity"] == 1
    body = new.to_request({}, ["a"])
    assert (body["textureResolution"], body["generateUvs"], body["creativity"]) == ("2K", "OFF", 1)


def test_record_changed_range() -> None:
    rec = record()
    entry(rec, "polycount").update({"min": 5000, "max": 1_000_000, "step": 500})
    new = T.updated_from_model(rec)
    p = new.params["polycount"]
    assert (p.minimum, p.maximum, p.step) == (5000, 1_000_000, 500)
    assert new.validate({"texture": False, "polycount": 800_000}, 1) == []
    problems = new.validate({"texture": False, "polycount": 2000}, 1)
    assert len(problems) == 1 and "5000 to 1000000" in problems[0].message
    # The built-in table keeps its own range.
    assert [p.field for p in T.validate({"texture": False, "polycount": 800_000}, 1)] == [
        "polycount"
    ]


def test_record_labels_and_cost_impact() -> None:
    rec = record()
    entry(rec, "roughness").update(
        {"label": "Surface Roughness", "description": "Matte or glossy.", "costImpact": True}
    )
    p = T.updated_from_model(rec).params["roughness"]
    assert (p.label, p.description, p.cost_impact) == (
        "Surface Roughness",
        "Matte or glossy.",
        True,
    )
    problems = T.updated_from_model(rec).validate({"roughness": 3.0}, 1)
    assert "Surface Roughness" in problems[0].message


def test_record_switch_sent_as_json_boolean_when_the_record_says_so() -> None:
    rec = record()
    entry(rec, "generateUvs").update({"type": "boolean", "default": True})
    del entry(rec, "generateUvs")["allowedValues"]
    new = T.updated_from_model(rec)
    assert new.params["generateUvs"].kind == "bool"
    assert new.to_request({"generateUvs": False}, ["a"])["generateUvs"] is False


def test_record_fractional_step_makes_an_int_param_a_float() -> None:
    rec = record()
    entry(rec, "creativity").update({"step": 0.5, "default": 2.5})
    new = T.updated_from_model(rec)
    assert new.params["creativity"].kind == "float"
    assert new.to_request({}, ["a"])["creativity"] == 2.5
    assert new.validate({"creativity": 3.5}, 1) == []


GARBAGE: list[tuple[str, object]] = [
    ("not a dict", ["model"]),
    ("model not a dict", {"model": "x"}),
    ("inputs missing", {"model": {"id": MODEL_ID}}),
    ("inputs not a list", {"model": {"inputs": {"texture": {}}}}),
    ("entries not dicts", {"model": {"inputs": [1, "texture", None, []]}}),
    ("entry without a name", {"model": {"inputs": [{"type": "number", "max": 3}]}}),
    ("unknown input", {"model": {"inputs": [{"name": "seed", "type": "number", "default": 1}]}}),
    ("wrong type for kind", {"model": {"inputs": [{"name": "polycount", "type": "boolean"}]}}),
    ("unknown type", {"model": {"inputs": [{"name": "creativity", "type": "vector3"}]}}),
    (
        "switch without ON/OFF",
        {"model": {"inputs": [{"name": "unlit", "type": "string", "allowedValues": ["Y", "N"]}]}},
    ),
    (
        "min above max",
        {"model": {"inputs": [{"name": "creativity", "type": "number", "min": 9, "max": 1}]}},
    ),
    (
        "non-numeric range",
        {"model": {"inputs": [{"name": "roughness", "min": "0", "max": None, "step": -1}]}},
    ),
    (
        "nan and bool numbers",
        {"model": {"inputs": [{"name": "roughness", "min": float("nan"), "max": True}]}},
    ),
    (
        "default outside the new range",
        {"model": {"inputs": [{"name": "polycount", "default": 10, "min": 0.5, "max": 0.9}]}},
    ),
    (
        "enum default not in the choices",
        {"model": {"inputs": [{"name": "textureResolution", "default": "9K"}]}},
    ),
    (
        "allowedValues not strings",
        {"model": {"inputs": [{"name": "textureResolution", "allowedValues": [1, None, ""]}]}},
    ),
    ("selects garbage", {"model": {"inputs": [], "uiConfig": {"selects": ["x"]}}}),
    ("uiConfig garbage", {"model": {"inputs": [], "uiConfig": 7}}),
    (
        "label not a string",
        {"model": {"inputs": [{"name": "unlit", "label": 5, "costImpact": "yes"}]}},
    ),
]


@pytest.mark.parametrize("rec", [pytest.param(r, id=case) for case, r in GARBAGE])
def test_record_garbage_ignored(rec: object) -> None:
    snapshot = copy.deepcopy(rec)
    new = T.updated_from_model(rec)
    assert list(new.params) == API_ORDER
    assert new.defaults() == T.defaults()
    for name in API_ORDER:
        old, got = T.params[name], new.params[name]
        assert (got.kind, got.choices, got.label, got.cost_impact) == (
            old.kind,
            old.choices,
            old.label,
            old.cost_impact,
        ), name
        assert (got.minimum, got.maximum, got.step) == (old.minimum, old.maximum, old.step), name
    assert rec == snapshot  # the record is read, never changed


def test_record_garbage_mixed_with_good_entries() -> None:
    rec = record()
    inputs_of(rec).extend([None, {"name": 3}, {"name": "creativity", "type": "string"}])
    entry(rec, "roughness")["max"] = 3
    new = T.updated_from_model(rec)
    assert new.params["roughness"].maximum == 3
    # The later malformed creativity entry is ignored; the earlier good one stands.
    assert new.params["creativity"].kind == "int"


def test_record_enum_default_not_in_new_choices_falls_back() -> None:
    rec = record()
    entry(rec, "textureResolution").update({"allowedValues": ["2K", "4K"], "default": "8K"})
    # Neither the record's default nor the built-in one fits the new choices: keep the built-in.
    assert T.updated_from_model(rec).params["textureResolution"] == T.params["textureResolution"]
    entry(rec, "textureResolution")["default"] = "2K"
    p = T.updated_from_model(rec).params["textureResolution"]
    assert [c.value for c in p.choices] == ["2K", "4K"] and p.default == "2K"


def test_custom_table() -> None:
    table = ParamTable([Param("x", "int", 1, "X", "An x.", minimum=0, maximum=2)])
    assert table.defaults() == {"x": 1}
    assert table.to_request({"x": 2}, ["a"]) == {"images": ["a"], "x": 2}
    assert "X is 3" in table.validate({"x": 3}, 1)[0].message


def test_agrees_with_the_standin_model_record() -> None:
    """Every request this table sends, the local stand-in of Scenario accepts; the table rebuilt
    from the stand-in's record accepts and sends exactly what the built-in one does."""
    standin = pytest.importorskip("tests.standin.model")
    table = T.updated_from_model({"model": standin.model_record("2026-01-01T00:00:00Z")})
    assert list(table.params) == API_ORDER
    assert table.defaults() == T.defaults()
    checked = 0
    for n in (1, 2, 4):
        for texture in (True, False):
            for generator in ("FAST_TRUE", PRIME):
                for high, low, auto in itertools.product((False, True), repeat=3):
                    for polycount in (1000, 1500, 250000):
                        settings: dict[str, object] = {
                            "texture": texture,
                            "modelGenerator": generator,
                            "highdetails": high,
                            "lowpoly": low,
                            "autopoly": auto,
                            "polycount": polycount,
                            "insideOut": True,
                            "realismLevel": 0.857,
                        }
                        ok = not table.validate(settings, n)
                        assert ok == (not T.validate(settings, n))
                        if not ok:
                            continue
                        body = table.to_request(settings, ids(n))
                        assert body == T.to_request(settings, ids(n))
                        assert standin.validate(body, set(ids(n))) is None, body
                        checked += 1
    assert checked > 50
