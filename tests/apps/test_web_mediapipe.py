"""The web app's MediaPipe Tasks runtime (apps/web/mediapipe.js) in Debian's Chromium, the page and the
bundle served by the real `fashion-edge serve` on 127.0.0.1.

On a Tasks-ready bundle (tasks_bundle.py: tiny-stripes2 with TFLite Metadata on its TFLite files, both
ready as they are) the page offers MediaPipe beside its formats and runs int8.tflite on it. The checks:
every file it needs comes from the machine (a Playwright route refuses and records anything else,
including MediaPipe's usage logger, whose one-minute timer the test fast-forwards past); its outputs on
golden.json's frames are the file's golden outputs; on photos it gives LiteRT.js' answers on the same
file; it works offline from the service worker's cache; a bundle without a `tasks` record shows it
unavailable, with the reason; the browser benchmark times it beside the formats. On each committed tiny
bundle exported with a `tasks` record, the file the page picks (a grey model's variant fed R=G=B,
non-ASCII labels) scores as LiteRT's Python interpreter does on the same file. Which file the page
picks from a manifest is checked under Node. Latencies are printed (run with -s), never asserted.
"""
from __future__ import annotations

import base64
import io
import json
import shutil
import statistics
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tasks_bundle
import webapp_photos
from fashion_edge.benchmarks import browser as browser_benchmark
from fashion_edge.benchmarks.browser import CHROMIUM, CHROMIUM_ARGS
from fashion_edge.benchmarks.loadgen import ServerProcess
from fashion_edge.export.photo_like import photo_for
from fashion_edge.runtime.bundle import Bundle

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the [dev] extra")

TINY = Path(__file__).resolve().parents[1] / "data"
CONTRACTS = ("tiny-cnn", "tiny-shapes12", "tiny-stripes2")  # grey 28x28 logits / 32x48 12 classes / 64x64 probabilities
LOGGER_PERIOD_MS = 60_000                    # MediaPipe's usage logger flushes once a minute
MEDIAPIPE_FILES = ("vendor/vision_bundle.mjs", "vendor/vision_wasm_internal.js", "vendor/vision_wasm_internal.wasm")


def _say(line: str) -> None:
    print(f"[mediapipe] {line}")


@pytest.fixture(scope="module")
def tasks_ready(tmp_path_factory) -> Path:
    return tasks_bundle.tasks_ready_copy(tmp_path_factory.mktemp("tasks") / "bundle")


@pytest.fixture(scope="module")
def no_tasks(tmp_path_factory) -> Path:
    return tasks_bundle.without_tasks_copy(tmp_path_factory.mktemp("plain") / "bundle")


@pytest.fixture(scope="module")
def web_app() -> Path:
    folder = Path(str(resources.files("fashion_edge.webapp")))
    vendored = json.loads((folder / "vendor" / "files.json").read_text())
    if "@mediapipe/tasks-vision" not in vendored["versions"]:
        pytest.fail("the installed web app has no MediaPipe files in vendor/: run `make web` before `make install`")
    return folder


