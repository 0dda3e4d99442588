"""Keras-style image folders: class order, the seeded and the given split, every refusal, bad images,
odd formats, frames in the contract's shape and channel order, and the symlink view Keras' loader reads."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from fashion_edge.runtime.errors import DataError, UsageError
from fashion_edge.runtime.recipes import contract_for, preprocessing
from fashion_edge.train import folder as folder_mod
from fashion_edge.train.folder import (
    FolderLoad, FolderSplit, SplitSource, image_set, is_image_folder, keras_order, keras_view, load_frames,
    scan_folder, split_sizes,
)

from folder_data import (
    DEFAULT_NAMES_12, SHAPE_COLOURS, corrupt_image, make_shapes_folder, make_split_folder,
)

RGB = contract_for(32, 48, 3, preprocessing("photo-v1", resize="crop"))
GREY = contract_for(40, 56, 1, preprocessing("photo-v1", resize="crop"))


@pytest.fixture
def shapes(tmp_path) -> Path:
    root = tmp_path / "photos"
    make_shapes_folder(root)
    return root


def _all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_classes_are_the_sorted_folder_names_and_hidden_or_loose_entries_are_ignored(tmp_path):
    root = tmp_path / "Fotos für Tests"
    names = make_shapes_folder(root, classes=12, per_class=2, names=DEFAULT_NAMES_12)
    (root / ".ipynb_checkpoints").mkdir()
    (root / "README.txt").write_text("not a class")
    (root / names[0] / ".hidden.jpg").write_bytes(b"not an image")
    (root / names[0] / "notes.txt").write_text("not an image")
    folder = scan_folder(root)
    assert folder.classes == tuple(names) == tuple(sorted(DEFAULT_NAMES_12))
    found = {p for part in folder.parts.values() for p in part.paths}
    assert found == {p for p in _all_files(root) if p.suffix in (".jpg", ".png") and not p.name.startswith(".")}


def test_seeded_split_is_deterministic_stratified_disjoint_and_recorded(shapes):
    folder, again, other = scan_folder(shapes, seed=3), scan_folder(shapes, seed=3), scan_folder(shapes, seed=4)
    assert all(folder.parts[p].paths == again.parts[p].paths for p in ("train", "val", "test"))
    assert folder.parts["test"].paths != other.parts["test"].paths
    parts = [set(folder.parts[p].paths) for p in ("train", "val", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set().union(*parts) == _all_files(shapes)
    for name in ("train", "val", "test"):
        part = folder.parts[name]
        assert part.labels.dtype == np.int32
        assert all(path.parent.name == folder.classes[label] for path, label in zip(part.paths, part.labels))
    assert np.bincount(folder.parts["test"].labels).tolist() == [4] * 4      # round(20 * 0.2) of every class
    assert np.bincount(folder.parts["val"].labels).tolist() == [2] * 4
    assert folder.split == FolderSplit(SplitSource.SEEDED, 3, {"val": 0.1, "test": 0.2},
                                       {"train": 56, "val": 8, "test": 16})
    assert FolderSplit.from_json(folder.split.to_json()) == folder.split


def test_seeded_split_does_not_depend_on_the_file_systems_listing_order(shapes, monkeypatch):
    before = scan_folder(shapes)
    real_walk = os.walk

    def reversed_walk(top, **kwargs):
        for root, dirs, files in reversed(list(real_walk(top, **kwargs))):
            yield root, dirs[::-1], files[::-1]

    monkeypatch.setattr(folder_mod.os, "walk", reversed_walk)
    after = scan_folder(shapes)
    assert all(before.parts[p].paths == after.parts[p].paths for p in ("train", "val", "test"))


def test_split_sizes_keep_a_test_image_and_a_training_image_in_small_classes():
    assert split_sizes(20, 0.1, 0.2) == (4, 2)
    assert split_sizes(3, 0.1, 0.2) == (1, 0)
    assert split_sizes(2, 0.5, 0.4) == (1, 0)
    assert split_sizes(1, 0.1, 0.2) == (0, 0)


@pytest.mark.parametrize("val, test", [(0.1, 0.0), (-0.1, 0.2), (0.5, 0.5), (0.1, 1.0)])
def test_impossible_fractions_are_usage_errors(shapes, val, test):
    with pytest.raises(UsageError, match="fraction"):
        scan_folder(shapes, val_fraction=val, test_fraction=test)


def test_train_val_test_subfolders_are_taken_as_given(tmp_path):
    root = tmp_path / "split"
    names = make_split_folder(root, per_part=(6, 2, 3))
    folder = scan_folder(root, seed=9)
    assert folder.classes == tuple(names)
    for part, per_class in (("train", 6), ("val", 2), ("test", 3)):
        assert all(p.relative_to(root).parts[0] == part for p in folder.parts[part].paths)
        assert np.bincount(folder.parts[part].labels).tolist() == [per_class] * 4
    assert folder.split.to_json() == {"source": "subfolders", "seed": None, "fractions": {},
                                      "counts": {"train": 24, "val": 8, "test": 12}}


def test_subfolders_without_val_leave_val_empty(tmp_path):
    make_split_folder(tmp_path / "split", per_part=(4, 0, 2), val=False)
    folder = scan_folder(tmp_path / "split")
    assert len(folder.parts["val"]) == 0 and folder.parts["val"].labels.shape == (0,)
    assert dict(folder.split.counts) == {"train": 16, "val": 0, "test": 8}


def _missing(root):
    return root / "nowhere"


def _a_file(root):
    (root / "file.jpg").write_bytes(b"x")
    return root / "file.jpg"


def _empty(root):
    (root / "empty").mkdir()
    return root / "empty"


def _class_without_images(root):
    make_shapes_folder(root / "d", classes=2, per_class=2)
    (root / "d" / "Leere Klasse").mkdir()
    (root / "d" / "Leere Klasse" / "notes.txt").write_text("no images")
    return root / "d"


def _one_class(root):
    make_shapes_folder(root / "d", classes=2, per_class=2, names=["einzig", "zwei"])
    shutil.rmtree(root / "d" / "zwei")
    return root / "d"


def _classes_differ(root):
    make_split_folder(root / "d", per_part=(2, 1, 1))
    shutil.rmtree(root / "d" / "test" / "Пальто")
    (root / "d" / "test" / "Mantel").mkdir()
    shutil.copy(next((root / "d" / "train" / "Пальто").iterdir()), root / "d" / "test" / "Mantel" / "a.png")
    return root / "d"


def _mixed(root):
    make_shapes_folder(root / "d", classes=2, per_class=2)
    make_shapes_folder(root / "d" / "train", classes=2, per_class=2)
    return root / "d"


def _no_test(root):
    make_shapes_folder(root / "d" / "train", classes=2, per_class=2)
    make_shapes_folder(root / "d" / "val", classes=2, per_class=2)
    return root / "d"


@pytest.mark.parametrize("make, message", [
    (_missing, r"nowhere: no such folder"),
    (_a_file, r"file\.jpg: not a folder"),
    (_empty, r"empty: no class folders"),
    (_class_without_images, r"Leere Klasse: class folder 'Leere Klasse' holds no images"),
    (_one_class, r"one class folder \('einzig'\)"),
    (_classes_differ, r"test: its classes differ from train/'s: only in test/: Mantel; only in train/: Пальто"),
    (_mixed, r"holds split folders \(train/\) and class folders \(Hosen für Damen, T-shirt top\)"),
    (_no_test, r"has train/, val/ but no test/"),
], ids=lambda v: getattr(v, "__name__", "")[1:])
def test_a_folder_that_cannot_work_is_one_data_error_naming_it(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(DataError, match=message) as caught:
        scan_folder(path)
    assert str(tmp_path) in str(caught.value) and "\n" not in str(caught.value)


def test_is_image_folder_tells_class_folders_from_fashion_mnist_files(tmp_path, shapes):
    idx = tmp_path / "fmnist"
    idx.mkdir()
    (idx / "train-images-idx3-ubyte.gz").write_bytes(b"")
    make_split_folder(tmp_path / "split", per_part=(1, 1, 1))
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "photo.JPG").write_bytes(b"")
    assert is_image_folder(shapes) and is_image_folder(tmp_path / "split") and is_image_folder(loose)
    assert not is_image_folder(idx) and not is_image_folder(tmp_path / "none") and not is_image_folder(_empty(tmp_path))


def test_bad_images_are_all_listed_unless_skipped(shapes):
    names = sorted(p.name for p in shapes.iterdir())
    bad = [corrupt_image(shapes / names[0] / "kaputt.jpg"), shapes / names[1] / "text.png"]
    bad[1].write_text("not a picture")
    folder = scan_folder(shapes)
    with pytest.raises(DataError) as caught:
        image_set(folder, RGB)
    message = str(caught.value)
    assert message.startswith("2 images cannot be read: ") and "--skip-bad-images skips them" in message
    assert all(str(path) in message for path in bad) and "truncated" in message
    images, load = image_set(folder, RGB, skip_bad=True)
    assert load.skipped == 2 and len(images.train) + len(images.test) == sum(folder.split.counts.values()) - 2
    assert FolderLoad.from_json(load.to_json()) == load
    gate = folder.parts["test"]
    assert [gate.paths[i] for i in load.gate_kept] == [p for p in gate.paths if p not in bad]
    assert len(load.gate_kept) == len(images.test)


def test_the_bad_image_listing_names_ten_then_counts_the_rest(tmp_path):
    paths = [corrupt_image(tmp_path / f"bad {i:02d}.jpg") for i in range(12)]
    with pytest.raises(DataError, match=r"^12 images cannot be read: .*bad 09\.jpg.*; and 2 more\.") as caught:
        load_frames(paths, RGB)
    assert "bad 10.jpg" not in str(caught.value)
    loaded = load_frames(paths, RGB, skip_bad=True)
    assert loaded.frames.shape == (0, 32, 48, 3) and len(loaded.bad) == 12


def test_odd_formats_and_names_decode(tmp_path):
    root = tmp_path / "odd"
    names = make_shapes_folder(root, per_class=2, odd_formats=True)
    folder = scan_folder(root)
    odd = [p for part in folder.parts.values() for p in part.paths if "odd" in p.name or p.suffix == ".JPG"]
    assert len(odd) == 5 and any("Unterordner für čevlji" in str(p) for p in odd)
    loaded = load_frames(odd, RGB)
    assert loaded.bad == () and loaded.frames.shape == (5, 32, 48, 3)
    gif = next(i for i, p in enumerate(odd) if p.suffix == ".gif")
    assert _nearest_colour(loaded.frames[gif]) == names.index(odd[gif].parent.name)   # the first frame
    assert all(frame.std() > 10 for frame in loaded.frames)                                # a picture, not a flat fill


def _nearest_colour(frame: np.ndarray) -> int:
    """Index in SHAPE_COLOURS of the mean colour of the frame's clearly coloured pixels."""
    pixels = frame.reshape(-1, 3).astype(int)
    mean = pixels[np.ptp(pixels, axis=1) > 60].mean(axis=0)
    return int(np.argmin([np.abs(mean - c).sum() for c in SHAPE_COLOURS]))


