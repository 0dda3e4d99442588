"""Export parity in the spirit of a converter's backend tests: run Keras, export, run the exported
model in its real runtime, compare within the gate's thresholds."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest


from fashion_edge.export import onnx_export, tflite_export
from fashion_edge.export.exporter import ExportConfig, ParityError, export
from fashion_edge.runtime.backends import choose_backend, open_backend
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.formats import FORMATS
from fashion_edge.runtime.preprocess import as_batch
from fashion_edge.runtime.session import Session

pytestmark = [pytest.mark.slow, pytest.mark.numeric]


def _manifest(result):
    return Bundle.load(result.bundle).manifest


# How far below Keras an int8 file of these fixtures may fall and still be a faithful export. Measured
# (both kernel paths, several seeds): 99.4-99.8% (edge), 98.8-99.3% (linear, whose 8-bit output step
# exceeds many top-2 margins). A broken calibration lands far lower (the gate test below: < 90%).
SANITY_AGREEMENT = {"edge": 0.990, "linear": 0.970}


@pytest.mark.parametrize("which", ["linear_bundle", "edge_bundle"])
def test_every_format_is_measured_on_all_test_images_and_the_verdict_is_the_gate_applied(which, request):
    result = request.getfixturevalue(which)
    manifest = _manifest(result)
    assert manifest == result.manifest  # what was written is what the exporter meant to write
    assert set(manifest.formats) == set(FORMATS)
    for name, entry in manifest.formats.items():
        parity = entry.parity
        assert parity.images == 10000
        assert parity.thresholds == FORMATS[name].gate_for(manifest.model)
        expected_pass = (parity.agreement >= parity.thresholds.min_agreement
                         and (parity.thresholds.max_accuracy_drop is None
                              or -parity.accuracy_delta <= parity.thresholds.max_accuracy_drop)
                         and (parity.thresholds.max_abs_logit_diff is None
                              or parity.max_abs_logit_diff <= parity.thresholds.max_abs_logit_diff))
        assert parity.passed == expected_pass, (name, parity)
        blob = (result.bundle / entry.file).read_bytes()
        assert entry.bytes == len(blob) and entry.sha256 == hashlib.sha256(blob).hexdigest()
    assert {"tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"} <= set(manifest.versions)
    assert (result.bundle / "labels.txt").read_text().splitlines()[0] == "T-shirt/top"


@pytest.mark.parametrize("which", ["linear_bundle", "edge_bundle"])
def test_float_files_pass_the_gate_and_quantized_files_stay_close_to_keras(which, request):
    """Float formats reproduce Keras (wide margins: 100.00% vs a 99.9% gate); quantized ones agree
    within the bounds above and keep the accuracy."""
    manifest = _manifest(request.getfixturevalue(which))
    for name, entry in manifest.formats.items():
        p = entry.parity
        if FORMATS[name].precision in ("float32", "float16"):
            assert p.passed, (name, p.failures)
        else:
            assert p.agreement >= SANITY_AGREEMENT[manifest.model], (name, p.agreement)
            assert p.accuracy_delta >= -0.005, (name, p.accuracy_delta)


def test_calibration_search_is_recorded_and_judged_on_validation_images_only(edge_bundle):
    manifest = _manifest(edge_bundle)
    calibrated = [name for name in manifest.formats if FORMATS[name].calibrated]
    assert set(manifest.calibration.formats) == set(calibrated)
    for name, choice in manifest.calibration.formats.items():
        assert choice.validation_images == 6000  # the training set's 10% validation split, not the test set
        declared = (tflite_export.recipes(FORMATS[name].precision) if FORMATS[name].family == "tflite"
                    else onnx_export.INT8_RECIPES)
        assert [c.recipe for c in choice.candidates] == [r.name for r in declared], name  # every recipe tried
        if FORMATS[name].precision == "int8":
            assert len(declared) >= 3, name
        best = max(choice.candidates, key=lambda c: c.validation_agreement)
        kept = next(c for c in choice.candidates if c.recipe == choice.chosen.name)
        assert kept.validation_agreement == best.validation_agreement
        assert manifest.formats[name].calibration_recipe == choice.chosen.name
    assert manifest.formats["ort-int8"].calibration_recipe == manifest.formats["onnx-int8"].calibration_recipe


def test_exported_models_agree_with_keras_when_run_independently(edge_bundle, trained_edge, data):
    """Re-run Keras and every file in its runtime here, outside the exporter's own code path."""
    import keras

    model = keras.saving.load_model(trained_edge.model_dir / "model.keras", compile=False)
    x = as_batch(data.x_test[:2000])
    reference = model.predict(x.astype(np.float32), verbose=0)
    manifest = _manifest(edge_bundle)
    golden = Bundle.load(edge_bundle.bundle).golden()
    for name, entry in manifest.formats.items():
        blob = (edge_bundle.bundle / entry.file).read_bytes()
        logits = Session(open_backend(choose_backend(name), blob)).logits(x)
        assert np.array_equal(logits.argmax(1), golden.outputs[name].test_top1[:2000]), name
        gate = FORMATS[name].gate_for("edge")
        if gate.max_abs_logit_diff is not None:  # float files: the same logits as Keras
            assert np.abs(logits - reference).max() <= gate.max_abs_logit_diff, name
        else:
            assert (logits.argmax(1) == reference.argmax(1)).mean() >= SANITY_AGREEMENT["edge"] - 0.005, name


