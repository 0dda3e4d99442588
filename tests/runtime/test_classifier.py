"""Classifier on a real exported bundle (tiny-cnn, every format) and real runtimes: same answers as
the export measured, on every installed backend."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from fashion_edge.runtime import BundleError, Classifier, InvalidImageError, MissingExtraError, UsageError
from fashion_edge.runtime.backends import available_backends, is_installed
from fashion_edge.runtime.formats import FORMATS

from test_preprocess import photo_like


@pytest.fixture(scope="module")
def bundle_dir(tiny_bundle):
    return tiny_bundle


def pairs():
    return [(f, b) for f in FORMATS for b in available_backends(f)]


def test_runtime_never_imports_tensorflow(bundle_dir, data, tmp_path):
    image = tmp_path / "x.png"
    Image.fromarray(data.x_test[0]).save(image)
    code = (
        "import sys, json; from fashion_edge.runtime import Classifier; "
        f"p = Classifier({str(bundle_dir)!r}).predict({str(image)!r}); "
        "print(json.dumps([p.label, [m for m in ('tensorflow', 'keras', 'tf2onnx') if m in sys.modules]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    label, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert heavy == [] and label


def test_frames_never_import_pillow_and_a_photo_still_does(bundle_dir, data, tmp_path):
    """Cold start (benchmarks: import, load, first prediction): a process fed dataset-style frames loads
    neither Pillow nor the photo pipeline nor golden.json's types; its first photo then loads them and
    gets the same answer as a fresh process given the photo first."""
    image = tmp_path / "x.png"
    Image.fromarray(data.x_test[0]).save(image)
    lazy = ("PIL", "fashion_edge.runtime.preprocess", "fashion_edge.runtime.golden", "tempfile")
    code = (
        "import sys, json, numpy as np; from fashion_edge.runtime import Classifier; "
        f"c = Classifier({str(bundle_dir)!r}); frame = c.predict(np.load({str(tmp_path / 'x.npy')!r})); "
        f"before = [m for m in {lazy!r} if m in sys.modules]; photo = c.predict({str(image)!r}); "
        f"print(json.dumps([before, frame.label_id, photo.label_id, 'PIL' in sys.modules]))"
    )
    np.save(tmp_path / "x.npy", data.x_test[0])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, frame_id, photo_id, pillow_after = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == [] and pillow_after
    assert frame_id == photo_id == Classifier(bundle_dir).predict(image).label_id


@pytest.mark.parametrize("fmt, backend", [p for p in pairs() if p[1] != "onnx-reference"])
def test_top1_on_full_test_set_matches_export_parity(fmt, backend, bundle_dir, data):
    clf = Classifier(bundle_dir, format=fmt, backend=backend)
    top1 = np.array([p.label_id for p in clf.predict_batch(data.x_test)])
    recorded = clf.bundle.golden().outputs[fmt].test_top1
    assert np.array_equal(top1, recorded)  # identical, image for image, to what the export measured
    assert (top1 == data.y_test).mean() == pytest.approx(clf.bundle.entry(fmt).parity.accuracy, abs=1e-9)


@pytest.mark.skipif(not is_installed("onnx-reference"), reason="onnx not installed")
@pytest.mark.parametrize("fmt", ["onnx-float32", "onnx-int8"])
def test_pure_python_onnx_reference_agrees_with_onnxruntime(fmt, bundle_dir, data):
    ref = Classifier(bundle_dir, format=fmt, backend="onnx-reference")
    ort = Classifier(bundle_dir, format=fmt, backend="onnxruntime")
    x = data.x_test[:64]
    # Runtimes may round an int8 accumulator differently: golden_atol allows two output steps.
    assert np.abs(ref.logits(x) - ort.logits(x)).max() <= ref.bundle.entry(fmt).golden_atol
    assert [p.label_id for p in ref.predict_batch(x)] == [p.label_id for p in ort.predict_batch(x)]


def test_predict_accepts_path_bytes_pil_and_array(bundle_dir, data, tmp_path):
    clf = Classifier(bundle_dir)
    x = data.x_test[11]
    path = tmp_path / "x.png"
    Image.fromarray(x).save(path)
    results = {clf.predict(x), clf.predict(path), clf.predict(str(path)), clf.predict(path.read_bytes()),
               clf.predict(Image.open(path)), clf.predict(x[..., None])}
    assert len(results) == 1  # frozen, hashable, and the same for every way of passing the image
    (p,) = results
    assert p.label == clf.labels[p.label_id] and sum(p.probabilities) == pytest.approx(1, abs=1e-5)
    assert p.confidence == max(p.probabilities)


def test_quantization_is_hidden_from_the_caller(bundle_dir, data):
    int8 = Classifier(bundle_dir, format="tflite-int8")
    f32 = Classifier(bundle_dir, format="tflite-float32")
    a, b = int8.logits(data.x_test[:100]), f32.logits(data.x_test[:100])
    assert a.dtype == np.float32 and np.abs(a - b).mean() < 0.5  # dequantized logits, same scale as float


def test_predict_batch_equals_predict_one_by_one(bundle_dir, data):
    clf = Classifier(bundle_dir)
    batch = clf.predict_batch(data.x_test[:40])
    assert batch == [clf.predict(x) for x in data.x_test[:40]]


@pytest.mark.parametrize("fmt, backend", pairs())
def test_the_bare_loop_runs_the_classifiers_own_engine_on_the_same_input(fmt, backend, bundle_dir, data):
    """The benchmark's wrapper cost is predict - bare_loop on one interpreter: both must compute the same thing."""
    clf = Classifier(bundle_dir, format=fmt, backend=backend)
    frame = data.x_test[3]
    raw = clf.engine.bare_loop(frame)()
    raw = raw[0] if isinstance(raw, list) else raw    # ONNX runtimes return a list of outputs
    np.testing.assert_array_equal(np.asarray(raw).reshape(-1), clf._session.run_one(frame).reshape(-1))
    assert clf.predict(frame) == clf.predict_batch(frame[None])[0]   # the interpreter is still fine after it


