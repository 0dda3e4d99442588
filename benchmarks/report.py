"""artifacts/REPORT.md: one page a person reads after `make demo`, rebuilt from the stages' JSON.

The report reads only files (metrics.json, bundle/manifest.json, bench/results.json), so it never
needs TensorFlow and always reflects what is on disk now.
"""
from __future__ import annotations

import json
from pathlib import Path

from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.manifest import Manifest
from fashion_edge.runtime.sensitivity_record import format_report
from fashion_edge.train.artifacts import write_text_atomic
from fashion_edge.train.models import MODELS

MODEL_ORDER = tuple(MODELS)


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _model_dirs(artifacts: Path) -> list[Path]:
    found = [p for p in sorted(artifacts.iterdir()) if (p / "metrics.json").is_file()] if artifacts.is_dir() else []
    return sorted(found, key=lambda p: (MODEL_ORDER.index(p.name) if p.name in MODEL_ORDER else 99, p.name))


def _manifests(dirs: list[Path]) -> list[Manifest]:
    """Each model's bundle manifest, validated; an unreadable one is left out of the report."""
    found = []
    for d in dirs:
        try:
            found.append(Bundle.load(d / "bundle").manifest)
        except BundleError:
            continue
    return found


def training_section(dirs: list[Path]) -> list[str]:
    lines = ["## Training", "",
             "Fashion-MNIST models: the real dataset, validation split from the training set, the 10,000 test images "
             "used only for the figure below. Image-folder models: the folder's own test part (split by seed, or "
             "its test/ folder), never seen in training.", "",
             "| model | data | parameters | epochs | test accuracy | worst class | train time |",
             "|---|---|---:|---:|---:|---|---:|"]
    for d in dirs:
        m = _load(d / "metrics.json")
        if not m:
            continue
        worst = min(m["per_class_accuracy"].items(), key=lambda kv: kv[1])
        data = m.get("data") if isinstance(m.get("data"), dict) else None
        source = (f"image folder `{Path(data['root']).name}`, {'x'.join(map(str, data['image_size']))} {data['color']}"
                  if data else "Fashion-MNIST")
        lines.append(f"| {d.name} | {source} | {m['params']:,} | {m['epochs']} | {100 * m['test_accuracy']:.2f}% "
                     f"of {m['test_images']:,} | {worst[0]} {100 * worst[1]:.1f}% | {m['train_seconds']:.0f} s |")
    lines.append("")
    for d in dirs:
        lines.append(f"- `{d.name}`: [curves]({d.name}/training_curves.png), "
                     f"[confusion matrix]({d.name}/confusion_matrix.png), [flashcards]({d.name}/flashcards.png)")
    return lines + [""]


def export_section(dirs: list[Path]) -> list[str]:
    lines = ["## Export and parity", "",
             "Every format run in its runtime on every held-out image (Fashion-MNIST's 10,000 test images, or an "
             "image folder's gate part) and compared with Keras (max |Δlogit| dequantized for quantized formats). "
             "The agreement gate is stated in images: at most this many held-out images may change their top-1. "
             "Below 10,000 images the agreement carries its Wilson 95% interval.", ""]
    manifests = _manifests(dirs)
    for manifest in manifests:
        lines += [f"### {manifest.model} (Keras {100 * manifest.keras_test_accuracy:.2f}% on "
                  f"{manifest.keras_test_images:,} held-out images)", "",
                  "| format | size | accuracy | Δ accuracy | agreement | differ / allowed | max abs Δlogit | backend | verdict |",
                  "|---|---:|---:|---:|---:|---:|---:|---|---|"]
        for name, e in manifest.formats.items():
            p = e.parity
            lo, hi = p.agreement_interval
            interval = f" ({100 * lo:.2f}–{100 * hi:.2f}%)" if p.images < 10_000 else ""
            lines.append(f"| {name} | {e.bytes / 1024:,.1f} KiB | {100 * p.accuracy:.2f}% "
                         f"| {100 * p.accuracy_delta:+.2f} pp | {100 * p.agreement:.2f}%{interval} "
                         f"| {p.flips:,} / {p.allowed_flips:,} of {p.images:,} "
                         f"| {p.max_abs_logit_diff:.2e} | {e.parity_backend} | {'pass' if p.passed else 'FAIL'} |")
        lines += data_lines(manifest)
        lines += tasks_lines(manifest)
        lines += calibration_lines(manifest)
        for check in manifest.size_checks:
            lines += ["", f"{check.format} / {check.of} size: {100 * check.ratio:.1f}% (limit {100 * check.max:.0f}%"
                          f"{', enforced' if check.enforced else ', not enforced for this model'})"]
        lines.append("")
    return lines if manifests else []


