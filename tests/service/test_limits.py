"""Photo memory bounds: the header's claimed size decides; huge photos are refused, large ones queue."""
from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from fashion_edge.runtime.errors import InvalidImageError
from fashion_edge.runtime.picture import Picture
from fashion_edge.runtime.preprocess import preprocess
from fashion_edge.runtime.service.limits import PhotoGate


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 255).save(out, "PNG")
    return out.getvalue()


def test_the_gate_is_asked_with_the_size_the_header_claims():
    image = Image.new("L", (40, 30), 255)
    image.paste(0, (10, 5, 30, 25))      # a dark garment on white
    out = io.BytesIO()
    image.save(out, "PNG")
    picture = Picture.open(out.getvalue())
    assert picture.size == (40, 30)      # read from the header; preprocess then decodes this same Picture
    assert np.array_equal(preprocess(picture), preprocess(out.getvalue()))
    with pytest.raises(InvalidImageError):
        Picture.open(b"not an image")    # the worker's first step: a 422 before the gate is asked


def test_huge_photos_are_refused_large_ones_share_one_slot_small_ones_pass():
    gate = PhotoGate(large=1000, ceiling=5000)
    with pytest.raises(InvalidImageError, match="megapixels"):
        gate.admit(100 * 100)
    small = gate.admit(10 * 10)
    large_a, large_b = gate.admit(50 * 50), gate.admit(60 * 60)
    assert large_a is large_b and isinstance(large_a, type(threading.Lock()))
    with small, large_a:
        assert not large_b.acquire(blocking=False)   # the second large photo waits


def test_limits_grow_with_a_large_tensor_up_to_what_any_decode_takes():
    from fashion_edge.runtime.picture import MAX_PIXELS as DECODABLE
    from fashion_edge.runtime.recipes import contract_for

    small, large = PhotoGate.for_contract(contract_for(64, 64, 3)), PhotoGate.for_contract(contract_for(600, 600, 3))
    huge = PhotoGate.for_contract(contract_for(2048, 2048, 3))
    assert (small.large, small.ceiling) == (2_000_000, 16_000_000)
    assert (large.large, large.ceiling) == (600 * 600 * 16, 600 * 600 * 64)
    assert huge.ceiling == huge.large == DECODABLE
    with pytest.raises(InvalidImageError, match="the model sees 64x64"):
        small.admit(17_000_000)
