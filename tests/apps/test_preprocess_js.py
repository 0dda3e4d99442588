"""The web app's JavaScript preprocessing (the installed apps/web/preprocess.js) under Node: exactly
Python's pixels on raw RGBA pictures of every size. No browser; the browser test repeats it in Chromium."""
from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest

import webapp_photos

SCRIPT = """
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [module, casesFile] = process.argv.slice(2);
const { preprocessRgba } = await import(pathToFileURL(module).href);
const cases = JSON.parse(readFileSync(casesFile, "utf8"));
const out = cases.map(([b64, w, h]) => {
  const rgba = new Uint8Array(Buffer.from(b64, "base64"));
  try { return Array.from(preprocessRgba(rgba, w, h).pixels); } catch (e) { return "InvalidImageError"; }
});
process.stdout.write(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def module() -> Path:
    if not shutil.which("node"):
        pytest.fail("node is needed for the JavaScript preprocessing test (Debian: apt-get install nodejs)")
    return Path(str(resources.files("fashion_edge.webapp"))) / "preprocess.js"


def test_javascript_preprocessing_equals_python_on_raw_pixels_under_node(module, tmp_path):
    cases, expected = webapp_photos.random_rgba()
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "run.mjs").write_text(SCRIPT)
    done = subprocess.run(["node", str(tmp_path / "run.mjs"), str(module), str(tmp_path / "cases.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    mismatches = [i for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert len(got) == len(cases) and not mismatches, f"{len(mismatches)} of {len(cases)} differ"

