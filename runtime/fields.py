"""Typed reads from parsed JSON: each read names the field it refuses, e.g. `formats.tflite-int8.input.scale`.

The manifest and golden.json are read once, through these, into frozen dataclasses; nothing past
that point handles a loose dict, so a hand-edited or damaged file fails at load with one message.
"""
from __future__ import annotations

import math
from enum import Enum
from typing import Any, Callable, TypeVar

from fashion_edge.runtime.errors import BundleError

T = TypeVar("T")
E = TypeVar("E", bound=Enum)


class Obj:
    """A JSON object under a dotted path within one file."""

    def __init__(self, raw: Any, path: str, file: str) -> None:
        if not isinstance(raw, dict):
            raise BundleError(f"{file}: {path or 'the top level'} must be an object, not {_kind(raw)}")
        self.raw, self.path, self.file = raw, path, file

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> BundleError:
        return BundleError(f"{self.file}: {self._name(key)} {message}")

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def get(self, key: str, check: Callable[[Any], bool], expected: str, optional: bool = False) -> Any:
        if key not in self.raw or (optional and self.raw[key] is None):
            if optional:
                return None
            raise self.fail(key, "is missing")
        value = self.raw[key]
        if not check(value):
            raise self.fail(key, f"must be {expected}, not {_kind(value)}")
        return value

    def str(self, key: str, optional: bool = False) -> str:
        return self.get(key, lambda v: isinstance(v, str), "a string", optional)

    def int(self, key: str, optional: bool = False, minimum: int | None = None) -> int:
        value = self.get(key, _is_int, "an integer", optional)
        if value is not None and minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, not {value}")
        return value

    def float(self, key: str, optional: bool = False, minimum: float | None = None) -> float:
        value = self.get(key, _is_number, "a finite number", optional)
        if value is not None and minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, not {value}")
        return None if value is None else float(value)

    def enum(self, key: str, kind: type[E]) -> E:
        """A string that must be one of the values of `kind` (a closed set: an Enum)."""
        value = self.str(key)
        try:
            return kind(value)
        except ValueError:
            raise self.fail(key, f"must be one of {', '.join(repr(k.value) for k in kind)}, not {value!r}") from None

    def bool(self, key: str, optional: bool = False) -> bool:
        return self.get(key, lambda v: isinstance(v, bool), "true or false", optional)

    def obj(self, key: str, optional: bool = False) -> "Obj | None":
        raw = self.get(key, lambda v: isinstance(v, dict), "an object", optional)
        return None if raw is None else Obj(raw, self._name(key), self.file)

    def strs(self, key: str, optional: bool = False) -> tuple[str, ...]:
        value = self.get(key, lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                         "a list of strings", optional)
        return None if value is None else tuple(value)

    def ints(self, key: str, optional: bool = False) -> tuple[int, ...]:
        value = self.get(key, lambda v: isinstance(v, list) and all(_is_int(x) for x in v),
                         "a list of integers", optional)
        return None if value is None else tuple(value)

    def numbers(self, key: str) -> tuple[float, ...]:
        return tuple(float(x) for x in self.get(key, lambda v: isinstance(v, list) and all(_is_number(x) for x in v),
                                                  "a list of numbers"))

    def objs(self, key: str, read: Callable[["Obj"], T]) -> tuple[T, ...]:
        raw = self.get(key, lambda v: isinstance(v, list), "a list")
        return tuple(read(Obj(item, f"{self._name(key)}[{i}]", self.file)) for i, item in enumerate(raw))

    def mapping(self, key: str, read: Callable[[str, "Obj"], T], optional: bool = False) -> dict[str, T] | None:
        raw = self.obj(key, optional)
        if raw is None:
            return None
        return {name: read(name, Obj(item, raw._name(name), self.file)) for name, item in raw.raw.items()}

    def str_mapping(self, key: str, optional: bool = False) -> dict[str, str] | None:
        return self.get(key, lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
                        "an object of strings", optional)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")
