"""results.json (schema: ARCHITECTURE.md), results.md (a table read in ten seconds) and latency.png."""
from __future__ import annotations

import json
from pathlib import Path

from fashion_edge.benchmarks.stats import LATENCY_KEYS
from fashion_edge.runtime.atomic import staged_dir

REQUIRED = ("format", "backend", "size_bytes", "accuracy", "agreement_with_keras", "cold_start_s",
            "peak_rss_mb", "latency_us", "bare_latency_us", "e2e_latency_us", "throughput_ips", "threads")


def validate(results: dict) -> None:
    """Raise ValueError naming the first way `results` breaks the published schema."""
    if not isinstance(results.get("machine"), dict) or not {"cpu", "cores", "python", "versions"} <= set(results["machine"]):
        raise ValueError("machine must hold cpu, cores, python, versions")
    if not isinstance(results.get("results"), list) or not results["results"]:
        raise ValueError("results must be a non-empty list")
    for i, entry in enumerate(results["results"]):
        missing = [k for k in REQUIRED if k not in entry]
        if missing:
            raise ValueError(f"results[{i}] lacks {', '.join(missing)}")
        for key in ("latency_us", "bare_latency_us"):
            stats = entry[key]
            if not isinstance(stats, dict) or set(LATENCY_KEYS) - set(stats):
                raise ValueError(f"results[{i}].{key} must hold {', '.join(LATENCY_KEYS)}")
            if not stats["min"] <= stats["p50"] <= stats["p90"] <= stats["p99"] <= stats["max"]:
                raise ValueError(f"results[{i}].{key} percentiles out of order")


def _find(results: dict, fmt: str, backend: str, threads=1) -> dict | None:
    return next((e for e in results["results"] if e["format"] == fmt and e["backend"] == backend
                 and (threads is None or e["threads"] in (threads, None))), None)


def targets(results: dict) -> dict:
    """The issue's ratios for tflite-int8 on litert (1 thread), measured in this one run."""
    lite = _find(results, "tflite-int8", "litert")
    kp, kc = _find(results, "keras", "keras-predict", None), _find(results, "keras", "keras-call", None)
    if not lite:
        return {}
    out = {"wrapper_overhead_p50": lite["latency_us"]["p50"] / lite["bare_latency_us"]["p50"]}
    if kp and kc:
        out.update({
            "speedup_vs_keras_predict_p50": kp["latency_us"]["p50"] / lite["latency_us"]["p50"],
            "speedup_vs_keras_call_p50": kc["latency_us"]["p50"] / lite["latency_us"]["p50"],
            "cold_start_ratio_vs_keras": kp["cold_start_s"] / lite["cold_start_s"],
            "peak_rss_ratio_vs_keras": kp["peak_rss_mb"] / lite["peak_rss_mb"],
        })
    return {k: round(v, 3) for k, v in out.items()}


TARGETS = {"speedup_vs_keras_predict_p50": (">=", 1000), "speedup_vs_keras_call_p50": (">=", 20),
           "cold_start_ratio_vs_keras": (">=", 20), "peak_rss_ratio_vs_keras": (">=", 10),
           "wrapper_overhead_p50": ("<=", 1.10)}


def _subset(entry: dict) -> str:
    n = entry.get("accuracy_images", 10000)
    return f" (first {n:,})" if n < 10000 else ""


def markdown(results: dict) -> str:
    s = results["settings"]
    m = results["machine"]
    lines = [f"### {results['model']}", "",
             f"{m['cpu']}, {m['cores']} cores, Python {m['python']}. Batch-of-one latency: {s['runs']} timed "
             f"runs per entry (Keras predict: {s['keras_predict_runs']}; onnx-reference: fewer), interleaved over "
             f"{s['rounds']} rounds after warm-up; cold start: median of {s['cold_start_repeats']} fresh processes.",
             "",
             "| format | backend | thr | size | accuracy | agree | p50 µs | p99 µs | bare p50 µs | predict/bare | e2e p50 µs | cold start s | peak RSS MB | batch img/s | GMAC/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for e in results["results"]:
        lat, bare = e["latency_us"], e["bare_latency_us"]
        ratio = lat["p50"] / bare["p50"] if e["format"] != "keras" else float("nan")
        e2e = f"{e['e2e_latency_us']['p50']:,.0f}" if e.get("e2e_latency_us") else "–"
        gmacs = f"{e['macs_per_s_at_p50'] / 1e9:.2f}" if e.get("macs_per_s_at_p50") else "–"
        lines.append(
            f"| {e['format']} | {e['backend']} | {e['threads'] or '–'} | {e['size_bytes'] / 1024:,.0f} KiB "
            f"| {100 * e['accuracy']:.2f}%{_subset(e)} | {100 * e['agreement_with_keras']:.2f}% | {lat['p50']:,.1f} | {lat['p99']:,.1f} "
            f"| {bare['p50']:,.1f} | {'–' if ratio != ratio else f'{ratio:.2f}x'} | {e2e} | {e['cold_start_s']:.2f} "
            f"| {e['peak_rss_mb']:.0f} | {e['throughput_ips']:,.0f} | {gmacs} |")
    t = results.get("targets") or {}
    if t:
        lines += ["", "Targets (tflite-int8 on litert, 1 thread; ratios from this run):", ""]
        for key, (op, goal) in TARGETS.items():
            if key in t:
                ok = t[key] >= goal if op == ">=" else t[key] <= goal
                lines.append(f"- {key.replace('_', ' ')}: {t[key]:,.2f} (target {op} {goal}) {'met' if ok else 'NOT met'}")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [e for e in results["results"] if e.get("samples_us")]
    names = [f"{e['format']} / {e['backend']}" + (f" t{e['threads']}" if e["threads"] else "") for e in entries]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(entries) + 1.5))
    ax.boxplot([e["samples_us"] for e in entries], orientation="horizontal", tick_labels=names,
               showfliers=False, whis=(1, 99))
    ax.set_xscale("log")
    ax.set_xlabel("batch-of-one latency, µs (log; whiskers p1-p99)")
    ax.set_title(f"{results['model']}: Classifier.predict latency per format/backend")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(results: dict, folder: Path) -> Path:
    results = {**results, "targets": targets(results)}
    validate(results)
    with staged_dir(folder) as stage:
        (stage / "results.json").write_text(json.dumps(results, indent=1))
        (stage / "results.md").write_text(markdown(results))
        try:
            plot(results, stage / "latency.png")
        except ImportError:
            pass  # matplotlib is a [train] extra; a device run still gets json and md
    return folder
