"""A bundle's model card (README.md) written from its manifest alone, and the lines `fashion-edge info` prints of it.

The card follows the Model Cards / Hugging Face layout: YAML front matter, then what the model is for,
what it was measured on, how each class and each file scores against Keras, and how to run it. Every
figure is the manifest's; an optional field the manifest lacks reads "not recorded". The card ignores a
README.md entry in `assets`, so rendering the final manifest again reproduces the file.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from fashion_edge.runtime.backends import device_extras, runtime_for
from fashion_edge.runtime.contract import Preprocessing
from fashion_edge.runtime.formats import DEFAULT_FORMAT, FORMATS
from fashion_edge.runtime.manifest import FormatEntry, Manifest, TensorSpec, allowed_flips, wilson_interval
from fashion_edge.runtime.recipes import FASHION_MNIST, RECIPES

FILE = "README.md"
NOT_RECORDED = "not recorded"
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|"})


def render(manifest: Manifest) -> str:
    """The Markdown model card of the bundle `manifest` describes."""
    sections = (_front_matter, _title, _intended_use, _data, _per_class, _parity, _preprocessing, _tasks, _how_to_run)
    return "\n".join(line for section in sections for line in [*section(manifest), ""]).rstrip("\n") + "\n"


def summary(manifest: Manifest) -> list[str]:
    """A few plain lines of the card for `fashion-edge info`: use, data, accuracy, weakest class, Tasks, the card."""
    m, d, c = manifest, manifest.data, manifest.input
    use = f"{len(m.labels)} classes from {c.describe()} images ({c.preprocessing.id}); " + (
        "dataset-style frames (a centred garment on a plain background), not shop photos"
        if c.preprocessing.id == FASHION_MNIST else "only images like the held-out set")
    data = (f"{d.kind} {d.name}: {d.calibration_images:,} calibration, {d.gate_images:,} held-out images; "
            f"split {_value(d.split) if d.split else NOT_RECORDED}") if d else NOT_RECORDED
    weakest = _weakest(m)
    if not m.tasks:
        tasks = NOT_RECORDED
    else:
        ready = m.tasks_ready_files()
        tasks = (f"loads {', '.join(ready)}" if ready else "loads no file of this bundle") + (
            "" if m.tasks.written else f"; metadata skipped: {m.tasks.note}")
    card = (f"{FILE} in the bundle" if any(a.file == FILE for a in m.assets)
            else f"{FILE} not listed in manifest.json (fashion_edge.runtime.model_card.render writes it)")
    return [f"{'intended use':16s}{use}", f"{'data':16s}{data}",
            f"{'accuracy':16s}Keras {_pct(m.keras_test_accuracy)} on {m.keras_test_images:,} held-out images",
            f"{'weakest class':16s}" + (f"{weakest[0]}: {_pct(weakest[1])} (Keras)" if weakest else NOT_RECORDED),
            f"{'MediaPipe Tasks':16s}{tasks}", f"{'model card':16s}{card}"]


def describe_preprocessing(p: Preprocessing) -> str:
    """`photo-v1 (resize stretch, interpolation bilinear, background 255,255,255)`: the recipe and its parameters."""
    params = ", ".join(f"{k} {_value(v)}" for k, v in p.parameters.items())
    return f"{p.id} ({params})" if params else p.id


# --- sections: each returns its lines -------------------------------------------------------------

def _front_matter(m: Manifest) -> list[str]:
    families = {FORMATS[name].family for name in m.formats}
    tags = ["image-classification", *(["tflite"] if "tflite" in families else []),
            *(["onnx"] if families & {"onnx", "ort"} else []), *(["mediapipe"] if m.tasks_ready_files() else [])]
    return ["---", *([f"license: {_yaml(m.about.licence)}"] if m.about else []), "library_name: fashion-edge",
            "pipeline_tag: image-classification", "tags:", *(f"- {t}" for t in tags), "metrics:", "- accuracy", "---"]


def _title(m: Manifest) -> list[str]:
    a = m.about
    about = f"{NOT_RECORDED} (manifest.json has no `about`)"
    return [f"# {_md(m.model)}", "", _md(a.description) if a else f"Description: {about}.", "",
            f"- version: {_md(a.version) if a else about}", f"- author: {_md(a.author) if a else about}",
            f"- licence: {_md(a.licence) if a else about}",
            f"- exported: {_md(m.created)} with fashion-edge {_md(m.versions.get('fashion-edge', NOT_RECORDED))}",
            f"- compute: {m.macs_per_image:,} multiply-accumulates per image"]


def _intended_use(m: Manifest) -> list[str]:
    c, held_out = m.input, m.keras_test_images
    source = _md(m.data.name) if m.data else f"the training data ({NOT_RECORDED})"
    lines = ["## Intended use and limits", "",
             f"Classifies one image into one of {len(m.labels)} classes, in output order: "
             f"{', '.join(_md(label) for label in m.labels)}.", "",
             f"Input: {c.height}×{c.width}×{c.channels} ({c.colour.value}) pixels made by the "
             f"`{describe_preprocessing(c.preprocessing)}` recipe. Output: {m.output.classes} "
             f"{m.output.kind.value}.", "", "Out of scope:", "",
             f"- images unlike {source}: other subjects, framing, backgrounds, lighting or cameras."]
    if c.preprocessing.id == FASHION_MNIST:
        lines.append("- shop photos: this model expects dataset-style frames, one garment centred on a plain "
                     "background as in Fashion-MNIST, not models wearing clothes, several items or busy scenes.")
    if m.tasks:
        lines.append(f"- MediaPipe Tasks' own resizing: {_md(m.tasks.recipe)}")
    return [*lines, f"- any claim beyond the held-out set: the accuracy below holds only for images like those "
                    f"{held_out:,}; measure on your own images first."]


def _data(m: Manifest) -> list[str]:
    d, cal = m.data, m.calibration
    lines = ["## Training data and the split", ""]
    if d is None:
        lines.append(f"- data: {NOT_RECORDED} (manifest.json has no `data`)")
    else:
        norm = d.normalisation
        lines += [f"- data: {_md(d.kind)}, {_md(d.name)}",
                  f"- calibration: {d.calibration_images:,} images (the int8 calibration pool and the validation "
                  "images its recipe search judges on)",
                  f"- held out: {d.gate_images:,} images (the parity gate and every accuracy below)",
                  f"- split: {_md(_value(d.split)) if d.split else NOT_RECORDED}",
                  f"- skipped: {d.skipped_images:,} unreadable images",
                  f"- normalisation folded into the graph: {_md(_value(norm)) if norm else 'none'}"]
    lines.append(f"- calibration source: {_md(cal.source)}; pool seed {cal.pool_seed}, validation split seed "
                 f"{cal.validation_split_seed}")
    for name, choice in cal.formats.items():
        kept = next((c for c in choice.candidates if c.recipe == choice.chosen.name), None)
        score = f", {_pct(kept.validation_agreement)} agreement with Keras" if kept else ""
        lines.append(f"- {name}: recipe {_md(choice.chosen.name)} kept of {len(choice.candidates)} tried "
                     f"({choice.validation_images:,} validation images{score})")
    return lines if cal.formats else [*lines, "- no statically calibrated file"]


def _per_class(m: Manifest) -> list[str]:
    lines = ["## Accuracy per class", "",
             f"Keras: {_pct(m.keras_test_accuracy)} of {m.keras_test_images:,} held-out images.", ""]
    ca = m.class_accuracy
    if ca is None:
        lines.append(f"Per-class accuracy: {NOT_RECORDED} (manifest.json has no `class_accuracy`).")
    else:
        rows = [(_md(label), f"{ca.images[i]:,}", _pct(ca.keras[i]), *(_pct(v[i]) for v in ca.formats.values()))
                for i, label in enumerate(m.labels)]
        weakest = _weakest(m)
        lines += [*_table(("label", "held-out images", "Keras", *ca.formats), rows), "",
                  f"Weakest class (Keras): {_md(weakest[0])}, {_pct(weakest[1])}."]
    lc = m.loader_check
    return [*lines, "", (f"Loader check: {NOT_RECORDED} (measured for image-folder exports)." if lc is None else
                         f"Loader check on {lc.images:,} images: Keras {_pct(lc.recipe_accuracy)} on the bundle's "
                         f"frames, {_pct(lc.loader_accuracy)} through {_md(lc.loader)} (gap {_pp(lc.gap)}), "
                         f"{_pct(lc.agreement)} top-1 agreement.")]


def _parity(m: Manifest) -> list[str]:
    rows = [(name, _md(e.file), f"{e.bytes:,}", _pct(e.parity.accuracy), _agreement(e.parity.agreement,
             e.parity.images), f"{e.parity.flips:,} / {e.parity.allowed_flips:,}", f"{e.parity.max_abs_logit_diff:.3g}",
             _verdict(e.parity.passed, e.parity.failures)) for name, e in m.formats.items()]
    lines = ["## Parity with Keras", "", "Each file against Keras on the held-out images: flips are images whose "
             "top-1 differs from Keras', allowed is the gate in images.", "",
             *_table(("format", "file", "bytes", "accuracy", "agreement (95% interval)", "flips / allowed",
                      "max \\|Δ logit\\|", "verdict"), rows)]
    if m.tasks and m.tasks.files:
        rows = []
        for f in m.tasks.files:
            base = m.formats.get(f.based_on)
            allowed = f"{allowed_flips(base.parity.thresholds.min_agreement, f.images):,}" if base else "–"
            rows.append((_md(f.file), _md(f.based_on), f"{f.bytes:,}", _pct(f.accuracy),
                         _agreement(f.agreement, f.images), f"{round((1 - f.agreement) * f.images):,} / {allowed}",
                         f"{f.max_abs_diff:.3g}",
                         _verdict(f.passed, f.failures), _md("; ".join(f.changes))))
        lines += ["", "MediaPipe Tasks-ready variants, gated as the format they are based on:", "",
                  *_table(("file", "based on", "bytes", "accuracy", "agreement (95% interval)", "flips / allowed",
                           "max \\|Δ probability\\|", "verdict", "changes"), rows)]
    for s in m.size_checks:
        lines += ["", f"Size: {s.format} is {_pct(s.ratio)} of {s.of} (limit {_pct(s.max)}, "
                      f"{'enforced' if s.enforced else 'not enforced for this model'})."]
    return lines


def _preprocessing(m: Manifest) -> list[str]:
    c, listed = m.input, {a.file for a in m.assets}
    photos = sorted(f for f in listed if f.startswith("preprocessing/"))
    golden = ("preprocessed held-out frames and each file's expected outputs (within `formats.<F>.golden_atol`)"
              if "golden.json" in listed else NOT_RECORDED)
    vectors = (f"{len(photos)} photos in `preprocessing/` with the frames the recipe must make of them "
               "(golden.json's `preprocessing_vectors`)" if photos else f"{NOT_RECORDED} (this bundle carries none)")
    rows = [(_md(e.file), _tensor(e.input), _tensor(e.output)) for e in m.formats.values()]
    return ["## Preprocessing", "",
            f"- recipe: `{describe_preprocessing(c.preprocessing)}`: {_md(RECIPES[c.preprocessing.id].summary)}",
            f"- device tensor: uint8 pixels 0..255, NHWC, shape {list(c.shape)}, batch of one; scaling and "
            "normalisation are inside every file's graph (float files take the same pixel values as float32)",
            "- output: " + ("logits: apply a softmax" if m.output.is_logits
                            else "probabilities: the file ends in a softmax; apply none"),
            f"- golden.json: {golden}", f"- preprocessing vectors: {vectors}", "",
            *_table(("file", "input", "output"), rows)]


def _tasks(m: Manifest) -> list[str]:
    t = m.tasks
    lines = ["## MediaPipe Tasks and TFLite metadata", ""]
    if t is None:
        return [*lines, f"MediaPipe Tasks: {NOT_RECORDED} (manifest.json has no `tasks`); no file is recorded "
                        "as Tasks-ready."]
    ready = m.tasks_ready_files()
    rows = [(name, _md(m.formats[name].file), "yes" if v.ready else "no", _md("; ".join(v.reasons)) or "–",
             _md(v.variant) if v.variant else "–") for name, v in t.formats.items()]
    return [*lines, f"- TFLite metadata: {t.metadata}: {_md(t.note)}",
            f"- Tasks-ready files: {', '.join(_md(f) for f in ready) or 'none'}",
            f"- resizing: {_md(t.recipe)}", "",
            *_table(("format", "file", "ImageClassifier loads it", "why not", "use instead"), rows)]


def _how_to_run(m: Manifest) -> list[str]:
    fmt = _preferred(m, m.formats)
    tflite = [n for n in m.formats if FORMATS[n].family == "tflite"]
    lite = m.formats[_preferred(m, tflite)] if tflite else None
    ready = m.tasks_ready_files()
    variants = m.tasks.files if m.tasks else ()
    passed = {e.file for e in m.formats.values() if e.parity.passed} | {f.file for f in variants if f.passed}
    tasks_file = next((f for f in ready if f in passed), ready[0]) if ready else (lite or m.formats[fmt]).file
    return ["## How to run", "", "The commands below name this folder `bundle`.", "", *_python(m, fmt), *_pi(m, fmt),
            *_mobile(tasks_file, bool(ready), min(3, len(m.labels))), *_litert(m, lite),
            *_web(tasks_file, min(3, len(m.labels)))]


def _python(m: Manifest, fmt: str) -> list[str]:
    extra = runtime_for(FORMATS[fmt].family).extra
    wheel = f"fashion_edge-{m.versions.get('fashion-edge', '<version>')}-py3-none-any.whl"
    flag, arg = ("", "") if fmt == DEFAULT_FORMAT else (f" --format {fmt}", f', format="{fmt}"')
    e = m.formats[fmt]
    why = ("the default format" if fmt == DEFAULT_FORMAT else "the first format") + (
        ", which passed its parity gate" if e.parity.passed else "; no file passed its parity gate")
    return ["### Python", "", f"The snippets use {fmt} ({_md(e.file)}): {why}.", "", "```bash",
            f'pip install "{wheel}[{extra}]"   # the project\'s own wheel, never the package index by name',
            f"fashion-edge predict photo.jpg --bundle bundle{flag}", "```", "", "```python",
            "from fashion_edge.runtime import Classifier", "", f'clf = Classifier("bundle"{arg})',
            'p = clf.predict("photo.jpg")     # a path, bytes, a PIL image or a uint8 array',
            f"print(p.label, p.confidence, p.top({min(3, len(m.labels))}, clf.labels))", "```", ""]


def _pi(m: Manifest, fmt: str) -> list[str]:
    extra = runtime_for(FORMATS[fmt].family).extra
    default = extra == device_extras()[0]
    kit = f"fashion-edge-{m.model}-pi" + ("" if default else f"-{extra}")
    return ["### Raspberry Pi", "", "The deploy kit: the project's wheel, this bundle (verified), a systemd unit and "
            "install.sh.", "", "```bash",
            f"fashion-edge pack bundle{'' if default else f' --extra {extra}'} --out dist   # build machine: "
            f"dist/{kit}.tar.gz", f"scp dist/{kit}.tar.gz pi@raspberrypi.local:",
            "sudo apt install -y python3-venv                     # on the Pi",
            f"tar xzf {kit}.tar.gz && sudo {kit}/install.sh --enable-service",
            "curl -fsS --data-binary @photo.jpg -H 'Content-Type: image/jpeg' http://127.0.0.1:8000/v1/classify",
            "```", ""]


def _mobile(file: str, ready: bool, k: int) -> list[str]:
    name, _, ext = file.rpartition(".")
    caveat = [] if ready else [f"No file of this bundle is recorded as Tasks-ready: {_md(file)} loads only if it "
                                "carries TFLite metadata (otherwise use LiteRT below).", ""]
    return ["### Android and iOS: MediaPipe Tasks ImageClassifier", "", *caveat, "```kotlin",
            "val classifier = ImageClassifier.createFromOptions(context,",
            "    ImageClassifier.ImageClassifierOptions.builder()",
            f'        .setBaseOptions(BaseOptions.builder().setModelAssetPath("{file}").build())',
            f"        .setMaxResults({k}).build())",
            "val top = classifier.classify(BitmapImageBuilder(bitmap).build())",
            "    .classificationResult().classifications()[0].categories()[0]   // categoryName(), score()",
            "```", "", "```swift", "import MediaPipeTasksVision", "", "let options = ImageClassifierOptions()",
            f'options.baseOptions.modelAssetPath = Bundle.main.path(forResource: "{name}", ofType: "{ext}")!',
            f"options.maxResults = {k}", "let classifier = try ImageClassifier(options: options)",
            "let top = try classifier.classify(image: MPImage(uiImage: image))",
            "    .classificationResult.classifications[0].categories[0]   // categoryName, score", "```", ""]


def _litert(m: Manifest, lite: FormatEntry | None) -> list[str]:
    if lite is None:
        return ["### LiteRT Interpreter", "", "This bundle has no TFLite file.", ""]
    out = lite.output
    feed = "frame" if lite.input.dtype == "uint8" else "frame.astype(np.float32)"
    dequantize = (f"logits = {out.scale:.6g} * (raw.astype(np.float32) - {out.zero_point})   # output scale, zero point"
                  if out.quantized else "logits = raw")
    finish = ("p = np.exp(logits - logits.max()); p /= p.sum()       # logits: softmax" if m.output.is_logits
              else "p = np.clip(logits, 0, None); p /= p.sum()         # probabilities already: no softmax")
    return ["### LiteRT Interpreter", "", "```python", "import numpy as np",
            "from ai_edge_litert.interpreter import Interpreter", "",
            f'interpreter = Interpreter(model_path="bundle/{lite.file}")', "interpreter.allocate_tensors()",
            "inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]",
            f"# frame: uint8 pixels, shape {list(m.input.shape)}, made by the {m.input.preprocessing.id} recipe",
            f'interpreter.set_tensor(inp["index"], {feed})', "interpreter.invoke()",
            'raw = interpreter.get_tensor(out["index"])[0]', dequantize, finish, "```", ""]


def _web(file: str, k: int) -> list[str]:
    return ["### Web page", "", "```js", 'import { FilesetResolver, ImageClassifier } from "@mediapipe/tasks-vision";',
            "", "// @mediapipe/tasks-vision's wasm/ files; fashion-edge serve serves them under /vendor/",
            'const vision = { wasmLoaderPath: "/vendor/vision_wasm_internal.js",',
            '                 wasmBinaryPath: "/vendor/vision_wasm_internal.wasm" };',
            "const classifier = await ImageClassifier.createFromOptions(vision, {",
            f'  baseOptions: {{ modelAssetPath: "/bundle/{file}" }}, maxResults: {k} }});',
            'const top = classifier.classify(document.querySelector("img")).classifications[0].categories[0];',
            "```", "", "`fashion-edge serve --bundle bundle` serves the bundle's files at `/bundle/<file>` and the "
            "project's web app at `/`, which runs this bundle in the browser with its own recipe."]


# --- helpers ----------------------------------------------------------------------------------------

def _preferred(m: Manifest, names: Iterable[str]) -> str:
    """The format to show: the default one if it passed its gate, else the first that passed, else the first."""
    return sorted(names, key=lambda n: (not m.formats[n].parity.passed, n != DEFAULT_FORMAT))[0]


def _weakest(m: Manifest) -> tuple[str, float] | None:
    ca = m.class_accuracy
    return min(zip(m.labels, ca.keras), key=lambda pair: pair[1]) if ca else None


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A GFM table; cells come escaped. Text columns align left, figures right."""
    rows = list(rows)
    right = [bool(rows) and all(r[i][:1].isdigit() for r in rows) for i in range(len(head))]
    return [f"| {' | '.join(head)} |", f"|{'|'.join('---:' if r else '---' for r in right)}|",
            *(f"| {' | '.join(r)} |" for r in rows)]


