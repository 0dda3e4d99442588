"""`fashion-edge verify BUNDLE`: re-check a bundle later, without TensorFlow.

Checks each model file's size and sha256, runs golden.json through the runtime, and, when the
bundle's test set is at hand (Fashion-MNIST's, for a bundle of its contract and classes), re-measures
accuracy on all of it against the manifest's figure. The preprocessing vectors' photos go through
this runtime's recipe too (a Pillow whose JPEG decoder or resampler changed shows here).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from fashion_edge.export import evaluate
from fashion_edge.runtime.backends import choose_backend, open_backend
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.errors import DataError, FashionEdgeError, MissingExtraError
from fashion_edge.runtime.frames import as_batch
from fashion_edge.runtime.golden import PreprocessingVectors
from fashion_edge.runtime.recipes import Preprocessor
from fashion_edge.runtime.session import Session


class VerifyError(FashionEdgeError):
    """The bundle no longer matches what export measured."""


# A re-measured test accuracy may differ from the manifest's by this much (5 images of 10,000):
# the same file on the same backend gives the same top-1, so any larger change means tampering.
ACCURACY_TOLERANCE = 0.0005


@dataclass(frozen=True)
class FormatCheck:
    name: str
    backend: str
    golden_max_diff: float
    golden_top1_match: bool
    accuracy: float | None       # None when the test set was not available
    problems: tuple[str, ...]


def verify(path: Path, data_dir: Path | None = None, log: Callable[[str], None] = print) -> tuple[FormatCheck, ...]:
    bundle = Bundle.load(path)
    golden = bundle.golden()
    contract = bundle.manifest.input
    golden_x = as_batch(golden.images, contract.shape[1:])
    test_x = test_y = None
    try:
        from fashion_edge.train.data import test_set_for

        found = test_set_for(bundle, data_dir)
        if found is None:
            log("  the bundle's test images are not at hand here: checking hashes and golden.json only")
        else:
            test_x, test_y = found
    except (DataError, ImportError) as exc:
        log(f"  test set not available ({str(exc).split('.')[0]}): checking hashes and golden.json only")
    checks, problems_all = [], []
    for name, entry in bundle.formats.items():
        problems: list[str] = []
        blob = bundle.read_model(name)  # raises BundleError on a size or hash mismatch
        try:
            backend = choose_backend(name)
        except MissingExtraError as exc:  # a device kit installs only the runtimes it needs
            log(f"  {name:15s} sha256 ok  not run here: {exc}")
            continue
        session = Session(open_backend(backend, blob))
        if name not in golden.outputs:
            raise VerifyError(f"{name}: golden.json has no outputs for it; re-export the bundle")
        expected = golden.outputs[name]
        got = session.logits(golden_x)
        diff = float(np.abs(got - expected.logits).max())
        top1 = tuple(got.argmax(1).tolist()) == expected.top1
        if diff > entry.golden_atol:
            problems.append(f"golden logits differ by {diff:.2e} (> {entry.golden_atol:.1e})")
        if not top1:
            problems.append("golden top-1 differs")
        accuracy = None
        if test_x is not None:
            accuracy = float((evaluate.logits(backend, blob, test_x).argmax(1) == test_y).mean())
            recorded = entry.parity.accuracy
            if abs(accuracy - recorded) > ACCURACY_TOLERANCE:
                problems.append(f"test accuracy {100 * accuracy:.2f}% differs from manifest {100 * recorded:.2f}%")
        checks.append(FormatCheck(name, backend, diff, top1, accuracy, tuple(problems)))
        acc = f"acc {100 * accuracy:.2f}%" if accuracy is not None else "acc n/a"
        log(f"  {name:15s} sha256 ok  golden max|Δ| {diff:.1e}  {acc}  [{backend}]  "
            + ("ok" if not problems else "FAIL: " + "; ".join(problems)))
        problems_all += [f"{name}: {p}" for p in problems]
    problems_all += _check_preprocessing(bundle, golden.preprocessing_vectors, log)
    if not checks:
        raise VerifyError("no installed runtime can run any of this bundle's formats; "
                          "pip install \"fashion-edge[litert]\" or \"fashion-edge[onnx]\"")
    if problems_all:
        raise VerifyError("; ".join(problems_all))
    return tuple(checks)


def _check_preprocessing(bundle: Bundle, vectors: PreprocessingVectors | None, log: Callable[[str], None]) -> list[str]:
    """Each preprocessing vector's photo (hash-checked) through this runtime's preprocess, within tolerance."""
    if vectors is None:
        log("  preprocessing vectors: none in this bundle (exported without them)")
        return []
    preprocess = Preprocessor(bundle.manifest.input).preprocess
    failed = [case.name for case in vectors.cases
              if not vectors.tolerance.accepts(preprocess(bundle.read_file(case.file)), case.pixels)]
    log(f"  preprocessing vectors: {len(vectors.cases) - len(failed)}/{len(vectors.cases)} photos within "
        f"{vectors.tolerance.mean_abs} mean / {vectors.tolerance.max_abs} max levels")
    return [f"preprocessing vector {name}: differs from golden.json beyond its tolerance" for name in failed]
