"""Mobile accelerators: every exported file is a fixed batch-of-one graph with no shape arithmetic,
TFLite passes the GPU-delegate analyzer, the float ONNX model is one NNAPI and one CoreML partition,
and the ORT-format files load and reproduce golden.json. The verdicts are re-derived here with the
vendors' own tools (not read back from the manifest) and must equal what the manifest records."""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import numpy as np
import pytest


from fashion_edge.export import onnx_export
from fashion_edge.export.device_checks import onnx_report, tflite_report
from fashion_edge.runtime.backends import open_backend
from fashion_edge.runtime.backends.onnx import int8_kernels_saturate
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.formats import FORMATS
from fashion_edge.runtime.preprocess import as_batch
from fashion_edge.runtime.session import Session

pytestmark = pytest.mark.slow


def _manifest(bundle):
    return Bundle.load(bundle).manifest


@pytest.mark.parametrize("which", ["linear_bundle", "edge_bundle"])
def test_no_format_reads_a_shape_at_run_time_and_all_take_batch_of_one(which, request):
    bundle = request.getfixturevalue(which).bundle
    for name, entry in _manifest(bundle).formats.items():
        assert entry.device.shape_ops == (), name
        assert entry.input.shape == (1, 28, 28, 1), name
        ops = set(entry.device.ops)
        assert not ops & {"SHAPE", "STRIDED_SLICE", "PACK", "Shape", "Gather", "Slice"}, (name, ops)


def test_tflite_analyzer_finds_every_tflite_file_gpu_compatible(edge_bundle):
    import tensorflow as tf

    manifest = _manifest(edge_bundle.bundle)
    for name in (f for f, spec in FORMATS.items() if spec.family == "tflite"):
        blob = (edge_bundle.bundle / FORMATS[name].filename).read_bytes()
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            tf.lite.experimental.Analyzer.analyze(model_content=blob, gpu_compatibility=True)
        assert "Your model looks compatible with GPU delegate" in text.getvalue(), name
        assert "GPU COMPATIBILITY WARNING" not in text.getvalue(), name
        assert " SHAPE(" not in text.getvalue(), name
        assert manifest.formats[name].device == tflite_report(blob), name


