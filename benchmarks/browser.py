"""The web app's in-browser latency per format, measured in a real Chromium (not part of `make test`).

    python -m fashion_edge.benchmarks.browser artifacts/edge/bundle [--screenshot web-app.png]

`fashion-edge serve` serves the page and the bundle on 127.0.0.1 (as a phone on the Pi's network
would get them); Debian's Chromium, driven by Playwright, loads it and runs every format the page
offers on the bundle's golden images through `fashionEdge.classifyPixels` (inference only: the
images already are device frames). Per format: the runtime the page used, median and p90 latency over
`--rounds` passes after one warm-up pass, and how far the page's logits are from golden.json (the
exporting host's runtime) within the manifest's tolerance. When the manifest lists a Tasks-ready file,
MediaPipe Tasks' ImageClassifier runs it the same way (same frames, same passes), its scores compared
with golden.json's outputs of the format it is (or was made from) as probabilities; otherwise the
page's reason for not offering it is recorded. Then a photo of golden image 0 (an ankle boot) through
the file picker, and a screenshot of what a user sees.

The browser runs on this machine's CPU with WebAssembly (no GPU): a phone's figures differ; the
ratios between formats are what carries over. Results: browser.json beside the bundle.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from fashion_edge.benchmarks.loadgen import ServerProcess
from fashion_edge.export.photo_like import photo_for
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.extras import require
from fashion_edge.train.artifacts import write_text_atomic

CHROMIUM = Path("/usr/bin/chromium")
# Root needs --no-sandbox; the rest keep a closed network quiet (no update, sync or GPU probes).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

# A pass's mean per call comes from one clock reading around the whole pass: without cross-origin
# isolation Chromium coarsens performance.now() to 0.1 ms, too coarse for one sub-millisecond call.
RUN_FORMAT = """async ([images, format, rounds]) => {
    const passes = [];
    for (let r = 0; r <= rounds; r++) {
      const out = [];
      const start = performance.now();
      for (const pixels of images) out.push(await fashionEdge.classifyPixels(pixels, format));
      passes.push({results: out, mean_ms: (performance.now() - start) / images.length});
    }
    return passes;
  }"""


def measure(bundle: Path, rounds: int, screenshot: Path | None) -> dict:
    playwright = require("playwright.sync_api", "dev", "driving Chromium")
    if not CHROMIUM.exists():
        raise FashionEdgeError(f"{CHROMIUM} is missing: `make chromium` (Debian's chromium) installs it")
    loaded = Bundle.load(bundle)
    golden = loaded.golden()
    images = golden.images.reshape(len(golden.images), -1).tolist()     # each frame's bytes, row-major HWC
    server = ServerProcess(bundle)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(server.url + "/")
            ready = page.evaluate("fashionEdge.ready")
            formats = {}
            for fmt in ready["formats"]:
                passes = page.evaluate(RUN_FORMAT, [images, fmt, rounds])
                expected = golden.outputs[fmt].logits
                formats[fmt] = {**_timed(passes, expected), "golden_atol": loaded.entry(fmt).golden_atol}
            mediapipe = _mediapipe(page, ready["mediapipe"], images, rounds, loaded)
            photo = _photo_result(page, loaded, screenshot)
            version = browser.version
            browser.close()
    finally:
        server.stop()
    return {"browser": f"Chromium {version}", "page_default_format": ready["format"], "rounds": rounds,
            "formats": formats, "mediapipe": mediapipe, "photo": photo}


def _timed(passes: list[dict], expected: np.ndarray) -> dict:
    """One runtime's passes over the golden images: latency (warm-up pass dropped) and its last pass's
    outputs against `expected` (golden.json's, in the same terms: logits or probabilities)."""
    timed = passes[1:]                                  # the first pass warms up
    last = passes[-1]["results"]
    outputs = np.array([r["logits"] for r in last])
    return {
        "runtime": last[0]["runtime"],
        "images": len(last), "passes": len(timed),
        "mean_ms_per_call": statistics.median(p["mean_ms"] for p in timed),
        "p90_call_ms": float(np.percentile([r["latency_ms"] for p in timed for r in p["results"]], 90)),
        "max_abs_dlogit": float(np.abs(outputs - expected).max()),
        "top1_equal": int((outputs.argmax(1) == expected.argmax(1)).sum()),
    }


def _mediapipe(page, offered: dict, images: list, rounds: int, bundle: Bundle) -> dict:
    """The page's MediaPipe Tasks runtime on the golden images, as the formats are timed, or why it is not offered.

    Its scores are probabilities (Tasks-ready files end in a softmax): they are compared with golden.json's
    outputs of `based_on` as probabilities. A format file MediaPipe loads as it is must match within that
    format's golden_atol; a variant is another graph (RGB in, softmax appended, re-quantized), recorded
    without a tolerance (its gate against Keras is in manifest.json's tasks.files)."""
    if not offered["available"]:
        return {"available": False, "reason": offered["reason"]}
    based_on = offered["based_on"]
    golden = bundle.golden().outputs[based_on].logits
    if bundle.manifest.output.is_logits:
        golden = np.exp(golden - golden.max(1, keepdims=True))
        golden /= golden.sum(1, keepdims=True)
    passes = page.evaluate(RUN_FORMAT, [images, "mediapipe", rounds])
    tolerance = None if offered["variant"] else bundle.entry(based_on).golden_atol
    return {"available": True, "file": offered["file"], "based_on": based_on, "variant": offered["variant"],
            **_timed(passes, golden), "golden_atol": tolerance}


def _photo_result(page, bundle: Bundle, screenshot: Path | None) -> dict:
    """Golden image 0 as a photo through the file picker: what the page answers and shows."""
    golden, labels = bundle.golden(), bundle.labels
    frame = golden.images[0]
    shown = min(3, len(labels))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        path.write_bytes(photo_for(frame, bundle.manifest.input.preprocessing.id, 320, 320, noise=0))
        page.set_input_files("#file", str(path))
        page.wait_for_function(f"document.querySelectorAll('#top3 li').length === {shown}")
    top3 = [" ".join(text.split()) for text in page.eval_on_selector_all("#top3 li", "items => items.map((li) => [...li.children].map((c) => c.textContent).join(' '))")]
    if screenshot is not None:
        page.set_viewport_size({"width": 1000, "height": 640})
        page.screenshot(path=str(screenshot), full_page=True)
    label = labels[int(golden.labels[0])]
    return {"true_label": label, "top3": top3, "timing": page.text_content("#timing"),
            "screenshot": str(screenshot) if screenshot else None}


def render_markdown(results: dict) -> str:
    lines = [f"In-browser inference ({results['browser']}, WebAssembly on this CPU, golden images; ms per call: "
             f"median over {results['rounds']} timed passes of each pass's mean, after a warm-up pass):", "",
             "| format | page runtime | ms per call | p90 call ms | max abs dlogit vs golden (tolerance) | top-1 as golden |",
             "|---|---|---:|---:|---:|---:|"]
    for fmt, r in results["formats"].items():
        lines.append(f"| {fmt} | {r['runtime']} | {r['mean_ms_per_call']:.3f} | {r['p90_call_ms']:.2f} | "
                     f"{r['max_abs_dlogit']:.2e} ({r['golden_atol']:.1e}) | {r['top1_equal']}/{r['images']} |")
    mediapipe = results.get("mediapipe")
    if mediapipe and mediapipe["available"]:
        tolerance = f"{mediapipe['golden_atol']:.1e}" if mediapipe["golden_atol"] is not None else "no tolerance"
        lines.append(f"| {mediapipe['file']} (Tasks-ready) | {mediapipe['runtime']} | {mediapipe['mean_ms_per_call']:.3f} | "
                     f"{mediapipe['p90_call_ms']:.2f} | {mediapipe['max_abs_dlogit']:.2e} ({tolerance}) | "
                     f"{mediapipe['top1_equal']}/{mediapipe['images']} |")
        made = "a variant made from" if mediapipe["variant"] else "the file of"
        lines += ["", f"MediaPipe Tasks' ImageClassifier runs {mediapipe['file']}, {made} {mediapipe['based_on']}, on "
                      f"the same frames and passes; its scores are compared with golden.json's {mediapipe['based_on']} "
                      "outputs as probabilities."]
    elif mediapipe:
        lines += ["", f"MediaPipe Tasks: not offered by the page ({mediapipe['reason']})."]
    photo = results["photo"]
    lines += ["", f"Shop photo of test image 0 (true label: {photo['true_label']}) through the file picker: "
              f"{'; '.join(photo['top3'])} ({photo['timing']})."]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fashion_edge.benchmarks.browser", description=__doc__.split("\n\n")[0])
    p.add_argument("bundle", type=Path)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--screenshot", type=Path, default=None, help="PNG of the page after the photo")
    p.add_argument("--out", type=Path, default=None, help="default: browser.json beside the bundle")
    args = p.parse_args(argv)
    try:
        results = measure(args.bundle, args.rounds, args.screenshot)
    except FashionEdgeError as exc:     # a missing bundle, extra or browser: one line, as the CLI does
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    out = args.out or args.bundle.resolve().parent / "browser.json"
    write_text_atomic(out, json.dumps(results, indent=2))
    print(render_markdown(results))
    print(f"wrote {out}")
    # A different answer on a golden image fails the run (MediaPipe's too, on a file it loads as it is);
    # latency and logit drift are reported.
    runs = list(results["formats"].values())
    mediapipe = results["mediapipe"]
    if mediapipe["available"] and not mediapipe["variant"]:
        runs.append(mediapipe)
    return 0 if all(r["top1_equal"] == r["images"] for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
