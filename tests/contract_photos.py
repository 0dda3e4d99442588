"""Test helper: a device frame of any contract as the photo a camera or a user would send."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def photo_of(frame: np.ndarray, scale: int = 4, fmt: str = "PNG") -> bytes:
    """The frame (H, W, C) enlarged `scale` times (bicubic) and encoded."""
    image = Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame)
    image = image.resize((image.width * scale, image.height * scale), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()
