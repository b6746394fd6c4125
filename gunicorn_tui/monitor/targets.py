"""What the user asked to watch: container names or ids, ``pid:N``, and
``PROJECT/SERVICE`` (every replica of a Compose service)."""

from __future__ import annotations

from collections.abc import Collection
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
    # ``HOST/pid:N``: a master on engine HOST's machine (seen through the gtui
    # agent there); None for this machine's ``pid:N`` and for containers.
    host: str | None = None

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


def parse_target(text: str, engine_names: Collection[str] = ()) -> Target:
    """``pid:N`` is a master (or worker) on this host, ``HOST/pid:N`` one on
    engine HOST's machine (through its gtui agent); ``HOST/CONTAINER`` a
    container on engine HOST when HOST is one of ``engine_names``; another
    ``A/B`` a Compose service; anything else a container."""
    text = text.strip()
    if not text:
        raise TargetSyntaxError("empty target")
    host: str | None = None
    head, sep, tail = text.rpartition("/")
    if sep and head in engine_names and tail.startswith("pid:"):
        host = head
    pid_text = tail if host is not None else text
    if pid_text.startswith("pid:"):
        value = pid_text[4:]
        if not value.isdigit() or int(value) <= 0:
            raise TargetSyntaxError(f"{text!r}: expected pid:N with N a positive number")
        return Target(TargetKind.PID, value, text, host)
    if engine_and_container(text, engine_names)[0] is not None:
        return Target(TargetKind.CONTAINER, text, text)
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
