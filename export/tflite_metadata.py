"""TFLite Metadata, written with mediapipe's metadata writer: what MediaPipe Tasks and Android Studio read.

The fields: name, description, version, author and licence; the image input with one mean and one std
(0 and 1: every graph scales its own pixels), the RGB colour space and the value range 0..255; the
classification output with the labels as an associated file (`labels.txt` inside the .tflite's zip
part). The writer is an extra (`fashion-edge[metadata]`): without it the export goes on and records
that the metadata was skipped.
"""
from __future__ import annotations

from fashion_edge.runtime.errors import FashionEdgeError, UsageError
from fashion_edge.runtime.tasks_record import METADATA_EXTRA, About

LABEL_FILE = "labels.txt"


class MetadataError(FashionEdgeError):
    """mediapipe's writer refused the model, or the written metadata does not read back as written."""


def missing() -> str | None:
    """Why the metadata cannot be written here (None: it can): the extra's install line."""
    try:
        _writer()
    except ImportError as exc:
        return (f"TFLite metadata skipped: mediapipe's metadata writer is not installed ({exc.name or exc}); "
                f"pip install 'fashion-edge[{METADATA_EXTRA}]'")
    return None


def check_labels(labels: tuple[str, ...]) -> None:
    """Labels become one line each of an associated file: refuse names that would break it, before writing."""
    for i, label in enumerate(labels):
        if not label.strip() or any(c in label for c in "\r\n\x00") or not label.isprintable():
            raise UsageError(f"label {i + 1} ({label!r}) cannot be a line of the model's label file: "
                             "names must be non-empty, printable and on one line")


def write(model: bytes, name: str, about: About, labels: tuple[str, ...]) -> bytes:
    """`model` with image-classifier metadata. Any input dtype: uint8 inputs record the range 0..255, float
    inputs a NormalizationOptions of mean 0 and std 1 (the graph reads pixel values 0..255)."""
    check_labels(labels)
    metadata_writer, metadata_info, fb = _writer()
    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    try:
        # add_general_info() takes a name and a description only; GeneralMd carries the other three.
        writer._general_md = metadata_info.GeneralMd(name=name, version=about.version, description=about.description,
                                                     author=about.author, licenses=about.licence)
        writer.add_image_input([0.0], [1.0], color_space_type=fb.ColorSpaceType.RGB)
        writer.add_classification_output(metadata_writer.Labels().add(list(labels), exported_filename=LABEL_FILE))
        written, _ = writer.populate()
    except (ValueError, RuntimeError) as exc:
        raise MetadataError(f"{name}: mediapipe's metadata writer refused the model: {exc}") from exc
    finally:
        del writer   # its temporary folder goes now, not at interpreter exit
    return bytes(written)


def read(model: bytes) -> dict:
    """The metadata as mediapipe reads it back: its JSON, and the associated label file's names."""
    import json

    _writer()
    from mediapipe.tasks.python.metadata import metadata

    displayer = metadata.MetadataDisplayer.with_model_buffer(bytearray(model))
    raw = json.loads(displayer.get_metadata_json())
    labels = displayer.get_associated_file_buffer(LABEL_FILE).decode("utf-8").split("\n")
    return {"metadata": raw, "labels": tuple(labels)}


def _writer():
    from fashion_edge.export.mediapipe_compat import install

    import mediapipe  # noqa: F401  (ImportError: the extra is missing)

    install()
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_info, metadata_writer

    return metadata_writer, metadata_info, fb
