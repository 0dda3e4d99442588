"""The model card (README.md) and `fashion-edge info`'s summary of it, from the committed tiny bundles' manifests
and from manifests extended here with `about`, `class_accuracy` and `tasks`. No TensorFlow."""
from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fashion_edge.cli.main import main
from fashion_edge.runtime.manifest import Manifest
from fashion_edge.runtime.model_card import render, summary

DATA = Path(__file__).resolve().parents[1] / "data"
BUNDLES = ("tiny-cnn", "tiny-shapes12", "tiny-stripes2", "schema2")
SECTIONS = ("## Intended use and limits", "## Training data and the split", "## Accuracy per class",
            "## Parity with Keras", "## Preprocessing", "## MediaPipe Tasks and TFLite metadata", "## How to run",
            "### Python", "### Raspberry Pi", "### Android and iOS: MediaPipe Tasks ImageClassifier",
            "### LiteRT Interpreter", "### Web page")
SHA = "ab" * 32
CELL = re.compile(r"(?<!\\)\|")          # a table's column separator: a pipe not escaped


def raw(bundle: str) -> dict:
    return json.loads((DATA / bundle / "bundle" / "manifest.json").read_text())


def card(manifest: dict) -> str:
    return render(Manifest.from_json(manifest))


def extended(bundle: str = "tiny-shapes12", metadata: str = "written") -> dict:
    """A committed manifest plus `about`, `class_accuracy` and `tasks`, as a newer export writes them."""
    m = copy.deepcopy(raw(bundle))
    n = len(m["labels"])
    m["about"] = {"description": "Shapes in three colours.\nSecond line with *stars*.", "version": "1.2.0",
                  "author": "Ana Núñez", "licence": 'Apache-2.0: "see" #LICENCE \\ ü'}
    m["class_accuracy"] = {"images": [40 + i for i in range(n)], "keras": [0.9 - 0.01 * i for i in range(n)],
                           "formats": {"tflite-int8": [0.8] * n, "onnx-float32": [0.9 - 0.01 * i for i in range(n)]}}
    m["class_accuracy"]["keras"][n // 2] = 0.125                      # the weakest class
    m["tasks"] = {
        "metadata": metadata, "note": "labels, normalisation and colour space written by mediapipe's writer",
        "recipe": "MediaPipe resizes with its own bilinear filter: close to photo-v1 stretch, not identical",
        "formats": {"tflite-float32": {"ready": False, "reasons": ["float32 input | no normalisation"],
                                       "variant": "int8-tasks.tflite"},
                    "tflite-int8": {"ready": True, "reasons": [], "variant": None}},
        "files": [{"file": "int8-tasks.tflite", "bytes": 11520, "sha256": SHA, "based_on": "tflite-int8",
                   "changes": ["softmax appended", "metadata added"], "agreement": 0.995, "accuracy": 0.79,
                   "images": 600, "max_abs_diff": 0.0123, "passed": True, "failures": []}]}
    return m


def front_matter(text: str) -> list[str]:
    assert text.startswith("---\n")
    end = text.index("\n---\n", 4)
    return text[4:end].split("\n")


@pytest.mark.parametrize("bundle", BUNDLES)
def test_every_section_is_present_for_every_committed_bundle(bundle):
    text = card(raw(bundle))
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings[0] == f"# {raw(bundle)['model']}"
    assert [h for h in headings if h in SECTIONS] == list(SECTIONS)


@pytest.mark.parametrize("manifest", [raw(b) for b in BUNDLES] + [extended(), extended("tiny-stripes2", "skipped")],
                         ids=[*BUNDLES, "extended", "extended-skipped"])
def test_front_matter_is_plain_yaml_of_keys_and_list_items(manifest):
    lines = front_matter(card(manifest))
    for line in lines:
        assert re.fullmatch(r'[a-z_]+: ("(?:[^"\\]|\\.)*"|[a-z0-9-]+)|[a-z_]+:|- [a-z0-9-]+', line), line
    assert "library_name: fashion-edge" in lines and "pipeline_tag: image-classification" in lines
    tags = lines[lines.index("tags:") + 1:lines.index("metrics:")]
    assert tags[:3] == ["- image-classification", "- tflite", "- onnx"]
    assert ("- mediapipe" in tags) == bool(Manifest.from_json(manifest).tasks_ready_files())


def test_the_licence_is_a_quoted_yaml_string_whatever_it_holds():
    m = extended()
    licence = front_matter(card(m))[0]
    assert json.loads(licence.removeprefix("license: ")) == m["about"]["licence"]   # only \" and \\ escapes here
    m["about"]["licence"] = "MIT\twith a tab"
    assert front_matter(card(m))[0] == 'license: "MIT\\U00000009with a tab"'
    assert not any(line.startswith("license") for line in front_matter(card(raw("schema2"))))


@pytest.mark.parametrize("bundle", BUNDLES)
def test_parity_rows_are_the_manifests_figures(bundle):
    m = Manifest.from_json(raw(bundle))
    text = render(m)
    assert f"Keras: {100 * m.keras_test_accuracy:.2f}% of {m.keras_test_images:,} held-out images." in text
    for name, e in m.formats.items():
        p = e.parity
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} | {e.file} |"))
        assert row.startswith(f"| {name} | {e.file} | {e.bytes:,} | {100 * p.accuracy:.2f}% | "
                              f"{100 * p.agreement:.2f}% (")
        assert f" | {p.flips:,} / {p.allowed_flips:,} | " in row
        assert row.endswith(" | PASS |") if p.passed else " | FAIL: " in row


