"""A picture's backdrop: its colour (read at the corners), whether it is dark, and what stands out of it.

fashion-mnist-v1 takes the backdrop colour as the per-channel median of the four corner pixels and
calls it dark when that colour's luma (ITU-R 601: 0.299 R + 0.587 G + 0.114 B) is below 128. This is
the ONE dark-background rule: the 28x28-array shortcut and the full pipeline both ask it, so a frame
gets the same answer as an array and as a PNG. It is computed in integers (twice the median, luma in
thousandths), so it has no rounding edge that another language could fall on the other side of.

The trim (the dataset authors' step 2: "trim edges close to the colour of the corner pixels, within
5% of maximum intensity") marks the pixels whose value in some channel is more than 12.75 from the
backdrop's: the box of the pixels a lookup table in Pillow's C code marks; for a picture decoded at
1/k (see reduced.py), also the largest distance from the backdrop along the few lines around each of
the box's edges, to place the edge inside its blocks.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:   # annotations only: the 28x28 frame path (frames.py) must not import Pillow
    from PIL import Image

DARK = 128                       # backdrop luma below this is dark (the dataset's own style)
TRIM_TOLERANCE = 0.05 * 255      # "within 5% of maximum intensity", per RGB channel
LUMA_PERMILLE = (299, 587, 114)  # ITU-R 601, as Pillow's and JPEG's RGB -> grey conversions


def dark_grey_corners(a: int, b: int, c: int, d: int) -> bool:
    """The dark rule for four grey corner values (the 28x28 array shortcut): median < DARK.

    Same answer as `Backdrop.of(...).dark` for grey corners (the luma weights sum to 1000), without
    building a Backdrop, because this runs on every preprocessed frame.
    """
    _, mid1, mid2, _ = sorted((a, b, c, d))
    return mid1 + mid2 < 2 * DARK


@dataclass(frozen=True)
class Backdrop:
    """The corners' per-channel median, kept doubled so that it is an exact integer."""

    doubled: tuple[int, int, int]

    @classmethod
    def of(cls, corners: Sequence[Sequence[int]]) -> "Backdrop":
        """Four RGB corner pixels -> the backdrop (median of four = mean of the middle two)."""
        channels = []
        for values in zip(*corners):
            ordered = sorted(int(v) for v in values)
            channels.append(ordered[1] + ordered[2])
        return cls(tuple(channels))

    @classmethod
    def of_image(cls, rgb: Image.Image) -> "Backdrop":
        w, h = rgb.size
        return cls.of([rgb.getpixel(xy) for xy in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))])

    @property
    def colour(self) -> tuple[float, float, float]:
        return tuple(v / 2 for v in self.doubled)

    @property
    def fill(self) -> tuple[int, int, int]:
        """The colour the garment's canvas is extended with (Python's round: halves to even)."""
        return tuple(round(v / 2) for v in self.doubled)

    @property
    def luma(self) -> float:
        return sum(w * v for w, v in zip(LUMA_PERMILLE, self.doubled)) / 2000

    @property
    def dark(self) -> bool:
        return sum(w * v for w, v in zip(LUMA_PERMILLE, self.doubled)) < DARK * 2000

    def trim_box(self, rgb: Image.Image) -> tuple[int, int, int, int] | None:
        """(left, top, right, bottom) of the pixels over TRIM_TOLERANCE from the backdrop; None if none are."""
        return apply_table(rgb, _differs_table(self.doubled)).getbbox()

    def deviations(self, lines: np.ndarray) -> list[int]:
        """For each line of RGB pixels (lines, length, 3): its largest per-channel distance from the backdrop.

        Rounded down to an integer: with integer pixels and a half-integer backdrop, |v - c| > 12.75
        exactly when floor(|v - c|) >= 13, so the rounding loses nothing at the threshold.
        """
        doubled = np.abs(2 * lines.astype(np.int16) - np.array(self.doubled, np.int16))
        return (doubled.reshape(len(lines), -1).max(axis=1) // 2).tolist()


@lru_cache(maxsize=256)
def _differs_table(doubled: tuple[int, int, int]) -> tuple[int, ...]:
    return tuple(255 if abs(2 * v - c) > 2 * TRIM_TOLERANCE else 0 for c in doubled for v in range(256))


def apply_table(image: Image.Image, table: Sequence[int]) -> Image.Image:
    """`image.point(table)` for a table of ints 0..255, one 256-entry part per band.

    Image.point re-rounds every entry of the table in Python on each call (~0.1 ms, as much as the
    whole lookup on a 200x200 picture); Pillow's C point, which it then calls, takes the table as
    is. Falls back to Image.point if that C entry point ever moves.
    """
    try:
        return image._new(image.im.point(table, None))
    except (AttributeError, TypeError):
        return image.point(list(table))
