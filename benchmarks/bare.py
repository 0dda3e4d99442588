"""Each backend's own set-input / invoke / get-output loop, with none of our code in it.

The input is prepared once, outside the loop, in the model's own dtype: the difference between
this and `Classifier.predict` is exactly what the wrapper costs.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def bare_call(backend: str, model: bytes, pixels: np.ndarray, threads: int | None) -> Callable[[], object]:
    if backend in ("litert", "tflite-runtime"):
        module = "ai_edge_litert.interpreter" if backend == "litert" else "tflite_runtime.interpreter"
        import importlib

        from fashion_edge.runtime.quiet import captured_native_output

        with captured_native_output(stdout=False):
            interp = importlib.import_module(module).Interpreter(model_content=model, num_threads=threads)
        (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
        interp.resize_tensor_input(inp["index"], [1, 28, 28, 1], strict=False)
        interp.allocate_tensors()
        x = pixels.reshape(1, 28, 28, 1).astype(inp["dtype"])
        i, o = inp["index"], out["index"]
        set_tensor, invoke, get_tensor = interp.set_tensor, interp.invoke, interp.get_tensor

        def run() -> object:
            set_tensor(i, x)
            invoke()
            return get_tensor(o)

        return run
    if backend == "onnxruntime":
        import onnxruntime as ort

        from fashion_edge.runtime.backends.onnx import session_options

        session = ort.InferenceSession(model, session_options(ort, model, threads), providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: pixels.reshape(1, 28, 28, 1).astype(np.float32)}
        names = [session.get_outputs()[0].name]
        return lambda: session.run(names, feed)
    if backend == "onnx-reference":
        import onnx
        from onnx.reference import ReferenceEvaluator

        proto = onnx.load_from_string(model)
        evaluator = ReferenceEvaluator(proto)
        feed = {proto.graph.input[0].name: pixels.reshape(1, 28, 28, 1).astype(np.float32)}
        return lambda: evaluator.run(None, feed)
    raise ValueError(f"no bare loop for {backend}")