def data_lines(manifest: Manifest) -> list[str]:
    """Which images the bundle was measured on, and Keras' loader against the bundle's recipe."""
    lines = []
    data, check = manifest.data, manifest.loader_check
    if data is not None and data.kind == "image-folder":
        split = dict(data.split)
        how = (f"split by seed {split.get('seed')}" if split.get("source") == "seeded" else "its train/val/test folders")
        skipped = f"; {data.skipped_images:,} unreadable images skipped" if data.skipped_images else ""
        lines += ["", f"Images: the folder `{data.name}`, {how}: {data.calibration_images:,} for calibration and "
                      f"the recipe search, {data.gate_images:,} held out for the gate{skipped}."]
    if check is not None:
        lines += ["", f"Training against deployment preprocessing: Keras reaches {100 * check.loader_accuracy:.2f}% "
                      f"on the {check.images:,} held-out images as Keras' {check.loader} reads them and "
                      f"{100 * check.recipe_accuracy:.2f}% through the bundle's recipe ({100 * check.gap:+.2f} pp; "
                      f"the two readings agree on {100 * check.agreement:.2f}% of top-1 answers)."]
    return lines


def tasks_lines(manifest: Manifest) -> list[str]:
    """MediaPipe Tasks: the files its ImageClassifier loads as they are, the variants and their parity."""
    tasks = manifest.tasks
    if tasks is None:
        return []
    if not tasks.written:
        return ["", f"MediaPipe Tasks: {tasks.note}."]
    lines = ["", f"MediaPipe Tasks loads {', '.join(f'`{f}`' for f in manifest.tasks_ready_files()) or 'no file'} "
                 f"(TFLite metadata inside). {tasks.recipe[0].upper()}{tasks.recipe[1:]}."]
    if tasks.files:
        lines += ["", "| Tasks-ready variant | based on | size | accuracy | agreement | changes | verdict |",
                  "|---|---|---:|---:|---:|---|---|"]
        lines += [f"| {f.file} | {f.based_on} | {f.bytes / 1024:,.1f} KiB | {100 * f.accuracy:.2f}% "
                  f"| {100 * f.agreement:.2f}% | {', '.join(f.changes)} | {'pass' if f.passed else 'FAIL'} |"
                  for f in tasks.files]
    return lines


def calibration_lines(manifest: Manifest) -> list[str]:
    """The int8 recipes the exporter tried, with their validation agreement, and the one it kept."""
    searched = manifest.calibration.formats
    if not searched:
        return []
    first = next(iter(searched.values()))
    lines = ["", f"Int8 calibration: each recipe judged on {first.validation_images:,} validation images "
                 "(held out of training; never the test set); the best agreement with Keras is kept.", "",
             "| format | recipe | validation agreement | validation accuracy | kept |", "|---|---|---:|---:|---|"]
    for fmt, choice in searched.items():
        for c in choice.candidates:
            lines.append(f"| {fmt} | {c.recipe} | {100 * c.validation_agreement:.2f}% "
                         f"| {100 * c.validation_accuracy:.2f}% | {'yes' if c.recipe == choice.chosen.name else ''} |")
    for fmt, choice in searched.items():
        if choice.sensitivity is not None:    # every declared recipe missed the gate: which layers, and the rescue
            lines += ["", f"{fmt}: no declared recipe reached the gate on the validation split.", "", "```",
                      format_report(choice.sensitivity), "```"]
    return lines


