"""What the user asked to watch: container names or ids, and ``pid:N``."""

from __future__ import annotations

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
