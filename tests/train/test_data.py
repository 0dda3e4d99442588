"""The Fashion-MNIST loader: real files, checksums of decompressed bytes, and clear errors."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from fashion_edge.runtime.errors import DataError
from fashion_edge.train import data as data_mod
from fashion_edge.train.data import FILES, load_fashion_mnist


def test_real_data_has_official_shapes_and_balanced_labels(data):
    assert data.x_train.shape == (60000, 28, 28) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (10000, 28, 28)
    assert np.bincount(data.y_train).tolist() == [6000] * 10
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert set(data.sha256) == {n.removesuffix(".gz") for n in FILES}


def test_validation_split_comes_from_training_set_only_and_is_reproducible(data):
    x_fit, y_fit, x_val, y_val = data.split_validation(seed=0)
    assert len(x_fit) + len(x_val) == 60000 and len(x_val) == 6000
    again = data.split_validation(seed=0)
    assert np.array_equal(again[2], x_val)
    # No validation image is a test image: compare exact pixel rows of a sample.
    test_rows = {img.tobytes() for img in data.x_test}
    assert sum(img.tobytes() in test_rows for img in x_val[:2000]) < 5  # the dataset has a few duplicates


def _copy_data(tmp_path: Path, src: Path) -> Path:
    folder = tmp_path / "fmnist"
    folder.mkdir()
    for name in FILES:
        shutil.copy(src / name, folder / name)
    return folder


def test_recompressed_files_are_accepted_because_checksum_covers_decompressed_bytes(data, tmp_path):
    folder = _copy_data(tmp_path, Path(data.source))
    name = "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress((folder / name).read_bytes())
    recompressed = gzip.compress(raw, compresslevel=1, mtime=12345)
    assert recompressed != (Path(data.source) / name).read_bytes()
    (folder / name).write_bytes(recompressed)
    loaded = load_fashion_mnist(folder)
    assert np.array_equal(loaded.y_test, data.y_test)


def test_corrupted_contents_are_rejected_by_checksum(data, tmp_path):
    folder = _copy_data(tmp_path, Path(data.source))
    name = "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress((folder / name).read_bytes()))
    raw[5000] ^= 0xFF
    (folder / name).write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="sha256.*does not match"):
        load_fashion_mnist(folder)


def test_truncated_gz_is_a_clear_error(data, tmp_path):
    folder = _copy_data(tmp_path, Path(data.source))
    name = "train-images-idx3-ubyte.gz"
    blob = (folder / name).read_bytes()
    (folder / name).write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="not a readable .gz"):
        load_fashion_mnist(folder)


def test_named_folder_without_the_files_names_all_three_ways(tmp_path):
    with pytest.raises(DataError) as err:
        load_fashion_mnist(tmp_path)
    message = str(err.value)
    assert "FASHION_MNIST_DIR" in message and "dataset-fashion-mnist" in message and "Keras" in message


def test_env_var_folder_is_used(data, tmp_path, monkeypatch):
    folder = _copy_data(tmp_path, Path(data.source))
    monkeypatch.setenv("FASHION_MNIST_DIR", str(folder))
    assert load_fashion_mnist().source == str(folder)


def test_no_data_anywhere_and_no_download_names_all_three_ways(tmp_path, monkeypatch):
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(data_mod, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setattr(data_mod, "KERAS_CACHE_DIR", tmp_path / "keras")
    with pytest.raises(DataError) as err:
        load_fashion_mnist(allow_download=False)
    message = str(err.value)
    assert "--data" in message and "apt-get install dataset-fashion-mnist" in message and "Keras" in message
