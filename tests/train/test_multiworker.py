"""Training across processes with tf.distribute.MultiWorkerMirroredStrategy: two local workers on
loopback ports train a short run on a data subset; only the chief writes artifacts, and its model is
a real, loadable model that learned. Wall times of 1 vs 2 workers are printed, not asserted."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

LIMIT = 6000


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _train(out, extra_args, env_extra=None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", **(env_extra or {})})
    return subprocess.Popen([sys.executable, "-m", "fashion_edge.cli", "train", "--model", "edge", "--epochs", "1",
                             "--limit", str(LIMIT), "--out", str(out), *extra_args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_two_workers_on_loopback_train_and_only_the_chief_writes(tmp_path):
    ports = _free_ports(2)
    workers = ",".join(f"127.0.0.1:{p}" for p in ports)
    chief_out, other_out = tmp_path / "chief", tmp_path / "worker1"
    start = time.perf_counter()
    procs = [_train(chief_out, ["--workers", workers, "--worker-index", "0"]),
             _train(other_out, ["--workers", workers, "--worker-index", "1"])]
    outputs = [p.communicate(timeout=900) for p in procs]
    two_workers = time.perf_counter() - start
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    assert "on 2 workers" in outputs[0][0]
    metrics = json.loads((chief_out / "edge" / "metrics.json").read_text())
    assert metrics["workers"] == 2 and metrics["train_images"] == LIMIT
    assert metrics["test_accuracy"] > 0.5  # one epoch on 6,000 images: well above chance (0.10)
    assert not (other_out / "edge").exists()  # the other worker wrote nothing

    import keras

    model = keras.saving.load_model(chief_out / "edge" / "model.keras", compile=False)
    assert model.count_params() == metrics["params"]

    start = time.perf_counter()
    single = _train(tmp_path / "single", [])
    out, err = single.communicate(timeout=900)
    assert single.returncode == 0, err[-3000:]
    print(f"\n1 worker {time.perf_counter() - start:.0f} s, 2 workers on this host {two_workers:.0f} s "
          f"(same subset and global batch; both workers share this machine's cores)")


def test_tf_config_that_is_not_a_cluster_is_a_one_line_usage_error(tmp_path):
    proc = _train(tmp_path, [], {"TF_CONFIG": '{"cluster": 3}'})
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2
    assert err.strip().splitlines()[-1].startswith("fashion-edge train: error: TF_CONFIG")


def test_worker_flags_are_checked_before_training(tmp_path):
    proc = _train(tmp_path, ["--workers", "127.0.0.1:1,127.0.0.1:2", "--worker-index", "5"])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and "--worker-index must be 0..1" in err
