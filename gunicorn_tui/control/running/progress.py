"""What the executor reports while it runs, and what an action ends with.

Events are frozen dataclasses, past tense, posted through a callback; the
dashboard turns them into messages. ``ActionOutcome`` is the final word:
what changed, before and after, how long until the new config served,
what the service saw meanwhile, and why it failed if it did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gunicorn_tui.control.durability.journal import OutcomeStatus
from gunicorn_tui.control.running.service_probe import Disruption
from gunicorn_tui.model.instances import ConfigValue
from gunicorn_tui.sampling.local_instance import LaunchRecord


class ServiceStanding(StrEnum):
    """Which configuration the service runs once an action is over."""

    OLD = "old config"
    NEW = "new config"
    NEW_UNVERIFIED = "new config (not verified: the wait was cut short)"
    UNKNOWN = "unknown: run `gtui recover`"


@dataclass(frozen=True)
class StepStarted:
    index: int
    total: int
    description: str
    command: str


@dataclass(frozen=True)
class StepFinished:
    index: int
    total: int
    description: str
    detail: str
    duration_ms: float


@dataclass(frozen=True)
class StepFailed:
    index: int
    total: int
    description: str
    error: str


@dataclass(frozen=True)
class RollbackStarted:
    reason: str


@dataclass(frozen=True)
class RollbackFinished:
    ok: bool
    detail: str


@dataclass(frozen=True)
class ActionOutcome:
    """The result of one executed plan."""

    status: OutcomeStatus
    action: str
    strategy: str | None
    target: str
    before: Mapping[str, ConfigValue]
    after: Mapping[str, ConfigValue]
    steps_done: int
    steps_total: int
    error: str | None = None
    # Seconds from the first step until the server ran the new config (None
    # when it never did).
    served_after_s: float | None = None
    disruption: Disruption | None = None
    new_container_logs: str | None = None
    journal_id: str | None = None
    journal_path: str | None = None
    new_master_pid: int | None = None
    new_container_id: str | None = None
    launch: LaunchRecord | None = None
    notes: tuple[str, ...] = field(default=())
    # Why the action was cut short ("SIGINT"), None when it ran its course.
    interrupted: str | None = None
    standing: ServiceStanding = ServiceStanding.NEW

    @property
    def needs_recovery(self) -> bool:
        return self.status is OutcomeStatus.NEEDS_RECOVERY

    def standing_line(self) -> str:
        """The last word on the service: old or new config, or run recover."""
        if self.needs_recovery:
            return f"the service's state is unknown: run `gtui recover` (journal {self.journal_id})"
        return f"the service runs the {self.standing.value}"

    @property
    def ok(self) -> bool:
        return self.status is OutcomeStatus.OK

    def summary(self) -> str:
        """One line for a status bar or the CLI."""
        text = f"{self.action} {self.target}: {self.status.value}"
        if self.served_after_s is not None:
            text += f", new config served after {self.served_after_s:.2f} s"
        if self.disruption is not None:
            text += (
                f", probes {self.disruption.probes - self.disruption.failed_probes}/"
                f"{self.disruption.probes} ok, longest outage "
                f"{self.disruption.longest_outage_s:.2f} s"
            )
        if self.error:
            text += f" ({self.error})"
        return text


ProgressEvent = StepStarted | StepFinished | StepFailed | RollbackStarted | RollbackFinished
ProgressCallback = Callable[[ProgressEvent], None]
