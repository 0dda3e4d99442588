"""Inside the arm64 root: compare this device's answers with the x86 host's (identical top-1,
logits within the manifest's tolerance)."""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from fashion_edge.runtime import Classifier


def main(bundle: str, extra: str) -> int:
    expected = json.loads(Path("expected.json").read_text())
    golden = json.loads((Path(bundle) / "golden.json").read_text())
    x = np.asarray(golden["images"], np.uint8)
    formats = ["tflite-float32", "tflite-int8"] if extra == "litert" else ["onnx-float32", "ort-int8", "onnx-int8"]
    failures = 0
    for fmt in formats:
        clf = Classifier(bundle, format=fmt)
        logits = clf.logits(x)
        host = np.asarray(expected[fmt]["golden_logits"], np.float32)
        diff = float(np.abs(logits - host).max())
        atol = clf.bundle.entry(fmt).golden_atol
        top1_same = logits.argmax(1).tolist() == host.argmax(1).tolist()
        start = time.perf_counter()
        for _ in range(50):
            clf.predict(x[0])
        per_call_ms = (time.perf_counter() - start) / 50 * 1e3
        ok = diff <= atol and top1_same
        failures += not ok
        print(f"pi-check [{platform.machine()} {extra}] {fmt} on {clf.backend_name}: golden max|dlogit| vs x86 "
              f"{diff:.2e} (atol {atol:.1e}), top-1 identical: {top1_same}, emulated predict {per_call_ms:.1f} ms: "
              f"{'ok' if ok else 'FAIL'}")
    fmt = formats[-1]
    records = [json.loads(line) for line in Path(f"predict-{extra}.jsonl").read_text().splitlines()]
    want = expected[fmt]["images"]
    same = all(r["label_id"] == want[Path(r["path"]).name] for r in records) and len(records) == len(want)
    failures += not same
    print(f"pi-check [{platform.machine()} {extra}] fashion-edge predict --json on {len(records)} images: "
          f"top-1 identical to x86: {same}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
