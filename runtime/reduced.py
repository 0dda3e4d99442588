"""A picture decoded at 1/k, measured and resampled in full-resolution coordinates.

The output of fashion-mnist-v1 is so small that each of its pixels stands for dozens of source
pixels, yet its garments have sharp edges and Pillow's BOX filter assigns whole source pixels to
output pixels: moving the trim box by one source pixel changes the result by a few grey levels. So
a 1/k decode must not round the box to whole k-pixel blocks. Here each axis knows which
full-resolution pixels each reduced pixel averages; a trim edge is placed inside its blocks by
fitting a ramp (a step for a cut-out, a few pixels wide for a photographed garment) to the block
means around it; and the box resize is Pillow's BOX filter evaluated at full resolution, each
full-resolution pixel read as the mean of its block. At k = 1 every step is exactly the
full-resolution one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

RAMP_WIDTHS = (0, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)   # full-resolution pixels; 0: a step
RAMP_STEPS = 16                                                       # start positions tried per block


@dataclass(frozen=True)
class Axis:
    """One upright axis: reduced pixel i averages full-resolution pixels [lo(i), hi(i))."""

    length: int          # full-resolution pixels
    k: int = 1
    offset: int = 0      # pixels missing from the first block (an axis EXIF orientation reversed)

    def lo(self, i: int) -> int:
        return max(0, i * self.k - self.offset)

    def hi(self, i: int) -> int:
        return min(self.length, (i + 1) * self.k - self.offset)

    def edges(self, profile: np.ndarray, threshold: float) -> tuple[int, int] | None:
        """Full-resolution [start, stop) of the pixels whose deviation from the backdrop exceeds `threshold`.

        `profile[i]` is the largest deviation within reduced row/column i (None if none exceeds).
        At k = 1 that is exact; at k > 1 each edge is placed inside its blocks by a ramp fit.
        """
        over = np.flatnonzero(profile > threshold)
        if over.size == 0:
            return None
        first, last = int(over[0]), int(over[-1])
        if self.k == 1:
            return first, last + 1
        values = profile.tolist()
        start = 0 if first == 0 else self._crossing(first - 1, first, values, threshold)
        end = self.length if last == len(values) - 1 else self._crossing(last + 1, last, values, threshold)
        return start, max(end, start + 1)

    def _crossing(self, outside: int, inside: int, profile: list, threshold: float) -> int:
        """Where the deviation crosses `threshold` between reduced pixels `outside` and `inside`.

        A start (outside < inside): the first full-resolution pixel over; an end: one past the last.
        """
        step = 1 if inside > outside else -1      # from outside in
        blocks = [i for i in (outside - step, outside, inside, inside + step) if 0 <= i < len(profile)]
        values = [profile[i] for i in blocks]
        level = max(values[blocks.index(inside):])
        lengths = tuple(self.hi(i) - self.lo(i) for i in blocks)
        # u: distance inwards from the outer side of the outermost block.
        u = _fit_ramp(lengths, np.array(values, np.float32), level, threshold)
        if step > 0:
            at = self.lo(blocks[0]) + u
            return min(max(math.floor(at - 0.5) + 1, self.lo(blocks[0])), self.hi(inside) - 1)
        at = self.hi(blocks[0]) - u
        return max(min(math.ceil(at - 0.5), self.hi(blocks[0])), self.lo(inside) + 1)

    def box_sums(self, start: int, stop: int, size: int) -> "BoxSums":
        """Pillow's BOX resize of full-resolution pixels [start, stop) to `size`, as sums over reduced pixels.

        Output j averages full-resolution pixels [a_j, b_j) (box_bounds); read from the 1/k picture
        that is its first and last blocks weighted by how much of them it covers, and the blocks
        between in full.
        """
        bounds = box_bounds(stop - start, size) + start
        a, b = bounds[:, 0], bounds[:, 1]
        first = (start + self.offset) // self.k
        ia, ib = (a + self.offset) // self.k, (b - 1 + self.offset) // self.k
        wa = np.minimum((ia + 1) * self.k - self.offset, b) - a                 # pixels of a_j's block inside
        wb = np.where(ib > ia, b - np.maximum(ib * self.k - self.offset, a), 0)  # ... of b_j's block, if another
        blocks = np.arange(first, ib[-1] + 1)
        lengths = np.minimum((blocks + 1) * self.k - self.offset, self.length) - np.maximum(blocks * self.k - self.offset, 0)
        return BoxSums(first, ia - first, ib - first, wa.astype(np.float32), wb.astype(np.float32),
                       (b - a).astype(np.float32), lengths.astype(np.float32))


@dataclass(frozen=True, eq=False)
class BoxSums:
    """One axis of a box resize from reduced pixels.

    out_j = (wa_j v[ia_j] + sum of len_i v_i for ia_j < i < ib_j + wb_j v[ib_j]) / total_j, the sum
    read off a cumulative sum, so the cost is a few array operations whatever the sizes.
    """

    first: int              # first reduced pixel used
    ia: np.ndarray          # per output, relative to `first`
    ib: np.ndarray
    wa: np.ndarray
    wb: np.ndarray
    total: np.ndarray
    lengths: np.ndarray     # full-resolution pixels in each reduced pixel from `first` on

    @property
    def span(self) -> int:
        return len(self.lengths)

    @property
    def inner_end(self) -> np.ndarray:
        """cumulative[inner_end] - cumulative[ia]: the blocks strictly between ia and ib (none if ib <= ia + 1)."""
        return np.maximum(self.ib - 1, self.ia)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Resample float32 `values` (span, columns) along axis 0, rounded to integers: (outputs, columns)."""
        cumulative = np.cumsum(values * self.lengths[:, None], axis=0)
        inner = cumulative[self.inner_end] - cumulative[self.ia]
        out = values[self.ia] * self.wa[:, None] + inner + values[self.ib] * self.wb[:, None]
        return np.rint(out / self.total[:, None])


