"""The offline image-folder example: Fashion-MNIST's images as colour photos in Keras' folder layout."""
from __future__ import annotations

import numpy as np
from PIL import Image

from fashion_edge.runtime.labels import LABELS
from fashion_edge.train.examples import PHOTO_SIZE, folder_name, main
from fashion_edge.train.folder import scan_folder


def test_the_example_folder_holds_every_class_as_colour_photos(tmp_path, capsys):
    assert main([str(tmp_path / "photos"), "--per-class", "5"]) == 0
    assert "wrote 50 photos in 10 class folders" in capsys.readouterr().out
    folder = scan_folder(tmp_path / "photos", test_fraction=0.2)
    assert folder.classes == tuple(sorted(folder_name(label) for label in LABELS))
    assert "T-shirt top" in folder.classes                      # '/' cannot be in a folder name
    paths = [p for part in folder.parts.values() for p in part.paths]
    assert len(paths) == 50 and sum(p.suffix == ".png" for p in paths) == 10
    for path in paths[:10]:
        pixels = np.asarray(Image.open(path)).astype(int)
        assert pixels.shape == (PHOTO_SIZE, PHOTO_SIZE, 3)
        assert (pixels.max(2) - pixels.min(2)).mean() > 5       # coloured: not a grey image in RGB
        assert pixels.std() > 10                                 # a garment on a backdrop, not a blank


def test_the_example_is_the_same_on_every_run(tmp_path):
    for name in ("a", "b"):
        assert main([str(tmp_path / name), "--per-class", "2"]) == 0
    for a in sorted((tmp_path / "a").rglob("*.*")):
        b = tmp_path / "b" / a.relative_to(tmp_path / "a")
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
