"""Multiply-accumulates per image, counted from the Keras layers (batch norm folds into convs)."""
from __future__ import annotations


def count_macs(model) -> int:
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            c_in = layer.input.shape[-1]
            total += h * w * c_out * kh * kw * c_in // layer.groups
        elif kind == "Dense":
            total += layer.input.shape[-1] * layer.units
    return int(total)
