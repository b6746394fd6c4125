"""Rolling an action over the replicas of a Compose service, one at a time.

Each replica gets its own plan, lock, journal and rollback (the single
container path, unchanged); the others keep serving meanwhile. The roll
stops at the first replica whose plan is refused or whose action fails (it
has then been rolled back by its own executor): replicas already done keep
the new configuration, the rest keep the old one, and the outcome says
which is which.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gunicorn_tui.control.planning.plan import RetunePlan
from gunicorn_tui.control.running.progress import ActionOutcome
from gunicorn_tui.model.instances import ConfigValue, InstanceSample


class ReplicaStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"
    REFUSED = "refused"
    NOT_STARTED = "not started"


@dataclass(frozen=True)
class ReplicaResult:
    """What the roll did to one replica."""

    name: str
    status: ReplicaStatus
    plan: RetunePlan | None = None
    outcome: ActionOutcome | None = None

    @property
    def line(self) -> str:
        if self.status is ReplicaStatus.DONE and self.outcome is not None:
            return f"{self.name}: {self.outcome.summary()}"
        if self.status is ReplicaStatus.FAILED and self.outcome is not None:
            return f"{self.name}: FAILED: {self.outcome.summary()} ({self.outcome.standing_line()})"
        if self.status is ReplicaStatus.REFUSED and self.plan is not None:
            return f"{self.name}: refused: {self.plan.refusal}"
        return f"{self.name}: not started (keeps its configuration)"


@dataclass(frozen=True)
class RollOutcome:
    """The whole roll: one result per replica, in roll order."""

    service: str
    results: tuple[ReplicaResult, ...]

    @property
    def ok(self) -> bool:
        return all(result.status is ReplicaStatus.DONE for result in self.results)

    @property
    def done(self) -> int:
        return sum(result.status is ReplicaStatus.DONE for result in self.results)

    def summary(self) -> str:
        total = len(self.results)
        if self.ok:
            return f"{self.service}: all {total} replicas done"
        stopped = next(r for r in self.results if r.status is not ReplicaStatus.DONE)
        return (
            f"{self.service}: stopped at {stopped.name} ({stopped.status.value}); "
            f"{self.done} of {total} replicas run the new configuration, the others the old "
            "one and keep serving"
        )


# One replica's turn: make its plan (under its lock) and run it. The outcome
# is None when the plan was refused (nothing ran).
ReplicaStep = Callable[[InstanceSample], tuple[RetunePlan, ActionOutcome | None]]


def replica_name(sample: InstanceSample) -> str:
    return sample.container.name if sample.container is not None else sample.label


def roll_over_replicas(
    service: str,
    replicas: Sequence[InstanceSample],
    step: ReplicaStep,
    on_replica: Callable[[int, int, InstanceSample], None] | None = None,
) -> RollOutcome:
    """Run ``step`` on each replica in turn, stopping at the first that does not succeed."""
    results: list[ReplicaResult] = []
    stopped = False
    for index, sample in enumerate(replicas):
        name = replica_name(sample)
        if stopped:
            results.append(ReplicaResult(name, ReplicaStatus.NOT_STARTED))
            continue
        if on_replica is not None:
            on_replica(index, len(replicas), sample)
        plan, outcome = step(sample)
        if outcome is None:
            results.append(ReplicaResult(name, ReplicaStatus.REFUSED, plan))
            stopped = True
        elif outcome.ok:
            results.append(ReplicaResult(name, ReplicaStatus.DONE, plan, outcome))
        else:
            results.append(ReplicaResult(name, ReplicaStatus.FAILED, plan, outcome))
            stopped = True
    return RollOutcome(service, tuple(results))


def _running_value(sample: InstanceSample, name: str) -> ConfigValue:
    if name == "workers":
        return sample.workers_target if sample.workers_target is not None else len(sample.workers)
    return sample.config.value(name)


def replica_disagreements(replicas: Sequence[InstanceSample], names: Sequence[str]) -> list[str]:
    """The settings among ``names`` on which the replicas differ, each with
    its values (``workers: web_1=2, web_2=3``). ``workers`` is the count each
    master runs now (a scale changes it without changing the config)."""
    found: list[str] = []
    for name in names:
        values: dict[str, ConfigValue] = {
            replica_name(sample): _running_value(sample, name) for sample in replicas
        }
        if len(set(map(repr, values.values()))) > 1:
            shown = ", ".join(f"{replica}={value}" for replica, value in values.items())
            found.append(f"{name}: {shown}")
    return found
