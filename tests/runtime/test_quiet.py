"""captured_native_output: a native library's chatter on fd 2 is held back, and shown on failure only when debugging."""
import os

import pytest

from fashion_edge.runtime.quiet import captured_native_output


def _chatter(fail: bool) -> None:
    with captured_native_output(stdout=False):
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        if fail:
            raise RuntimeError("native load failed")


@pytest.mark.parametrize("debug", ["", "1"])
def test_success_is_silent(debug, monkeypatch, capfd):
    monkeypatch.setenv("FASHION_EDGE_DEBUG", debug)
    _chatter(fail=False)
    os.write(2, b"after\n")            # fd 2 is restored
    assert capfd.readouterr().err == "after\n"


def test_failure_shows_the_native_log_only_when_debugging(monkeypatch, capfd):
    monkeypatch.delenv("FASHION_EDGE_DEBUG", raising=False)
    with pytest.raises(RuntimeError):
        _chatter(fail=True)
    assert "XNNPACK" not in capfd.readouterr().err
    monkeypatch.setenv("FASHION_EDGE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        _chatter(fail=True)
    assert "INFO: Created TensorFlow Lite XNNPACK delegate" in capfd.readouterr().err
