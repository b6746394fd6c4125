"""Run a sweep: for each config retune, warm up, measure under the same
load, record; then rank, and restore the original config.

Order of business:

1. The caller checks the values (:func:`~gunicorn_tui.sweep.grid.check_grid`)
   and a read-only engine is refused here, before anything changes.
2. The original config is journaled (:mod:`gunicorn_tui.sweep.journal`).
3. Each config: retune through the control engine (skipped when the service
   already runs it), measure ``warmup_s + measure_s`` under the profile
   with the warm-up left out. A retune that fails (the new config does not
   boot: the engine rolls back) is recorded as failed and the sweep goes on.
4. The original config is restored (or the winner kept when asked), and
   the journal archived.

Cancelling (the ``cancel`` event: the CLI sets it on Ctrl-C) stops the
measurement within a second; a retune in progress is finished by the
engine, never abandoned, and then the original config is restored.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from gunicorn_tui.compare.comparison import EpochComparison, Significance, compare_epochs
from gunicorn_tui.compare.engine_switcher import EngineSwitcher, interleavable
from gunicorn_tui.compare.epochs import Epoch, EpochTracker
from gunicorn_tui.compare.interleave import (
    InterleaveResult,
    InterleaveSettings,
    InterleaveStatus,
    RoundProgress,
    SwitchFailed,
    leader_judge,
    run_interleaved,
    side_epoch,
)
from gunicorn_tui.compare.measurement import (
    FrameSource,
    MeasurementError,
    MeasurementProgress,
    measure_epoch,
)
from gunicorn_tui.compare.metrics import Metric
from gunicorn_tui.compare.summary import DEFAULT_MIN_MEASURED_S, EpochSummary, summarize
from gunicorn_tui.compare.verdict import DEFAULT_SPENDING, Effect, LookPlan, Verdict
from gunicorn_tui.control.durability.journal import OutcomeStatus
from gunicorn_tui.control.engine import (
    READ_ONLY_REASON,
    ActionRefused,
    EngineUnavailable,
)
from gunicorn_tui.control.planning.running_config import running_config
from gunicorn_tui.control.service_engine import RetuneEngine, replica_count
from gunicorn_tui.load.profile import LoadProfile
from gunicorn_tui.load.target import LoadTarget
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.sweep.baseline import BaselineEffect, baseline_index, effects_against
from gunicorn_tui.sweep.grid import SweepConfig, config_of, same_point
from gunicorn_tui.sweep.journal import SweepJournal, SweepJournalStore, engine_record

MAX_MEASURE_S = 600.0
_SETTLE_INTERVAL_S = 0.5


class SweepStatus(StrEnum):
    """How a sweep ended."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"  # the service could not be kept on a known config by itself


class ConfigStatus(StrEnum):
    """How one config fared."""

    MEASURED = "measured"
    FAILED = "failed"  # did not boot, or the retune was refused
    SKIPPED = "skipped"  # cancelled before its turn


@dataclass(frozen=True)
class ConfigResult:
    """One config's measurement (or why it has none)."""

    config: SweepConfig
    status: ConfigStatus
    summary: EpochSummary | None
    epoch: Epoch | None
    error: str | None = None
    retune: str | None = None  # the engine's summary of the retune

    @property
    def throughput_rps(self) -> float | None:
        """Server-side req/s, else the load driver's."""
        if self.summary is None:
            return None
        if self.summary.requests_per_s is not None:
            return self.summary.requests_per_s
        return self.summary.client_requests_per_s

    @property
    def latency_p99_ms(self) -> float | None:
        """Server-side p99 (access log with a duration), else the load
        driver's, measured from each request's due time."""
        if self.summary is None:
            return None
        if self.summary.latency_p99_ms is not None:
            return self.summary.latency_p99_ms
        return self.summary.client_latency_p99_ms