@pytest.mark.parametrize("fmt", ["tflite-int8", "tflite-float32"])
def test_the_batch_of_one_path_through_litert_binding_matches_the_public_methods(fmt, bundle_dir, data):
    """run_one calls the interpreter's C++ binding (backends/tflite.py): same outputs as set_tensor/
    invoke/get_tensor, and no reference to the binding outlives a call (the public methods count
    them and would refuse to run)."""
    clf = Classifier(bundle_dir, format=fmt, backend="litert")
    engine = clf.engine
    assert engine._direct
    frames = data.x_test[:100]
    direct = [clf._session.run_one(f) for f in frames]
    engine._direct = False
    public = [clf._session.run_one(f) for f in frames]
    engine._direct = True
    for a, b in zip(direct, public):
        np.testing.assert_array_equal(a, b)
    clf.predict(frames[0])
    engine.bare_loop(frames[0])()                       # public invoke(): its safety check passes
    np.testing.assert_array_equal(clf.logits(frames[:7]), np.concatenate([clf.logits(f[None]) for f in frames[:7]]))


def test_predict_preprocessed_takes_the_frame_as_is(bundle_dir, data):
    clf = Classifier(bundle_dir)
    frames = data.x_test[:40]
    assert [clf.predict_preprocessed(x) for x in frames] == [clf.predict(x) for x in frames]
    assert clf.predict_preprocessed(frames[0][..., None]) == clf.predict(frames[0])
    # a frame whose corners are bright (a garment filling it): predict takes it for a photo and
    # preprocesses it again; predict_preprocessed does not look at it
    full = np.full((28, 28), 200, np.uint8)
    assert clf.predict_preprocessed(full) == clf.predict_batch(full[None])[0]
    for bad in (np.zeros((28, 28), np.float32), np.zeros((27, 28), np.uint8), [[0] * 28] * 28):
        with pytest.raises(InvalidImageError, match="preprocessed uint8 28x28"):
            clf.predict_preprocessed(bad)


def test_photo_like_images_are_classified_about_as_well_as_the_originals(bundle_dir, data):
    clf = Classifier(bundle_dir)
    rng = np.random.default_rng(0)
    n = 300
    photos = [photo_like(x, rng) for x in data.x_test[:n]]
    original = np.mean([p.label_id for p in clf.predict_batch(data.x_test[:n])] == data.y_test[:n])
    from_photos = np.mean([p.label_id for p in clf.predict_batch(photos)] == data.y_test[:n])
    assert from_photos >= original - 0.05, (from_photos, original)


