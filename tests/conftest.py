"""Shared fixtures: the real dataset, and small models trained once per session on real images."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data():
    from fashion_edge.train.data import load_fashion_mnist

    return load_fashion_mnist()


@pytest.fixture(scope="session")
def trained_linear(tmp_path_factory):
    """A linear model trained for one epoch on 12,000 real images: seconds, and well above chance."""
    from fashion_edge.train.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("artifacts")
    return train(TrainConfig(model="linear", out=out, epochs=1, limit=12000, verbose=0))
