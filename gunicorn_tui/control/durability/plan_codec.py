"""Plans to JSON and back, for the journal and the archive.

Dataclasses are written with a ``__type__`` tag and read back through their
type hints (lists become tuples where a tuple is declared), so a plan read
from a journal is equal to the one that was written.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any

from gunicorn_tui.control.planning.plan import RetunePlan, RevertSpec, step_types


class PlanDecodeError(ValueError):
    """A journal's plan could not be read back."""


def encode(value: Any) -> Any:
    """A JSON-able form of ``value`` (dataclasses tagged with their type)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"__type__": type(value).__name__}
        for item in dataclasses.fields(value):
            out[item.name] = encode(getattr(value, item.name))
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


_HINTS: dict[str, dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls.__name__)
    if hints is None:
        module = __import__(cls.__module__, fromlist=["_"])
        hints = _HINTS[cls.__name__] = typing.get_type_hints(cls, globalns=vars(module))
    return hints


def _coerce(value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        for option in options:
            try:
                return _coerce(value, option)
            except (TypeError, ValueError, PlanDecodeError):
                continue
        return value
    if isinstance(value, dict) and "__type__" in value:
        return decode(value)
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError("expected a list")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0]) for v in value)
        return tuple(_coerce(v, a) for v, a in zip(value, args, strict=False))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, dict):
            raise TypeError("expected a mapping")
        args = typing.get_args(hint)
        inner = args[1] if len(args) == 2 else Any
        return {k: _coerce(v, inner) for k, v in value.items()}
    if hint is int and isinstance(value, int):
        return value
    return value


def decode(data: Any) -> Any:
    """The dataclass encoded by :func:`encode`."""
    if not isinstance(data, dict) or "__type__" not in data:
        raise PlanDecodeError("not an encoded dataclass")
    cls = step_types().get(str(data["__type__"]))
    if cls is None:
        raise PlanDecodeError(f"unknown type {data['__type__']!r}")
    hints = _hints(cls)
    kwargs = {}
    for item in dataclasses.fields(cls):
        if item.name in data:
            kwargs[item.name] = _coerce(data[item.name], hints[item.name])
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise PlanDecodeError(f"{cls.__name__}: {error}") from error


def decode_plan(data: Any) -> RetunePlan:
    plan = decode(data)
    if not isinstance(plan, RetunePlan):
        raise PlanDecodeError("not a plan")
    return plan


def decode_revert(data: Any) -> RevertSpec:
    spec = decode(data)
    if not isinstance(spec, RevertSpec):
        raise PlanDecodeError("not a revert spec")
    return spec
