"""Multiply-accumulates per image, counted from the Keras layers.

Counts standard, grouped, depthwise and separable convolutions and dense layers (nested models
included); batch norm, activations, pooling and additions are left out, since batch norm folds into
the convolutions at export and the others cost a small fraction of one multiply per element.
"""
from __future__ import annotations

import math


def _spatial(shape) -> int:
    return math.prod(int(d) for d in shape[1:-1])


def layer_macs(layer) -> int:
    kind = type(layer).__name__
    if kind in ("DepthwiseConv2D",):
        kh, kw = layer.kernel_size
        return _spatial(layer.output.shape) * int(layer.output.shape[-1]) * kh * kw
    if kind == "SeparableConv2D":
        kh, kw = layer.kernel_size
        c_in = int(layer.input.shape[-1])
        mid = c_in * layer.depth_multiplier
        return _spatial(layer.output.shape) * (mid * kh * kw + mid * int(layer.output.shape[-1]))
    if kind == "Conv2D":
        kh, kw = layer.kernel_size
        c_in, c_out = int(layer.input.shape[-1]), int(layer.output.shape[-1])
        return _spatial(layer.output.shape) * c_out * kh * kw * c_in // layer.groups
    if kind == "Dense":
        return _spatial(layer.input.shape) * int(layer.input.shape[-1]) * layer.units if len(layer.input.shape) > 2 \
            else int(layer.input.shape[-1]) * layer.units
    return sum(layer_macs(inner) for inner in getattr(layer, "layers", []))  # nested models


def count_macs(model) -> int:
    return int(sum(layer_macs(layer) for layer in model.layers))
