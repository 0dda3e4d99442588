"""Memory bounds for photos: one large decode at a time, and a ceiling on what is decoded at all.

Preprocessing a photo holds several full-resolution copies at once (RGB, and float32 arrays for
the trim): measured +315 MB peak for a 12 MP phone photo on the test machine, about 26 MB per
megapixel. With one worker per core, four phone photos arriving together would need 1.3 GB and a
Pi's service (MemoryMax in deploy/fashion-edge.service) would be killed: bad input stopping the
server. So the size the header claims is read first (cheap, nothing decoded): above LARGE_PIXELS a
photo waits for the one large-photo slot, above MAX_PIXELS it is refused with a 422 that says why.
"""
from __future__ import annotations

import contextlib
import io
import threading
from typing import ContextManager

from PIL import Image

from fashion_edge.runtime.errors import InvalidImageError

LARGE_PIXELS = 2_000_000     # ~50 MB to preprocess: more than this, one at a time
MAX_PIXELS = 16_000_000      # ~420 MB to preprocess: more than this is refused (the model sees 28x28)


def claimed_pixels(data: bytes) -> int:
    """Width x height from the image header, or 0 when it cannot be read (preprocess then says why)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception:  # any unreadable header: preprocessing reports it properly
        return 0
    return width * height


class PhotoGate:
    """Who may preprocess now: small photos always, large ones one at a time, huge ones never."""

    def __init__(self, large: int = LARGE_PIXELS, ceiling: int = MAX_PIXELS) -> None:
        self.large, self.ceiling = large, ceiling
        self._slot = threading.Lock()

    def admit(self, data: bytes) -> ContextManager:
        pixels = claimed_pixels(data)
        if pixels > self.ceiling:
            raise InvalidImageError(f"the image claims {pixels / 1e6:.0f} megapixels, over this service's "
                                    f"{self.ceiling / 1e6:.0f}; the model sees 28x28, so send a smaller copy")
        return self._slot if pixels > self.large else contextlib.nullcontext()
