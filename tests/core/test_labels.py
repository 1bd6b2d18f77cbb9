"""Parameters shown by their labels, never by their API names."""

from __future__ import annotations

from yvo3d_addon.core.labels import describe
from yvo3d_addon.core.params import DEFAULT_TABLE


def test_request_body_and_settings_read_the_same() -> None:
    body = {"textureResolution": "2K", "hyperMode": "ON", "creativity": 2, "texture": True}
    settings = {"textureResolution": "2K", "hyperMode": True, "creativity": 2, "texture": True}
    expected = ["Texture: On", "Texture Resolution: 2K", "Creativity: 2", "Hyper Mode: On"]
    assert describe(DEFAULT_TABLE, body) == expected
    assert describe(DEFAULT_TABLE, settings) == expected


def test_enum_labels_and_unknown_keys() -> None:
    generator = DEFAULT_TABLE.params["modelGenerator"].choices[-1]
    lines = describe(
        DEFAULT_TABLE, {"modelGenerator": generator.value, "zzNew": 1, "roughness": 1.3}
    )
    assert lines == [f"Generator: {generator.label}", "Roughness: 1.3", "zzNew: 1"]
    assert not any(line.startswith("modelGenerator") for line in lines)
