"""Cold start: a fresh Python process that imports, loads and predicts once; its wall time and peak RSS."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from fashion_edge.runtime.errors import FashionEdgeError


class ColdStartError(FashionEdgeError):
    """The fresh process that loads and runs a model failed."""


@dataclass(frozen=True)
class ColdStart:
    seconds: float       # median wall time from spawn to exit
    peak_rss_mb: float   # median of the child's maximum resident set size
    repeats: int


# Peak RSS is read by the child itself: VmHWM belongs to the new address space, whereas the
# parent's ru_maxrss for a child also counts the pages it briefly shared with this (large) process
# between fork and exec.
REPORT_PEAK = "\nimport sys\nsys.stdout.write([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"


def runtime_code(bundle: str, fmt: str, backend: str, options: dict) -> str:
    """Import, load, and predict one black device frame of the bundle's own shape."""
    return ("import numpy as np\n"
            "from fashion_edge.runtime import Classifier\n"
            f"c = Classifier({bundle!r}, format={fmt!r}, backend={backend!r}, **{options!r})\n"
            "c.predict(np.zeros(c.contract.frame_shape, np.uint8))\n" + REPORT_PEAK)


def keras_code(model_path: str, call: bool) -> str:
    predict = "m(x, training=False)" if call else "m.predict(x, verbose=0)"
    return ("import numpy as np, keras\n"
            f"m = keras.saving.load_model({model_path!r}, compile=False)\n"
            "x = np.zeros((1, *m.inputs[0].shape[1:]), np.float32)\n"
            f"{predict}\n" + REPORT_PEAK)


def measure(code: str, repeats: int) -> ColdStart:
    """Median over `repeats` fresh processes, after one that is not counted.

    The uncounted run may write bytecode (PYTHONDONTWRITEBYTECODE dropped for it): a device runs an
    installed wheel, whose modules pip compiled at install time, whereas a source checkout run with
    that variable set would compile every module again in every measured process (~60 ms here, a
    fifth of the runtime's cold start). It also brings the files into the page cache for both sides.
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    priming = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", code], env=priming, capture_output=True)  # failures: reported below
    walls, rss = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise ColdStartError(f"cold-start process exited with {proc.returncode}: {last}")
        hwm = proc.stdout.strip().splitlines()[-1]          # "VmHWM:   123456 kB"
        rss.append(int(hwm.split()[1]) / 1024)
    return ColdStart(statistics.median(walls), statistics.median(rss), repeats)
