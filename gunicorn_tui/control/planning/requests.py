"""What an operator asks for: a scale, a retune of settings, and their parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from enum import StrEnum

from gunicorn_tui.model.instances import ConfigValue

# The settings a retune may change, in the order the Retune form shows them.
RETUNABLE_SETTINGS: tuple[str, ...] = (
    "workers",
    "worker_class",
    "threads",
    "worker_connections",
    "timeout",
    "graceful_timeout",
    "max_requests",
    "max_requests_jitter",
    "keepalive",
    "preload_app",
)


class RequestError(ValueError):
    """A request that cannot be understood (usage error)."""


class ScaleMode(StrEnum):
    """``+N`` adds, ``-N`` removes, ``=N`` sets the worker count."""

    ADD = "+"
    REMOVE = "-"
    SET = "="


@dataclass(frozen=True)
class ScaleRequest:
    """Change the number of workers now (not kept across a reload)."""

    mode: ScaleMode
    count: int

    def target(self, current: int) -> int:
        """The worker count this request asks for, from ``current``."""
        if self.mode is ScaleMode.ADD:
            return current + self.count
        if self.mode is ScaleMode.REMOVE:
            return current - self.count
        return self.count

    def __str__(self) -> str:
        return f"{self.mode.value}{self.count}"


_SCALE = re.compile(r"^\s*([+=-])\s*(\d+)\s*$")


def parse_scale(text: str) -> ScaleRequest:
    """``+2``, ``-1`` or ``=8``; RequestError otherwise."""
    match = _SCALE.match(text)
    if match is None:
        raise RequestError(f"{text!r}: expected +N, -N or =N (N a whole number)")
    mode, count = ScaleMode(match.group(1)), int(match.group(2))
    if mode is not ScaleMode.SET and count == 0:
        raise RequestError(f"{text!r}: adding or removing 0 workers changes nothing")
    return ScaleRequest(mode, count)


@dataclass(frozen=True)
class Consent:
    """What the operator allowed explicitly, beyond confirming a plan (``--yes``).

    Each is something a plan refuses without it and shows when it is given.
    """

    # Stop and start a host master gtui did not start.
    restart: bool = False
    # Restart (or check the config of) a host master that runs as another user.
    other_user: bool = False
    # Write gtui's config file into a directory bind-mounted from the host.
    bind_mount: bool = False
    # Re-create a container whose writable layer holds changes (docker diff).
    discard_changes: bool = False


NO_CONSENT = Consent()

# The command-line flag that gives each consent; refusals name the flag.
CONSENT_FLAGS: dict[str, str] = {
    "restart": "--restart",
    "other_user": "--allow-other-user",
    "bind_mount": "--allow-bind-mount",
    "discard_changes": "--discard-changes",
}


def consents_named(text: str | None) -> tuple[str, ...]:
    """The consents a refusal says would lift it (by the flags it names)."""
    if not text:
        return ()
    return tuple(name for name, flag in CONSENT_FLAGS.items() if flag in text)


def with_consents(consent: Consent, names: tuple[str, ...]) -> Consent:
    """``consent`` with ``names`` given as well."""
    return replace(consent, **{name: True for name in names})


@dataclass(frozen=True)
class RetuneRequest:
    """New values for some retunable settings; None leaves a setting as it is.

    ``allow_restart`` is the operator's explicit confirmation that a host
    master gtui did not start may be stopped and started again with the
    changed command line (its only way to change a pinned setting).
    """

    workers: int | None = None
    worker_class: str | None = None
    threads: int | None = None
    worker_connections: int | None = None
    timeout: int | None = None
    graceful_timeout: int | None = None
    max_requests: int | None = None
    max_requests_jitter: int | None = None
    keepalive: int | None = None
    preload_app: bool | None = None
    allow_restart: bool = False

    def changes(self) -> dict[str, ConfigValue]:
        """The settings this request names, by Gunicorn setting name."""
        values: dict[str, ConfigValue] = {}
        for item in fields(self):
            if item.name in RETUNABLE_SETTINGS:
                value = getattr(self, item.name)
                if value is not None:
                    values[item.name] = value
        return values

    @classmethod
    def from_changes(
        cls, changes: dict[str, ConfigValue], allow_restart: bool = False
    ) -> RetuneRequest:
        """Build a request from a settings mapping (unknown names: RequestError)."""
        unknown = sorted(set(changes) - set(RETUNABLE_SETTINGS))
        if unknown:
            raise RequestError(f"not retunable: {', '.join(unknown)}")
        return cls(allow_restart=allow_restart, **changes)  # type: ignore[arg-type]
