"""Host side of pi-check: sample images and this machine's answers, for the arm64 run to match."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image

from fashion_edge.export.photo_like import photo_for
from fashion_edge.runtime import Classifier
from fashion_edge.runtime.backends import available_backends
from fashion_edge.runtime.bundle import Bundle


def main(bundle_path: str, out: str) -> None:
    out_dir = Path(out)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    bundle = Bundle.load(bundle_path)
    golden = bundle.golden()
    paths = []
    for i, frame in enumerate(golden.images[:8]):
        path = out_dir / "images" / f"golden{i:02d}.png"
        Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame).save(path)
        paths.append(path.name)
    recipe = bundle.manifest.input.preprocessing.id
    (out_dir / "images" / "photo.jpg").write_bytes(photo_for(golden.images[0], recipe, 320, 320, noise=0))
    expected: dict = {"photo": Classifier(bundle).predict(out_dir / "images" / "photo.jpg").label_id}
    for fmt in bundle.formats:
        backend = available_backends(fmt)[0]
        clf = Classifier(bundle, format=fmt, backend=backend)
        expected[fmt] = {"backend": backend,
                         "images": {p: clf.predict(out_dir / "images" / p).label_id for p in paths},
                         "golden_logits": clf.logits(golden.images).tolist()}
    (out_dir / "expected.json").write_text(json.dumps(expected))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
