"""Photo memory bounds: the header's claimed size decides; huge photos are refused, large ones queue."""
from __future__ import annotations

import io
import threading

import pytest
from PIL import Image

from fashion_edge.runtime.errors import InvalidImageError
from fashion_edge.runtime.service.limits import PhotoGate, claimed_pixels


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 255).save(out, "PNG")
    return out.getvalue()


def test_claimed_pixels_come_from_the_header_and_garbage_is_zero():
    assert claimed_pixels(_png(40, 30)) == 1200
    assert claimed_pixels(b"not an image") == 0 and claimed_pixels(b"") == 0


def test_huge_photos_are_refused_large_ones_share_one_slot_small_ones_pass():
    gate = PhotoGate(large=1000, ceiling=5000)
    with pytest.raises(InvalidImageError, match="megapixels"):
        gate.admit(_png(100, 100))
    small = gate.admit(_png(10, 10))
    large_a, large_b = gate.admit(_png(50, 50)), gate.admit(_png(60, 60))
    assert large_a is large_b and isinstance(large_a, type(threading.Lock()))
    with small, large_a:
        assert not large_b.acquire(blocking=False)   # the second large photo waits