@dataclass(frozen=True)
class SweepSettings:
    """How long each config is warmed up and measured."""

    warmup_s: float = 5.0
    measure_s: float = 20.0
    interval_s: float = 1.0
    min_measured_s: float = DEFAULT_MIN_MEASURED_S
    keep_winner: bool = False
    # Interleaved rounds when every config is a scale or a HUP away (see
    # compare/interleave.py): None measures each config once, in turn.
    interleave: InterleaveSettings | None = None


@dataclass(frozen=True)
class SweepProgress:
    """Posted as the sweep goes."""

    index: int  # the config being handled (0-based); -1 before and after
    total: int
    stage: str  # "retune", "measure", "restore", "done"
    detail: str
    # While measuring, once a sample: how far (and whether still in warm-up).
    measurement: MeasurementProgress | None = None
    # Interleaved: the round under way and the latest look.
    rounds: RoundProgress | None = None


@dataclass(frozen=True)
class SweepResult:
    """What a sweep measured, who won, and what the service runs now."""

    status: SweepStatus
    original: SweepConfig
    results: tuple[ConfigResult, ...]
    winner: int | None  # index into results
    runner_up: int | None
    comparison: EpochComparison | None  # runner-up (before) vs winner (after)
    config_now: str
    restored: bool
    reason: str | None
    elapsed_s: float
    profile_label: str
    journal_path: str | None
    # Interleaved rounds: their verdict (winner against runner-up); None
    # when each config was measured once, in turn.
    verdict: InterleaveResult | None = None
    notes: tuple[str, ...] = ()
    # Interleaved: each other config's throughput against the baseline
    # config (the original when in the grid, else the first), 95 % intervals.
    versus_baseline: tuple[BaselineEffect, ...] = ()

    @property
    def winner_effect(self) -> Effect | None:
        """The winner's throughput effect over the runner-up, with its
        interval (interleaved sweeps only)."""
        look = self.verdict.final if self.verdict is not None else None
        if look is None:
            return None
        return next((e for e in look.effects if e.primary), None)

    @property
    def winner_significance(self) -> Significance | None:
        """How sure the throughput lead over the runner-up is."""
        effect = self.winner_effect
        if effect is not None:
            return _SIGNIFICANCE_OF[effect.verdict]
        if self.comparison is None:
            return None
        return self.comparison.metric(Metric.REQUESTS_PER_S).significance

    @property
    def winner_margin_percent(self) -> float | None:
        """The winner's throughput lead over the runner-up, in percent."""
        effect = self.winner_effect
        if effect is not None:
            return 100.0 * effect.estimate if effect.estimate is not None else None
        if self.comparison is None:
            return None
        return self.comparison.metric(Metric.REQUESTS_PER_S).percent_change


_SIGNIFICANCE_OF = {
    Verdict.SIGNIFICANT: Significance.SIGNIFICANT,
    Verdict.NEGLIGIBLE: Significance.NEGLIGIBLE,
    Verdict.INCONCLUSIVE: Significance.NOT_SIGNIFICANT,
    Verdict.NO_DATA: Significance.NOT_ENOUGH_DATA,
}


class _Post(Protocol):
    def __call__(
        self, index: int, stage: str, detail: str, measurement: MeasurementProgress | None = None
    ) -> None: ...


class SweepRefused(Exception):
    """A sweep that will not start; nothing was changed."""


def rank(results: tuple[ConfigResult, ...]) -> list[int]:
    """Indices of measured configs with enough data, best throughput first."""
    usable = [
        index
        for index, result in enumerate(results)
        if result.status is ConfigStatus.MEASURED
        and result.summary is not None
        and result.summary.enough_data
        and result.throughput_rps is not None
    ]
    return sorted(usable, key=lambda index: -(results[index].throughput_rps or 0.0))


