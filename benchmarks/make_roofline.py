"""Build the roofline models: one large 3x3 convolution in float32 and int8, as TFLite and as ONNX.

    python -m fashion_edge.benchmarks.make_roofline benchmarks/roofline     (needs the [export] extra)

They are committed (a few hundred kB) so that `fashion-edge bench` on a device without TensorFlow
can still measure what its CPU attains through the same runtimes that run the bundle.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from fashion_edge.benchmarks.roofline import CHANNELS, MACS, SIDE


def _calibration(n: int = 16) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [np.maximum(rng.normal(0, 1, (1, SIDE, SIDE, CHANNELS)), 0).astype(np.float32) for _ in range(n)]


def tflite_models(out: Path) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((SIDE, SIDE, CHANNELS), batch_size=1),
                              keras.layers.Conv2D(CHANNELS, 3, padding="same", activation="relu")])
    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        for precision in ("float32", "int8"):
            converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
            if precision == "int8":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.representative_dataset = lambda: ([x] for x in _calibration())
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
                converter.inference_input_type = converter.inference_output_type = tf.int8
            (out / f"conv.{precision}.tflite").write_bytes(converter.convert())


def onnx_models(out: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = np.random.default_rng(0)
    weight = (rng.normal(0, 0.05, (CHANNELS, CHANNELS, 3, 3))).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y0"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["y0"], ["y"])],
        "roofline", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, CHANNELS, SIDE, SIDE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, CHANNELS, SIDE, SIDE])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.zeros(CHANNELS, np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    onnx.checker.check_model(model, full_check=True)
    (out / "conv.float32.onnx").write_bytes(model.SerializeToString())

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(x.transpose(0, 3, 1, 2).copy() for x in _calibration())

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {"x": x}

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "f.onnx"), Path(tmp, "q.onnx")
        src.write_bytes(model.SerializeToString())
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True)
        (out / "conv.int8.onnx").write_bytes(dst.read_bytes())


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "benchmarks/roofline")
    out.mkdir(parents=True, exist_ok=True)
    tflite_models(out)
    onnx_models(out)
    print(f"wrote {out}: 3x3 conv {SIDE}x{SIDE}x{CHANNELS} -> {CHANNELS}, {MACS:,} MACs per run")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