def test_a_failed_format_shows_its_interval_flips_and_failure():
    m = raw("tiny-shapes12")
    m["formats"]["tflite-int8"].update(bytes=10624, parity={
        "images": 600, "accuracy": 0.795, "keras_accuracy": 0.7916666666666666, "agreement": 0.9916666666666667,
        "max_abs_logit_diff": 0.4112668037414551, "thresholds": {"min_agreement": 0.995, "max_accuracy_drop": 0.003},
        "failures": ["5 of 600 images differ from Keras, at most 3 may (agreement 99.17% < 99.50%)"]})
    m["formats"]["tflite-float32"]["parity"]["failures"] = []
    m["size_checks"] = [{"format": "tflite-int8", "of": "tflite-float32", "ratio": 0.4466868, "max": 0.3,
                         "enforced": False}]
    text = card(m)
    assert ("| tflite-int8 | int8.tflite | 10,624 | 79.50% | 99.17% (98.06–99.64%) | 5 / 3 | 0.411 | FAIL: 5 of 600 "
            "images differ from Keras, at most 3 may (agreement 99.17% \\< 99.50%) |") in text.splitlines()
    assert "Size: tflite-int8 is 44.67% of tflite-float32 (limit 30.00%, not enforced for this model)." in text
    assert "The snippets use tflite-float32 (float32.tflite): the first format, which passed its parity gate." in text


def test_absent_optional_fields_read_not_recorded():
    m = Manifest.from_json(raw("schema2"))
    assert (m.data, m.about, m.class_accuracy, m.tasks, m.loader_check) == (None,) * 5
    text = render(m)
    for line in ("Description: not recorded (manifest.json has no `about`).",
                 "- version: not recorded (manifest.json has no `about`)",
                 "- data: not recorded (manifest.json has no `data`)",
                 "Per-class accuracy: not recorded (manifest.json has no `class_accuracy`).",
                 "Loader check: not recorded (measured for image-folder exports).",
                 "- preprocessing vectors: not recorded (this bundle carries none)"):
        assert line in text.splitlines(), line
    assert "MediaPipe Tasks: not recorded (manifest.json has no `tasks`)" in text
    assert "No file of this bundle is recorded as Tasks-ready: int8.tflite loads only if" in text
    lines = summary(m)
    assert lines[1] == f"{'data':16s}not recorded"
    assert lines[3] == f"{'weakest class':16s}not recorded" and lines[4] == f"{'MediaPipe Tasks':16s}not recorded"


def test_labels_with_pipes_and_any_script_are_escaped_in_every_table():
    m = extended("tiny-stripes2")
    m["labels"] = ["stripes | wide", "点々 *polka* `dots`"]
    text = card(m)
    rows = text.splitlines()
    assert "| stripes \\| wide | 40 | 90.00% | 80.00% | 90.00% |" in rows
    assert "| 点々 \\*polka\\* \\`dots\\` | 41 | 12.50% | 80.00% | 89.00% |" in rows
    assert "in output order: stripes \\| wide, 点々 \\*polka\\* \\`dots\\`." in text
    table = None
    for line in rows:             # every row of every table has its header's number of columns
        if not line.startswith("|"):
            table = None
            continue
        table = table or len(CELL.split(line))
        assert len(CELL.split(line)) == table, line