def run_sweep(
    frames: FrameSource,
    tracker: EpochTracker,
    engine: RetuneEngine,
    configs: tuple[SweepConfig, ...],
    profile: LoadProfile,
    target: LoadTarget,
    *,
    settings: SweepSettings | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[SweepProgress], None] | None = None,
) -> SweepResult:
    """Run the sweep on the instance ``tracker`` follows (module docstring).

    The target's lock is held for the whole sweep: no other gtui, on this host
    or on another one driving the same engine, acts on it meanwhile.
    """
    if engine.read_only:
        raise SweepRefused(READ_ONLY_REASON)
    sample = _current(frames, tracker)
    if sample is None:
        raise SweepRefused("the instance is not found")
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(engine.hold(sample, "sweep"))
        except (ActionRefused, EngineUnavailable) as error:
            raise SweepRefused(str(error)) from error
        return _run_sweep(
            frames,
            tracker,
            engine,
            configs,
            profile,
            target,
            settings=settings,
            cancel=cancel,
            on_progress=on_progress,
        )


def _run_sweep(
    frames: FrameSource,
    tracker: EpochTracker,
    engine: RetuneEngine,
    configs: tuple[SweepConfig, ...],
    profile: LoadProfile,
    target: LoadTarget,
    *,
    settings: SweepSettings | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[SweepProgress], None] | None = None,
) -> SweepResult:
    shape = settings or SweepSettings()
    if engine.read_only:
        raise SweepRefused(READ_ONLY_REASON)
    if not configs:
        raise SweepRefused("no configs to sweep")
    if not 0 < shape.measure_s <= MAX_MEASURE_S or shape.warmup_s < 0:
        raise SweepRefused(f"--measure must be in (0, {MAX_MEASURE_S:g}] s, --warmup >= 0")
    cancel = cancel if cancel is not None else threading.Event()
    started = time.monotonic()
    sample = _current(frames, tracker)
    if sample is None:
        raise SweepRefused("the instance is not found")
    original = config_of(running_config(sample))
    if original is None:
        raise SweepRefused("the current worker count is unknown: nothing to restore to")
    pending = [j for j in engine.pending() if j.target == sample.label]
    if pending:
        raise SweepRefused(
            f"an interrupted {pending[0].action} ({pending[0].journal_id}) must be settled "
            "first: run `gtui recover`"
        )
    journal = SweepJournalStore(engine.state_dir).begin(
        sample, original, configs, engine_record(engine, sample)
    )

    def post(
        index: int, stage: str, detail: str, measurement: MeasurementProgress | None = None
    ) -> None:
        if on_progress is not None:
            on_progress(SweepProgress(index, len(configs), stage, detail, measurement))

    if shape.interleave is not None and len(configs) > 1:
        why_not = _not_interleavable(engine, sample, configs, original)
        if why_not is None:
            return _interleaved_sweep(
                frames, tracker, engine, configs, profile, target, shape, shape.interleave,
                cancel, on_progress, original, journal, started,
            )  # fmt: skip
        fallback_note = f"each config measured once, in turn (not interleaved): {why_not}"
    else:
        fallback_note = None
    results: list[ConfigResult] = []
    reason: str | None = None
    broken = False
    # What the service runs, as the sweep knows it: a sample's config can lag
    # a reload by a few seconds, the engine's outcome does not.
    running = original
    for index, config in enumerate(configs):
        if cancel.is_set():
            break
        result, broken = _run_one(
            index, config, running, frames, tracker, engine, profile, target, shape, cancel, post
        )
        if result.retune is not None and result.status is not ConfigStatus.FAILED:
            running = config
        results.append(result)
        journal.note(current=config.label, done=len(results))
        if broken:
            reason = f"{config.label}: {result.error}; the service needs `gtui recover`"
            break
    for config in configs[len(results) :]:
        results.append(ConfigResult(config, ConfigStatus.SKIPPED, None, None, "cancelled"))
    frozen = tuple(results)
    order = rank(frozen)
    winner = order[0] if order else None
    runner_up = order[1] if len(order) > 1 else None
    comparison = None
    if winner is not None and runner_up is not None:
        before, after = frozen[runner_up].epoch, frozen[winner].epoch
        assert before is not None and after is not None
        comparison = compare_epochs(before, after, min_measured_s=shape.min_measured_s)
    final = original
    if shape.keep_winner and winner is not None and not cancel.is_set():
        final = frozen[winner].config
    restored, config_now, restore_error = (False, "unknown: run `gtui recover`", None)
    if not broken:
        post(-1, "restore", f"back to {final.label}")
        restored, config_now, restore_error = _settle(frames, tracker, engine, running, final)
    status = SweepStatus.CANCELLED if cancel.is_set() else SweepStatus.COMPLETED
    if broken or not restored:
        status = SweepStatus.FAILED
        reason = reason or restore_error
    else:
        journal.archive(f"{status.value}: {config_now}")
    post(-1, "done", config_now)
    return SweepResult(
        status=status,
        original=original,
        results=frozen,
        winner=winner,
        runner_up=runner_up,
        comparison=comparison,
        config_now=config_now,
        restored=restored and final == original,
        reason=reason,
        elapsed_s=time.monotonic() - started,
        profile_label=profile.source,
        journal_path=str(journal.path),
        notes=(fallback_note,) if fallback_note else (),
    )