@pytest.mark.parametrize("fmt, backend", pairs())
def test_threads_get_the_same_answers_as_serial_calls(fmt, backend, bundle_dir, data):
    clf = Classifier(bundle_dir, format=fmt, backend=backend)
    n = 20 if backend == "onnx-reference" else 200
    images = data.x_test[:n]
    serial = [clf.predict(x) for x in images]
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            results[k] = [clf.predict(x) for x in images]
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and all(not t.is_alive() for t in threads)
    assert all(results[k] == serial for k in range(4))


def _copy(bundle_dir, tmp_path):
    target = tmp_path / "bundle"
    shutil.copytree(bundle_dir, target)
    return target


def test_tampered_model_file_is_refused_before_loading(bundle_dir, tmp_path):
    b = _copy(bundle_dir, tmp_path)
    blob = bytearray((b / "int8.tflite").read_bytes())
    blob[100] ^= 0xFF
    (b / "int8.tflite").write_bytes(bytes(blob))
    with pytest.raises(BundleError, match="sha256"):
        Classifier(b)


@pytest.mark.parametrize("cut", [0, 10, 5000])
def test_truncated_model_file_is_refused(cut, bundle_dir, tmp_path):
    b = _copy(bundle_dir, tmp_path)
    (b / "int8.onnx").write_bytes((b / "int8.onnx").read_bytes()[:cut])
    with pytest.raises(BundleError):
        Classifier(b, format="onnx-int8")


def test_bundle_with_a_missing_file_is_refused(bundle_dir, tmp_path):
    b = _copy(bundle_dir, tmp_path)
    (b / "float32.onnx").unlink()
    with pytest.raises(BundleError, match="cannot read"):
        Classifier(b, format="onnx-float32")


def test_manifest_pointing_outside_the_bundle_is_refused(bundle_dir, tmp_path):
    b = _copy(bundle_dir, tmp_path)
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["formats"]["tflite-int8"]["file"] = "../../etc/passwd"
    (b / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="formats.tflite-int8.file must be a plain file name"):
        Classifier(b)


def test_not_a_bundle_is_a_clear_error(tmp_path):
    with pytest.raises(BundleError, match="no manifest.json"):
        Classifier(tmp_path)


def test_unknown_format_and_backend_are_usage_errors(bundle_dir):
    with pytest.raises(UsageError, match="unknown format"):
        Classifier(bundle_dir, format="tflite-int4")
    with pytest.raises(UsageError, match="unknown backend"):
        Classifier(bundle_dir, backend="tensorrt")
    with pytest.raises(UsageError, match="cannot run"):
        Classifier(bundle_dir, format="tflite-int8", backend="onnxruntime")


@pytest.mark.skipif(is_installed("tflite-runtime"), reason="tflite-runtime is installed here")
def test_backend_not_installed_names_its_extra(bundle_dir):
    with pytest.raises(MissingExtraError, match=r'fashion-edge\[tflite\]'):
        Classifier(bundle_dir, backend="tflite-runtime")


@pytest.mark.parametrize("bad", [np.zeros((3, 28, 28), np.float32), np.zeros((28, 28), np.complex64),
                                 np.full((28, 28), np.nan)])
def test_bad_arrays_are_invalid_images(bad, bundle_dir):
    with pytest.raises(InvalidImageError):
        Classifier(bundle_dir).predict(bad)


def test_corrupt_image_bytes_are_invalid_images(bundle_dir):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buf, "JPEG")
    with pytest.raises(InvalidImageError):
        Classifier(bundle_dir).predict(buf.getvalue()[:200])


def test_manifest_naming_an_unknown_format_is_refused(bundle_dir, tmp_path):
    b = _copy(bundle_dir, tmp_path)
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["formats"]["tflite-int4"] = manifest["formats"]["tflite-int8"]
    (b / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="unknown format 'tflite-int4'"):
        Classifier(b)


def test_edited_manifest_hash_with_original_file_is_refused(bundle_dir, tmp_path):
    b = _copy(bundle_dir, tmp_path)
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["formats"]["tflite-int8"]["sha256"] = "0" * 64
    (b / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="sha256"):
        Classifier(b)