def _checker_cli(path) -> str:
    """The tool an ORT Mobile user would run, as a user would run it."""
    result = subprocess.run([sys.executable, "-m", "onnxruntime.tools.check_onnx_model_mobile_usability", str(path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_float_onnx_is_a_single_nnapi_and_coreml_partition_per_ort_checker(edge_bundle):
    path = edge_bundle.bundle / FORMATS["onnx-float32"].filename
    log = _checker_cli(path)
    for ep in ("NNAPI", "CoreML NeuralNetwork", "CoreML MLProgram"):
        assert f"Model should perform well with {ep} as is: YES" in log, log
    assert log.count("1 partitions with a total of") == 3, log
    device = _manifest(edge_bundle.bundle).formats["onnx-float32"].device
    assert device == onnx_report(path.read_bytes())
    assert all(v.partitions == 1 and v.supported_nodes == v.nodes for v in device.accelerators.values())


def test_int8_onnx_is_a_single_nnapi_partition_and_coreml_verdict_is_recorded(edge_bundle):
    """ORT's CoreML EP has no QuantizeLinear/DequantizeLinear: the QDQ model cannot be one CoreML
    partition. The manifest must say so (iOS apps take the float32 model), not claim otherwise."""
    path = edge_bundle.bundle / FORMATS["onnx-int8"].filename
    log = _checker_cli(path)
    assert "Model should perform well with NNAPI as is: YES" in log, log
    accel = _manifest(edge_bundle.bundle).formats["onnx-int8"].device.accelerators
    assert accel["nnapi"].partitions == 1 and accel["nnapi"].verdict == "YES"
    for ep in ("coreml-neuralnetwork", "coreml-mlprogram"):
        assert accel[ep].verdict == "NO" and "ai.onnx:DequantizeLinear" in accel[ep].unsupported_ops
        assert f"Model should perform well with {'CoreML NeuralNetwork' if 'neural' in ep else 'CoreML MLProgram'} as is: NO" in log


def test_ort_files_are_ort_format_and_judged_by_their_onnx_source(edge_bundle):
    manifest = _manifest(edge_bundle.bundle)
    for name in (f for f, spec in FORMATS.items() if spec.family == "ort"):
        source = FORMATS[name].source
        blob = (edge_bundle.bundle / FORMATS[name].filename).read_bytes()
        assert blob[4:8] == b"ORTM", name
        device = manifest.formats[name].device
        assert device.checked_as == source
        assert device.accelerators == manifest.formats[source].device.accelerators


def test_ort_file_runs_like_its_onnx_source_on_onnxruntime(edge_bundle, data):
    x = as_batch(data.x_test[:300])
    for name in (f for f, spec in FORMATS.items() if spec.family == "ort"):
        source = FORMATS[name].source
        ort = Session(open_backend("onnxruntime", (edge_bundle.bundle / FORMATS[name].filename).read_bytes()))
        onnx = Session(open_backend("onnxruntime", (edge_bundle.bundle / FORMATS[source].filename).read_bytes()))
        a, b = ort.logits(x), onnx.logits(x)
        if FORMATS[source].calibrated and int8_kernels_saturate():
            # This CPU runs the ORT file's QDQ graph in float (its saved int8 fusions would saturate
            # here) and the ONNX file through exact int8 kernels: the two may round an intermediate
            # differently, which moves a logit by an output step (measured: at most 1 step, 0 top-1
            # changes in 300 images). Allow 2 steps and 3 images of 300.
            step = onnx_export.output_step((edge_bundle.bundle / FORMATS[source].filename).read_bytes())
            assert (a.argmax(1) == b.argmax(1)).mean() >= 0.99, name
            assert np.abs(a - b).max() <= 2 * step + 1e-5, name
        else:  # the same kernels, fused at conversion instead of at load
            assert (a.argmax(1) == b.argmax(1)).all(), name
            assert np.abs(a - b).max() <= 1e-4, name


def test_fixed_batch_tflite_can_still_be_resized_to_a_batch(edge_bundle, data):
    """No operator pins the batch, so the interpreter may run N images at once (fast evaluation)."""
    blob = (edge_bundle.bundle / FORMATS["tflite-int8"].filename).read_bytes()
    session = Session(open_backend("litert", blob))
    x = as_batch(data.x_test[:64])
    batched = session.logits(x)
    one_by_one = np.stack([session.logits_one(x[i:i + 1]) for i in range(len(x))])
    assert np.array_equal(batched, one_by_one)


def test_report_shows_the_accelerator_verdicts_from_the_manifest(edge_bundle):
    from fashion_edge.benchmarks.report import render_report

    report = render_report(edge_bundle.bundle.parent.parent)
    section = report.split("## Mobile accelerators", 1)[1].split("\n## ", 1)[0]
    for name in FORMATS:
        assert f"| {name} | 1x28x28x1 " in section, name
    nnapi = _manifest(edge_bundle.bundle).formats["onnx-float32"].device.accelerators["nnapi"]
    assert f"| onnx-float32 | 1x28x28x1 float32 | none | — | YES: 1 partition(s), {nnapi.nodes}/{nnapi.nodes} nodes |" in section
    assert "| tflite-int8 | 1x28x28x1 uint8 | none | compatible |" in section


def test_ort_entries_carry_the_operator_list_for_a_minimal_build(edge_bundle):
    entry = _manifest(edge_bundle.bundle).formats["ort-int8"].ort
    assert entry.optimization_style == "Runtime"
    ops = entry.required_operators
    assert "ai.onnx;" in ops and "Conv" in ops and "QuantizeLinear" in ops
