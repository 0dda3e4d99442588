"""The int8 sensitivity report and its rescue, on a model built to fail int8.

`_sabotaged` trains a small CNN on four distinct Fashion-MNIST classes (its int8 file agrees with
Keras on ~99.85% of validation images: few near-ties for the uint8 output step to break), then kills
the stem's first filter (zero weights, bias -1: after ReLU6 that channel is 0 for every image) and
gives every filter of the middle convolution a weight 1000 times its largest on that dead channel.
Keras computes exactly what it did before the outlier (it multiplies zeros); int8 weights, per
channel or per tensor, round every other weight of that layer to 0. So every declared recipe misses
the gate (~25% agreement), the middle convolution is the layer to blame, and keeping it alone in
float32 restores the file.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from fashion_edge.runtime.sensitivity_record import format_report
from fashion_edge.runtime.sensitivity_record import LayerSensitivity, Rescue, Sensitivity

CLASSES = (0, 1, 5, 8)        # T-shirt/top, Trouser, Sandal, Bag
FIT, EXPORT_TRAIN, TEST = 8000, 20_000, 2000   # images: to fit, the export's training images (10% validation), test


def _subset(x, y):
    keep = np.isin(y, CLASSES)
    return x[keep][..., None], np.searchsorted(CLASSES, y[keep])


def _sabotaged(x, y):
    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1), name="pixels"), layers.Rescaling(1 / 255, name="scale"),
        layers.Conv2D(8, 3, padding="same", activation="relu6", name="stem_conv"), layers.MaxPooling2D(name="pool1"),
        layers.Conv2D(16, 3, padding="same", activation="relu6", name="mid_conv"), layers.MaxPooling2D(name="pool2"),
        layers.Conv2D(16, 3, padding="same", activation="relu6", name="head_conv"),
        layers.Flatten(name="flatten"), layers.Dense(len(CLASSES), name="logits")], name="sabotaged")
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:FIT].astype(np.float32), y[:FIT], epochs=2, batch_size=64, verbose=0)
    stem, mid = model.get_layer("stem_conv"), model.get_layer("mid_conv")
    kernel, bias = stem.get_weights()
    kernel[..., 0], bias[0] = 0.0, -1.0
    stem.set_weights([kernel, bias])
    kernel, bias = mid.get_weights()
    kernel[1, 1, 0, :] = 1000 * np.abs(kernel).max()
    mid.set_weights([kernel, bias])
    return model


@pytest.fixture(scope="module")
def rescued(tmp_path_factory, data):
    """The sabotaged model exported as tflite-int8 with the gate enforced: (export result, log lines, model)."""
    from fashion_edge.export.exporter import ExportConfig, export
    from fashion_edge.runtime.labels import LABELS
    from fashion_edge.train.datasets import ImageSet

    folder = tmp_path_factory.mktemp("artifacts") / "sabotaged"
    folder.mkdir()
    (x, y), (x_test, y_test) = _subset(data.x_train, data.y_train), _subset(data.x_test, data.y_test)
    model = _sabotaged(x, y)
    model.save(folder / "model.keras")
    images = ImageSet("Fashion-MNIST, four classes", tuple(LABELS[c] for c in CLASSES), x[-EXPORT_TRAIN:],
                      y[-EXPORT_TRAIN:], x_test[:TEST], y_test[:TEST])
    log: list[str] = []
    result = export(ExportConfig(model_dir=folder, formats=("tflite-int8",), dataset=images,
                                 preprocessing_vectors=False), log=log.append)
    return result, log, model


@pytest.mark.slow
@pytest.mark.numeric
def test_every_declared_recipe_misses_the_gate_and_the_report_blames_the_sabotaged_layer(rescued):
    from fashion_edge.export.tflite_export import INT8_RECIPES

    result, log, _ = rescued
    choice = result.manifest.calibration.formats["tflite-int8"]
    scores = {c.recipe: c.validation_agreement for c in choice.candidates}
    assert all(scores[r.name] < 0.995 for r in INT8_RECIPES), scores
    s = choice.sensitivity
    assert s is not None and s.images == choice.validation_images
    first, *rest = s.layers
    assert first.layer == "mid_conv" and first.op == "CONV_2D" and "mid_conv" in first.tensor
    assert first.flips > 0.5 * s.all_int8_flips and all(layer.flips < first.flips for layer in rest)
    assert {layer.layer for layer in s.layers} == {"stem_conv", "mid_conv", "head_conv", "logits"}
    report = "\n".join(log)
    assert "int8 sensitivity" in report and "mid_conv" in report, report


@pytest.mark.slow
@pytest.mark.numeric
def test_the_rescue_keeps_the_sabotaged_layer_float_passes_and_is_chosen(rescued):
    result, _, _ = rescued
    choice = result.manifest.calibration.formats["tflite-int8"]
    rescue, mid = choice.sensitivity.rescue, choice.sensitivity.layers[0]
    assert rescue == Rescue(1, ("mid_conv",), rescue.validation_agreement, True)
    assert rescue.validation_agreement >= 0.995
    assert choice.chosen.name.endswith("-float-1") and choice.chosen.float_layers == (mid.tensor,)
    assert choice.candidates[-1].recipe == choice.chosen.name
    assert result.manifest.formats["tflite-int8"].parity.passed      # on the test images, with the gate enforced


@pytest.mark.slow
@pytest.mark.numeric
def test_the_rescued_file_takes_uint8_pixels_gives_uint8_outputs_and_computes_only_that_layer_in_float(rescued):
    from ai_edge_litert.interpreter import Interpreter

    result, _, _ = rescued
    it = Interpreter(model_content=(result.bundle / "int8.tflite").read_bytes())
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert inp["dtype"] == np.uint8 and list(inp["shape"]) == [1, 28, 28, 1] and inp["quantization"] == (1.0, 0)
    assert out["dtype"] == np.uint8 and out["quantization"][0] > 0
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    convs = [op for op in it._get_ops_details() if op["op_name"] == "CONV_2D"]
    kinds = [tensors[op["outputs"][0]]["dtype"] for op in convs]
    assert kinds == [np.int8, np.float32, np.int8]            # stem, mid (the float layer, not the first), head
    assert it._get_ops_details()[0]["op_name"] == "QUANTIZE"  # the int8 stem reads requantized uint8 pixels


@pytest.mark.slow
@pytest.mark.numeric
def test_the_manifest_round_trips_the_float_layers_and_the_report(rescued):
    from fashion_edge.runtime.bundle import Bundle

    result, _, _ = rescued
    written = json.loads((result.bundle / "manifest.json").read_text())["calibration"]["formats"]["tflite-int8"]
    assert written["chosen"]["float_layers"] and written["sensitivity"]["rescue"]["layers"] == ["mid_conv"]
    recorded = Bundle.load(result.bundle).manifest.calibration.formats["tflite-int8"]
    assert recorded == result.manifest.calibration.formats["tflite-int8"]


@pytest.mark.slow
@pytest.mark.numeric
def test_convert_builds_a_recorded_float_layers_recipe_and_refuses_a_tensor_the_graph_lacks(rescued, tmp_path, data):
    from dataclasses import replace

    from ai_edge_litert.interpreter import Interpreter

    from fashion_edge.export.tflite_export import convert, write_saved_model

    result, _, model = rescued
    recipe = result.manifest.calibration.formats["tflite-int8"].chosen
    saved = write_saved_model(model, tmp_path / "saved")
    pool = _subset(data.x_train, data.y_train)[0][:1000]
    it = Interpreter(model_content=convert(saved, "int8", pool, recipe))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    x = _subset(data.x_test, data.y_test)[0][:400]
    top1 = []
    for image in x:
        it.set_tensor(inp["index"], image[None])
        it.invoke()
        top1.append(int(it.get_tensor(out["index"]).argmax()))
    keras_top1 = np.asarray(model(x.astype(np.float32))).argmax(1)
    assert (np.array(top1) == keras_top1).mean() >= 0.99          # the all-int8 file: about 25%
    with pytest.raises(ValueError, match="no op outputs"):
        convert(saved, "int8", pool, replace(recipe, float_layers=("no/such/tensor",)))


def test_the_report_lists_layers_most_sensitive_first_with_the_rescue():
    s = Sensitivity(2000, 1795, (LayerSensitivity("mid_conv", "m_1/mid_conv_1/Relu6", "CONV_2D", 1790),
                                 LayerSensitivity("logits", "StatefulPartitionedCall_1:0", "FULLY_CONNECTED", -2)),
                    Rescue(1, ("mid_conv",), 0.998, True))
    lines = format_report(s).splitlines()
    assert "1,795 of 2,000" in lines[0]
    assert lines[2].split() == ["mid_conv", "CONV_2D", "1,790"] and lines[3].split()[-1] == "-2"
    assert lines[-1] == "rescue: mid_conv float32 -> 99.80% validation agreement (passes the gate)"
    assert format_report(Sensitivity(2000, 3, ())).endswith("rescue: none tried (no layer that may stay float32 flips an image on its own)")
