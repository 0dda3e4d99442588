"""Child-process side of `fashion-edge doctor`: one risky thing per process, one JSON line back.

    python -m fashion_edge.runtime.probe import BACKEND
    python -m fashion_edge.runtime.probe pair BUNDLE FORMAT BACKEND THREADS

A backend that dies with SIGILL or SIGSEGV on import or on its first inference takes only this
process with it; the parent (runtime/doctor.py) reads the signal from the exit status. Python-level
failures are reported as `{"ok": false, "error": ...}`. The answer is the last stdout line starting
with MARKER, since native libraries may print to stdout too.
"""
from __future__ import annotations

import importlib
import json
import sys
import time

MARKER = "FASHION-EDGE-PROBE "
RUNS, SLOW_RUNS, WARMUP = 300, 10, 20
# A probe is a recommendation, not a benchmark: bounded in time so that a slow board (or an emulated
# CPU, where a float32 image takes ~150 ms) gets its answer in seconds; `fashion-edge bench` is the
# place for long, careful timing. At least MIN_RUNS samples are taken whatever the budget.
WARMUP_S, BUDGET_S, MIN_RUNS = 0.5, 2.0, 5


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def probe_import(backend: str) -> dict:
    from fashion_edge.runtime.backends import get_backend
    from fashion_edge.runtime.versions import module_version

    spec = get_backend(backend)
    started = time.perf_counter()
    importlib.import_module(spec.native or spec.module)   # the native part, not a thin package __init__
    return {"ok": True, "seconds": round(time.perf_counter() - started, 3), "version": module_version(spec.module)}


def probe_pair(bundle: str, fmt: str, backend: str, threads: int) -> dict:
    """Load, compare with golden.json (runtime/selfcheck.py), then time batch-of-one predictions."""
    from fashion_edge.runtime.backends import get_backend
    from fashion_edge.runtime.classifier import Classifier
    from fashion_edge.runtime.selfcheck import measure

    started = time.perf_counter()
    clf = Classifier(bundle, format=fmt, backend=backend, threads=threads or None)
    load_s = time.perf_counter() - started
    check = measure(clf)
    if not check.passed:   # no point timing wrong answers
        return {"ok": False, "error": check.describe(), "load_s": round(load_s, 3), "check": check.to_json()}
    image = clf.bundle.golden().images[0]
    runs = SLOW_RUNS if get_backend(backend).slow else RUNS
    deadline = time.perf_counter() + WARMUP_S
    for _ in range(min(WARMUP, runs)):
        clf.predict(image)
        if time.perf_counter() > deadline:
            break
    samples: list[float] = []
    deadline = time.perf_counter() + BUDGET_S
    while len(samples) < runs and (len(samples) < MIN_RUNS or time.perf_counter() < deadline):
        t = time.perf_counter_ns()
        clf.predict(image)
        samples.append((time.perf_counter_ns() - t) / 1e3)
    samples.sort()
    return {"ok": check.passed, "load_s": round(load_s, 3), "check": check.to_json(),
            "latency_us": {"p50": round(samples[len(samples) // 2], 1), "min": round(samples[0], 1),
                           "n": len(samples)}}


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["import"] and len(argv) == 2:
            result = probe_import(argv[1])
        elif argv[:1] == ["pair"] and len(argv) == 5:
            result = probe_pair(argv[1], argv[2], argv[3], int(argv[4]))
        else:
            print("usage: python -m fashion_edge.runtime.probe import BACKEND | pair BUNDLE FORMAT BACKEND THREADS",
                  file=sys.stderr)
            return 2
    except Exception as exc:  # every Python-level failure is an answer, not a traceback
        result = {"ok": False, "error": _first_line(exc)}
    sys.stdout.flush()
    print(MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