def _not_interleavable(
    engine: RetuneEngine,
    sample: InstanceSample,
    configs: tuple[SweepConfig, ...],
    original: SweepConfig,
) -> str | None:
    """Why the configs cannot be interleaved (a re-create among them), or None."""
    for config in configs:
        if same_point(original, config):
            continue
        try:
            plan = engine.plan_retune(sample, config.request())
        except (ActionRefused, EngineUnavailable) as error:
            return f"{config.label}: {error}"
        why_not = interleavable(plan)
        if why_not is not None:
            return f"{config.label}: {why_not}"
    return None


def _interleaved_sweep(
    frames: FrameSource,
    tracker: EpochTracker,
    engine: RetuneEngine,
    configs: tuple[SweepConfig, ...],
    profile: LoadProfile,
    target: LoadTarget,
    shape: SweepSettings,
    rounds: InterleaveSettings,
    cancel: threading.Event,
    on_progress: Callable[[SweepProgress], None] | None,
    original: SweepConfig,
    journal: SweepJournal,
    started: float,
) -> SweepResult:
    """Every config once per round, shuffled, until the winner's lead over
    the runner-up is conclusive or the cap; then restore (or keep the winner)."""
    total = len(configs)

    def post(index: int, stage: str, detail: str, look: RoundProgress | None = None) -> None:
        if on_progress is not None:
            on_progress(SweepProgress(index, total, stage, detail, None, look))

    switcher = EngineSwitcher(
        engine, frames, tracker, [c.request().changes() for c in configs],
        names=[c.label for c in configs], replicas=replica_count(engine),
    )  # fmt: skip
    running = original
    reason: str | None = None
    verdict: InterleaveResult | None = None
    broken = False
    try:
        if not same_point(original, configs[0]):
            post(0, "retune", configs[0].label)
            switcher.switch(0)
        running = configs[0]

        def forward(progress: RoundProgress) -> None:
            post(progress.side, "measure", progress.detail, progress)

        verdict = run_interleaved(
            frames, tracker, switcher, profile, target,
            leader_judge(LookPlan(cap_s=rounds.cap_s, primary=1, spending=DEFAULT_SPENDING)),
            settings=rounds, cancel=cancel, on_progress=forward,
        )  # fmt: skip
        if verdict.side_now is None:
            broken = verdict.status is InterleaveStatus.STOPPED
            reason = verdict.reason
        else:
            running = configs[verdict.side_now]
        if verdict.status is InterleaveStatus.STOPPED:
            reason = verdict.reason
    except SwitchFailed as error:
        reason = f"{configs[0].label}: {error}"
    results = _interleaved_results(configs, verdict, shape)
    look = verdict.final if verdict is not None else None
    winner = runner_up = None
    if look is not None:
        runner_up, winner = look.pair
    final = original
    if shape.keep_winner and winner is not None and not cancel.is_set():
        final = configs[winner]
    restored, config_now, restore_error = (False, "unknown: run `gtui recover`", None)
    if not broken:
        post(-1, "restore", f"back to {final.label}")
        restored, config_now, restore_error = _settle(frames, tracker, engine, running, final)
    status = SweepStatus.CANCELLED if cancel.is_set() else SweepStatus.COMPLETED
    if broken or not restored:
        status = SweepStatus.FAILED
        reason = reason or restore_error
    else:
        journal.archive(f"{status.value}: {config_now}")
    post(-1, "done", config_now)
    return SweepResult(
        status=status,
        original=original,
        results=results,
        winner=winner,
        runner_up=runner_up,
        comparison=None,
        config_now=config_now,
        restored=restored and final == original,
        reason=reason,
        elapsed_s=time.monotonic() - started,
        profile_label=profile.source,
        journal_path=str(journal.path),
        verdict=verdict,
        notes=verdict.notes if verdict is not None else (),
        versus_baseline=(
            effects_against(verdict, baseline_index(configs, original))
            if verdict is not None
            else ()
        ),
    )


