"""Retune a Compose service as one: the engine the measuring runs (guided
A/B, interleaved rounds, sweeps) drive when their target is a service.

:class:`ServiceEngine` offers what those runs use of a
:class:`~gunicorn_tui.control.engine.ControlEngine` (:class:`RetuneEngine`):
``hold`` takes every replica's lock; ``plan_retune`` plans the change on
each replica (from its own sample, as for one container) and joins the
plans into one :class:`ServicePlan`; ``execute`` rolls it over the
replicas one at a time (:mod:`gunicorn_tui.control.running.service_roll`), each
with its own journal and rollback, and sums the outcome up. A roll that
stops at a failed replica (rolled back by its own executor) would leave the
replicas before it on the new configuration and the rest on the old one:
a measurement of the whole service cannot go on from there, so those are
retuned back too (each again with its own journal), last first, and the
outcome says whether the service is whole on its old configuration.

The replicas come from a :class:`~gunicorn_tui.compare.service_view.ServiceView`
(its latest frame), so a plan is made from what the replicas run now.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gunicorn_tui.control.durability.journal import OutcomeStatus
from gunicorn_tui.control.engine import ActionRefused, ControlEngine, EngineUnavailable
from gunicorn_tui.control.planning.plan import (
    ActionKind,
    PlanStep,
    PlanTarget,
    RetunePlan,
    Strategy,
)
from gunicorn_tui.control.planning.requests import Consent, RetuneRequest
from gunicorn_tui.control.planning.running_config import running_config
from gunicorn_tui.control.running.interrupt import Interrupt
from gunicorn_tui.control.running.progress import (
    ActionOutcome,
    ProgressCallback,
    ServiceStanding,
)
from gunicorn_tui.control.running.recovery import PendingAction
from gunicorn_tui.control.running.service_roll import (
    ReplicaResult,
    ReplicaStatus,
    RollOutcome,
    replica_name,
    roll_over_replicas,
)
from gunicorn_tui.model.instances import ConfigValue, InstanceSample

# The planner's refusal when a replica already runs the settings asked for.
ALREADY_RUNNING = "the server already runs with these settings"
# How long a replica's sample may take to show the config just set.
_FRESH_WAIT_S = 15.0
# The cheaper strategies first: a service's strategy is its costliest replica's.
_COST = (
    Strategy.CONTROL_SOCKET,
    Strategy.SIGNALS,
    Strategy.RELOAD,
    Strategy.HUP_WITH_CONFIG,
    Strategy.RESTART_LOCAL,
    Strategy.RECREATE,
)


class RetuneEngine(Protocol):
    """What the measuring runs need of an engine: one container's
    (:class:`ControlEngine`) or a whole service's (:class:`ServiceEngine`)."""

    read_only: bool
    state_dir: Path

    def hold(self, sample: InstanceSample, purpose: str) -> AbstractContextManager[None]: ...

    def plan_retune(
        self, sample: InstanceSample, request: RetuneRequest, consent: Consent | None = None
    ) -> RetunePlan: ...

    def execute(
        self,
        plan: RetunePlan,
        on_event: ProgressCallback | None = None,
        interrupt: Interrupt | None = None,
    ) -> ActionOutcome: ...

    def pending(self) -> list[PendingAction]: ...


@dataclass(frozen=True)
class ServicePlan(RetunePlan):
    """The plans of every replica as one (steps prefixed with the replica's
    name); ``replicas`` holds each replica's sample and own plan, in roll
    order. A replica that already runs the settings is left out of the roll."""

    replicas: tuple[tuple[InstanceSample, RetunePlan], ...] = ()

    def to_roll(self) -> list[tuple[InstanceSample, RetunePlan]]:
        return [(s, p) for s, p in self.replicas if p.refusal != ALREADY_RUNNING]


def _strategy(plans: Sequence[RetunePlan]) -> Strategy | None:
    strategies = [p.strategy for p in plans if p.strategy is not None]
    if not strategies:
        return None
    return max(strategies, key=lambda s: _COST.index(s) if s in _COST else len(_COST))


