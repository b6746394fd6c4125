"""What every planning strategy reads, and what each one answers.

A strategy (scale, HUP reload, restart, re-create) reads one
:class:`StrategyContext` and answers a :class:`StrategyResult`: a plan, or the
reasons it cannot make one (which the planner may combine with why a less
disruptive strategy could not be used either).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from gunicorn_tui.control.planning.facts import RetuneFacts
from gunicorn_tui.control.planning.plan import (
    DEFAULT_DEADLINE_S,
    ActionKind,
    PlanStep,
    PlanTarget,
    RetunePlan,
    RevertSpec,
    Strategy,
)
from gunicorn_tui.control.planning.requests import NO_CONSENT, Consent
from gunicorn_tui.control.planning.strategy_common import plan_target
from gunicorn_tui.model.instances import ConfigValue, InstanceSample


@dataclass(frozen=True)
class StrategyContext:
    """One action on one instance, as every strategy sees it.

    ``changes`` are the settings to apply (only those that differ from what
    runs), ``before``/``after`` what the plan shows and records. ``restore``
    is set when the action is a revert: the strategy then puts back exactly
    what that earlier action recorded (its file content, container command or
    host command line) instead of rewriting the current one with ``changes``.
    """

    sample: InstanceSample
    facts: RetuneFacts
    action: ActionKind
    changes: Mapping[str, ConfigValue] = field(default_factory=dict)
    before: Mapping[str, ConfigValue] = field(default_factory=dict)
    after: Mapping[str, ConfigValue] = field(default_factory=dict)
    consent: Consent = NO_CONSENT
    restore: RevertSpec | None = None

    @property
    def target(self) -> PlanTarget:
        return plan_target(self.sample, self.facts)

    def plan(
        self,
        strategy: Strategy,
        steps: Sequence[PlanStep],
        notes: Sequence[str],
        revert: RevertSpec,
        *,
        deadline_s: float = DEFAULT_DEADLINE_S,
        temporary_name: str | None = None,
        aside_name: str | None = None,
        discarded_changes: tuple[str, ...] = (),
    ) -> StrategyResult:
        """A plan of this action by ``strategy``, showing ``before`` and
        ``after`` (a re-create also names its temporary and set-aside
        containers and the layer paths the operator agreed to lose)."""
        return StrategyResult.planned(
            RetunePlan(
                action=self.action,
                target=self.target,
                strategy=strategy,
                steps=tuple(steps),
                before=dict(self.before),
                after=dict(self.after),
                notes=tuple(notes),
                revert=revert,
                created_at=time.time(),
                deadline_s=deadline_s,
                temporary_name=temporary_name,
                aside_name=aside_name,
                discarded_changes=discarded_changes,
            )
        )

    def refuse(self, reason: str, notes: tuple[str, ...] = ()) -> RetunePlan:
        """A refused plan of this action, showing ``before`` and ``after``."""
        return RetunePlan(
            action=self.action,
            target=self.target,
            strategy=None,
            steps=(),
            before=dict(self.before),
            after=dict(self.after),
            refusal=reason,
            notes=notes,
            created_at=time.time(),
        )


@dataclass(frozen=True)
class StrategyResult:
    """A strategy's answer: its plan, or why it has none (``refusals``, never empty then)."""

    plan: RetunePlan | None
    refusals: tuple[str, ...] = ()

    @classmethod
    def planned(cls, plan: RetunePlan) -> StrategyResult:
        return cls(plan)

    @classmethod
    def refused(cls, *reasons: str) -> StrategyResult:
        return cls(None, tuple(reasons))

    def to_plan(self, context: StrategyContext, why_not_less: tuple[str, ...] = ()) -> RetunePlan:
        """The plan, its notes led by ``why_not_less`` (why a less disruptive
        strategy was not used); else a refusal giving every reason."""
        if self.plan is not None:
            return replace(self.plan, notes=why_not_less + self.plan.notes)
        return context.refuse("; ".join([*self.refusals, *why_not_less]))
