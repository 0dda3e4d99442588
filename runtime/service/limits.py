"""Memory bounds for photos: one large decode at a time, and a ceiling on what is decoded at all.

Preprocessing a photo holds several full-resolution copies at once (RGB, and float32 arrays for
the trim): measured +315 MB peak for a 12 MP phone photo on the test machine, about 26 MB per
megapixel. With one worker per core, four phone photos arriving together would need 1.3 GB and a
Pi's service (MemoryMax in deploy/fashion-edge.service) would be killed: bad input stopping the
server. So the size the header claims decides (the worker reads it once, with the Picture it then
preprocesses; nothing is decoded yet): above LARGE_PIXELS a photo waits for the one large-photo slot,
above MAX_PIXELS it is refused with a 422 that says why. A model whose input is large gets limits to
match (`for_contract`): PER_SIDE times the tensor's size per side, up to the decoder's own ceiling
(picture.MAX_PIXELS), which refuses larger claims at the header whatever the model.
"""
from __future__ import annotations

import contextlib
import threading
from typing import ContextManager

from typing import TYPE_CHECKING

from fashion_edge.runtime.errors import InvalidImageError

if TYPE_CHECKING:
    from fashion_edge.runtime.contract import InputContract

LARGE_PIXELS = 2_000_000     # ~50 MB to preprocess: more than this, one at a time
MAX_PIXELS = 16_000_000      # ~420 MB to preprocess: more than this is refused
LARGE_PER_SIDE, PER_SIDE = 2 ** 2, 2 ** 3    # the limits never fall below 4x (large) and 8x (refused) per side


class PhotoGate:
    """Who may preprocess now: small photos always, large ones one at a time, huge ones never."""

    def __init__(self, large: int = LARGE_PIXELS, ceiling: int = MAX_PIXELS, model: str | None = None) -> None:
        self.large, self.ceiling, self.model = large, ceiling, model
        self._slot = threading.Lock()

    @classmethod
    def for_contract(cls, contract: "InputContract") -> "PhotoGate":
        """Limits for a model of this input: the defaults, raised for a tensor so large that a photo
        PER_SIDE times its size per side would be over them."""
        from fashion_edge.runtime.picture import MAX_PIXELS as DECODABLE

        tensor = contract.height * contract.width
        return cls(min(DECODABLE, max(LARGE_PIXELS, tensor * LARGE_PER_SIDE ** 2)),
                   min(DECODABLE, max(MAX_PIXELS, tensor * PER_SIDE ** 2)), f"{contract.height}x{contract.width}")

    def admit(self, pixels: int) -> ContextManager:
        """The slot to hold while preprocessing a picture of `pixels` (its header's width x height)."""
        if pixels > self.ceiling:
            raise InvalidImageError(f"the image claims {pixels / 1e6:.0f} megapixels, over this service's "
                                    f"{self.ceiling / 1e6:.0f}; "
                                    + (f"the model sees {self.model}, so " if self.model else "") + "send a smaller copy")
        return self._slot if pixels > self.large else contextlib.nullcontext()