@pytest.fixture(scope="module")
def chromium(web_app):
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed for the web app test: `make chromium` (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def serve(tasks_ready):
    """`fashion-edge serve` of the Tasks-ready bundle: the installed page at /, the bundle at /bundle/."""
    server = ServerProcess(tasks_ready)
    yield server
    server.stop()


class Opened:
    """A page in its own browser context; every request that would leave 127.0.0.1 is refused and kept."""

    def __init__(self, chromium, url: str, *, block_service_workers: bool = True, fake_clock: bool = False):
        self.context = chromium.new_context(service_workers="block" if block_service_workers else "allow")
        self.local: list[str] = []
        self.external: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        if fake_clock:
            self.page.clock.install()
        self.page.goto(url)
        self.ready = self.page.evaluate("fashionEdge.ready")

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith("http://127.0.0.1:"):
            self.local.append(url.split("/", 3)[3])
            route.continue_()
        else:
            self.external.append(f"{route.request.method} {url}")
            route.abort()

    def close(self) -> None:
        self.context.close()


def classify_frames(page, frames: np.ndarray, fmt: str | None) -> list[dict]:
    return page.evaluate("""async ([images, format]) => {
        const out = [];
        for (const pixels of images) out.push(await fashionEdge.classifyPixels(pixels, format ?? undefined));
        return out;
      }""", [frames.reshape(len(frames), -1).tolist(), fmt])


def classify_files(page, files: list[bytes], fmt: str) -> list[dict]:
    return page.evaluate("""async ([files, format]) => {
        const out = [];
        for (const b64 of files) {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          out.push(await fashionEdge.classify(new Blob([bytes]), format));
        }
        return out;
      }""", [[base64.b64encode(f).decode() for f in files], fmt])


# --- which file: the choice from manifest.json, under Node ------------------------------------------------

CHOICE = r"""
import { pathToFileURL } from "node:url";
const [module, manifests] = process.argv.slice(2);
const { tasksChoice } = await import(pathToFileURL(module).href);
process.stdout.write(JSON.stringify(JSON.parse(manifests).map(tasksChoice)));
"""


def _variant(file: str, based_on: str) -> dict:
    return {"file": file, "bytes": 10, "sha256": "0" * 64, "based_on": based_on}


def test_mediapipe_choice_prefers_a_passing_int8_variant_then_any_variant_then_a_ready_file(web_app, tmp_path):
    if not shutil.which("node"):
        pytest.fail("node is needed (Debian: apt-get install nodejs)")
    formats = {"tflite-float32": {"file": "float32.tflite", "bytes": 5, "sha256": "f" * 64},
               "tflite-int8": {"file": "int8.tflite", "bytes": 3, "sha256": "e" * 64}}
    ready = {"ready": True, "reasons": [], "variant": None}
    grey = {"ready": False, "reasons": ["grey input (1x28x28x1): MediaPipe feeds 1xHxWx3 RGB"], "variant": "tasks-int8.tflite"}

    def tasks(**fields):
        return {"formats": formats, "tasks": {"metadata": "written", "note": "n", "recipe": "r", "files": [], **fields}}

    cases = [
        (tasks(files=[_variant("tasks-float32.tflite", "tflite-float32"), _variant("tasks-int8.tflite", "tflite-int8")],
               formats={"tflite-int8": grey, "tflite-float32": grey}), "tasks-int8.tflite"),
        (tasks(files=[_variant("tasks-float32.tflite", "tflite-float32")], formats={"tflite-float32": grey}),
         "tasks-float32.tflite"),
        # a variant that missed its gate (exported with --gate record) gives way to one that passed
        (tasks(files=[{**_variant("tasks-int8.tflite", "tflite-int8"), "passed": False},
                      {**_variant("tasks-float32.tflite", "tflite-float32"), "passed": True}],
               formats={"tflite-int8": grey, "tflite-float32": grey}), "tasks-float32.tflite"),
        (tasks(formats={"tflite-float32": ready, "tflite-int8": ready}), "int8.tflite"),
        (tasks(formats={"tflite-float32": ready, "tflite-int8": grey}), "float32.tflite"),
        ({"formats": formats}, 'no "tasks" record'),
        ({"formats": formats, "tasks": {"metadata": "skipped", "note": "pip install 'fashion-edge[metadata]'",
                                        "recipe": "r", "formats": {}, "files": []}}, "fashion-edge[metadata]"),
        (tasks(formats={"tflite-int8": {"ready": False, "reasons": ["outputs logits"], "variant": None}}),
         "no Tasks-ready file (tflite-int8: outputs logits)"),
    ]
    (tmp_path / "choice.mjs").write_text(CHOICE)
    done = subprocess.run(["node", str(tmp_path / "choice.mjs"), str(web_app / "mediapipe.js"),
                           json.dumps([m for m, _ in cases])], capture_output=True, text=True, check=True)
    for choice, (_, expected) in zip(json.loads(done.stdout), cases):
        if expected.endswith(".tflite"):
            assert choice["file"] == expected and "reason" not in choice, choice
        else:
            assert "file" not in choice and expected in choice["reason"], choice
    first = json.loads(done.stdout)[0]
    assert first == {"file": "tasks-int8.tflite", "bytes": 10, "sha256": "0" * 64, "based_on": "tflite-int8",
                     "variant": True}


# --- the runtime in the page ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_mediapipe_runs_the_tasks_ready_file_with_nothing_fetched_off_the_machine(chromium, serve, tasks_ready):
    loaded = Bundle.load(tasks_ready)
    golden = loaded.golden()
    # The fake clock lets the test run past MediaPipe's one-minute usage-logger flush without waiting for it.
    opened = Opened(chromium, serve.url + "/?format=mediapipe", fake_clock=True)
    try:
        page, ready = opened.page, opened.ready
        assert (ready["format"], ready["runtime"]) == ("mediapipe", "MediaPipe Tasks")
        assert ready["formats"] == list(loaded.formats)           # MediaPipe is offered beside them, not as one
        assert ready["mediapipe"] == {"available": True, "file": "int8.tflite", "based_on": "tflite-int8",
                                      "variant": False, "reason": None}
        assert "MediaPipe Tasks" in page.text_content("#status") and "int8.tflite" in page.text_content("#status")
        option = page.eval_on_selector("#format option[value=mediapipe]", "o => [o.disabled, o.textContent]")
        assert option == [False, "MediaPipe Tasks: int8.tflite"]

        results = classify_frames(page, golden.images, None)
        scores = np.array([r["logits"] for r in results])
        expected = golden.outputs["tflite-int8"]
        worst = float(np.abs(scores - expected.logits).max())
        assert all(r["format"] == "mediapipe" and r["runtime"] == "MediaPipe Tasks" for r in results)
        assert worst <= loaded.entry("tflite-int8").golden_atol
        assert [r["label_id"] for r in results] == list(expected.top1)
        assert [r["label"] for r in results] == [loaded.labels[i] for i in expected.top1]

        page.clock.run_for(LOGGER_PERIOD_MS + 1_000)             # past the flush, before its 10 s abort timer
        page.wait_for_timeout(1_500)                             # real time for a request to reach the route
        loaded_files = set(opened.local)
        _say(f"{len(golden.images)} golden frames: max |d| {worst:.1e} from int8.tflite's golden outputs; "
             f"local requests {len(opened.local)}, external {opened.external}")
        assert opened.external == []
        assert set(MEDIAPIPE_FILES) | {"bundle/int8.tflite"} <= loaded_files
        assert not any("nosimd" in f or "module_internal" in f for f in loaded_files)   # the SIMD build only
        assert opened.errors == []
    finally:
        opened.close()


def _photos(bundle: Bundle) -> list[bytes]:
    """Golden frames as photos at several sizes and aspect ratios, then raw pictures of every kind as PNG."""
    golden, recipe = bundle.golden(), bundle.manifest.input.preprocessing.id
    sizes = ((320, 320), (640, 480), (200, 300), (64, 64), (48, 40))
    photos = [photo_for(frame, recipe, w, h, seed=n + 1) for n, (frame, (w, h)) in
              enumerate((f, s) for f in golden.images for s in sizes)]
    contract = bundle.manifest.input
    for rgba in webapp_photos.random_pictures(24, seed=11, sides=((contract.height, contract.width),)):
        out = io.BytesIO()
        Image.fromarray(rgba, "RGBA").save(out, "PNG")
        photos.append(out.getvalue())
    return photos


@pytest.mark.slow
def test_mediapipe_gives_litert_js_answers_on_the_same_photos(chromium, serve, tasks_ready):
    loaded = Bundle.load(tasks_ready)
    entry = loaded.manifest.formats["tflite-int8"]
    photos = _photos(loaded)
    opened = Opened(chromium, serve.url + "/")
    try:
        litert = classify_files(opened.page, photos, "tflite-int8")
        mediapipe = classify_files(opened.page, photos, "mediapipe")
    finally:
        opened.close()
    assert {r["runtime"] for r in litert} == {"LiteRT.js"} and {r["runtime"] for r in mediapipe} == {"MediaPipe Tasks"}
    assert all(a["pixels"] == b["pixels"] for a, b in zip(litert, mediapipe))   # one preprocessing for both
    scores = np.array([r["logits"] for r in mediapipe])                 # MediaPipe's own scores, label order
    probabilities = np.array([r["probabilities"] for r in litert])     # LiteRT.js' outputs, as the page ranks them
    raw = np.array([r["logits"] for r in litert])
    worst, worst_raw = float(np.abs(scores - probabilities).max()), float(np.abs(scores - raw).max())
    classes = loaded.manifest.output.classes
    # The Tasks-ready file is int8.tflite itself, so the two differ only by (a) the page's probabilities
    # being the file's 8-bit levels renormalised to sum to 1 (each level rounds by up to half a step, so the
    # sum misses 1 by up to classes/2 steps) and (b) up to one step of rounding between the two builds'
    # int8 kernels. One step is the output's scale, 1/256.
    margin = entry.output.scale * (classes / 2 + 1)
    agree = sum(a["label_id"] == b["label_id"] for a, b in zip(litert, mediapipe))
    _say(f"{len(photos)} photos: top-1 as LiteRT.js {agree}/{len(photos)}; max |MediaPipe score - LiteRT.js "
         f"probability| {worst:.2e} (margin {margin:.2e}), - LiteRT.js raw output {worst_raw:.2e}; median inference "
         f"LiteRT.js {statistics.median(r['latency_ms'] for r in litert):.2f} ms, MediaPipe "
         f"{statistics.median(r['latency_ms'] for r in mediapipe):.2f} ms")
    assert [r["label_id"] for r in mediapipe] == [r["label_id"] for r in litert]
    assert [r["label"] for r in mediapipe] == [r["label"] for r in litert]
    assert len({r["label_id"] for r in litert}) == classes          # the photos reach every class
    assert worst <= margin
    assert all(abs(sum(r["probabilities"]) - 1) < 1e-5 for r in mediapipe)


@pytest.mark.slow
def test_mediapipe_classifies_offline_from_the_service_workers_cache(chromium, tasks_ready, tmp_path):
    bundle = Path(shutil.copytree(tasks_ready, tmp_path / "bundle"))
    frame = Bundle.load(bundle).golden().images[:1]
    server = ServerProcess(bundle)
    opened = Opened(chromium, server.url + "/", block_service_workers=False)
    try:
        page = opened.page
        assert page.evaluate("fashionEdge.offline") is True
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        online = classify_frames(page, frame, "mediapipe")[0]
        server.stop()
        server = None
        opened.context.set_offline(True)
        page.goto(page.url.split("?")[0] + "?format=mediapipe")
        ready = page.evaluate("fashionEdge.ready")
        offline = classify_frames(page, frame, None)[0]
        _say(f"offline: {offline['label']} ({offline['confidence']:.1%}) on {offline['runtime']}")
        assert ready["format"] == "mediapipe" and offline["runtime"] == "MediaPipe Tasks"
        assert offline["logits"] == online["logits"]
        assert opened.external == [] and opened.errors == []
    finally:
        opened.close()
        if server is not None:
            server.stop()


@pytest.mark.slow
def test_mediapipe_is_shown_unavailable_with_the_reason_when_the_bundle_has_no_tasks_record(chromium, no_tasks):
    server = ServerProcess(no_tasks)
    try:
        opened = Opened(chromium, server.url + "/?format=mediapipe")
        page, ready = opened.page, opened.ready
        reason = ready["mediapipe"]["reason"]
        assert ready["mediapipe"]["available"] is False and 'no "tasks" record' in reason
        assert ready["format"] == "tflite-int8"                  # ?format=mediapipe falls back to the default
        assert page.eval_on_selector("#format option[value=mediapipe]", "o => o.disabled") is True
        assert page.text_content("#mediapipe") == f"MediaPipe Tasks unavailable: {reason}."
        refused = page.evaluate("""fashionEdge.classifyPixels(new Uint8Array(64 * 64 * 3), "mediapipe")
            .then(() => "ran", (e) => e.message)""")
        assert refused == f"MediaPipe Tasks is not available for this bundle: {reason}"
        assert not any("vision" in f for f in opened.local)   # nothing of MediaPipe is loaded
        assert opened.external == [] and opened.errors == []
        opened.close()
    finally:
        server.stop()


def _preferred(manifest) -> str:
    """The Tasks-ready file the page should pick: the manifest's own order (passed first, int8 first)."""
    return manifest.tasks_ready_files()[0]


def _litert_python(model: Path, frames: np.ndarray) -> np.ndarray:
    """`model` on LiteRT's Python interpreter, each frame given as RGB (a grey frame as R=G=B), outputs dequantized."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model))
    interpreter.allocate_tensors()
    (source,), (target,) = interpreter.get_input_details(), interpreter.get_output_details()
    outputs = []
    for frame in frames:
        rgb = np.repeat(frame, 3, axis=-1) if frame.shape[-1] == 1 else frame
        interpreter.set_tensor(source["index"], rgb[None].astype(source["dtype"]))
        interpreter.invoke()
        raw = interpreter.get_tensor(target["index"])[0].astype(np.float64)
        scale, zero_point = target["quantization"]
        outputs.append(scale * (raw - zero_point) if scale else raw)
    return np.array(outputs)


@pytest.mark.slow
@pytest.mark.parametrize("name", CONTRACTS)
def test_mediapipe_runs_each_committed_bundles_tasks_file_as_litert_python_does(chromium, name):
    """The committed tiny bundles' own Tasks-ready files (a grey variant, non-ASCII labels, a format file as it is):
    the page hands MediaPipe the frame as RGB, so its scores are what LiteRT's Python interpreter computes on
    the same file with the frame as RGB."""
    bundle = TINY / name / "bundle"
    loaded = Bundle.load(bundle)
    assert loaded.manifest.tasks is not None and loaded.manifest.tasks_ready_files(), name
    server = ServerProcess(bundle)
    try:
        opened = Opened(chromium, server.url + "/")
        offered = opened.ready["mediapipe"]
        golden = loaded.golden()
        results = classify_frames(opened.page, golden.images, "mediapipe")
        opened.close()
    finally:
        server.stop()
    assert offered["file"] == _preferred(loaded.manifest)
    expected = _litert_python(bundle / offered["file"], golden.images)
    scores = np.array([r["logits"] for r in results])
    step = 1 / 256                      # a uint8 probability output's step (a float output is far closer)
    worst = float(np.abs(scores - expected).max())
    _say(f"{name}: {offered['file']} on {len(scores)} golden frames, max |MediaPipe - LiteRT Python| {worst:.2e}")
    assert worst <= step
    assert [r["label_id"] for r in results] == list(expected.argmax(1))
    assert [r["label"] for r in results] == [loaded.labels[i] for i in expected.argmax(1)]


# --- the browser benchmark ------------------------------------------------------------------------------------

def run_benchmark(bundle: Path, out: Path, rounds: int) -> tuple[dict, str]:
    """`python -m fashion_edge.benchmarks.browser` (its own Playwright: the sync API does not nest): browser.json, stdout."""
    done = subprocess.run([sys.executable, "-m", "fashion_edge.benchmarks.browser", str(bundle), "--rounds", str(rounds),
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text()), done.stdout


@pytest.mark.slow
def test_browser_benchmark_times_mediapipe_beside_the_formats(tasks_ready, web_app, tmp_path):
    results, printed = run_benchmark(tasks_ready, tmp_path / "browser.json", rounds=2)
    mediapipe, litert = results["mediapipe"], results["formats"]["tflite-int8"]
    images = len(Bundle.load(tasks_ready).golden().images)
    _say(f"benchmark: MediaPipe {mediapipe['mean_ms_per_call']:.3f} ms per image, LiteRT.js tflite-int8 "
         f"{litert['mean_ms_per_call']:.3f} ms ({images} golden images, 2 timed passes)")
    assert mediapipe["available"] and mediapipe["runtime"] == "MediaPipe Tasks" and mediapipe["file"] == "int8.tflite"
    assert (mediapipe["images"], mediapipe["passes"]) == (litert["images"], litert["passes"]) == (images, 2)
    assert mediapipe["mean_ms_per_call"] > 0 and mediapipe["p90_call_ms"] > 0
    assert mediapipe["top1_equal"] == images and mediapipe["max_abs_dlogit"] <= mediapipe["golden_atol"]
    assert printed.startswith(browser_benchmark.render_markdown(results))      # the table REPORT.md shows
    row = next(line for line in printed.splitlines() if "MediaPipe Tasks |" in line)
    assert row.startswith("| int8.tflite (Tasks-ready) | MediaPipe Tasks | ")


@pytest.mark.slow
def test_browser_benchmark_says_why_mediapipe_was_not_timed(web_app, no_tasks, tmp_path):
    results, printed = run_benchmark(no_tasks, tmp_path / "browser.json", rounds=1)
    assert results["mediapipe"]["available"] is False and 'no "tasks" record' in results["mediapipe"]["reason"]
    assert f"MediaPipe Tasks: not offered by the page ({results['mediapipe']['reason']})." in printed
