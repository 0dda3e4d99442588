"""The `fashion-edge` command as a user runs it: exit codes and one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fashion_edge.cli", *args],
                          capture_output=True, text=True, timeout=timeout)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_help_is_fast_and_does_not_import_tensorflow():
    code = ("import sys; from fashion_edge.cli.main import build_parser; build_parser(); "
            "print([m for m in ('tensorflow', 'keras', 'tf2onnx') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert run("--help").returncode == 0


def test_unknown_model_is_a_usage_error():
    result = run("train", "--model", "resnet")
    assert result.returncode == 2
    assert "invalid choice: 'resnet'" in one_line(result.stderr)


def test_unknown_flag_is_a_usage_error():
    result = run("train", "--model", "linear", "--frobnicate")
    assert result.returncode == 2
    assert "--frobnicate" in one_line(result.stderr)


@pytest.mark.slow   # `train` loads TensorFlow (5 s) before it looks at data or --out
def test_missing_data_is_one_line_naming_the_ways_to_get_it(tmp_path):
    result = run("train", "--model", "linear", "--data", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "dataset-fashion-mnist" in line and "FASHION_MNIST_DIR" in line
    assert not (tmp_path / "out" / "linear").exists()


@pytest.mark.slow   # `train` loads TensorFlow (5 s) before it looks at data or --out
def test_corrupt_gz_is_one_line(data, tmp_path):
    import shutil

    from fashion_edge.train.data import FILES

    for name in FILES:
        shutil.copy(Path(data.source) / name, tmp_path / name)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    result = run("train", "--model", "linear", "--data", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "t10k-labels" in one_line(result.stderr)


@pytest.mark.slow   # `train` loads TensorFlow (5 s) before it looks at data or --out
def test_unwritable_out_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("train", "--model", "linear", "--out", str(blocker / "artifacts"))
    assert result.returncode == 1
    assert "cannot write" in one_line(result.stderr)


@pytest.mark.slow
def test_train_then_report(tmp_path):
    result = run("train", "--model", "linear", "--epochs", "1", "--limit", "2000", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "linear: test accuracy" in result.stdout
    metrics = json.loads((tmp_path / "linear" / "metrics.json").read_text())
    assert metrics["epochs"] == 1
    result = run("report", "--artifacts", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "REPORT.md").read_text()
    assert "| linear | Fashion-MNIST | 7,850 | 1 |" in report


@pytest.mark.parametrize("command", [["info", "{bundle}"], ["predict", "x.png", "--bundle", "{bundle}"],
                                     ["verify", "{bundle}"]])
@pytest.mark.parametrize("manifest", ["[" * 50_000 + "]" * 50_000, '{"schema_version": 2, "labels": 3}', "{"])
def test_a_broken_manifest_is_one_line_for_every_command_that_reads_it(command, manifest, tmp_path):
    (tmp_path / "manifest.json").write_text(manifest)
    result = run(*[arg.format(bundle=tmp_path) for arg in command])
    assert result.returncode == 1
    assert "manifest.json" in one_line(result.stderr)


@pytest.mark.parametrize("flag, message", [("fast", "use on, off or a number of microseconds"),
                                           ("5", "spinning must be on (True), off (False) or the longest spin")])
def test_a_bad_spinning_setting_is_one_line(flag, message, tiny_bundle, data, tmp_path):
    image = tmp_path / "shirt.png"
    Image.fromarray(data.x_test[0]).save(image)
    result = run("predict", str(image), "--bundle", str(tiny_bundle), "--format", "onnx-int8",
                 "--spinning", flag)
    assert result.returncode == 2
    assert message in one_line(result.stderr)


def test_predict_takes_a_spin_limit(tiny_bundle, data, tmp_path):
    image = tmp_path / "shirt.png"
    Image.fromarray(data.x_test[0]).save(image)
    result = run("predict", str(image), "--bundle", str(tiny_bundle), "--format", "onnx-int8",
                 "--threads", "2", "--spinning", "150us", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)


def test_output_into_a_closed_pipe_ends_quietly(tiny_bundle):
    """`fashion-edge info B | true`: the reader is gone before the first line; no traceback."""
    done = subprocess.run(["bash", "-o", "pipefail", "-c", f"{sys.executable} -m fashion_edge.cli info {tiny_bundle} | true"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