def test_an_image_folder_export_shows_its_split_normalisation_and_loader_check():
    m = extended()
    m["data"] = {"kind": "image-folder", "name": "photos/", "calibration_images": 9000, "gate_images": 1000,
                 "split": {"source": "seeded", "seed": 7, "fractions": {"val": 0.1, "test": 0.1},
                           "counts": {"train": 8000, "val": 1000, "test": 1000}}, "skipped_images": 2,
                 "normalisation": {"mean": [127.5, 127.5, 127.5], "std": [58.0, 57.5, 57.0]}}
    m["loader_check"] = {"images": 1000, "loader_accuracy": 0.81, "recipe_accuracy": 0.8125, "agreement": 0.987,
                         "loader": "image_dataset_from_directory(bilinear, stretch)"}
    text = card(m)
    for line in ("- data: image-folder, photos/", "- calibration: 9,000 images (the int8 calibration pool and the "
                 "validation images its recipe search judges on)", "- held out: 1,000 images (the parity gate and "
                 "every accuracy below)", "- split: source seeded, seed 7, fractions (val 0.1, test 0.1), counts "
                 "(train 8,000, val 1,000, test 1,000)", "- skipped: 2 unreadable images",
                 "- normalisation folded into the graph: mean 127.5,127.5,127.5, std 58,57.5,57",
                 "Loader check on 1,000 images: Keras 81.25% on the bundle's frames, 81.00% through "
                 "image\\_dataset\\_from\\_directory(bilinear, stretch) (gap +0.25 points), 98.70% top-1 agreement."):
        assert line in text.splitlines(), line
    assert summary(Manifest.from_json(m))[1].startswith(f"{'data':16s}image-folder photos/: 9,000 calibration, "
                                                        "1,000 held-out images; split source seeded, seed 7")


def test_class_accuracy_gives_a_column_per_file_and_the_weakest_class():
    m = extended()
    labels = m["labels"]
    text = card(m)
    assert "| label | held-out images | Keras | tflite-int8 | onnx-float32 |" in text
    assert f"| {labels[0]} | 40 | 90.00% | 80.00% | 90.00% |" in text
    assert f"Weakest class (Keras): {labels[6]}, 12.50%." in text
    assert summary(Manifest.from_json(m))[3] == f"{'weakest class':16s}{labels[6]}: 12.50% (Keras)"


def test_about_fills_the_header_on_one_line_each():
    m = extended()
    text = card(m)
    assert "Shapes in three colours. Second line with \\*stars\\*." in text.splitlines()
    for line in ("- version: 1.2.0", "- author: Ana Núñez", '- licence: Apache-2.0: "see" #LICENCE \\\\ ü',
                 f"- exported: {m['created']} with fashion-edge {m['versions']['fashion-edge']}",
                 "- compute: 276,768 multiply-accumulates per image"):
        assert line in text.splitlines(), line


def test_tasks_section_gives_verdicts_variants_and_the_file_to_load():
    text = card(extended())
    assert "- TFLite metadata: written: labels, normalisation and colour space written by mediapipe's writer" in text
    assert "- Tasks-ready files: int8-tasks.tflite, int8.tflite" in text
    assert "| tflite-float32 | float32.tflite | no | float32 input \\| no normalisation | int8-tasks.tflite |" in text
    assert "| tflite-int8 | int8.tflite | yes | – | – |" in text
    assert ("| int8-tasks.tflite | tflite-int8 | 11,520 | 79.00% | 99.50% (98.54–99.83%) | 3 / 3 | 0.0123 | PASS "
            "| softmax appended; metadata added |") in text
    assert "- MediaPipe Tasks' own resizing: MediaPipe resizes with its own bilinear filter" in text
    assert '.setModelAssetPath("int8-tasks.tflite")' in text
    assert 'Bundle.main.path(forResource: "int8-tasks", ofType: "tflite")' in text
    assert 'modelAssetPath: "/bundle/int8-tasks.tflite"' in text
    assert "recorded as Tasks-ready" not in text


def test_skipped_metadata_makes_no_file_tasks_ready():
    m = Manifest.from_json(extended(metadata="skipped"))
    text = render(m)
    assert "- Tasks-ready files: none" in text and "No file of this bundle is recorded as Tasks-ready" in text
    assert summary(m)[4] == (f"{'MediaPipe Tasks':16s}loads no file of this bundle; metadata skipped: "
                             "labels, normalisation and colour space written by mediapipe's writer")


