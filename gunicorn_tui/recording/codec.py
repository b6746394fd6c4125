"""Frozen dataclasses to JSON and back, directed by their type hints.

A recording holds monitor frames exactly as the dashboard saw them, so a
replay rebuilds the same objects and everything computed from them (epochs,
comparisons) comes out the same. Decoding only ever builds the types the
hints name from plain JSON values, checked as it goes: a recording from
elsewhere is data, never code (no pickle).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class CodecError(ValueError):
    """A JSON value that does not fit the type it should have; ``path`` says where."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def to_json(value: object) -> Any:
    """``value`` as plain JSON values (dicts, lists, numbers, strings, None)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, tuple | list | frozenset | set):
        return [to_json(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot record a {type(value).__name__}")


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_json(kind: Any, data: Any, path: str = "$") -> Any:
    """Build a value of type ``kind`` from ``data`` (see :func:`to_json`)."""
    origin = typing.get_origin(kind)
    if kind is Any or kind is object:
        return data
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(kind), data, path)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _dataclass(kind, data, path)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(data)
        except ValueError:
            raise CodecError(path, f"{data!r} is not a {kind.__name__}") from None
    if origin is tuple:
        return _tuple(typing.get_args(kind), data, path)
    if origin in (Mapping, dict) or kind in (Mapping, dict):
        key_type, value_type = typing.get_args(kind) or (str, Any)
        if not isinstance(data, dict):
            raise CodecError(path, f"expected an object, got {type(data).__name__}")
        return {
            _key(key_type, key, path): from_json(value_type, item, f"{path}.{key}")
            for key, item in data.items()
        }
    if origin in (frozenset, set, list):
        (item_type,) = typing.get_args(kind) or (Any,)
        if not isinstance(data, list):
            raise CodecError(path, f"expected a list, got {type(data).__name__}")
        items = [from_json(item_type, item, f"{path}[{i}]") for i, item in enumerate(data)]
        return origin(items)
    return _scalar(kind, data, path)


def _key(key_type: Any, key: str, path: str) -> Any:
    if key_type is int:
        try:
            return int(key)
        except ValueError:
            raise CodecError(path, f"key {key!r} is not a number") from None
    return key


def _scalar(kind: Any, data: Any, path: str) -> Any:
    if kind is type(None):
        if data is not None:
            raise CodecError(path, f"expected null, got {data!r}")
        return None
    if kind is bool:
        if not isinstance(data, bool):
            raise CodecError(path, f"expected true or false, got {data!r}")
        return data
    if kind is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise CodecError(path, f"expected a whole number, got {data!r}")
        return data
    if kind is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise CodecError(path, f"expected a number, got {data!r}")
        return float(data)
    if kind is str:
        if not isinstance(data, str):
            raise CodecError(path, f"expected a string, got {data!r}")
        return data
    raise CodecError(path, f"cannot read a {kind!r}")


def _union(options: tuple[Any, ...], data: Any, path: str) -> Any:
    if data is None and type(None) in options:
        return None
    # An exact JSON kind first: 3 stays an int where int is allowed.
    for option in options:
        if option in (bool, int, float, str) and type(data) is option:
            return data
    problems = []
    for option in options:
        if option is type(None):
            continue
        try:
            return from_json(option, data, path)
        except CodecError as error:
            problems.append(str(error))
    raise CodecError(path, f"fits none of {len(options)} types ({'; '.join(problems)[:200]})")


def _tuple(args: tuple[Any, ...], data: Any, path: str) -> tuple[Any, ...]:
    if not isinstance(data, list):
        raise CodecError(path, f"expected a list, got {type(data).__name__}")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(from_json(args[0], item, f"{path}[{i}]") for i, item in enumerate(data))
    if len(args) != len(data):
        raise CodecError(path, f"expected {len(args)} items, got {len(data)}")
    pairs = enumerate(zip(args, data, strict=True))
    return tuple(from_json(a, item, f"{path}[{i}]") for i, (a, item) in pairs)


def _dataclass(cls: type[T], data: Any, path: str) -> T:
    if not isinstance(data, dict):
        raise CodecError(path, f"expected an object for {cls.__name__}, got {type(data).__name__}")
    hints = _hints(typing.cast(Any, cls))
    values = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name in data:
            values[field.name] = from_json(
                hints[field.name], data[field.name], f"{path}.{field.name}"
            )
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise CodecError(path, f"{cls.__name__} without {field.name!r}")
    return cls(**values)
