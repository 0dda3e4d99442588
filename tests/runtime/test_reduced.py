"""Working at 1/k in full-resolution coordinates (runtime/reduced.py): exact at k = 1, a pixel or so
at k > 1, checked against Pillow itself. No trained model needed."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fashion_edge.runtime.backdrop import TRIM_TOLERANCE, Backdrop
from fashion_edge.runtime.picture import UPRIGHT, Picture
from fashion_edge.runtime.reduced import Axis, Reduced, box_bounds


def test_box_bounds_are_the_source_pixels_pillow_box_averages():
    rng = np.random.default_rng(0)
    for _ in range(300):
        length, size = int(rng.integers(1, 400)), int(rng.integers(1, 29))
        bounds = box_bounds(length, size)
        for p in rng.integers(0, length, 3):           # an impulse shows which outputs read pixel p
            row = np.zeros((1, length), np.uint8)
            row[0, p] = 255
            seen = np.asarray(Image.fromarray(row).resize((size, 1), Image.Resampling.BOX))[0] > 0
            assert np.array_equal(seen, (bounds[:, 0] <= p) & (p < bounds[:, 1])), (length, size, p)


def edges(axis: Axis, profile: np.ndarray) -> tuple[int, int] | None:
    """Axis.edges on a whole profile of per-line deviations (the runtime reads only the lines it needs)."""
    over = np.flatnonzero(profile > TRIM_TOLERANCE)
    if over.size == 0:
        return None
    read = []

    def deviation(lo: int, hi: int) -> list[float]:
        read.extend(range(lo, hi))
        return profile[lo:hi].tolist()

    found = axis.edges(int(over[0]), int(over[-1]), len(profile), deviation, TRIM_TOLERANCE)
    assert len(read) <= 8      # two lines on either side of each edge, no more
    return found


def block_means(values: np.ndarray, axis: Axis) -> np.ndarray:
    count = (axis.length + axis.offset + axis.k - 1) // axis.k
    return np.array([values[axis.lo(i):axis.hi(i)].mean() for i in range(count)])


@pytest.mark.parametrize("k, slack", [(2, 0), (4, 0), (8, 1)])
@pytest.mark.parametrize("offset", [0, 1])
def test_step_edges_are_found_inside_their_blocks(k, slack, offset):
    """A cut-out's edge (a step) anywhere inside a block is placed to the pixel from 8-bit block
    means (at 1/8 a step and a short ramp can give the same means: a pixel either way)."""
    for start in range(40, 40 + 2 * k):
        for stop in range(300, 300 + 2 * k):
            axis = Axis(400, k, offset % k)
            profile = np.zeros(400)
            profile[start:stop] = 180.0
            found = edges(axis, np.rint(block_means(profile, axis)))
            assert abs(found[0] - start) <= slack and abs(found[1] - stop) <= slack, (start, stop, found)


@pytest.mark.parametrize("k", [2, 4, 8])
def test_ramp_edges_are_found_within_half_a_block(k):
    """A photographed edge (a ramp a few pixels wide): the threshold crossing to within half a
    block and a pixel; where it lies inside a block is not in the block means when the ramp is
    about as wide as a block."""
    for width in (3, 6, 12):
        for start in range(50, 50 + k):
            profile = np.clip((np.arange(400) - start) / width, 0, 1) * 200.0
            exact = int(np.flatnonzero(profile > TRIM_TOLERANCE)[0])
            found, _ = edges(Axis(400, k), np.rint(block_means(profile, Axis(400, k))))
            assert abs(found - exact) <= k // 2 + 1, (k, width, start, found, exact)


def test_at_full_resolution_edges_are_exact():
    profile = np.zeros(100)
    profile[[7, 50, 91]] = 13.0                    # just over 12.75 counts
    assert edges(Axis(100), profile) == (7, 92)
    assert edges(Axis(100), np.full(100, 12.75)) is None


def test_line_deviations_are_the_largest_channel_distance_rounded_down():
    rng = np.random.default_rng(3)
    for _ in range(50):
        backdrop = Backdrop(tuple(int(v) for v in rng.integers(0, 511, 3)))
        lines = rng.integers(0, 256, (int(rng.integers(1, 5)), int(rng.integers(1, 40)), 3), dtype=np.uint8)
        naive = [max(int(abs(int(v) - c / 2)) for pixel in line for v, c in zip(pixel, backdrop.doubled))
                 for line in lines]
        assert backdrop.deviations(lines) == naive


def test_the_ramp_fit_takes_the_median_crossing_of_the_best_fitting_ramps():
    """_fit_ramp against the same least-squares selection written plainly, on random block means."""
    from fashion_edge.runtime.reduced import _fit_ramp, _ramp_models

    rng = np.random.default_rng(5)
    for lengths in [(4, 4, 4, 4), (2, 4, 4), (8, 8, 8, 3), (1, 2, 2, 2)]:
        unit, starts, widths = _ramp_models(lengths)
        for _ in range(40):
            level = float(rng.uniform(14, 255))
            means = np.sort(rng.uniform(0, level, len(lengths))).astype(np.float32)
            cost = np.array([sum((u * level - m) ** 2 for u, m in zip(ramp, means)) for ramp in unit.T])
            near = cost <= cost.min() + 0.25 * len(lengths)
            expected = float(np.median(starts[near] + widths[near] * min(TRIM_TOLERANCE / level, 1.0)))
            assert _fit_ramp(lengths, means, level, TRIM_TOLERANCE) == expected


@pytest.mark.parametrize("k", [2, 4, 8])
def test_resize_from_reduced_pixels_is_pillows_box_resize_at_full_resolution(k):
    """When every block is uniform (a full-resolution picture made of k x k squares), resizing the
    1/k picture gives what Pillow's BOX filter gives on the full-resolution one."""
    rng = np.random.default_rng(k)
    small = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    full = Image.fromarray(small).resize((80 * k, 60 * k), Image.Resampling.NEAREST)
    reduced = Reduced(Image.fromarray(small), Axis(80 * k, k), Axis(60 * k, k))
    for box, size in [((5, 3, 80 * k - 7, 60 * k - 1), (28, 20)), ((k * 10 + 1, 7, k * 60 + 3, k * 50), (28, 25))]:
        expected = np.asarray(full.crop(box).resize(size, Image.Resampling.BOX), np.int16)
        got = np.abs(np.asarray(reduced.resize(box, size), np.int16) - expected)
        # Rounding only: Pillow's fixed point, and its pass order (it may resize vertically first).
        assert got.max() <= 2 and got.mean() < 0.5


@pytest.mark.parametrize("orientation", range(1, 9))
def test_reduced_axes_know_where_blocks_lie_after_exif_orientation(orientation):
    """A mark in the stored picture's first block lands, after orientation, where the axes say."""
    stored = np.zeros((90, 130, 3), np.uint8)          # 130 x 90: neither a multiple of 4
    stored[:4, :4] = 255
    picture = Picture.open(stored)
    reduced = picture.decode(4)
    image = Image.fromarray(stored)
    upright = np.asarray(image.transpose(UPRIGHT[orientation]) if orientation in UPRIGHT else image)
    ys, xs = np.nonzero(upright[..., 0])
    axes = _axes_for(orientation, reduced)
    for axis, coords in zip(axes, (xs, ys)):
        marked = {i for i in range(200) if axis.lo(i) < axis.hi(i) and axis.lo(i) <= coords.min() < axis.hi(i)}
        assert len(marked) == 1 and axis.hi(marked.pop()) >= coords.max() + 1


def _axes_for(orientation: int, reduced: Reduced) -> tuple[Axis, Axis]:
    from fashion_edge.runtime.picture import _axes

    return _axes((130, 90), 4, orientation)
