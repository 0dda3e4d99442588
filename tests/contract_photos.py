"""Test helper: a device frame of any contract as the photo a camera or a user would send."""
from __future__ import annotations

import io

import numpy as np

from fashion_edge.export.photo_like import enlarged


def photo_of(frame: np.ndarray, scale: int = 4, fmt: str = "PNG") -> bytes:
    """The frame (H, W, C) enlarged `scale` times (bicubic, RGB) and encoded."""
    image = enlarged(frame, (frame.shape[1] * scale, frame.shape[0] * scale))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()
