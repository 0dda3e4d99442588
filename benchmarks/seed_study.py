"""A recipe, not a lucky seed: train and export one model with several seeds (and, optionally, on
TensorFlow's other CPU kernels) and report the spread of test accuracy and of the int8 files'
agreement with Keras, with each one's margin over the parity gate.

    python -m fashion_edge.benchmarks.seed_study --model edge --seeds 0 1 2 [--quick] [--onednn on off]
        [--out artifacts/studies]        (not run by make demo: it trains len(seeds) x len(onednn) models)

Each run is a fresh process (TF_ENABLE_ONEDNN_OPTS is read when TensorFlow loads) running
`fashion-edge train` and `fashion-edge export`; the figures come from the files they write.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.formats import FORMATS
from fashion_edge.train.artifacts import write_text_atomic


def _run(args: list[str], env: dict) -> None:
    proc = subprocess.run([sys.executable, "-m", "fashion_edge.cli", *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"seed study: {' '.join(args[:2])} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")


def one_run(model: str, seed: int, onednn: str, quick: bool, out: Path) -> dict:
    folder = out / f"{model}{'-quick' if quick else ''}-seed{seed}-onednn-{onednn}"
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1" if onednn == "on" else "0", "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    _run(["train", "--model", model, "--seed", str(seed), "--out", str(folder), *(["--quick"] if quick else [])], env)
    trained = time.perf_counter() - start
    # the gate's verdict is recorded, not enforced: a study reports negative margins too
    code = ("import sys; from pathlib import Path; from fashion_edge.export.exporter import ExportConfig, export; "
            f"export(ExportConfig(model_dir=Path({str(folder / model)!r}), enforce_gate=False), log=lambda _: None)")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"seed study: export failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    metrics = json.loads((folder / model / "metrics.json").read_text())
    manifest = Bundle.load(folder / model / "bundle").manifest
    formats = {}
    for name, entry in manifest.formats.items():
        if not FORMATS[name].quantized:
            continue
        p = entry.parity
        choice = manifest.calibration.formats.get(name)
        formats[name] = {"test_agreement": p.agreement, "gate": p.thresholds.min_agreement, "passed": p.passed,
                         "margin_images": round((p.agreement - p.thresholds.min_agreement) * p.images),
                         "accuracy_delta": p.accuracy_delta,
                         "validation_agreement": max(c.validation_agreement for c in choice.candidates) if choice else None,
                         "recipe": entry.calibration_recipe}
    return {"model": model, "seed": seed, "onednn": onednn, "quick": quick,
            "test_accuracy": metrics["test_accuracy"], "train_seconds": metrics["train_seconds"],
            "wall_seconds": round(time.perf_counter() - start, 1), "train_wall_seconds": round(trained, 1),
            "params": metrics["params"], "macs_per_image": metrics["macs_per_image"], "formats": formats}


def summary(runs: list[dict]) -> dict:
    def spread(values: list[float]) -> dict:
        return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                "min": min(values), "max": max(values)}

    out = {"runs": len(runs), "test_accuracy": spread([r["test_accuracy"] for r in runs])}
    for name in runs[0]["formats"]:
        out[name] = {"test_agreement": spread([r["formats"][name]["test_agreement"] for r in runs]),
                     "margin_images": spread([r["formats"][name]["margin_images"] for r in runs])}
    return out


def markdown(runs: list[dict]) -> str:
    names = list(runs[0]["formats"])
    lines = ["| seed | oneDNN | test accuracy | train s | " + " | ".join(f"{n} agree (margin)" for n in names) + " |",
             "|---:|---|---:|---:|" + "---:|" * len(names)]
    for r in runs:
        cells = [f"{100 * r['formats'][n]['test_agreement']:.2f}% ({r['formats'][n]['margin_images']:+d})" for n in names]
        lines.append(f"| {r['seed']} | {r['onednn']} | {100 * r['test_accuracy']:.2f}% | {r['train_seconds']:.0f} | "
                     + " | ".join(cells) + " |")
    s = summary(runs)
    acc = s["test_accuracy"]
    lines += ["", f"test accuracy {100 * acc['mean']:.2f}% ± {100 * acc['sd']:.2f} (sd over {s['runs']} runs; "
                  f"min {100 * acc['min']:.2f}%, max {100 * acc['max']:.2f}%)"]
    for n in names:
        a, m = s[n]["test_agreement"], s[n]["margin_images"]
        lines.append(f"{n}: agreement {100 * a['mean']:.2f}% ± {100 * a['sd']:.2f}; margin over the gate "
                     f"{m['min']:+.0f} to {m['max']:+.0f} images of 10,000")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fashion_edge.benchmarks.seed_study")
    parser.add_argument("--model", default="edge")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--onednn", nargs="+", choices=["on", "off"], default=["on"])
    parser.add_argument("--quick", action="store_true", help="the quick recipe (the test suite's fixture)")
    parser.add_argument("--out", type=Path, default=Path("artifacts/studies"))
    args = parser.parse_args(argv)
    runs = []
    for onednn in args.onednn:
        for seed in args.seeds:
            runs.append(one_run(args.model, seed, onednn, args.quick, args.out))
            print(json.dumps(runs[-1]), flush=True)
    name = f"{args.model}{'-quick' if args.quick else ''}-seeds"
    write_text_atomic(args.out / f"{name}.json", json.dumps({"runs": runs, "summary": summary(runs)}, indent=1))
    write_text_atomic(args.out / f"{name}.md", markdown(runs))
    print(markdown(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
