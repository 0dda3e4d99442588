"""8 threads x 2,000 predictions on one Classifier per backend: identical to serial, no deadlock."""
from __future__ import annotations

import threading

import pytest

from fashion_edge.runtime import Classifier
from fashion_edge.runtime.backends import available_backends


THREADS, CALLS = 8, 2000


@pytest.mark.parametrize("fmt", ["tflite-int8", "tflite-float32", "onnx-int8", "onnx-float32", "ort-int8"])
def test_eight_threads_match_serial_results(fmt, tiny_bundle, data):
    for backend in available_backends(fmt):
        calls = CALLS if backend != "onnx-reference" else 20
        clf = Classifier(tiny_bundle, format=fmt, backend=backend)
        images = data.x_test[:calls]
        serial = [clf.predict(x).label_id for x in images]
        results, errors = {}, []

        def work(k: int) -> None:
            try:
                # each thread walks the images from a different starting point
                order = [(i + 250 * k) % calls for i in range(calls)]
                results[k] = {i: clf.predict(images[i]).label_id for i in order}
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        assert not any(t.is_alive() for t in threads), f"{fmt}/{backend}: deadlock"
        assert not errors, errors[:1]
        for k in range(THREADS):
            assert [results[k][i] for i in range(calls)] == serial, f"{fmt}/{backend}: thread {k} differs"
