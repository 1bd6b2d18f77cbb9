"""The local, free check of a reference image: where the subject is in the frame, whether the
picture has transparency, whether it is large enough; and the square a crop-and-pad keeps.

Works on plain RGBA floats (row after row, bottom row first, as Blender stores them): the
Blender layer hands in the pixels of a small copy of the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

MIN_GOOD_SIDE = 512
"""Below this the model sees too little detail (the service accepts 64 and up)."""
SMALL_SUBJECT = 0.45
"""A subject whose longer side fills less of the frame than this is too small."""
MARGIN = 0.08
"""The empty border a crop leaves on each side, as a fraction of the new square side."""
_ALPHA_CUT = 0.5
_COLOR_CUT = 0.12


@dataclass(frozen=True)
class Box:
    """A pixel rectangle: left, bottom inclusive; right, top exclusive."""

    left: int
    bottom: int
    right: int
    top: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.top - self.bottom


@dataclass
class Check:
    width: int
    height: int
    transparent: bool
    subject: Box | None
    """The subject in the image's own pixels, or None when nothing stands out."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One short line: size, transparency, and the first problem or "looks good"."""
        alpha = "transparent" if self.transparent else "opaque"
        verdict = self.problems[0] if self.problems else "framing looks good"
        return f"{self.width}×{self.height}, {alpha}: {verdict}"


def subject_box(width: int, height: int, rgba: Sequence[float], transparent: bool) -> Box | None:
    """The bounding box of what is not background: opaque pixels when the image has
    transparency, else pixels that differ from the corners' colour."""
    if width <= 0 or height <= 0:
        return None
    if not transparent:
        corners = [0, width - 1, (height - 1) * width, height * width - 1]
        background = [sum(rgba[4 * c + k] for c in corners) / 4 for k in range(3)]
    left, bottom, right, top = width, height, -1, -1
    for y in range(height):
        row = y * width
        for x in range(width):
            i = 4 * (row + x)
            if transparent:
                hit = rgba[i + 3] >= _ALPHA_CUT
            else:
                hit = max(abs(rgba[i + k] - background[k]) for k in range(3)) > _COLOR_CUT
            if hit:
                left, right = min(left, x), max(right, x)
                bottom, top = min(bottom, y), max(top, y)
    if right < 0:
        return None
    return Box(left, bottom, right + 1, top + 1)


def has_transparency(rgba: Sequence[float]) -> bool:
    return min(rgba[3::4], default=1.0) < 0.99


def check(
    width: int, height: int, rgba: Sequence[float], *, full_width: int, full_height: int
) -> Check:
    """The check of an image of `full_width` x `full_height` from a `width` x `height` copy."""
    transparent = has_transparency(rgba)
    small = subject_box(width, height, rgba, transparent)
    subject = None
    if small is not None:
        sx, sy = full_width / width, full_height / height
        subject = Box(
            int(small.left * sx),
            int(small.bottom * sy),
            min(full_width, round(small.right * sx)),
            min(full_height, round(small.top * sy)),
        )
    result = Check(full_width, full_height, transparent, subject)
    if small is None:
        result.problems.append("no subject stands out from the background")
    else:
        touching = (
            small.left == 0 or small.bottom == 0 or small.right == width or small.top == height
        )
        fill = max(small.width / width, small.height / height)
        if touching:
            result.problems.append("the subject touches the edge")
        elif fill < SMALL_SUBJECT:
            result.problems.append(f"the subject fills only {fill:.0%} of the frame")
    if min(full_width, full_height) < MIN_GOOD_SIDE:
        result.problems.append(f"small image (under {MIN_GOOD_SIDE} pixels)")
    return result


def crop_square(subject: Box, margin: float = MARGIN) -> tuple[int, int, int]:
    """(left, bottom, side) of the square around `subject` with `margin` on each side; it may
    reach beyond the image, where the crop pads."""
    longer = max(subject.width, subject.height)
    side = max(1, round(longer / max(0.1, 1.0 - 2.0 * margin)))
    cx2 = subject.left + subject.right  # twice the centre: stays whole
    cy2 = subject.bottom + subject.top
    return (cx2 - side) // 2, (cy2 - side) // 2, side
