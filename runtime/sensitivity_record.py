"""What an int8 file's per-layer sensitivity report records in the manifest (export/sensitivity.py computes it).

When every int8 calibration recipe misses the parity gate, the exporter keeps one layer at a time in
float32 and counts the validation images whose top-1 (against Keras) that layer's quantization flips,
then tries keeping the most sensitive few float. These types are the manifest's record of it; they
live here because the runtime reads manifests and must not import TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass

from fashion_edge.runtime.fields import Obj


@dataclass(frozen=True)
class LayerSensitivity:
    """One layer kept float32 while the rest is int8: the top-1 flips its quantization causes."""

    layer: str     # the Keras layer's name (the tensor name when none matched)
    tensor: str    # the TFLite op's output tensor: the name the quantizer's denylist takes
    op: str        # the TFLite builtin, e.g. CONV_2D
    flips: int     # all-int8 flips minus flips with this layer float; negative: float made it worse

    @classmethod
    def read(cls, o: Obj) -> "LayerSensitivity":
        return cls(o.str("layer"), o.str("tensor"), o.str("op"), o.int("flips"))

    def to_json(self) -> dict:
        return {"layer": self.layer, "tensor": self.tensor, "op": self.op, "flips": self.flips}


@dataclass(frozen=True)
class Rescue:
    """The k most sensitive layers kept float32 together, and that file's agreement on the validation split."""

    k: int
    layers: tuple[str, ...]         # Keras layer names, most sensitive first
    validation_agreement: float
    passed: bool                    # at least the format's gate min_agreement

    @classmethod
    def read(cls, o: Obj) -> "Rescue":
        return cls(o.int("k", minimum=1), o.strs("layers"), o.float("validation_agreement"), o.bool("passed"))

    def to_json(self) -> dict:
        return {"k": self.k, "layers": list(self.layers), "validation_agreement": self.validation_agreement,
                "passed": self.passed}


@dataclass(frozen=True)
class Sensitivity:
    """Per-layer top-1 flips on `images` validation images, most sensitive layer first, and the rescue tried."""

    images: int
    all_int8_flips: int
    layers: tuple[LayerSensitivity, ...]
    rescue: Rescue | None = None    # None when no layer's quantization flips anything

    @classmethod
    def read(cls, o: Obj) -> "Sensitivity":
        rescue = o.obj("rescue", optional=True)
        return cls(o.int("images", minimum=1), o.int("all_int8_flips", minimum=0),
                   o.objs("layers", LayerSensitivity.read), Rescue.read(rescue) if rescue else None)

    def to_json(self) -> dict:
        out = {"images": self.images, "all_int8_flips": self.all_int8_flips,
               "layers": [layer.to_json() for layer in self.layers]}
        if self.rescue:
            out["rescue"] = self.rescue.to_json()
        return out


def format_report(s: Sensitivity) -> str:
    """A short table for the export log and REPORT.md: the layers by the flips their int8 rounding causes."""
    width = max([len("layer")] + [len(layer.layer) for layer in s.layers])
    lines = [f"int8 sensitivity: {s.all_int8_flips:,} of {s.images:,} validation images flip with every layer int8; "
             "flips each layer causes (kept float32 alone):",
             f"  {'layer':{width}s}  {'op':18s} {'flips':>6s}"]
    lines += [f"  {layer.layer:{width}s}  {layer.op:18s} {layer.flips:>6,}" for layer in s.layers]
    if s.rescue:
        r = s.rescue
        lines.append(f"rescue: {', '.join(r.layers)} float32 -> {100 * r.validation_agreement:.2f}% validation "
                     f"agreement ({'passes' if r.passed else 'misses'} the gate)")
    else:
        lines.append("rescue: none tried (no layer that may stay float32 flips an image on its own)")
    return "\n".join(lines)
