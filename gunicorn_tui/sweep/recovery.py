"""Restore the original config of sweeps whose process was killed.

Runs after the control engine settled its own interrupted retunes: the
service then runs some config of the sweep (or the original), and one
more retune puts the original back. Sweeps whose process still runs are
left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gunicorn_tui.control.engine import ActionRefused, ControlEngine, EngineUnavailable
from gunicorn_tui.control.planning.running_config import running_config
from gunicorn_tui.control.service_engine import RetuneEngine
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.sweep.grid import config_of, same_point
from gunicorn_tui.sweep.journal import SweepJournal, SweepJournalStore, SweepTarget


@dataclass(frozen=True)
class SweepRecovery:
    """What recovery did with one sweep journal."""

    sweep_id: str
    target: str
    result: str  # restored, already original, in progress, failed
    detail: str

    @property
    def ok(self) -> bool:
        return self.result in ("restored", "already original")


def interrupted_sweeps(engine: ControlEngine) -> list[SweepJournal]:
    """Sweep journals left by processes that are gone."""
    return [j for j in SweepJournalStore(engine.state_dir).pending() if not j.holder_alive()]


def recover_sweep(
    journal: SweepJournal,
    engine: RetuneEngine,
    find: Callable[[SweepTarget], InstanceSample | None],
) -> SweepRecovery:
    """Put the sweep's target back on its original config, then archive."""
    target = journal.target
    if journal.holder_alive():
        return SweepRecovery(journal.id, target.label, "in progress", "its process still runs")
    try:
        original = journal.original
    except (ValueError, KeyError, TypeError) as error:
        return SweepRecovery(journal.id, target.label, "failed", f"journal unreadable: {error}")
    sample = find(target)
    if sample is None:
        return SweepRecovery(
            journal.id, target.label, "failed", f"{target.target_text} is not found"
        )
    if same_point(config_of(running_config(sample)), original):
        journal.archive(f"recovered: already on {original.label}")
        return SweepRecovery(journal.id, target.label, "already original", original.label)
    try:
        plan = engine.plan_retune(sample, original.request())
        if not plan.ok:
            raise ActionRefused(plan.refusal or "refused")
        outcome = engine.execute(plan)
    except (ActionRefused, EngineUnavailable) as error:
        return SweepRecovery(journal.id, target.label, "failed", str(error))
    if not outcome.ok:
        return SweepRecovery(journal.id, target.label, "failed", outcome.summary())
    journal.archive(f"recovered: restored {original.label}")
    return SweepRecovery(journal.id, target.label, "restored", original.label)