class ServiceEngine:
    """A service's replicas retuned as one (module docstring).

    ``replicas`` returns the replicas of the latest frame; ``service`` is
    the ``PROJECT/SERVICE`` text, ``key`` the combined instance's key.
    """

    def __init__(
        self,
        engine: ControlEngine,
        replicas: Callable[[], Sequence[InstanceSample]],
        service: str,
        key: str,
        refresh: Callable[[], Sequence[InstanceSample]] | None = None,
    ) -> None:
        self.engine = engine
        self._replicas = replicas
        # Samples the replicas anew (to undo a part-done roll from what they
        # run now); None: a failed roll is left as it stopped.
        self._refresh = refresh
        self.service = service
        self.key = key
        self.read_only = engine.read_only
        self.state_dir = engine.state_dir
        self.last_roll: RollOutcome | None = None
        self.rolls: list[RollOutcome] = []

    def replicas(self) -> tuple[InstanceSample, ...]:
        found = tuple(self._replicas())
        if not found:
            raise ActionRefused(f"no replica of {self.service} is found")
        return found

    @contextlib.contextmanager
    def hold(self, sample: InstanceSample, purpose: str) -> Iterator[None]:
        """Every replica's lock, for the whole run."""
        with contextlib.ExitStack() as held:
            for replica in self.replicas():
                held.enter_context(self.engine.hold(replica, purpose))
            yield

    def plan_retune(
        self, sample: InstanceSample, request: RetuneRequest, consent: Consent | None = None
    ) -> RetunePlan:
        """Each replica's plan, joined; refused when any replica's is (other
        than for already running the settings)."""
        planned = [
            (replica, self.engine.plan_retune(replica, request, consent))
            for replica in self.replicas()
        ]
        first = planned[0][1]
        refused = [(r, p) for r, p in planned if not p.ok and p.refusal != ALREADY_RUNNING]
        moving = [p for _r, p in planned if p.refusal != ALREADY_RUNNING]
        refusal = None
        if refused:
            replica, plan = refused[0]
            refusal = f"{replica_name(replica)}: {plan.refusal}"
        elif not moving:
            refusal = ALREADY_RUNNING
        steps = tuple(
            PlanStep(f"{replica_name(r)}: {step.description}", step.action, step.changes_service)
            for r, p in planned
            if p.ok
            for step in p.steps
        )
        shown = moving[0] if moving else first
        notes = tuple(dict.fromkeys(note for _r, p in planned for note in p.notes))
        return ServicePlan(
            action=ActionKind.RETUNE,
            target=PlanTarget(
                key=self.key,
                label=f"{self.service} ({len(planned)} replicas, one at a time)",
                source=first.target.source,
                lock_key=self.key,
                master_pid=first.target.master_pid,
                host=first.target.host,
            ),
            strategy=_strategy([p for _r, p in planned if p.ok]),
            steps=steps,
            before=shown.before,
            after=shown.after,
            refusal=refusal,
            notes=notes,
            created_at=first.created_at,
            deadline_s=sum(p.deadline_s for _r, p in planned),
            replicas=tuple(planned),
        )

    def execute(
        self,
        plan: RetunePlan,
        on_event: ProgressCallback | None = None,
        interrupt: Interrupt | None = None,
    ) -> ActionOutcome:
        """Roll ``plan`` over the replicas, one at a time."""
        if not isinstance(plan, ServicePlan):
            raise ActionRefused("a service's plan is made by its own engine")
        if not plan.ok:
            raise ActionRefused(plan.refusal or "refused")
        plans = {id(sample): replica_plan for sample, replica_plan in plan.to_roll()}

        def step(sample: InstanceSample) -> tuple[RetunePlan, ActionOutcome | None]:
            replica_plan = plans[id(sample)]
            return replica_plan, self.engine.execute(replica_plan, on_event, interrupt)

        roll = roll_over_replicas(self.service, [s for s, _p in plan.to_roll()], step)
        self.last_roll = roll
        self.rolls.append(roll)
        outcome = _outcome(plan, roll)
        if roll.ok or roll.done == 0 or self._refresh is None:
            return outcome
        if outcome.status is OutcomeStatus.NEEDS_RECOVERY:
            return outcome  # a replica's state is unknown: `gtui recover` first
        problems = self._undo(roll)
        if problems:
            return dataclasses.replace(
                outcome,
                error=f"{outcome.error}; undoing the replicas done failed: {'; '.join(problems)}",
            )
        return dataclasses.replace(
            outcome,
            status=OutcomeStatus.ROLLED_BACK,
            error=f"{outcome.error}; the {roll.done} replica(s) done were retuned back: "
            "every replica runs the old config",
            standing=ServiceStanding.OLD,
        )

    def _undo(self, roll: RollOutcome) -> list[str]:
        """Retune the replicas the roll did back to their old values, last
        first; what could not be undone, one line each."""
        problems = []
        for result in reversed([r for r in roll.results if r.status is ReplicaStatus.DONE]):
            done = result.plan
            assert done is not None
            back = {k: done.before[k] for k in done.after if done.before.get(k) is not None}
            sample, current = self._fresh(result.name, done.after)
            if sample is None:
                problems.append(f"{result.name}: not found")
                continue
            try:
                undo = self.engine.plan_retune(sample, RetuneRequest.from_changes(back))
                if undo.refusal == ALREADY_RUNNING:
                    if not current:
                        # Its executor saw the new config served: this sample is stale.
                        problems.append(f"{result.name}: its sample still shows the old config")
                    continue
                if not undo.ok:
                    problems.append(f"{result.name}: {undo.refusal}")
                    continue
                outcome = self.engine.execute(undo)
            except (ActionRefused, EngineUnavailable) as error:
                problems.append(f"{result.name}: {error}")
                continue
            if not outcome.ok:
                problems.append(f"{result.name}: {outcome.summary()}")
        return problems

    def _fresh(
        self, name: str, after: Mapping[str, ConfigValue]
    ) -> tuple[InstanceSample | None, bool]:
        """Replica ``name`` as sampled now, once its sample shows ``after``
        (a config is re-read a moment after a reload), else as last seen;
        and whether it shows ``after``."""
        assert self._refresh is not None
        deadline = time.monotonic() + _FRESH_WAIT_S
        found = None
        while True:
            found = next((r for r in self._refresh() if replica_name(r) == name), found)
            if found is not None:
                running = running_config(found)
                if all(running.value(k) == v for k, v in after.items()):
                    return found, True
            if time.monotonic() >= deadline:
                return found, False
            time.sleep(0.5)

    def pending(self) -> list[PendingAction]:
        """Interrupted actions on any replica, named by the service."""
        labels = {sample.label for sample in self._replicas()}
        label = f"pid:{self.replicas()[0].master.pid}" if self._replicas() else self.service
        return [
            dataclasses.replace(item, target=label)
            for item in self.engine.pending()
            if item.target in labels
        ]