def device_section(dirs: list[Path]) -> list[str]:
    """The accelerator verdicts recorded in each manifest at export."""
    lines = ["## Mobile accelerators", "",
             "Every file is a fixed batch-of-one graph. 'shape ops' are operators that read a tensor's "
             "shape at run time (they split accelerator partitions). TFLite: "
             "`tf.lite.experimental.Analyzer.analyze(gpu_compatibility=True)`. ONNX: ONNX Runtime's "
             "`check_onnx_model_mobile_usability` (ORT-format files are judged by the ONNX file they were "
             "converted from); YES = the checker expects the accelerator to run the model well as is.", ""]
    manifests = [m for m in _manifests(dirs) if all(e.device for e in m.formats.values())]
    for manifest in manifests:
        lines += [f"### {manifest.model}", "",
                  "| format | input | shape ops | TFLite GPU delegate | NNAPI | CoreML NeuralNetwork | CoreML MLProgram |",
                  "|---|---|---|---|---|---|---|"]
        for name, e in manifest.formats.items():
            dev = e.device
            gpu = dev.gpu_delegate
            gpu_cell = "—" if gpu is None else ("compatible" if gpu.compatible else "NOT compatible: " + "; ".join(gpu.warnings))
            eps = [_ep_cell(dev.accelerators[k]) if k in dev.accelerators else "—"
                   for k in ("nnapi", "coreml-neuralnetwork", "coreml-mlprogram")]
            lines.append(f"| {name} | {'x'.join(map(str, e.input.shape))} {e.input.dtype} | "
                         f"{', '.join(dev.shape_ops) or 'none'} | {gpu_cell} | {' | '.join(eps)} |")
        lines.append("")
    return lines if manifests else []


def _ep_cell(v) -> str:
    return f"{v.verdict}: {v.partitions} partition(s), {v.supported_nodes}/{v.nodes} nodes"


def bench_section(dirs: list[Path], artifacts: Path | None = None) -> list[str]:
    found = [d / "bench" / "results.md" for d in dirs if (d / "bench" / "results.md").is_file()]
    if not found:
        return []
    lines = ["## Benchmarks", "",
             "Batch-of-one `Classifier.predict` on a preprocessed frame of the bundle's input shape vs the engine's bare "
             "set-input/run/get-output loop (wrapper µs = the difference; each table's header says how bare was "
             "timed); e2e = JPEG file on disk to label; "
             "cold start = fresh process (import, load, first prediction) and its peak RSS; CPU ms/inf = process "
             "CPU time per prediction in a camera-like loop at a fixed frame rate; peak frac = achieved MAC/s over "
             "what the CPU attains through the same runtime. "
             f"Plots: {', '.join(f'[{p.parent.parent.name}]({p.parent.parent.name}/bench/latency.png)' for p in found)}.", ""]
    pareto_lines = _pareto(dirs, artifacts)
    lines += pareto_lines
    for path in found:
        lines += [path.read_text(), ""]
    return lines


def _pareto(dirs: list[Path], artifacts: Path | None) -> list[str]:
    """Every model's entries in one accuracy-vs-latency plot, and the entries on its front."""
    from fashion_edge.benchmarks.results import Results

    runs = []
    for d in dirs:
        try:
            runs.append(Results.load(d / "bench" / "results.json"))
        except (BundleError, FileNotFoundError):
            continue
    if not runs or artifacts is None:
        return []
    try:
        from fashion_edge.benchmarks import pareto

        best = pareto.plot(runs, artifacts / "pareto.png")
    except ImportError:
        return []
    lines = ["### Pareto front (all models)", "", "![accuracy vs latency](pareto.png)", "",
             "| model | format | backend | options | p50 µs | accuracy | size |", "|---|---|---|---|---:|---:|---:|"]
    lines += [f"| {m} | {e.format} | {e.backend} | {e.options_text or '–'} | {e.latency_us.p50:,.1f} | "
              f"{100 * e.accuracy:.2f}% | {e.size_bytes / 1024:,.0f} KiB |" for m, e in best]
    return lines + [""]


