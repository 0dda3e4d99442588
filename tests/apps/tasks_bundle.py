"""Bundles with and without MediaPipe Tasks files, for the web app's browser tests, from a committed tiny bundle.

`tasks_ready_copy` copies tests/data/tiny-stripes2/bundle (64x64x3 RGB, 2 classes, a softmax at the end
of both TFLite files: what MediaPipe's ImageClassifier reads as it is). A bundle exported with the
`tasks` record is used as it is. One exported before it gets what export does for such a bundle: TFLite
Metadata (labels as the associated file, mean 0 and std 1 so the float file gets pixels 0..255, as it
was exported for) written onto int8.tflite and float32.tflite with mediapipe's own writer, their
manifest entries' bytes and sha256 updated, and a `tasks` record saying both files are ready (no
variants needed). Metadata is a flatbuffer beside the graph: the graph, and so golden.json's outputs,
stay as they were. `without_tasks_copy` is the same bundle with no `tasks` record.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "data" / "tiny-stripes2" / "bundle"
READY = ("tflite-int8", "tflite-float32")
NOTE = "TFLite Metadata (labels, normalisation, RGB, value range) on int8.tflite and float32.tflite"
RECIPE = ("photo-v1 crops to the tensor's aspect ratio; MediaPipe stretches the whole image: crop the photo first "
          "(or pass a region of interest), or its answers are for a distorted image")


def with_metadata(model: bytes, labels: list[str]) -> bytes:
    """`model` with TFLite Metadata for MediaPipe's ImageClassifier: labels, mean 0, std 1."""
    from fashion_edge.export.mediapipe_compat import install

    install()                         # the native helper mediapipe 1.x wheels leave out
    from mediapipe.tasks.python.metadata.metadata_writers import image_classifier, metadata_writer

    writer = image_classifier.MetadataWriter.create(bytearray(model), [0.0], [1.0],
                                                    metadata_writer.Labels().add(list(labels)))
    try:
        out, _ = writer.populate()
    finally:
        del writer                    # its temporary folder goes now, not at interpreter exit
    return bytes(out)


def tasks_ready_copy(into: Path, source: Path = SOURCE) -> Path:
    """A copy of `source` at `into` whose TFLite files carry metadata and whose manifest lists them as Tasks-ready."""
    from fashion_edge.runtime.manifest import Manifest

    bundle = Path(shutil.copytree(source, into))
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    if "tasks" in manifest:                 # exported with the record: its files already carry the metadata
        if not Manifest.from_json(manifest).tasks_ready_files():
            raise AssertionError(f"{source}: its `tasks` record lists no Tasks-ready file")
        return bundle
    for fmt in READY:
        entry = manifest["formats"][fmt]
        path = bundle / entry["file"]
        data = with_metadata(path.read_bytes(), manifest["labels"])
        path.write_bytes(data)
        entry["bytes"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    manifest["tasks"] = {"metadata": "written", "note": NOTE, "recipe": RECIPE,
                         "formats": {fmt: {"ready": True, "reasons": [], "variant": None} for fmt in READY},
                         "files": []}
    Manifest.from_json(manifest)        # still a valid manifest, as the runtime and `serve` read it
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    return bundle


def without_tasks_copy(into: Path, source: Path = SOURCE) -> Path:
    """A copy of `source` whose manifest has no `tasks` record (as bundles exported before it have none)."""
    from fashion_edge.runtime.manifest import Manifest

    bundle = Path(shutil.copytree(source, into))
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("tasks", None)
    Manifest.from_json(manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    return bundle
