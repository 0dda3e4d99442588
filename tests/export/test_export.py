"""Export parity in the spirit of a converter's backend tests: run Keras, export, run the exported
model in its real runtime, compare within the gate's thresholds."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from fashion_edge.export.exporter import ExportConfig, ParityError, export  # noqa: E402
from fashion_edge.export.parity import thresholds_for  # noqa: E402
from fashion_edge.runtime.backends import choose_backend, open_backend  # noqa: E402
from fashion_edge.runtime.formats import FORMATS  # noqa: E402
from fashion_edge.runtime.preprocess import as_batch  # noqa: E402
from fashion_edge.runtime.session import Session  # noqa: E402

pytestmark = pytest.mark.slow


def _manifest(result):
    return json.loads((result.bundle / "manifest.json").read_text())


@pytest.mark.parametrize("which", ["linear_bundle", "edge_bundle"])
def test_every_format_passes_the_gate_on_all_test_images(which, request):
    result = request.getfixturevalue(which)
    manifest = _manifest(result)
    assert set(manifest["formats"]) == set(FORMATS)
    for name, entry in manifest["formats"].items():
        parity = entry["parity"]
        assert parity["images"] == 10000
        assert parity["passed"], (name, parity["failures"])
        limits = thresholds_for(name, manifest["model"])
        assert parity["agreement"] >= limits.min_agreement
        blob = (result.bundle / entry["file"]).read_bytes()
        assert entry["bytes"] == len(blob) and entry["sha256"] == hashlib.sha256(blob).hexdigest()
    assert {"tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"} <= set(manifest["versions"])
    assert (result.bundle / "labels.txt").read_text().splitlines()[0] == "T-shirt/top"


def test_exported_models_agree_with_keras_when_run_independently(edge_bundle, trained_edge, data):
    """Re-run Keras and every file in its runtime here, outside the exporter's own code path."""
    import keras

    model = keras.saving.load_model(trained_edge.model_dir / "model.keras")
    x = as_batch(data.x_test[:2000])
    reference = model.predict(x.astype(np.float32), verbose=0)
    manifest = _manifest(edge_bundle)
    for name, entry in manifest["formats"].items():
        blob = (edge_bundle.bundle / entry["file"]).read_bytes()
        logits = Session(open_backend(choose_backend(name), blob)).logits(x)
        agreement = (logits.argmax(1) == reference.argmax(1)).mean()
        assert agreement >= thresholds_for(name, "edge").min_agreement - 0.002, name  # 2,000-image sample
        if name.endswith("float32"):
            assert np.abs(logits - reference).max() <= 1e-3, name


def test_int8_tflite_takes_raw_uint8_pixels_and_records_output_quantization(edge_bundle):
    entry = _manifest(edge_bundle)["formats"]["tflite-int8"]
    assert entry["input"]["dtype"] == "uint8"
    assert entry["input"]["scale"] == pytest.approx(1.0) and entry["input"]["zero_point"] == 0
    assert entry["output"]["dtype"] == "uint8" and entry["output"]["scale"] > 0


def test_edge_int8_file_is_at_most_30_percent_of_float32(edge_bundle):
    sizes = {r.name: r.size_bytes for r in edge_bundle.formats}
    assert sizes["tflite-int8"] <= 0.30 * sizes["tflite-float32"]
    assert _manifest(edge_bundle)["size_check"]["enforced"] is True


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
    golden = json.loads((edge_bundle.bundle / "golden.json").read_text())
    manifest = _manifest(edge_bundle)
    x = as_batch(np.asarray(golden["images"], np.uint8))
    assert x.shape == (32, 28, 28, 1)
    for name, entry in manifest["formats"].items():
        blob = (edge_bundle.bundle / entry["file"]).read_bytes()
        logits = Session(open_backend(choose_backend(name), blob)).logits(x)
        assert np.abs(logits - np.asarray(golden["outputs"][name]["logits"])).max() <= entry["golden_atol"]
        assert logits.argmax(1).tolist() == golden["outputs"][name]["top1"]


def test_wrong_calibration_data_is_caught_by_the_gate_and_keeps_the_previous_bundle(edge_bundle, data):
    before = (edge_bundle.bundle / "manifest.json").read_bytes()
    dark = as_batch(data.x_train[:200] // 40)  # calibrated on near-black images: ranges far too small
    config = ExportConfig(model_dir=edge_bundle.bundle.parent, formats=("tflite-int8",), calibration_override=dark)
    with pytest.raises(ParityError, match="tflite-int8"):
        export(config, log=lambda _: None)
    assert (edge_bundle.bundle / "manifest.json").read_bytes() == before
    assert not [p for p in edge_bundle.bundle.parent.iterdir() if p.name.startswith(".bundle")]