def replica_count(engine: RetuneEngine) -> int:
    """How many servers a retune through ``engine`` changes: a service's
    replicas, else one."""
    return len(engine.replicas()) if isinstance(engine, ServiceEngine) else 1


def _outcome(plan: ServicePlan, roll: RollOutcome) -> ActionOutcome:
    outcomes = [r.outcome for r in roll.results if r.outcome is not None]
    if roll.ok:
        status = OutcomeStatus.OK
    elif any(o.status is OutcomeStatus.NEEDS_RECOVERY for o in outcomes):
        status = OutcomeStatus.NEEDS_RECOVERY
    else:
        status = OutcomeStatus.FAILED
    served = [o.served_after_s for o in outcomes if o.served_after_s is not None]
    standing = ServiceStanding.NEW
    if not roll.ok:
        standing = (
            ServiceStanding.UNKNOWN
            if status is OutcomeStatus.NEEDS_RECOVERY
            else ServiceStanding.OLD
            if roll.done == 0
            else ServiceStanding.UNKNOWN
        )
    return ActionOutcome(
        status=status,
        action=plan.action.value,
        strategy=plan.strategy.value if plan.strategy else None,
        target=plan.target.label,
        before=plan.before,
        after=plan.after,
        steps_done=sum(o.steps_done for o in outcomes),
        steps_total=sum(o.steps_total for o in outcomes),
        error=None if roll.ok else roll.summary(),
        served_after_s=max(served) if served else None,
        notes=tuple(_line(result) for result in roll.results),
        interrupted=next((o.interrupted for o in outcomes if o.interrupted), None),
        standing=standing,
    )


def _line(result: ReplicaResult) -> str:
    return result.line