def _interleaved_results(
    configs: tuple[SweepConfig, ...], verdict: InterleaveResult | None, shape: SweepSettings
) -> tuple[ConfigResult, ...]:
    """One result per config: its segments' records together."""
    results = []
    for side, config in enumerate(configs):
        epochs = [
            s.epoch for s in (verdict.segments if verdict else ()) if s.side == side and s.epoch
        ]
        if not epochs:
            results.append(ConfigResult(config, ConfigStatus.SKIPPED, None, None, "not measured"))
            continue
        merged = side_epoch(verdict, side) if verdict is not None else None
        if merged is None:
            continue
        least = min(shape.min_measured_s, sum(e.ended_at - e.started_at for e in epochs
                                              if e.ended_at) * 0.5)  # fmt: skip
        summary = summarize(merged, min_measured_s=max(1.0, least))
        results.append(ConfigResult(config, ConfigStatus.MEASURED, summary, merged))
    return tuple(results)


def _run_one(
    index: int,
    config: SweepConfig,
    running: SweepConfig,
    frames: FrameSource,
    tracker: EpochTracker,
    engine: RetuneEngine,
    profile: LoadProfile,
    target: LoadTarget,
    shape: SweepSettings,
    cancel: threading.Event,
    post: _Post,
) -> tuple[ConfigResult, bool]:
    """One config: (its result, whether the service is left on no known config)."""
    post(index, "retune", config.label)
    retune_summary = None
    sample = _settled_sample(frames, tracker, running)
    if sample is None:
        return ConfigResult(config, ConfigStatus.FAILED, None, None, "the instance is gone"), True
    if not same_point(running, config):
        error, retune_summary, broken = _apply(
            engine, frames, tracker, sample, config, shape.warmup_s
        )
        if error is not None:
            result = ConfigResult(config, ConfigStatus.FAILED, None, None, error, retune_summary)
            return result, broken
    else:
        tracker.mark_change(f"sweep: {config.label} (already running)", warmup_s=shape.warmup_s)
    if cancel.is_set():
        return (
            ConfigResult(config, ConfigStatus.SKIPPED, None, None, "cancelled", retune_summary),
            False,
        )
    post(index, "measure", f"{config.label}: {shape.warmup_s:g} s warm-up + {shape.measure_s:g} s")

    def measuring(report: MeasurementProgress) -> None:
        post(index, "measure", config.label, report)

    try:
        measurement = measure_epoch(
            frames,
            tracker,
            duration_s=shape.warmup_s + shape.measure_s,
            profile=profile,
            target=target,
            load_warmup_s=shape.warmup_s,
            interval_s=shape.interval_s,
            stop_event=cancel,
            on_progress=measuring,
        )
    except MeasurementError as failure:
        # Measured nothing, but the retune (if any) is applied: not FAILED.
        return (
            ConfigResult(config, ConfigStatus.SKIPPED, None, None, str(failure), retune_summary),
            False,
        )
    if cancel.is_set():
        return (
            ConfigResult(config, ConfigStatus.SKIPPED, None, None, "cancelled", retune_summary),
            False,
        )
    summary = summarize(measurement.epoch, min_measured_s=shape.min_measured_s)
    error = measurement.load_error
    if measurement.split:
        error = "the configuration changed during the measurement: " + ", ".join(
            change.label for change in measurement.changes
        )
    return (
        ConfigResult(
            config, ConfigStatus.MEASURED, summary, measurement.epoch, error, retune_summary
        ),
        False,
    )