def test_int8_tflite_takes_raw_uint8_pixels_and_records_output_quantization(edge_bundle):
    entry = _manifest(edge_bundle).formats["tflite-int8"]
    assert entry.input.dtype == "uint8"
    assert entry.input.scale == pytest.approx(1.0) and entry.input.zero_point == 0
    assert entry.output.dtype == "uint8" and entry.output.scale > 0


def test_edge_int8_file_is_at_most_30_percent_of_float32(edge_bundle):
    formats = edge_bundle.manifest.formats
    assert formats["tflite-int8"].bytes <= 0.30 * formats["tflite-float32"].bytes
    (check,) = [c for c in _manifest(edge_bundle).size_checks if c.format == "tflite-int8"]
    assert check.enforced and check.passed and check.of == "tflite-float32"


def test_onnx_models_pass_the_full_checker_with_a_recent_opset(edge_bundle):
    import onnx

    for name in ("onnx-float32", "onnx-int8"):
        proto = onnx.load(str(edge_bundle.bundle / FORMATS[name].filename))
        onnx.checker.check_model(proto, full_check=True)
        assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
        assert [i.name for i in proto.graph.input] == ["pixels"]
        assert [o.name for o in proto.graph.output] == ["logits"]
    ops = {n.op_type for n in onnx.load(str(edge_bundle.bundle / "int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


def test_golden_outputs_are_reproduced_by_the_runtime(edge_bundle):
    golden = Bundle.load(edge_bundle.bundle).golden()
    manifest = _manifest(edge_bundle)
    x = as_batch(golden.images)
    assert x.shape == (32, 28, 28, 1)
    for name, entry in manifest.formats.items():
        blob = (edge_bundle.bundle / entry.file).read_bytes()
        logits = Session(open_backend(choose_backend(name), blob)).logits(x)
        assert np.abs(logits - golden.outputs[name].logits).max() <= entry.golden_atol
        assert tuple(logits.argmax(1).tolist()) == golden.outputs[name].top1


def test_wrong_calibration_data_is_caught_by_the_gate_and_keeps_the_previous_bundle(edge_bundle, data):
    before = (edge_bundle.bundle / "manifest.json").read_bytes()
    dark = as_batch(np.zeros_like(data.x_train[:200]))  # calibrated on black frames: every range far too small
    config = ExportConfig(model_dir=edge_bundle.bundle.parent, formats=("tflite-int8",), calibration_override=dark)
    with pytest.raises(ParityError, match="tflite-int8"):
        export(config, log=lambda _: None)
    assert (edge_bundle.bundle / "manifest.json").read_bytes() == before
    assert not [p for p in edge_bundle.bundle.parent.iterdir() if p.name.startswith(".bundle")]
