"""Inside the arm64 root: compare this device's answers with the x86 host's (identical top-1,
logits within the manifest's tolerance), for every format an installed backend can run.

    python pi_compare.py BUNDLE        (from the folder holding expected.json and images/)
"""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from fashion_edge.runtime import Classifier
from fashion_edge.runtime.backends import available_backends
from fashion_edge.runtime.bundle import Bundle


def main(bundle_path: str) -> int:
    expected = json.loads(Path("expected.json").read_text())
    bundle = Bundle.load(bundle_path)
    x = bundle.golden().images
    formats = [f for f in bundle.formats if available_backends(f)]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("CPU part")), "?")
    failures = 0
    for fmt in formats:
        backend = available_backends(fmt)[0]
        clf = Classifier(bundle, format=fmt, backend=backend)
        logits = clf.logits(x)
        host = np.asarray(expected[fmt]["golden_logits"], np.float32)
        diff = float(np.abs(logits - host).max())
        atol = bundle.entry(fmt).golden_atol
        top1_same = logits.argmax(1).tolist() == host.argmax(1).tolist()
        start = time.perf_counter()
        for _ in range(50):
            clf.predict(x[0])
        per_call_ms = (time.perf_counter() - start) / 50 * 1e3
        ok = diff <= atol and top1_same
        failures += not ok
        print(f"pi-check [{platform.machine()} part {cpu}] {fmt} on {backend}: golden max|dlogit| vs x86 "
              f"{diff:.2e} (atol {atol:.1e}), top-1 identical: {top1_same}, emulated predict {per_call_ms:.1f} ms: "
              f"{'ok' if ok else 'FAIL'}", flush=True)
    fmt = formats[-1]
    images = sorted(Path("images").glob("golden*.png"))
    out = subprocess.run([sys.executable, "-m", "fashion_edge.cli", "predict", *map(str, images), "--bundle",
                          bundle_path, "--format", fmt, "--json"], capture_output=True, text=True)
    records = [json.loads(line) for line in out.stdout.splitlines()]
    want = expected[fmt]["images"]
    same = out.returncode == 0 and len(records) == len(want) and all(
        r["label_id"] == want[Path(r["path"]).name] for r in records)
    failures += not same
    print(f"pi-check [{platform.machine()} part {cpu}] fashion-edge predict --json ({fmt}) on {len(records)} images: "
          f"top-1 identical to x86: {same}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