def reliability_section(dirs: list[Path]) -> list[str]:
    found = [(d.name, _load(d / "reliability.json")) for d in dirs if (d / "reliability.json").is_file()]
    if not found:
        return []
    lines = ["## Reliability", "",
             "From `python -m fashion_edge.benchmarks.reliability BUNDLE`. Model files: truncated at spread "
             "offsets and with 1-16 random bytes overwritten, handed straight to each backend (past the "
             "sha256 check a bundle applies), one child process per run so a native crash is counted. "
             "Inputs: random arrays (shapes, dtypes, NaN/inf), random bytes behind real image headers, "
             "truncated and corrupted JPEGs, a decompression bomb.", "",
             "| model | what | cases | outcomes | crashes / untyped errors |", "|---|---|---:|---|---:|"]
    for model, r in found:
        if not r:
            continue
        for key, m in r["model_files"].items():
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(m["outcomes"].items()))
            bad = m["crashes"] + sum(v for k, v in m["outcomes"].items() if k.startswith("untyped"))
            lines.append(f"| {model} | model file {key.replace('|', ' on ')} | {m['cases']} | {outcomes} | {bad} |")
        i = r["inputs"]
        lines.append(f"| {model} | inputs to Classifier.predict | {i['cases']} | "
                     f"{', '.join(f'{k} {v}' for k, v in sorted(i['outcomes'].items()))} | {i['untyped']} |")
    lines += ["", "| model | long run | predictions | RSS after warm-up | RSS after | growth |", "|---|---|---:|---:|---:|---:|"]
    for model, r in found:
        for key, run in (r or {}).get("long_run", {}).items():
            lines.append(f"| {model} | {key.replace('|', ' on ')} | {run['predictions']:,} | {run['rss_before_mb']:.1f} MB "
                         f"| {run['rss_after_mb']:.1f} MB | {run['growth_mb']:+.2f} MB |")
    return lines + [""]


def serve_section(dirs: list[Path]) -> list[str]:
    """`make serve-study`'s serve.json (benchmarks/load.py), rendered by its own module."""
    from fashion_edge.benchmarks.serve_report import render_markdown

    found = [(d.name, _load(d / "serve.json")) for d in dirs if (d / "serve.json").is_file()]
    return [line for model, r in found if r for line in (render_markdown(r).splitlines() + [""])]


def reload_section(dirs: list[Path]) -> list[str]:
    """`make reload-study`'s reload.json (benchmarks/reload_study.py), rendered by its own module."""
    from fashion_edge.benchmarks.reload_report import render_markdown

    found = [_load(d / "reload.json") for d in dirs if (d / "reload.json").is_file()]
    return [line for r in found if r for line in (render_markdown(r).splitlines() + [""])]


def browser_section(dirs: list[Path]) -> list[str]:
    """The web app's in-browser latency per format (benchmarks/browser.py's browser.json)."""
    from fashion_edge.benchmarks.browser import render_markdown

    found = [(d.name, _load(d / "browser.json")) for d in dirs if (d / "browser.json").is_file()]
    return [line for model, r in found if r
            for line in ([f"## In the browser ({model})", ""] + render_markdown(r).splitlines() + [""])]


SECTIONS = [training_section, export_section, device_section, bench_section, reliability_section, serve_section,
            reload_section, browser_section]


def render_report(artifacts: Path) -> str:
    dirs = _model_dirs(artifacts)
    lines = ["# fashion-edge report", ""]
    if not dirs:
        return "\n".join(lines + ["No trained models yet: run `make demo`.", ""])
    for section in SECTIONS:
        lines += section(dirs, artifacts) if section is bench_section else section(dirs)
    return "\n".join(lines)


def write_report(artifacts: Path) -> Path:
    artifacts = Path(artifacts)
    artifacts.mkdir(parents=True, exist_ok=True)
    path = artifacts / "REPORT.md"
    write_text_atomic(path, render_report(artifacts))
    return path
