"""In-process baselines for the service study: the same photo through Classifier.predict, no HTTP.

    python -m fashion_edge.benchmarks.inprocess BUNDLE PHOTO FORMAT RUNS   (prints JSON samples, ms)

The child-process form measures with glibc's default malloc settings, as a script using the
library gets them; the study's own process uses the server's settings (runtime/service/allocator.py).
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path


from fashion_edge.runtime.classifier import Classifier


def in_process_ms(clf: Classifier, data: bytes, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        clf.predict(data)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def default_malloc_baseline(bundle: Path, photo: Path, fmt: str, runs: int) -> list[float]:
    """`in_process_ms` in a fresh interpreter with glibc's default malloc settings (after a warm-up)."""
    done = subprocess.run([sys.executable, "-m", "fashion_edge.benchmarks.inprocess", str(bundle), str(photo), fmt,
                           str(runs)], capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def parallel_capacity(seconds: float = 1.0) -> float:
    """How many cores this process really gets now: 2-thread/1-thread throughput of sha256 over 1 MB
    buffers (hashlib releases the GIL). ~2.0 on an idle 2-core machine; less when others compete."""
    block = bytes(1 << 20)

    def spin(counter: list[int], until: float) -> None:
        while time.perf_counter() < until:
            hashlib.sha256(block).digest()
            counter[0] += 1

    one = [0]
    spin(one, time.perf_counter() + seconds)
    counts = [[0], [0]]
    until = time.perf_counter() + seconds
    threads = [threading.Thread(target=spin, args=(c, until)) for c in counts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return round((counts[0][0] + counts[1][0]) / max(1, one[0]), 2)


def main(argv: list[str]) -> int:
    bundle, photo, fmt, runs = argv
    clf = Classifier(bundle, format=fmt, threads=1)
    data = Path(photo).read_bytes()
    in_process_ms(clf, data, 30)
    print(json.dumps([round(v, 4) for v in in_process_ms(clf, data, int(runs))]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
