"""Print the TF_ENABLE_ONEDNN_OPTS value that gives TensorFlow's *other* CPU kernels in this environment.

`make test` reruns the suite's numeric part with it. TensorFlow's default differs by CPU: oneDNN is
on by default where the CPU has AVX-512 VNNI/BF16 or AMX (e.g. recent Intel Xeons) and off elsewhere
(e.g. AMD EPYC without AVX-512, measured: `=0` there gives bit-identical Keras outputs to the
default, `=1` moves them by ~6e-6). A fixed `=0` would rerun the same kernels on such machines, so
the value is the opposite of what this process gets, as TensorFlow itself reports it.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> int:
    try:
        from tensorflow.python.util import _pywrap_util_port as port   # TF's own oneDNN switch, as resolved
        enabled = bool(port.IsMklEnabled())
    except (ImportError, AttributeError) as exc:
        print(f"onednn_other: cannot ask TensorFlow ({exc}); using 0", file=sys.stderr)
        enabled = True
    print(0 if enabled else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