def test_frames_have_the_contracts_shape_and_rgb_channel_order(shapes):
    folder = scan_folder(shapes)
    part = folder.parts["train"]
    rgb = load_frames(part.paths, RGB)
    assert rgb.frames.dtype == np.uint8 and rgb.frames.shape == (len(part), 32, 48, 3)
    assert rgb.kept.tolist() == list(range(len(part)))
    assert [_nearest_colour(f) for f in rgb.frames] == part.labels.tolist()
    red = rgb.frames[part.labels == 0].reshape(-1, 3).astype(int)
    red = red[np.ptp(red, axis=1) > 60].mean(axis=0)
    assert red[0] > 200 and red[1] < 90 and red[2] < 90
    grey = load_frames(part.paths[:3], GREY)
    assert grey.frames.shape == (3, 40, 56, 1)


def test_image_set_puts_train_and_val_in_calibration_and_test_in_the_gate(shapes):
    folder = scan_folder(shapes)
    images, load = image_set(folder, RGB)
    assert images.name == str(shapes) and images.classes == folder.classes
    assert images.train.shape == (64, 32, 48, 3) and images.test.shape == (16, 32, 48, 3)
    assert images.train_labels.tolist() == [*folder.parts["train"].labels, *folder.parts["val"].labels]
    assert load == FolderLoad(folder.split, 0)


