"""What the user asked to watch: container names or ids, and ``pid:N``."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum


class TargetKind(StrEnum):
    CONTAINER = "container"
    PID = "pid"


@dataclass(frozen=True)
class Target:
    """One TARGET argument."""

    kind: TargetKind
    value: str
    text: str

    @property
    def pid(self) -> int:
        return int(self.value)


class TargetSyntaxError(ValueError):
    """A TARGET argument that cannot mean anything."""


class TargetNotFound(LookupError):
    """A TARGET that names nothing running."""


def engine_and_container(value: str, engine_names: Collection[str]) -> tuple[str | None, str]:
    """``HOST/CONTAINER`` names a container on engine HOST when HOST is the name
    of an engine watched; anything else is a container name or id on any engine.

    Docker's container names hold no ``/``, so the last one splits (an engine
    named by its socket path holds some).
    """
    head, sep, tail = value.rpartition("/")
    if sep and tail and head in engine_names:
        return head, tail
    return None, value


def parse_target(text: str) -> Target:
    """``pid:N`` is a master (or worker) on this host; anything else a container."""
    text = text.strip()
    if not text:
        raise TargetSyntaxError("empty target")
    if text.startswith("pid:"):
        value = text[4:]
        if not value.isdigit() or int(value) <= 0:
            raise TargetSyntaxError(f"{text!r}: expected pid:N with N a positive number")
        return Target(TargetKind.PID, value, text)
    return Target(TargetKind.CONTAINER, text, text)
