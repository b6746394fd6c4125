"""What the user asked to watch: container names or ids, ``pid:N``, and
``PROJECT/SERVICE`` (every replica of a Compose service)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TargetKind(StrEnum):
    CONTAINER = "container"
    PID = "pid"
    SERVICE = "service"


@dataclass(frozen=True)
class Target:
    """One TARGET argument."""

    kind: TargetKind
    value: str
    text: str

    @property
    def pid(self) -> int:
        return int(self.value)

    @property
    def service(self) -> tuple[str, str]:
        """``(project, service)`` of a SERVICE target."""
        project, _, service = self.value.partition("/")
        return project, service


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
    service = split_service_target(text)
    if service is not None:
        return Target(TargetKind.SERVICE, "/".join(service), text)
    return Target(TargetKind.CONTAINER, text, text)


def split_service_target(text: str) -> tuple[str, str] | None:
    """``(project, service)`` when ``text`` is ``PROJECT/SERVICE``, else None.

    A container name never holds a ``/``, so one slash means a Compose service.
    (Kept as one function so another meaning of ``A/B``, such as a named
    engine and a container, can be tried before it.)
    """
    project, sep, service = text.partition("/")
    if not sep or "/" in service:
        return None  # more slashes: not a service (an engine named by its socket path)
    if not project or not service:
        raise TargetSyntaxError(f"{text!r}: expected PROJECT/SERVICE (a Compose service)")
    return project, service
