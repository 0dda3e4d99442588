"""The shared JavaScript preprocessing (the installed apps/web/preprocess.js, the page's and Node's) under
Node: exactly Python's bytes on raw RGBA pictures, for every recipe. No browser; the browser test runs
the same module in Chromium.

fashion-mnist-v1 against runtime/preprocess.py on random pictures of every size; photo-v1 against
runtime/photo.pixels_of for each resize mode x interpolation x grey/RGB x background, on random
pictures bigger and smaller than the tensor and of odd aspect ratios. Lanczos weights call sin(), and
V8's Math.sin is not libm's (the one Pillow's C code calls) in the last bit: a sweep checks that no
weight, once rounded to Pillow's 22-bit fixed point, depends on which sin computed it.
"""
from __future__ import annotations

import base64
import itertools
import json
import math
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import webapp_photos
from fashion_edge.runtime.photo import pixels_of
from fashion_edge.runtime.recipes import Interpolation, Resize, contract_for, preprocessing

SCRIPT = r"""
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [module, casesFile] = process.argv.slice(2);
const { preprocessFor } = await import(pathToFileURL(module).href);
const cases = JSON.parse(readFileSync(casesFile, "utf8"));
const frames = cases.map(({ rgba, width, height, input }) => {
  try {
    return Buffer.from(preprocessFor(input, new Uint8Array(Buffer.from(rgba, "base64")), width, height)).toString("base64");
  } catch (error) {
    return { error: error.message };
  }
});
process.stdout.write(JSON.stringify({ frames }));
"""

SCHEMA2_INPUT = {"shape": [1, 28, 28, 1], "layout": "NHWC", "pixel_range": [0, 255], "preprocessing": "fashion-mnist-v1"}
TARGETS = ((28, 28), (32, 48), (64, 64), (5, 40), (37, 9))          # (height, width)
BACKGROUNDS = ((255, 255, 255), (0, 0, 0), (30, 160, 220))


@pytest.fixture(scope="module")
def module() -> Path:
    if not shutil.which("node"):
        pytest.fail("node is needed for the JavaScript preprocessing test (Debian: apt-get install nodejs)")
    return Path(str(resources.files("fashion_edge.webapp"))) / "preprocess.js"