def _md(text: str) -> str:
    """Plain text for Markdown prose and table cells: one line, Markdown's own characters escaped (`|` too)."""
    return " ".join(str(text).split()).translate(_MARKDOWN)


def _yaml(text: str) -> str:
    """A YAML double-quoted scalar: quotes, colons, '#' and any script are safe; control characters escaped."""
    return '"' + "".join("\\" + ch if ch in '"\\' else ch if ch.isprintable() else f"\\U{ord(ch):08x}"
                         for ch in text) + '"'


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _pp(x: float) -> str:
    return f"{100 * x:+.2f} points"


def _agreement(agreement: float, images: int) -> str:
    low, high = wilson_interval(images - round((1 - agreement) * images), images)
    return f"{_pct(agreement)} ({100 * low:.2f}–{_pct(high)})"


def _verdict(passed: bool, failures: Sequence[str]) -> str:
    return "PASS" if passed else "FAIL: " + _md("; ".join(failures))


def _tensor(t: TensorSpec) -> str:
    return f"{t.dtype} {list(t.shape)}" + (f", scale {t.scale:.6g}, zero point {t.zero_point}" if t.quantized else "")


def _value(v: Any, group: bool = True) -> str:
    """A parameter or record value as words: enums by value, lists joined by commas (255,255,255), objects as
    `key value`, counts with thousands separators."""
    if isinstance(v, Mapping):
        return ", ".join(f"{k} {'(' + _value(x) + ')' if isinstance(x, Mapping) else _value(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ",".join(_value(x, group=False) for x in v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(getattr(v, "value", v))
    return (f"{v:,}" if group else str(v)) if isinstance(v, int) else f"{v:g}"
