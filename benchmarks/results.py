"""results.json as types (schema: docs/benchmarks.md), and the files written beside it.

`ResultEntry` and `Results` are the one description of a benchmark run: the runner builds them,
`to_json` writes them, `from_json` validates a file (a hand-edited or truncated one raises
`BundleError` naming the field), and the report, `bench compare` and the Pareto plot read them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from fashion_edge.benchmarks import spinning
from fashion_edge.benchmarks.fixed_rate import FixedRate
from fashion_edge.benchmarks.spinning import SpinningStudy
from fashion_edge.benchmarks.stats import LatencyStats
from fashion_edge.runtime import jsonio
from fashion_edge.runtime.backends import runtime_for
from fashion_edge.runtime.fields import Obj
from fashion_edge.runtime.formats import DEFAULT_FORMAT, FORMATS
from fashion_edge.runtime.options import spinning_text
from fashion_edge.train.artifacts import staged_dir

FILE = "results.json"
MAX_BYTES = 64 * 1024 * 1024


def _stats(o: Obj, key: str, optional: bool = False) -> LatencyStats | None:
    s = o.obj(key, optional)
    if s is None:
        return None
    stats = LatencyStats(s.float("mean"), s.float("p50"), s.float("p90"), s.float("p99"), s.float("min"),
                         s.float("max"), s.int("n", minimum=1))
    if not stats.min <= stats.p50 <= stats.p90 <= stats.p99 <= stats.max:
        raise s.fail("p50", "percentiles out of order (min <= p50 <= p90 <= p99 <= max)")
    return stats


@dataclass(frozen=True)
class ResultEntry:
    """One (format, backend, options) measured; Keras baselines are entries with format "keras"."""

    format: str
    backend: str
    options: Mapping[str, Any]          # engine options: threads, and the backend's own (xnnpack, spinning)
    size_bytes: int
    accuracy: float
    accuracy_images: int
    agreement_with_keras: float
    cold_start_s: float
    peak_rss_mb: float
    latency_us: LatencyStats            # Classifier.predict, batch of one, preprocessed input
    bare_latency_us: LatencyStats       # the backend's own loop on predict's interpreter, timed alternately with it
    e2e_latency_us: LatencyStats | None  # image file -> label
    throughput_ips: float
    macs_per_image: int | None = None
    samples_us: tuple[float, ...] = field(default=(), repr=False)
    fixed_rate: tuple[FixedRate, ...] = ()     # cost at a camera's frame rates, measured in a fresh process
    peak_fraction: float | None = None          # achieved MAC/s over what the CPU attains (roofline)
    status: str = "ok"                          # "below floor" when accuracy < bench --min-accuracy

    @property
    def threads(self) -> int | None:
        return self.options.get("threads")

    @property
    def is_baseline(self) -> bool:
        return self.format == "keras"

    @property
    def macs_per_s_at_p50(self) -> float | None:
        return self.macs_per_image / (self.latency_us.p50 * 1e-6) if self.macs_per_image else None

    @property
    def label(self) -> str:
        return f"{self.format} / {self.backend}" + (f" [{self.options_text}]" if self.options_text else "")

    @property
    def options_text(self) -> str:
        short = {"threads": "t", "xnnpack": "xnnpack ", "spinning": "spin "}
        parts = []
        for key, value in self.options.items():
            if value is None:
                continue
            text = str(value) if key == "threads" else spinning_text(value)
            parts.append(f"{short.get(key, key + ' ')}{text}")
        return " ".join(parts)

    def rate(self, hz: float) -> FixedRate | None:
        return next((r for r in self.fixed_rate if r.hz == hz), None)

    @classmethod
    def read(cls, o: Obj) -> "ResultEntry":
        return cls(o.str("format"), o.str("backend"), o.get("options", lambda v: isinstance(v, dict), "an object"),
                   o.int("size_bytes", minimum=0), o.float("accuracy"), o.int("accuracy_images", minimum=1),
                   o.float("agreement_with_keras"), o.float("cold_start_s", minimum=0.0),
                   o.float("peak_rss_mb", minimum=0.0), _stats(o, "latency_us"), _stats(o, "bare_latency_us"),
                   _stats(o, "e2e_latency_us", optional=True), o.float("throughput_ips", minimum=0.0),
                   o.int("macs_per_image", optional=True), tuple(o.numbers("samples_us")) if o.has("samples_us") else (),
                   o.objs("fixed_rate", _rate) if o.has("fixed_rate") else (),
                   o.float("peak_fraction", optional=True, minimum=0.0), o.str("status", optional=True) or "ok")

    def to_json(self) -> dict:
        return {"format": self.format, "backend": self.backend, "options": dict(self.options),
                "size_bytes": self.size_bytes, "accuracy": self.accuracy, "accuracy_images": self.accuracy_images,
                "agreement_with_keras": self.agreement_with_keras, "cold_start_s": self.cold_start_s,
                "peak_rss_mb": self.peak_rss_mb, "latency_us": self.latency_us.to_json(),
                "bare_latency_us": self.bare_latency_us.to_json(),
                "e2e_latency_us": self.e2e_latency_us.to_json() if self.e2e_latency_us else None,
                "throughput_ips": self.throughput_ips, "macs_per_image": self.macs_per_image,
                "macs_per_s_at_p50": self.macs_per_s_at_p50, "fixed_rate": [r.to_json() for r in self.fixed_rate],
                "peak_fraction": self.peak_fraction, "status": self.status, "samples_us": list(self.samples_us)}


def _photo(o: Obj) -> Mapping[str, Any]:
    o.str("name"), o.int("width", minimum=1), o.int("height", minimum=1), o.str("kind")
    for key in ("e2e_latency_us", "decode_latency_us", "preprocess_latency_us"):
        _stats(o, key)
    o.float("e2e_over_decode_p50", minimum=0.0), o.float("target", optional=True)
    return o.raw


def _rate(o: Obj) -> FixedRate:
    return FixedRate(o.float("hz", minimum=0.0), o.float("p50_us", minimum=0.0), o.float("p99_us", minimum=0.0),
                     o.float("cpu_ms_per_inference", minimum=0.0), o.float("cpu_percent", minimum=0.0),
                     o.int("n", minimum=1))


@dataclass(frozen=True)
class Results:
    model: str
    machine: Mapping[str, Any]          # cpu, arch, cores, python, versions
    settings: Mapping[str, Any]
    results: tuple[ResultEntry, ...]
    environment: Mapping[str, Any] | None = None   # ISA features, governor, clock, temperature, throttling
    roofline: Mapping[str, Any] | None = None      # {int8_gmacs, float32_gmacs, method, by_runtime}
    photos: tuple[Mapping[str, Any], ...] = ()     # photo sizes end to end vs Pillow's decode (benchmarks/photos.py)
    spinning: SpinningStudy | None = None          # ONNX Runtime spinning on/off/default, paired (benchmarks/spinning.py)

    @property
    def failed(self) -> list[ResultEntry]:
        return [e for e in self.results if e.status != "ok"]

    def find(self, fmt: str, backend: str, **options) -> ResultEntry | None:
        return next((e for e in self.results if e.format == fmt and e.backend == backend
                     and all(e.options.get(k) == v for k, v in options.items())), None)

    @classmethod
    def from_json(cls, raw: Any, file: str = FILE) -> "Results":
        o = Obj(raw, "", file)
        machine = o.obj("machine")
        for key in ("cpu", "cores", "python", "versions"):
            if not machine.has(key):
                raise machine.fail(key, "is missing")
        entries = o.objs("results", ResultEntry.read)
        if not entries:
            raise o.fail("results", "lists no entries")
        env, roof = o.obj("environment", optional=True), o.obj("roofline", optional=True)
        photos = o.objs("photos", _photo) if o.has("photos") else ()
        spin = o.obj("spinning", optional=True)
        return cls(o.str("model"), machine.raw, o.obj("settings").raw, entries, env.raw if env else None,
                   roof.raw if roof else None, photos, SpinningStudy.read(spin) if spin else None)

    @classmethod
    def load(cls, path: Path) -> "Results":
        return cls.from_json(jsonio.read(path, MAX_BYTES), str(path))

    def to_json(self) -> dict:
        return {"model": self.model, "machine": dict(self.machine), "settings": dict(self.settings),
                "environment": dict(self.environment) if self.environment else None,
                "roofline": dict(self.roofline) if self.roofline else None,
                "photos": [dict(p) for p in self.photos],
                "spinning": self.spinning.to_json() if self.spinning else None,
                "results": [e.to_json() for e in self.results], "targets": targets(self)}

    def without_samples(self) -> "Results":
        return replace(self, results=tuple(replace(e, samples_us=()) for e in self.results))


def _reference(results: Results) -> ResultEntry | None:
    """The default format on its preferred backend with that backend's default options (tflite-int8,
    litert, 1 thread, XNNPACK): what a device runs unless told otherwise."""
    backend = runtime_for(FORMATS[DEFAULT_FORMAT].family)
    return results.find(DEFAULT_FORMAT, backend.name, **backend.defaults.given())


def _spinning_entries(results: Results) -> dict[str, ResultEntry | None]:
    """The int8 ONNX file at 2 threads with intra-op spinning off, on, and as the backend's default."""
    fmt, backend = spinning.subject(), spinning.backend()
    return {name: results.find(fmt, backend, threads=2, spinning=value) for name, value in spinning.settings().items()}


