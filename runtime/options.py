"""Engine options: how a backend runs a model, independent of the bundle.

`threads` applies to every native backend; `xnnpack` to the TFLite backends (LiteRT applies the
XNNPACK delegate by default; off means its built-in kernels); `spinning` to ONNX Runtime: what an
intra-op worker thread does when it runs out of work. True: it busy-waits (ONNX Runtime's own
default, ~1M pause instructions, tens of ms: between camera frames it keeps a core busy, over half
of one at 10 Hz); False: it sleeps at once (and must be woken for every parallel operator, ~10-19%
slower at 2 threads); an integer: it spins at most that many microseconds, then sleeps. A short
limit keeps the wake-ups within one run cheap and costs only that short tail between runs. `None`
means "the backend's default as chosen in the registry", which `fashion-edge bench` measures.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from fashion_edge.runtime.errors import UsageError


SPIN_US_MIN, SPIN_US_MAX = 10, 1_000_000


@dataclass(frozen=True)
class EngineOptions:
    threads: int | None = None
    xnnpack: bool | None = None
    spinning: bool | int | None = None    # on, off, or the longest spin in microseconds

    def __post_init__(self) -> None:
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or not 1 <= self.threads <= 256):
            raise UsageError(f"threads must be an integer from 1 to 256, not {self.threads!r}")
        if self.spinning is not None and not isinstance(self.spinning, bool) and (
                not isinstance(self.spinning, int) or not SPIN_US_MIN <= self.spinning <= SPIN_US_MAX):
            raise UsageError(f"spinning must be on (True), off (False) or the longest spin in microseconds, "
                             f"{SPIN_US_MIN:,} to {SPIN_US_MAX:,}; not {self.spinning!r}")

    def to_json(self) -> dict:
        return asdict(self)

    def given(self) -> dict:
        """Only the options that were set (for labels and error messages)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def spinning_text(value: bool | int | None) -> str:
    """How a spinning setting reads in tables and messages: on, off, or e.g. "200 µs"."""
    if value is None or isinstance(value, bool):
        return {None: "default", True: "on", False: "off"}[value]
    return f"{value} µs"