def test_an_empty_gate_part_says_how_many_images_each_part_has(tmp_path):
    make_shapes_folder(tmp_path / "tiny", classes=2, per_class=1)
    with pytest.raises(DataError, match=r"tiny: too few readable images .*\(train 2, val 0, test 0\)"):
        image_set(scan_folder(tmp_path / "tiny"), RGB)


def test_progress_goes_to_stderr_only_when_asked(shapes, capsys):
    paths = scan_folder(shapes).parts["test"].paths
    load_frames(paths, RGB)
    assert capsys.readouterr().err == ""
    pytest.importorskip("tqdm")
    load_frames(paths, RGB, progress=True)
    assert "reading images" in capsys.readouterr().err


def test_malformed_split_records_are_data_errors():
    with pytest.raises(DataError, match="malformed"):
        FolderSplit.from_json({"source": "guessed", "seed": 0, "fractions": {}, "counts": {}})
    with pytest.raises(DataError, match="seed"):
        FolderSplit.from_json({"source": "seeded", "seed": "0", "fractions": {}, "counts": {}})


def test_keras_view_links_every_file_under_its_class_numbered_in_the_given_order(shapes):
    folder = scan_folder(shapes)
    part = folder.parts["train"]
    paths, labels = part.paths[::-1], part.labels[::-1]        # not class by class: keras_order sorts it
    order = keras_order(labels)
    assert np.array_equal(keras_order(part.labels), np.arange(len(part)))
    with keras_view(paths, labels, folder.classes) as view:
        assert sorted(p.name for p in view.iterdir()) == sorted(folder.classes)
        listed = [link for name in folder.classes for link in sorted((view / name).iterdir())]
        assert [link.resolve() for link in listed] == [paths[i].resolve() for i in order]
    assert not view.exists()


@pytest.mark.slow
def test_keras_reads_the_view_in_keras_order(tmp_path):
    import keras

    root = tmp_path / "photos"
    names = make_shapes_folder(root, classes=3, per_class=4, names=["Ärmel", "b c", "šal"])
    webp = root / names[1] / "zz webp.webp"
    from PIL import Image
    Image.open(next((root / names[1]).glob("*.png"))).convert("RGB").save(webp)
    folder = scan_folder(root)
    paths = [p for part in folder.parts.values() for p in part.paths]
    labels = np.concatenate([part.labels for part in folder.parts.values()])
    order = keras_order(labels)
    with keras_view(paths, labels, folder.classes) as view:
        data = keras.utils.image_dataset_from_directory(view, class_names=list(folder.classes), shuffle=False,
                                                        image_size=(32, 48), batch_size=None, verbose=False)
        read = [Path(p).resolve() for p in data.file_paths]
        got = [int(label) for _, label in data.as_numpy_iterator()]
    assert read == [paths[i].resolve() for i in order] and webp.resolve() in read
    assert got == labels[order].tolist()