def targets(results: Results) -> dict:
    """The targets' ratios, measured in this one run: the default format against Keras and the bare
    loop; ONNX Runtime at 2 threads with spinning off, and with the default bounded spin, against on:
    CPU cost from the fixed-rate entries, p50 from the paired study when the run has one (entries are
    timed in slices of their own, which drift apart by more than the 10% that target allows)."""
    out: dict[str, float] = {}
    lite = _reference(results)
    kp, kc = results.find("keras", "keras-predict"), results.find("keras", "keras-call")
    if lite:
        out["wrapper_overhead_p50"] = lite.latency_us.p50 / lite.bare_latency_us.p50
        out["wrapper_cost_p50_us"] = lite.latency_us.p50 - lite.bare_latency_us.p50
        if lite.peak_fraction is not None:
            out["peak_fraction_tflite_int8"] = lite.peak_fraction
        if kp and kc:
            out.update({
                "speedup_vs_keras_predict_p50": kp.latency_us.p50 / lite.latency_us.p50,
                "speedup_vs_keras_call_p50": kc.latency_us.p50 / lite.latency_us.p50,
                "cold_start_ratio_vs_keras": kp.cold_start_s / lite.cold_start_s,
                "peak_rss_ratio_vs_keras": kp.peak_rss_mb / lite.peak_rss_mb,
            })
    spin = _spinning_entries(results)
    paired = results.spinning.ratio_over_on if results.spinning else {}
    on = spin["on"]
    for name, low in (("off", spin["off"]), ("default", spin["default"])):
        if low and on and low is not on and low.rate(10.0) and on.rate(10.0):
            out[f"ort_spinning_{name}_cpu_saving_at_10hz"] = (on.rate(10.0).cpu_ms_per_inference
                                                              / low.rate(10.0).cpu_ms_per_inference)
            out[f"ort_spinning_{name}_p50_ratio"] = paired.get(name, low.latency_us.p50 / on.latency_us.p50)
    return {k: round(v, 3) for k, v in out.items()}


