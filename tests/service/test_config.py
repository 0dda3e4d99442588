"""ServeConfig: command-line mistakes are refused before anything listens; exposure is spelled out."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fashion_edge.runtime.errors import UsageError
from fashion_edge.runtime.service.config import ServeConfig, is_loopback, read_api_key
from fashion_edge.runtime.service.server import exposure_warning


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
                                            ("localhost", True), ("0.0.0.0", False), ("::", False),
                                            ("192.168.1.20", False), ("raspberrypi.local", False)])
def test_only_loopback_addresses_count_as_private(host, loopback):
    assert is_loopback(host) is loopback


def test_binding_beyond_loopback_is_logged_and_names_the_missing_key():
    base = ServeConfig(bundle=Path("b"), format="tflite-int8")
    assert exposure_warning(base) is None
    open_to_all = exposure_warning(ServeConfig(bundle=Path("b"), format="tflite-int8", host="0.0.0.0"))
    assert "beyond loopback" in open_to_all and "--api-key-file" in open_to_all
    keyed = exposure_warning(ServeConfig(bundle=Path("b"), format="tflite-int8", host="0.0.0.0", api_key="x" * 32))
    assert "beyond loopback" in keyed and "--api-key-file" not in keyed


def test_api_key_file_must_hold_one_long_word(tmp_path):
    path = tmp_path / "key"
    path.write_text("  s3cret-s3cret-s3cret  \n")
    assert read_api_key(path) == "s3cret-s3cret-s3cret"
    for bad in ("", "short", "two words here, long enough"):
        path.write_text(bad)
        with pytest.raises(UsageError, match="--api-key-file"):
            read_api_key(path)
    with pytest.raises(UsageError, match="cannot read"):
        read_api_key(tmp_path / "missing")


@pytest.mark.parametrize("field, value", [("workers", 0), ("queue", -1), ("max_body_bytes", 10), ("port", 70000)])
def test_impossible_settings_are_usage_errors(field, value):
    with pytest.raises(UsageError):
        ServeConfig(bundle=Path("b"), format="tflite-int8", **{field: value})


def test_capacity_is_workers_plus_queue():
    assert ServeConfig(bundle=Path("b"), format="tflite-int8", workers=2, queue=5).capacity == 7
