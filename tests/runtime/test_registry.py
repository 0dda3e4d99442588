"""The format and backend registries are consistent: every name resolves, every family has a runtime,
every converter exists. Adding a format means an entry, a converter and tests; these catch a half-added one."""
from __future__ import annotations

import pytest

from fashion_edge.runtime.backends import BACKENDS, backends_for, choose_backend
from fashion_edge.runtime.errors import MissingExtraError, UsageError
from fashion_edge.runtime.formats import FORMATS, calibrated_as, looks_like


def test_every_format_has_a_unique_file_a_runtime_and_a_reasoned_gate():
    assert len({f.filename for f in FORMATS.values()}) == len(FORMATS)
    for name, fmt in FORMATS.items():
        assert fmt.name == name
        assert backends_for(name), f"no backend can run {name}"
        assert set(fmt.unsupported) <= set(BACKENDS), name
        for gate in (fmt.gate, *fmt.model_gates.values()):
            assert 0.9 < gate.min_agreement <= 1 and gate.why, name
        if fmt.source is not None:
            assert fmt.source in FORMATS and list(FORMATS).index(fmt.source) < list(FORMATS).index(name)
        if fmt.size_limit is not None:
            assert fmt.size_limit.of in FORMATS


def test_quantized_files_inherit_their_calibration_from_the_file_they_were_made_from():
    for name, fmt in FORMATS.items():
        owner = calibrated_as(name)
        if fmt.calibrated:
            assert owner == name
        elif owner is not None:
            assert FORMATS[owner].calibrated and FORMATS[name].precision == FORMATS[owner].precision


def test_every_converter_key_is_registered_in_the_exporter():
    from fashion_edge.export.converters import CONVERTERS

    assert {f.converter for f in FORMATS.values()} <= set(CONVERTERS)


def test_backends_are_chosen_from_the_registry_with_typed_errors():
    with pytest.raises(UsageError, match="unknown format"):
        choose_backend("tflite-int4")
    with pytest.raises(UsageError, match="unknown backend"):
        choose_backend("tflite-int8", "tensorrt")
    for name, fmt in FORMATS.items():
        for backend in BACKENDS.values():
            if fmt.family not in backend.families:
                with pytest.raises(UsageError, match="cannot run"):
                    choose_backend(name, backend.name)
            elif backend.name in fmt.unsupported:
                with pytest.raises(UsageError, match=fmt.unsupported[backend.name].split(" ")[0]):
                    choose_backend(name, backend.name)
            else:
                assert choose_backend(name, backend.name) == backend.name


def test_a_format_no_installed_backend_runs_names_the_extra(monkeypatch):
    from fashion_edge.runtime.backends import BackendSpec

    monkeypatch.setattr(BackendSpec, "installed", lambda self: False)
    with pytest.raises(MissingExtraError, match=r'pip install "fashion-edge\[litert\]"'):
        choose_backend("tflite-int8")


def test_file_kind_checks_look_at_the_identifiers():
    assert looks_like("tflite", b"\x1c\x00\x00\x00TFL3" + bytes(16))
    assert not looks_like("tflite", b"\x1c\x00\x00\x00ORTM" + bytes(16))
    assert looks_like("ort", b"\x1c\x00\x00\x00ORTM" + bytes(16))
    assert looks_like("onnx", b"\x08\x08" + bytes(16)) and not looks_like("onnx", b"PK" + bytes(16))
    assert not looks_like("tflite", b"short")