def box_bounds(length: int, size: int) -> np.ndarray:
    """For each of `size` outputs, the source pixels [a, b) Pillow's BOX filter averages: (size, 2).

    Resample.c's precompute_coeffs in the same double arithmetic: an output pixel takes the source
    pixels whose centres fall in (centre - scale/2, centre + scale/2] (at least one).
    """
    scale = length / size
    support = 0.5 * max(scale, 1.0)
    ss = 1.0 / max(scale, 1.0)
    centre = (np.arange(size) + 0.5) * scale
    a = np.maximum((centre - support + 0.5).astype(np.int64), 0)
    b = np.minimum((centre + support + 0.5).astype(np.int64), length)
    # The window is a pixel wider than the filter's support at most: trim each end once if it is outside.
    a = np.where((a - centre + 0.5) * ss > -0.5, a, a + 1)
    b = np.where((b - 1 - centre + 0.5) * ss <= 0.5, b, b - 1)
    b = np.maximum(b, a + 1)
    a = np.minimum(a, length - 1)
    return np.stack([a, np.minimum(b, length)], axis=1)


@lru_cache(maxsize=64)
def _ramp_models(lengths: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Block means of unit ramps: (starts, widths, means[start * widths + width, block]).

    The ramp rises from 0 at `start` to 1 over `width` pixels (inwards); a pixel holds the ramp's
    value at its centre, a block the mean of its pixels.
    """
    centres = np.arange(sum(lengths)) + 0.5
    owner = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.arange(-1.0, sum(lengths) + 1.0, max(lengths) / RAMP_STEPS)
    widths = np.array(RAMP_WIDTHS, float)
    rise = (centres[None, None, :] - starts[:, None, None]) / np.maximum(widths[None, :, None], 1e-9)
    model = np.clip(rise, 0, 1)
    model[:, 0, :] = centres[None, :] > starts[:, None]                  # width 0: a step
    means = np.stack([model[..., owner == j].mean(axis=-1) for j in range(len(lengths))], axis=-1)
    return starts, widths, means.reshape(-1, len(lengths))


def _fit_ramp(lengths: tuple[int, ...], means: np.ndarray, level: float, threshold: float) -> float:
    """Where ramps fitting the block means (least squares) cross `threshold`.

    Linear interpolation between block centres would misplace a step by up to half a block; the
    ramp family covers steps and gentle edges alike. Block means cannot tell a step inside a block
    from a short ramp with the same mean, so every ramp fitting as well as the best (to the 8-bit
    rounding of the means) counts, and the median of their crossings is taken. Positions count
    inwards from the outer side of the outermost block.
    """
    starts, widths, unit = _ramp_models(lengths)
    cost = ((unit * level - means) ** 2).sum(axis=1)
    near = cost <= cost.min() + 0.25 * len(lengths)
    crossings = (starts[:, None] + widths[None, :] * min(threshold / level, 1.0)).ravel()
    return float(np.median(crossings[near]))


@dataclass(frozen=True)
class Reduced:
    """An upright RGB picture at 1/k, with the geometry that maps it back to full resolution."""

    image: Image.Image
    x: Axis
    y: Axis

    @property
    def k(self) -> int:
        return self.x.k

    def resize(self, box: tuple[int, int, int, int], size: tuple[int, int]) -> Image.Image:
        """The full-resolution `box` resized to `size` with Pillow's BOX filter (computed from the 1/k pixels)."""
        if self.k == 1:   # crop first: resize(box=...) rounds a few bounds differently from the reference
            return self.image.crop(box).resize(size, Image.Resampling.BOX)
        across = self.x.box_sums(box[0], box[2], size[0])
        down = self.y.box_sums(box[1], box[3], size[1])
        crop = self.image.crop((across.first, down.first, across.first + across.span, down.first + down.span))
        rows, columns = down.span, across.span
        # Two passes with 8-bit results in between, as Pillow's resampler does. Vertical first: each
        # pass sums along axis 0, and the crop is already (rows, columns x 3) without a copy.
        pixels = np.asarray(crop, np.float32).reshape(rows, columns * 3)
        down_done = down.apply(pixels).reshape(size[1], columns, 3).transpose(1, 0, 2).reshape(columns, size[1] * 3)
        out = across.apply(down_done).reshape(size[0], size[1], 3).transpose(1, 0, 2)
        return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")
