"""`fashion-edge predict` and `fashion-edge info`: the device-side commands (no TensorFlow)."""
from __future__ import annotations

import argparse
import json
import sys

from fashion_edge.runtime.backends import backends_for
from fashion_edge.runtime.bundle import Bundle, describe_device
from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.model_card import describe_preprocessing, summary


def run_predict(args: argparse.Namespace) -> int:
    """Predict every image; a bad one is reported (one line) and the rest still run. Exit 1 if any failed."""
    clf = Classifier(args.bundle, format=args.format, backend=args.backend, threads=args.threads,
                     xnnpack=args.xnnpack, spinning=args.spinning, self_check=getattr(args, "self_check", False))
    if clf.self_check_result is not None:
        print(clf.self_check_result.describe(), file=sys.stderr, flush=True)
    failed = 0
    for path in args.images:
        try:
            p = clf.predict(path)
        except FashionEdgeError as exc:
            failed += 1
            message = str(exc) if str(exc).startswith(path) else f"{path}: {exc}"
            if args.json:
                print(json.dumps({"path": path, "error": message, "format": clf.format,
                                  "backend": clf.backend_name}), flush=True)
            else:
                print(f"fashion-edge predict: error: {message}", file=sys.stderr, flush=True)
            continue
        if args.json:
            record = {"path": path, **p.to_json(), "format": clf.format, "backend": clf.backend_name}
            if not args.probabilities:
                record.pop("probabilities")
            print(json.dumps(record), flush=True)
        else:
            print(f"{path}: {p.label} ({100 * p.confidence:.1f}%)", flush=True)
    return 1 if failed else 0


def run_info(args: argparse.Namespace) -> int:
    bundle = Bundle.load(args.bundle)
    m = bundle.manifest
    print(f"bundle   {bundle.path}")
    print(f"model    {bundle.model}   Keras test accuracy {100 * m.keras_test_accuracy:.2f}%   "
          f"{m.macs_per_image:,} MACs per image")
    print(f"input    {m.input.describe()}: uint8 pixels 0..255, NHWC {list(m.input.shape)}; "
          f"preprocessing {describe_preprocessing(m.input.preprocessing)}")
    print(f"output   {m.output.classes} classes, {m.output.kind.value}"
          + ("" if m.output.is_logits else " (the file ends in a softmax)"))
    print(f"labels   {', '.join(bundle.labels)}")
    print()
    print(f"{'format':16s}{'file':16s}{'size':>11s}{'accuracy':>10s}{'agree':>9s}  gate  backends here")
    for name, e in bundle.formats.items():
        able = backends_for(name)
        here = [b.name for b in able if b.installed()]
        missing = f"none (pip install \"fashion-edge[{able[0].extra}]\")" if able else "none"
        print(f"{name:16s}{e.file:16s}{e.bytes / 1024:>9.1f}Ki{100 * e.parity.accuracy:>9.2f}%"
              f"{100 * e.parity.agreement:>8.2f}%  {'pass' if e.parity.passed else 'FAIL'}  {', '.join(here) or missing}")
    print()
    print("accelerators (recorded at export: TFLite Analyzer, ONNX Runtime's mobile usability checker)")
    for name, e in bundle.formats.items():
        print(f"{name:16s}{describe_device(e.device)}")
    if m.calibration.formats:
        print()
        print("int8 calibration (recipe kept: best agreement with Keras on the validation split)")
        for name, choice in m.calibration.formats.items():
            best = max(c.validation_agreement for c in choice.candidates)
            print(f"{name:16s}{choice.chosen.name} ({100 * best:.2f}% of {choice.validation_images:,} validation "
                  f"images; {len(choice.candidates)} recipes tried)")
    print()
    print("model card (README.md: use, data, accuracy per class, parity, how to run)")
    for line in summary(m):
        print(line)
    return 0
