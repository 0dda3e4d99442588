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
from typing import Callable, Sequence

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

    def edges(self, first: int, last: int, count: int, deviation: Callable[[int, int], Sequence[float]],
              threshold: float) -> tuple[int, int]:
        """Full-resolution [start, stop) of the pixels whose deviation from the backdrop exceeds `threshold`.

        `first` and `last` are the outermost of the `count` reduced rows/columns holding such a pixel;
        `deviation(lo, hi)` gives the largest deviation within each of the reduced lines lo..hi-1. At
        k = 1 the answer is exact; at k > 1 each edge is placed inside its blocks by a ramp fit to
        the deviations of the two lines on either side of it (all the fit reads).
        """
        if self.k == 1:
            return first, last + 1
        start = 0 if first == 0 else self._crossing(first - 1, first, _lines(deviation, first - 2, first + 2, count),
                                                    threshold)
        end = self.length if last == count - 1 else self._crossing(last + 1, last, _lines(deviation, last - 1, last + 3, count),
                                                                 threshold)
        return start, max(end, start + 1)

    def _crossing(self, outside: int, inside: int, profile: dict[int, float], threshold: float) -> int:
        """Where the deviation crosses `threshold` between reduced pixels `outside` and `inside`.

        A start (outside < inside): the first full-resolution pixel over; an end: one past the last.
        """
        step = 1 if inside > outside else -1      # from outside in
        blocks = [i for i in (outside - step, outside, inside, inside + step) if i in profile]
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
        ia, ib, outputs = ia - first, ib - first, np.arange(size)
        positions = np.arange(len(blocks))
        inner = (positions > ia[:, None]) & (positions < ib[:, None])           # blocks wholly inside output j
        weights = np.where(inner, lengths, 0).astype(np.float32)
        weights[outputs, ia] = wa
        weights[outputs, ib] += wb
        return BoxSums(first, weights, (b - a).astype(np.float32))


def _lines(deviation: Callable[[int, int], Sequence[float]], lo: int, hi: int, count: int) -> dict[int, float]:
    """{line: its deviation} for the lines lo..hi-1 that exist."""
    lo, hi = max(lo, 0), min(hi, count)
    return dict(zip(range(lo, hi), deviation(lo, hi)))


@dataclass(frozen=True, eq=False)
class BoxSums:
    """One axis of a box resize from reduced pixels, as a matrix of pixel counts.

    out_j = (wa_j v[ia_j] + sum of len_i v_i for ia_j < i < ib_j + wb_j v[ib_j]) / total_j: row j of
    `weights` holds how many of output j's full-resolution pixels each reduced pixel stands for.
    The counts (at most k) and the 8-bit values are integers and every term is non-negative, so each
    partial sum of the product is an integer no larger than total_j x 255: exact in float32, whatever
    the order of summation, while that stays under 2**24 (outputs of up to 65,793 full-resolution
    pixels; preprocess's own choice of k keeps them under 3,000).
    """

    first: int              # first reduced pixel used
    weights: np.ndarray     # (outputs, span) float32 pixel counts
    total: np.ndarray       # (outputs,) float32: full-resolution pixels per output

    @property
    def span(self) -> int:
        return self.weights.shape[1]

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Resample float32 `values` (..., span, columns) along the span axis, rounded: (..., outputs, columns)."""
        return np.rint(np.matmul(self.weights, values) / self.total[:, None])


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
    """Block means of unit ramps, and where each ramp starts and how wide it is.

    The ramp rises from 0 at `start` to 1 over `width` pixels (inwards); a pixel holds the ramp's
    value at its centre, a block the mean of its pixels. Returns (means (blocks, ramps), starts,
    widths), the ramps ordered start-major; one contiguous row per block keeps the fit's arithmetic
    on long vectors.
    """
    centres = np.arange(sum(lengths)) + 0.5
    owner = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.arange(-1.0, sum(lengths) + 1.0, max(lengths) / RAMP_STEPS)
    widths = np.array(RAMP_WIDTHS, float)
    rise = (centres[None, None, :] - starts[:, None, None]) / np.maximum(widths[None, :, None], 1e-9)
    model = np.clip(rise, 0, 1)
    model[:, 0, :] = centres[None, :] > starts[:, None]                  # width 0: a step
    means = np.stack([model[..., owner == j].mean(axis=-1) for j in range(len(lengths))], axis=-1)
    grid_starts, grid_widths = np.meshgrid(starts, widths, indexing="ij")
    return np.ascontiguousarray(means.reshape(-1, len(lengths)).T), grid_starts.ravel(), grid_widths.ravel()


def _fit_ramp(lengths: tuple[int, ...], means: np.ndarray, level: float, threshold: float) -> float:
    """Where ramps fitting the block means (least squares) cross `threshold`.

    Linear interpolation between block centres would misplace a step by up to half a block; the
    ramp family covers steps and gentle edges alike. Block means cannot tell a step inside a block
    from a short ramp with the same mean, so every ramp fitting as well as the best (to the 8-bit
    rounding of the means) counts, and the median of their crossings is taken. Positions count
    inwards from the outer side of the outermost block. Up to four of these run per trim (one per
    edge not on the picture's border), so the arithmetic is kept to a few whole-array operations.
    """
    unit, starts, widths = _ramp_models(lengths)
    misfit = np.square(unit * level - means[:, None])
    cost = misfit[0]
    for block in misfit[1:]:          # in order, as a sum along the blocks would add them
        cost = cost + block
    near = cost <= cost.min() + 0.25 * len(lengths)
    crossings = np.sort(starts[near] + widths[near] * min(threshold / level, 1.0))
    middle = len(crossings) // 2
    return float((crossings[middle] + crossings[(len(crossings) - 1) // 2]) / 2)   # the median


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
        # Two passes with 8-bit results in between, as Pillow's resampler does: down the columns,
        # then along each output row (one small matrix product per row).
        pixels = np.asarray(crop, np.float32).reshape(down.span, across.span * 3)
        down_done = down.apply(pixels).reshape(size[1], across.span, 3)
        out = across.apply(down_done)
        return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")
