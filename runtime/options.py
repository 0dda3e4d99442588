"""Engine options: how a backend runs a model, independent of the bundle.

`threads` applies to every native backend; `xnnpack` to the TFLite backends (LiteRT applies the
XNNPACK delegate by default; off means its built-in kernels); `spinning` to ONNX Runtime (whether
intra-op worker threads busy-wait for work between runs). `None` means "the backend's default as
chosen in the registry", which `fashion-edge bench` measures.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from fashion_edge.runtime.errors import UsageError


@dataclass(frozen=True)
class EngineOptions:
    threads: int | None = None
    xnnpack: bool | None = None
    spinning: bool | None = None

    def __post_init__(self) -> None:
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or not 1 <= self.threads <= 256):
            raise UsageError(f"threads must be an integer from 1 to 256, not {self.threads!r}")

    def to_json(self) -> dict:
        return asdict(self)

    def given(self) -> dict:
        """Only the options that were set (for labels and error messages)."""
        return {k: v for k, v in asdict(self).items() if v is not None}
