"""Host side of pi-check: sample images and this machine's answers, for the arm64 run to match."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_edge.runtime import Classifier
from fashion_edge.runtime.backends import available_backends


def main(bundle: str, out: str) -> None:
    out_dir = Path(out)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    golden = json.loads((Path(bundle) / "golden.json").read_text())
    paths = []
    for i, pixels in enumerate(golden["images"][:8]):
        path = out_dir / "images" / f"golden{i:02d}.png"
        Image.fromarray(np.asarray(pixels, np.uint8)).save(path)
        paths.append(path.name)
    expected = {}
    for fmt in ("tflite-float32", "tflite-int8", "onnx-float32", "onnx-int8", "ort-int8"):
        backend = available_backends(fmt)[0]
        clf = Classifier(bundle, format=fmt, backend=backend)
        expected[fmt] = {"backend": backend,
                         "images": {p: clf.predict(out_dir / "images" / p).label_id for p in paths},
                         "golden_logits": clf.logits(np.asarray(golden["images"], np.uint8)).tolist()}
    (out_dir / "expected.json").write_text(json.dumps(expected))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