def run_node(module: Path, cases: list[dict], tmp_path: Path) -> dict:
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "run.mjs").write_text(SCRIPT)
    done = subprocess.run(["node", str(tmp_path / "run.mjs"), str(module), str(tmp_path / "cases.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, np.uint8).tobytes()).decode()


def photo_cases() -> list[tuple[dict, np.ndarray]]:
    """(a case for the script, Python's frame) per resize x interpolation x colour x background x picture."""
    pictures = webapp_photos.random_pictures(60, seed=23, sides=TARGETS)
    cases = []
    combos = list(itertools.product(Resize, Interpolation, (1, 3), BACKGROUNDS[:2]))
    combos += [(Resize.PAD, Interpolation.LANCZOS, 3, BACKGROUNDS[2]), (Resize.CROP, Interpolation.BICUBIC, 1, BACKGROUNDS[2])]
    for n, (resize, interpolation, channels, background) in enumerate(combos):
        for j in range(8):
            rgba = pictures[(n * 3 + j * 7) % len(pictures)]
            height, width = TARGETS[(n + j) % len(TARGETS)]
            contract = contract_for(height, width, channels, preprocessing(
                "photo-v1", resize=resize, interpolation=interpolation, background=background))
            expected = pixels_of(Image.fromarray(rgba, "RGBA"), contract)
            cases.append(({"rgba": _b64(rgba), "width": rgba.shape[1], "height": rgba.shape[0],
                           "input": contract.to_json(), "what": f"{resize.value}/{interpolation.value}/"
                           f"{channels}ch/bg{list(background)} {rgba.shape[1]}x{rgba.shape[0]} -> {width}x{height}"},
                          expected))
    return cases


@pytest.fixture(scope="module")
def photo_run(module, tmp_path_factory) -> tuple[list[tuple[dict, np.ndarray]], dict]:
    cases = photo_cases()
    return cases, run_node(module, [c for c, _ in cases], tmp_path_factory.mktemp("photo"))


def test_photo_v1_in_javascript_equals_python_for_every_mode_filter_colour_and_background(photo_run):
    cases, got = photo_run
    differ = []
    for (case, expected), frame in zip(cases, got["frames"]):
        if isinstance(frame, dict) or base64.b64decode(frame) != expected.tobytes():
            differ.append(case["what"] + (f": {frame['error']}" if isinstance(frame, dict) else ""))
    assert len(got["frames"]) == len(cases) and not differ, f"{len(differ)} of {len(cases)} differ: {differ[:5]}"


SWEEP = r"""
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [module, argumentsFile, libmFile] = process.argv.slice(2);
const { FILTERS, coefficients } = await import(pathToFileURL(module).href);
const pairs = [];
for (let inSize = 1; inSize <= 256; inSize++) for (const outSize of [5, 9, 28, 37, 48, 64]) pairs.push([inSize, outSize]);
const tables = () => pairs.map(([i, o]) => coefficients(i, o, FILTERS.lanczos).taps);
const v8 = Math.sin;
if (!libmFile) {                       // first run: every argument the Lanczos weights pass to sin
  const seen = new Set();
  Math.sin = (x) => { seen.add(x); return v8(x); };
  tables();
  writeFileSync(argumentsFile, Float64Array.from(seen));
  process.stdout.write(JSON.stringify({ arguments: seen.size }));
} else {                               // second run: the weights with V8's sin and with libm's
  const xs = new Float64Array(readFileSync(argumentsFile).buffer.slice(0));
  const libm = new Float64Array(readFileSync(libmFile).buffer.slice(0));
  const table = new Map(Array.from(xs, (x, i) => [x, libm[i]]));
  const withV8 = tables();
  Math.sin = (x) => table.get(x);
  const withLibm = tables();
  let taps = 0, tapsDiffer = 0;
  withV8.forEach((t, p) => t.forEach((w, i) => { taps++; if (w !== withLibm[p][i]) tapsDiffer++; }));
  const sinDiffer = Array.from(xs).filter((x, i) => v8(x) !== libm[i]).length;
  process.stdout.write(JSON.stringify({ pairs: pairs.length, taps, tapsDiffer, sinDiffer, arguments: xs.length }));
}
"""


def test_lanczos_weights_are_libms_although_v8_sin_is_not(module, tmp_path):
    """Pillow's Lanczos weights call libm's sin(), the port V8's Math.sin, and the two differ in the last
    bit on a few percent of the arguments. What reaches the pixels is each weight rounded to 22 bits:
    over 1,536 (input, output) sizes, every rounded weight is the same with either sin."""
    pillow = Path(module).with_name("pillow.js")
    (tmp_path / "sweep.mjs").write_text(SWEEP)
    run = lambda *extra: subprocess.run(["node", str(tmp_path / "sweep.mjs"), str(pillow), *map(str, extra)],  # noqa: E731
                                        capture_output=True, text=True, timeout=120, check=True).stdout
    json.loads(run(tmp_path / "x.f64"))
    xs = np.fromfile(tmp_path / "x.f64", dtype="<f8")
    np.array([math.sin(x) for x in xs.tolist()], dtype="<f8").tofile(tmp_path / "libm.f64")   # this machine's libm
    got = json.loads(run(tmp_path / "x.f64", tmp_path / "libm.f64"))
    print(f"Lanczos: {got['sinDiffer']} of {got['arguments']} sin arguments differ in the last bit between V8 and "
          f"libm; {got['tapsDiffer']} of {got['taps']} 22-bit weights differ over {got['pairs']} size pairs")
    assert got["arguments"] > 100_000 and got["tapsDiffer"] == 0


def test_fashion_mnist_v1_in_javascript_equals_python_on_raw_pixels(module, tmp_path):
    pictures, expected = webapp_photos.random_rgba()
    cases = [{"rgba": b64, "width": w, "height": h, "input": SCHEMA2_INPUT if i % 2 else {
        "height": 28, "width": 28, "channels": 1, "colour": "grayscale",
        "preprocessing": {"id": "fashion-mnist-v1", "parameters": {}}}} for i, (b64, w, h) in enumerate(pictures)]
    got = run_node(module, cases, tmp_path)["frames"]
    as_python = [("InvalidImageError" if "no garment found" in g["error"] else g["error"]) if isinstance(g, dict)
                 else list(base64.b64decode(g)) for g in got]
    mismatches = [i for i, (g, e) in enumerate(zip(as_python, expected)) if g != e]
    assert len(got) == len(cases) and not mismatches, f"{len(mismatches)} of {len(cases)} differ"


def test_javascript_refuses_a_recipe_it_does_not_implement(module, tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    cases = [{"rgba": _b64(rgba), "width": 4, "height": 4, "input": {
        "height": 4, "width": 4, "channels": 3, "colour": "rgb", "preprocessing": {"id": "imagenet-v7", "parameters": {}}}}]
    (frame,) = run_node(module, cases, tmp_path)["frames"]
    assert "imagenet-v7" in frame["error"] and "fashion-mnist-v1, photo-v1" in frame["error"]
