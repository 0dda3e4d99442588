"""The manifest's record of a float-layers recipe and of a sensitivity report: written, read back equal;
absent in older bundles; malformed, a BundleError naming the field. No TensorFlow."""
from __future__ import annotations

import json

import pytest

from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.fields import Obj
from fashion_edge.runtime.manifest import CalibrationChoice, Recipe, RecipeScore
from fashion_edge.runtime.sensitivity_record import LayerSensitivity, Rescue, Sensitivity

MID = "sabotaged_1/mid_conv_1/Relu6;sabotaged_1/mid_conv_1/BiasAdd;sabotaged_1/mid_conv_1/convolution"
REPORT = Sensitivity(2000, 1498, (LayerSensitivity("mid_conv", MID, "CONV_2D", 1494),
                                  LayerSensitivity("logits", "StatefulPartitionedCall_1:0", "FULLY_CONNECTED", -1)),
                     Rescue(1, ("mid_conv",), 0.998, True))
RESCUED = CalibrationChoice(Recipe("minmax-1k-float-1", float_layers=(MID,)), 2000,
                            (RecipeScore("minmax-1k", 0.251, 0.25), RecipeScore("minmax-1k-float-1", 0.998, 0.97)),
                            sensitivity=REPORT)


def _read(raw: dict) -> CalibrationChoice:
    return CalibrationChoice.read("tflite-int8", Obj(json.loads(json.dumps(raw)), "calibration.formats.tflite-int8",
                                                     "manifest.json"))


def test_a_float_layers_recipe_and_its_sensitivity_report_read_back_equal():
    raw = RESCUED.to_json()
    assert raw["chosen"]["float_layers"] == [MID] and raw["sensitivity"]["rescue"]["layers"] == ["mid_conv"]
    assert _read(raw) == RESCUED


def test_a_report_without_a_rescue_reads_back_equal():
    choice = CalibrationChoice(Recipe("minmax-1k"), 2000, (RecipeScore("minmax-1k", 0.99, 0.9),),
                               sensitivity=Sensitivity(2000, 20, ()))
    raw = choice.to_json()
    assert "rescue" not in raw["sensitivity"] and _read(raw) == choice


def test_a_recipe_without_float_layers_and_a_choice_without_a_report_are_written_as_before():
    choice = CalibrationChoice(Recipe("minmax-1k"), 2000, (RecipeScore("minmax-1k", 0.998, 0.9),))
    raw = choice.to_json()
    assert "float_layers" not in raw["chosen"] and "sensitivity" not in raw
    assert _read(raw) == choice and _read(raw).chosen.float_layers == ()


@pytest.mark.parametrize("mutate, field", [
    (lambda raw: raw["chosen"].update(float_layers=MID), "calibration.formats.tflite-int8.chosen.float_layers"),
    (lambda raw: raw["sensitivity"]["layers"][0].update(flips="many"),
     "calibration.formats.tflite-int8.sensitivity.layers[0].flips"),
    (lambda raw: raw["sensitivity"].pop("all_int8_flips"), "calibration.formats.tflite-int8.sensitivity.all_int8_flips"),
    (lambda raw: raw["sensitivity"]["rescue"].update(k=0), "calibration.formats.tflite-int8.sensitivity.rescue.k"),
    (lambda raw: raw.update(sensitivity=[]), "calibration.formats.tflite-int8.sensitivity"),
])
def test_a_malformed_record_is_a_bundle_error_naming_the_field(mutate, field):
    raw = json.loads(json.dumps(RESCUED.to_json()))
    mutate(raw)
    with pytest.raises(BundleError, match=field.replace("[", r"\[").replace("]", r"\]")):
        _read(raw)
