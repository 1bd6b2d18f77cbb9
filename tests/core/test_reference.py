"""The local reference check on plain pixels: the subject's box, transparency, the verdict,
and the square a crop keeps."""

from __future__ import annotations

from yvo3d_addon.core import reference


def image(width: int, height: int, box: tuple[int, int, int, int], *, alpha: bool) -> list[float]:
    """RGBA rows bottom first: a red box on grey (opaque) or on nothing (transparent)."""
    left, bottom, right, top = box
    out: list[float] = []
    for y in range(height):
        for x in range(width):
            inside = left <= x < right and bottom <= y < top
            if inside:
                out += [1.0, 0.1, 0.1, 1.0]
            else:
                out += [0.0, 0.0, 0.0, 0.0] if alpha else [0.5, 0.5, 0.5, 1.0]
    return out


def test_subject_box_on_transparency_and_on_a_plain_background() -> None:
    for alpha in (True, False):
        pixels = image(64, 48, (10, 5, 30, 40), alpha=alpha)
        assert reference.has_transparency(pixels) is alpha
        assert reference.subject_box(64, 48, pixels, alpha) == reference.Box(10, 5, 30, 40)


def test_nothing_stands_out() -> None:
    pixels = image(32, 32, (0, 0, 0, 0), alpha=False)
    assert reference.subject_box(32, 32, pixels, False) is None
    found = reference.check(32, 32, pixels, full_width=1024, full_height=1024)
    assert found.subject is None and found.problems == ["no subject stands out from the background"]


def test_verdicts_and_scaling_to_the_full_image() -> None:
    good = reference.check(
        100, 100, image(100, 100, (20, 20, 80, 80), alpha=True), full_width=1000, full_height=1000
    )
    assert good.ok and good.subject == reference.Box(200, 200, 800, 800)
    assert good.summary() == "1000×1000, transparent: framing looks good"
    small = reference.check(
        100, 100, image(100, 100, (40, 40, 60, 60), alpha=True), full_width=800, full_height=800
    )
    assert small.problems == ["the subject fills only 20% of the frame"]
    edge = reference.check(
        100, 100, image(100, 100, (0, 30, 50, 70), alpha=False), full_width=300, full_height=300
    )
    assert edge.problems == ["the subject touches the edge", "small image (under 512 pixels)"]


def test_crop_square_centres_the_subject_with_the_margin() -> None:
    left, bottom, side = reference.crop_square(reference.Box(100, 50, 300, 150), margin=0.1)
    assert side == 250  # the longer side, 200, is 80 % of the square
    assert (left, bottom) == (75, -25)  # beyond the image at the bottom: padded there
    assert left + side / 2 == 200 and bottom + side / 2 == 100  # the subject's centre