TARGETS = {"speedup_vs_keras_predict_p50": (">=", 1000), "speedup_vs_keras_call_p50": (">=", 20),
           "cold_start_ratio_vs_keras": (">=", 20), "peak_rss_ratio_vs_keras": (">=", 10),
           "wrapper_cost_p50_us": ("<=", 5.0), "wrapper_overhead_p50": ("<=", 1.2),
           "peak_fraction_tflite_int8": (">=", 0.4),
           "ort_spinning_off_cpu_saving_at_10hz": (">=", 2.0), "ort_spinning_off_p50_ratio": ("<=", 1.1),
           "ort_spinning_default_cpu_saving_at_10hz": (">=", 2.0), "ort_spinning_default_p50_ratio": ("<=", 1.1)}


def _subset(entry: ResultEntry) -> str:
    return f" (first {entry.accuracy_images:,})" if entry.accuracy_images < 10000 else ""


def markdown(results: Results) -> str:
    s, m = results.settings, results.machine
    lines = [f"### {results.model}", "",
             f"{m['cpu']}, {m['cores']} cores, Python {m['python']}. Batch-of-one latency: {s['runs']} timed "
             f"runs per entry (Keras predict: {s['keras_predict_runs']}; slow backends: fewer), interleaved over "
             f"{s['rounds']} rounds after warm-up; bare: {s.get('bare_timing', 'a second interpreter, in slices of its own')}; cold start: median of {s['cold_start_repeats']} fresh processes; "
             f"fixed-rate CPU cost from a fresh process per entry at {', '.join(f'{h:g}' for h in s.get('rates_hz', []))} Hz.",
             *_environment_lines(results), "",
             "| format | backend | options | size | accuracy | agree | p50 µs | p99 µs | bare p50 µs | wrapper µs | e2e p50 µs | cold start s | peak RSS MB | batch img/s | GMAC/s | peak frac | CPU ms/inf @10 Hz | CPU % @30 Hz | status |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for e in results.results:
        lat, bare = e.latency_us, e.bare_latency_us
        wrapper = "–" if e.is_baseline else f"{lat.p50 - bare.p50:+.1f}"
        e2e = f"{e.e2e_latency_us.p50:,.0f}" if e.e2e_latency_us else "–"
        gmacs = f"{e.macs_per_s_at_p50 / 1e9:.2f}" if e.macs_per_s_at_p50 else "–"
        peak = f"{e.peak_fraction:.2f}" if e.peak_fraction is not None else "–"
        r10, r30 = e.rate(10.0), e.rate(30.0)
        lines.append(
            f"| {e.format} | {e.backend} | {e.options_text or '–'} | {e.size_bytes / 1024:,.0f} KiB "
            f"| {100 * e.accuracy:.2f}%{_subset(e)} | {100 * e.agreement_with_keras:.2f}% | {lat.p50:,.1f} | {lat.p99:,.1f} "
            f"| {bare.p50:,.1f} | {wrapper} | {e2e} | {e.cold_start_s:.2f} "
            f"| {e.peak_rss_mb:.0f} | {e.throughput_ips:,.0f} | {gmacs} | {peak} "
            f"| {f'{r10.cpu_ms_per_inference:.2f}' if r10 else '–'} | {f'{r30.cpu_percent:.1f}' if r30 else '–'} | {e.status} |")
    if results.photos:
        lines += ["", "Photos end to end (`Classifier.predict` on the file's bytes, default format) beside Pillow's "
                      "full-size decode of the same file, interleaved in one process:", "",
                  "| photo | bytes | e2e p50 ms | decode p50 ms | e2e / decode | preprocess / decode | target |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for ph in results.photos:
            target = "–" if ph.get("target") is None else (
                f"≤ {ph['target']}: {'met' if ph['e2e_over_decode_p50'] <= ph['target'] else 'NOT met'}")
            lines.append(f"| {ph['name']} | {ph['bytes']:,} | {ph['e2e_latency_us']['p50'] / 1000:.2f} "
                         f"| {ph['decode_latency_us']['p50'] / 1000:.2f} | {ph['e2e_over_decode_p50']:.2f} "
                         f"| {ph['preprocess_over_decode_p50']:.2f} | {target} |")
    if results.spinning:
        sp = results.spinning
        lines += ["", f"ONNX Runtime's spinning, paired ({sp.format}, {sp.threads} threads; {sp.blocks} blocks of "
                  f"{sp.calls_per_block} calls per setting, in turns, after a pause): p50 "
                  + ", ".join(f"{_spin_label(name, sp.settings.get(name))} {v:,.1f} µs" for name, v in sp.p50_us.items())
                  + "; over spinning on, the median of the blocks' ratios: "
                  + ", ".join(f"{name} {v:.3f}" for name, v in sp.ratio_over_on.items())
                  + ". The spinning targets' p50 ratios below are these."]
    t = targets(results)
    if t:
        lines += ["", "Targets (tflite-int8 on litert, 1 thread; onnx-int8 on onnxruntime, 2 threads; ratios from this run):", ""]
        for key, (op, goal) in TARGETS.items():
            if key in t:
                ok = t[key] >= goal if op == ">=" else t[key] <= goal
                lines.append(f"- {key.replace('_', ' ')}: {t[key]:,.2f} (target {op} {goal}) {'met' if ok else 'NOT met'}")
    return "\n".join(lines) + "\n"


def _spin_label(name: str, value: bool | int | None) -> str:
    text = spinning_text(value)
    return name if text == name else f"{name} ({text})"


def _environment_lines(results: Results) -> list[str]:
    env, roof = results.environment or {}, results.roofline or {}
    lines = []
    if env:
        extras = [f"features {' '.join(env.get('features') or []) or 'none listed'}"]
        if env.get("governor"):
            extras.append(f"governor {env['governor']}")
        if env.get("clock_mhz"):
            extras.append(f"{env['clock_mhz']:.0f} MHz")
        if env.get("temperature_c"):
            extras.append("temperature " + ", ".join(f"{k} {v:.0f} °C" for k, v in env["temperature_c"].items()))
        if env.get("throttled"):
            extras.append(f"throttled {env['throttled']}")
        lines += ["", f"Environment: {env.get('os', '')}; " + "; ".join(extras) + "."]
    if roof.get("int8_gmacs"):
        lines += ["", f"Roofline (attainable, 1 thread, LiteRT): int8 {roof['int8_gmacs']:.1f} GMAC/s, float32 "
                      f"{roof['float32_gmacs']:.1f} GMAC/s ({roof['method']}); `peak frac` = achieved MAC/s at p50 / "
                      "attainable for the entry's runtime, precision and threads."]
    return lines


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [e for e in results.results if e.samples_us]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(entries) + 1.5))
    ax.boxplot([e.samples_us for e in entries], orientation="horizontal", tick_labels=[e.label for e in entries],
               showfliers=False, whis=(1, 99))
    ax.set_xscale("log")
    ax.set_xlabel("batch-of-one latency, µs (log; whiskers p1-p99)")
    ax.set_title(f"{results.model}: Classifier.predict latency per format/backend")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(results: Results, folder: Path) -> Path:
    raw = results.to_json()
    Results.from_json(raw)  # written only if it reads back
    with staged_dir(folder) as stage:
        (stage / FILE).write_text(json.dumps(raw, indent=1))
        (stage / "results.md").write_text(markdown(results))
        try:
            from fashion_edge.benchmarks import pareto

            plot(results, stage / "latency.png")
            pareto.plot([results], stage / "pareto.png")
        except ImportError:
            pass  # matplotlib is a [train] extra; a device run still gets json and md
    return folder
