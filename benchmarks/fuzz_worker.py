"""Child process for model-file fuzzing: load each mutated file and predict; report per case.

Runs as `python -m fashion_edge.benchmarks.fuzz_worker BACKEND FOLDER START [HxWxC]`. A native crash kills
only this process; the parent sees which case was in flight and restarts after it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main() -> None:
    backend, folder, start = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    from fashion_edge.runtime.backends import open_backend
    from fashion_edge.runtime.errors import FashionEdgeError
    from fashion_edge.runtime.options import EngineOptions
    from fashion_edge.runtime.session import Session

    shape = tuple(int(d) for d in sys.argv[4].split("x")) if len(sys.argv) > 4 else (28, 28, 1)
    pixels = np.zeros((1, *shape), np.uint8)     # the bundle's device frame (H x W x C)
    cases = sorted(folder.glob("*.bin"))
    for i in range(start, len(cases)):
        print(f"start {i}", flush=True)
        try:
            Session(open_backend(backend, cases[i].read_bytes(), EngineOptions(threads=1))).logits_one(pixels)
            verdict = "prediction"
        except FashionEdgeError:
            verdict = "typed-error"
        except Exception as exc:  # noqa: BLE001 - exactly what the study counts
            verdict = f"untyped-error {type(exc).__name__}"
        print(f"done {i} {verdict}", flush=True)


if __name__ == "__main__":
    main()