def test_fashion_mnist_bundles_say_dataset_frames_not_shop_photos():
    text = card(raw("tiny-cnn"))
    assert "- shop photos: this model expects dataset-style frames, one garment centred on a plain background" in text
    assert "shop photos" not in card(raw("tiny-shapes12"))
    assert "not shop photos" in summary(Manifest.from_json(raw("tiny-cnn")))[0]
    assert "the accuracy below holds only for images like those 10,000" in text


@pytest.mark.parametrize("bundle", BUNDLES)
def test_how_to_run_names_real_files_and_commands(bundle):
    m = Manifest.from_json(raw(bundle))
    text = render(m)
    named = re.findall(r'(?:model_path="bundle/|setModelAssetPath\("|modelAssetPath: "/bundle/)([^"]+)"', text)
    assert len(named) == 3 and set(named) <= set(m.files())
    assert f"fashion-edge pack bundle --out dist   # build machine: dist/fashion-edge-{m.model}-pi.tar.gz" in text
    assert f"sudo fashion-edge-{m.model}-pi/install.sh --enable-service" in text
    assert f'pip install "fashion_edge-{m.versions["fashion-edge"]}-py3-none-any.whl[litert]"' in text


def test_python_and_litert_snippets_follow_the_output_and_the_files_tensors():
    cnn = card(raw("tiny-cnn"))
    assert 'clf = Classifier("bundle")' in cnn and "fashion-edge predict photo.jpg --bundle bundle\n" in cnn
    assert 'interpreter.set_tensor(inp["index"], frame)' in cnn
    assert "logits = 0.126256 * (raw.astype(np.float32) - 149)" in cnn and "# logits: softmax" in cnn
    stripes = card(raw("tiny-stripes2"))
    assert "p = np.clip(logits, 0, None); p /= p.sum()" in stripes and "# logits: softmax" not in stripes
    assert "- output: probabilities: the file ends in a softmax; apply none" in stripes


def test_the_card_does_not_depend_on_its_own_asset_entry():
    m = raw("tiny-cnn")
    listed = next(a for a in m["assets"] if a["file"] == "README.md")     # the exporter lists its card
    assert card(m) == (DATA / "tiny-cnn" / "bundle" / "README.md").read_text(encoding="utf-8")
    m["assets"].remove(listed)
    before = card(m)
    assert summary(Manifest.from_json(m))[5].startswith(f"{'model card':16s}README.md not listed in manifest.json")
    m["assets"].append({"file": "README.md", "bytes": len(before.encode()), "sha256": SHA})
    assert card(m) == before
    assert summary(Manifest.from_json(m))[5] == f"{'model card':16s}README.md in the bundle"


def test_info_appends_the_summary_to_its_own_lines(tmp_path, capsys):
    bundle = Path(shutil.copytree(DATA / "tiny-cnn" / "bundle", tmp_path / "bundle"))
    manifest = extended("tiny-cnn")
    (bundle / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
    assert main(["info", str(bundle)]) == 0
    out = capsys.readouterr().out.splitlines()
    expected = summary(Manifest.from_json(manifest))
    assert out[0] == f"bundle   {bundle}" and out[-len(expected):] == expected
    assert out[-len(expected) - 1].startswith("model card (README.md")
    assert any(line.startswith("int8 calibration") for line in out[:-len(expected)])
    assert expected[2] == f"{'accuracy':16s}Keras 86.40% on 10,000 held-out images"
    assert expected[4] == f"{'MediaPipe Tasks':16s}loads int8-tasks.tflite, int8.tflite"


def test_info_on_an_old_bundle_says_not_recorded(schema2_bundle, capsys):
    assert main(["info", str(schema2_bundle)]) == 0
    out = capsys.readouterr().out
    assert f"{'weakest class':16s}not recorded\n{'MediaPipe Tasks':16s}not recorded\n" in out


def test_rendering_imports_no_tensorflow():
    code = ("import json, sys; from fashion_edge.runtime.manifest import Manifest; "
            "from fashion_edge.runtime.model_card import render; "
            f"render(Manifest.from_json(json.load(open({str(DATA / 'tiny-cnn' / 'bundle' / 'manifest.json')!r})))); "
            "print([m for m in ('tensorflow', 'keras', 'PIL') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