def _apply(
    engine: RetuneEngine,
    frames: FrameSource,
    tracker: EpochTracker,
    sample: InstanceSample,
    config: SweepConfig,
    warmup_s: float,
) -> tuple[str | None, str | None, bool]:
    """Retune to ``config``: (error or None, the engine's summary, service broken)."""
    try:
        plan = engine.plan_retune(sample, config.request())
    except (ActionRefused, EngineUnavailable) as error:
        return str(error), None, False
    if not plan.ok:
        return f"refused: {plan.refusal}", None, False
    tracker.begin_change(f"sweep: {config.label}")
    try:
        outcome = engine.execute(plan)
    except (ActionRefused, EngineUnavailable) as error:
        tracker.end_change(note=f"refused: {error}", warmup_s=warmup_s)
        return str(error), None, False
    if outcome.ok:
        # A service's config is per replica; its epoch counts every worker.
        _await_workers(frames, tracker, config.workers * replica_count(engine))
    tracker.end_change(note=outcome.summary(), warmup_s=warmup_s)
    if outcome.ok:
        return None, outcome.summary(), False
    broken = outcome.status is OutcomeStatus.NEEDS_RECOVERY
    return outcome.error or outcome.status.value, outcome.summary(), broken


def _settle(
    frames: FrameSource,
    tracker: EpochTracker,
    engine: RetuneEngine,
    running: SweepConfig,
    final: SweepConfig,
) -> tuple[bool, str, str | None]:
    """Put the service on ``final`` from ``running``: (done, what it runs now, error)."""
    if same_point(running, final):
        return True, final.label, None
    sample = _settled_sample(frames, tracker, running)
    if sample is None:
        return False, "unknown: the instance is not found", "the instance is gone"
    error, _summary, _broken = _apply(engine, frames, tracker, sample, final, 0.0)
    if error is not None:
        return False, f"{running.label} (restoring {final.label} failed)", error
    return True, final.label, None


def _await_workers(
    frames: FrameSource, tracker: EpochTracker, workers: int, timeout_s: float = 10.0
) -> None:
    """Sample until the tracker's epoch shows ``workers`` (or ``timeout_s``).

    The tracker takes a new worker count only once it held for a few
    readings; seen while the retune's change is still open, it belongs to
    that change. Seen later, it would start an epoch of its own in the
    middle of the measurement (and, on a short warm-up, leave it split)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        current = tracker.current()
        if current is not None and current.config and current.config.workers == workers:
            return
        if _current(frames, tracker) is None:
            return
        time.sleep(_SETTLE_INTERVAL_S)


def _settled_sample(
    frames: FrameSource, tracker: EpochTracker, running: SweepConfig, timeout_s: float = 20.0
) -> InstanceSample | None:
    """A sample whose config shows ``running`` (the planner reads the sample's
    values; they are re-read a moment after a reload), else the last one."""
    deadline = time.monotonic() + timeout_s
    while True:
        sample = _current(frames, tracker)
        if sample is None or same_point(config_of(running_config(sample)), running):
            return sample
        if time.monotonic() >= deadline:
            return sample
        time.sleep(0.5)


def _current(frames: FrameSource, tracker: EpochTracker) -> InstanceSample | None:
    frame = frames()
    tracker.observe_frame(frame)
    return tracker.select(frame)
