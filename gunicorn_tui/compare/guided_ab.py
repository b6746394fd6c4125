"""Guided A/B: baseline under a load, apply a retune, warm up, measure
again under the same load, compare. One call, bounded, with progress.

When the retune is a scale or a HUP reload (and ``AbSettings.interleave``
is set, the default), both configurations alternate in interleaved rounds
under one load run instead (:mod:`gunicorn_tui.compare.interleave`) until
the verdict is conclusive or the cap; the run ends on the change, and the
result carries the verdict. A change that needs a re-create falls back to
the one switch below, and the comparison's notes say so.

Stages: plan (refused before anything runs when the retune cannot be
done), baseline, apply (through the control engine: plan, then execute;
its outcome is reported whatever it is), warm-up and measurement after,
comparison. A refusal or a failed retune ends the run with that reason and
no comparison; the service then runs its old configuration (or, when the
engine says so, needs ``gtui recover``).

Cancelling (``cancel`` event, or Ctrl-C in the calling thread) takes effect
within a second during measurements; the load stops and nothing was
changed yet, or the retune already done stays done (a known config, said
in the result). A retune in progress is never abandoned half-way: the
engine finishes or rolls it back, and its journal lets ``gtui recover``
settle it if gtui itself is killed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from gunicorn_tui.compare.comparison import EpochComparison, compare_epochs
from gunicorn_tui.compare.engine_switcher import EngineSwitcher, interleavable, sides_of
from gunicorn_tui.compare.epochs import DEFAULT_WARMUP_S, EpochTracker
from gunicorn_tui.compare.interleave import (
    LATENCY_P50,
    THROUGHPUT,
    InterleaveResult,
    InterleaveSettings,
    InterleaveStatus,
    RoundProgress,
    SwitchFailed,
    pairwise_judge,
    run_interleaved,
    side_epoch,
)
from gunicorn_tui.compare.measurement import (
    FrameSource,
    Measurement,
    MeasurementError,
    MeasurementProgress,
    measure_epoch,
)
from gunicorn_tui.compare.summary import DEFAULT_MIN_MEASURED_S
from gunicorn_tui.compare.verdict import DEFAULT_SPENDING, LookPlan
from gunicorn_tui.control.durability.journal import OutcomeStatus
from gunicorn_tui.control.engine import ActionRefused, EngineUnavailable
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.control.planning.validation import validate_request
from gunicorn_tui.control.running.progress import ActionOutcome, ProgressEvent
from gunicorn_tui.control.service_engine import RetuneEngine, replica_count
from gunicorn_tui.load.profile import LoadProfile
from gunicorn_tui.load.target import LoadTarget
from gunicorn_tui.model.instances import InstanceSample

# Longest measurement one stage may take; a guard against a typo of 10000.
MAX_MEASURE_S = 600.0


class AbStage(StrEnum):
    """Where a guided A/B run is."""

    PLANNING = "planning"
    BASELINE = "baseline"
    APPLYING = "applying"
    MEASURING_AFTER = "measuring after"
    INTERLEAVING = "interleaved rounds"
    COMPARING = "comparing"
    DONE = "done"


class AbStatus(StrEnum):
    """How a guided A/B run ended."""

    COMPARED = "compared"
    REFUSED = "refused"  # nothing changed
    RETUNE_FAILED = "retune failed"  # see the outcome: as before, or needs recovery
    CANCELLED = "cancelled"
    MEASUREMENT_FAILED = "measurement failed"


@dataclass(frozen=True)
class AbProgress:
    """Posted as the run goes: stage, a line of detail, and the measurement's
    progress when one runs."""

    stage: AbStage
    detail: str
    elapsed_s: float
    measurement: MeasurementProgress | None = None
    retune_event: ProgressEvent | None = None
    rounds: RoundProgress | None = None  # interleaved: the round and the latest look


@dataclass(frozen=True)
class AbResult:
    """What a guided A/B run did and found."""

    status: AbStatus
    request: RetuneRequest
    plan_lines: tuple[str, ...]
    before: Measurement | None
    after: Measurement | None
    outcome: ActionOutcome | None
    comparison: EpochComparison | None
    reason: str | None
    elapsed_s: float
    config_now: str  # what the service runs at the end, in words
    # Interleaved rounds: their verdict (``comparison`` then holds each
    # side's segments together, for the tables).
    verdict: InterleaveResult | None = None

    @property
    def ok(self) -> bool:
        return self.status is AbStatus.COMPARED


@dataclass(frozen=True)
class AbSettings:
    """The shape of a run: how long to measure each side, and the warm-up
    after the retune (left out of the second measurement)."""

    measure_s: float = 30.0
    warmup_s: float = DEFAULT_WARMUP_S
    load_warmup_s: float | None = None  # default: the profile's ramp-up + 2 s
    interval_s: float = 1.0
    min_measured_s: float = DEFAULT_MIN_MEASURED_S
    # Interleave when the change is a scale or a HUP (None: one switch).
    interleave: InterleaveSettings | None = field(default_factory=InterleaveSettings)


def run_guided_ab(
    frames: FrameSource,
    tracker: EpochTracker,
    engine: RetuneEngine,
    request: RetuneRequest,
    profile: LoadProfile,
    target: LoadTarget,
    *,
    settings: AbSettings | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[AbProgress], None] | None = None,
) -> AbResult:
    """Run a guided A/B on the instance ``tracker`` follows (module docstring).

    The target's lock is held for the whole run (baseline, retune, after):
    no other gtui acts on it meanwhile.
    """
    sample = _current_sample(frames, tracker)
    with contextlib.ExitStack() as held:
        if sample is not None:
            try:
                held.enter_context(engine.hold(sample, "guided A/B"))
            except (ActionRefused, EngineUnavailable) as error:
                return AbResult(
                    status=AbStatus.REFUSED,
                    request=request,
                    plan_lines=(),
                    before=None,
                    after=None,
                    outcome=None,
                    comparison=None,
                    reason=str(error),
                    elapsed_s=0.0,
                    config_now="unchanged",
                )
        return _run_guided_ab(
            frames,
            tracker,
            engine,
            request,
            profile,
            target,
            settings=settings,
            cancel=cancel,
            on_progress=on_progress,
        )


def _run_guided_ab(
    frames: FrameSource,
    tracker: EpochTracker,
    engine: RetuneEngine,
    request: RetuneRequest,
    profile: LoadProfile,
    target: LoadTarget,
    *,
    settings: AbSettings | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[AbProgress], None] | None = None,
) -> AbResult:
    shape = settings or AbSettings()
    if not 0 < shape.measure_s <= MAX_MEASURE_S:
        raise ValueError(f"measure_s must be in (0, {MAX_MEASURE_S:g}], got {shape.measure_s!r}")
    cancel = cancel if cancel is not None else threading.Event()
    started = time.monotonic()
    plan_lines: tuple[str, ...] = ()
    before: Measurement | None = None
    after: Measurement | None = None
    outcome: ActionOutcome | None = None
    stage = AbStage.PLANNING
    config_now = "unchanged"

    def post(
        detail: str,
        measurement: MeasurementProgress | None = None,
        retune_event: ProgressEvent | None = None,
    ) -> None:
        if on_progress is not None:
            elapsed = time.monotonic() - started
            on_progress(AbProgress(stage, detail, elapsed, measurement, retune_event))

    def finish(
        status: AbStatus, reason: str | None, comparison: EpochComparison | None
    ) -> AbResult:
        return AbResult(
            status=status,
            request=request,
            plan_lines=plan_lines,
            before=before,
            after=after,
            outcome=outcome,
            comparison=comparison,
            reason=reason,
            elapsed_s=time.monotonic() - started,
            config_now=config_now,
        )

    def measure(label: str, warmup_s: float | None, slack_s: float = 0.0) -> Measurement:
        def forward(progress: MeasurementProgress) -> None:
            post(label, measurement=progress)

        return measure_epoch(
            frames,
            tracker,
            duration_s=shape.measure_s + (warmup_s or 0.0) + slack_s,
            profile=profile,
            target=target,
            load_warmup_s=warmup_s,
            interval_s=shape.interval_s,
            stop_event=cancel,
            on_progress=forward,
            measured_s=shape.measure_s if slack_s else None,
        )

    # 1. Plan first: a refusal costs no measurement.
    post("checking the retune")
    sample = _current_sample(frames, tracker)
    if sample is None:
        return finish(AbStatus.MEASUREMENT_FAILED, "the instance is not found", None)
    refusal = _refusal(engine, sample, request)
    if refusal is not None:
        plan_lines, reason = refusal
        return finish(AbStatus.REFUSED, reason, None)
    fallback: str | None = None
    if shape.interleave is not None:
        plan = engine.plan_retune(sample, request)
        fallback = interleavable(plan)
        if fallback is None:
            plan_lines = tuple(plan.describe())
            stage = AbStage.INTERLEAVING
            post("interleaved rounds")
            return _interleaved(
                frames, tracker, engine, sample, request, profile, target, shape.interleave,
                shape.min_measured_s, cancel, post_rounds=lambda report: on_progress(
                    AbProgress(stage, report.detail, time.monotonic() - started, rounds=report)
                ) if on_progress is not None else None,
                finish=lambda status, reason, comparison, verdict, now: replace(
                    finish(status, reason, comparison), verdict=verdict, config_now=now,
                    plan_lines=plan_lines,
                ),
            )  # fmt: skip

    try:
        # 2. Baseline.
        stage = AbStage.BASELINE
        post(f"baseline: {shape.measure_s:g} s under {profile.source}")
        before = measure("baseline", shape.load_warmup_s)
        if cancel.is_set():
            return finish(
                AbStatus.CANCELLED, "cancelled during the baseline; nothing changed", None
            )
    except KeyboardInterrupt:
        return finish(AbStatus.CANCELLED, "interrupted during the baseline; nothing changed", None)
    except MeasurementError as error:
        return finish(AbStatus.MEASUREMENT_FAILED, str(error), None)

    # 3. Apply, on a fresh sample (the instance may have changed meanwhile).
    stage = AbStage.APPLYING
    sample = _current_sample(frames, tracker)
    if sample is None:
        return finish(AbStatus.MEASUREMENT_FAILED, "the instance is gone after the baseline", None)
    try:
        plan = engine.plan_retune(sample, request)
    except (ActionRefused, EngineUnavailable) as error:
        return finish(AbStatus.REFUSED, str(error), None)
    plan_lines = tuple(plan.describe())
    if not plan.ok:
        return finish(AbStatus.REFUSED, plan.refusal or "refused", None)
    post("applying: " + _changes_text(request))
    tracker.begin_change("retune: " + _changes_text(request))
    try:
        outcome = engine.execute(plan, on_event=lambda event: post("applying", retune_event=event))
    except (ActionRefused, EngineUnavailable) as error:
        tracker.end_change(note=f"retune refused: {error}", warmup_s=shape.warmup_s)
        return finish(AbStatus.REFUSED, str(error), None)
    except KeyboardInterrupt:
        tracker.end_change(note="interrupted while retuning", warmup_s=shape.warmup_s)
        config_now = "unknown: interrupted during the retune; run `gtui recover`"
        return finish(AbStatus.CANCELLED, "interrupted during the retune", None)
    tracker.end_change(note=outcome.summary(), warmup_s=shape.warmup_s)
    if not outcome.ok:
        config_now = (
            "unknown: run `gtui recover`"
            if outcome.status is OutcomeStatus.NEEDS_RECOVERY
            else "unchanged (the retune was undone or never applied)"
        )
        return finish(AbStatus.RETUNE_FAILED, outcome.error or outcome.status.value, None)
    config_now = "changed: " + _changes_text(request)

    # 4. Warm up and measure again under the same load.
    stage = AbStage.MEASURING_AFTER
    load_warmup = max(shape.warmup_s, shape.load_warmup_s or 0.0)
    # The tracker counts new workers only once they have stayed for a few
    # readings (longer while they start on a busy machine), and warms up
    # again from there: the after side runs until it has measure_s past
    # that, within one more warm-up and those readings.
    slack_s = shape.warmup_s + 2.0 * tracker.stable_readings * shape.interval_s
    try:
        post(f"warm-up {load_warmup:g} s, then {shape.measure_s:g} s under {profile.source}")
        after = measure("after", load_warmup, slack_s)
    except KeyboardInterrupt:
        return finish(AbStatus.CANCELLED, "interrupted after the retune (it stays applied)", None)
    except MeasurementError as error:
        return finish(AbStatus.MEASUREMENT_FAILED, str(error), None)
    if cancel.is_set():
        return finish(AbStatus.CANCELLED, "cancelled after the retune (it stays applied)", None)

    # 5. Compare.
    stage = AbStage.COMPARING
    notes = []
    for label, measurement in (("baseline", before), ("after", after)):
        if measurement.split:
            kinds = ", ".join(change.label for change in measurement.changes)
            notes.append(
                f"the configuration changed during the {label} measurement ({kinds}): "
                "only the part after the change is compared"
            )
        if measurement.load_error:
            notes.append(f"{label}: the load run failed: {measurement.load_error}")
    if fallback is not None:
        notes.append(f"one switch, not interleaved: {fallback}")
    comparison = compare_epochs(
        before.epoch, after.epoch, min_measured_s=shape.min_measured_s, notes=notes
    )
    stage = AbStage.DONE
    post("done")
    return finish(AbStatus.COMPARED, None, comparison)


_Finish = Callable[
    [AbStatus, str | None, EpochComparison | None, InterleaveResult | None, str], AbResult
]


def _interleaved(
    frames: FrameSource,
    tracker: EpochTracker,
    engine: RetuneEngine,
    sample: InstanceSample,
    request: RetuneRequest,
    profile: LoadProfile,
    target: LoadTarget,
    rounds: InterleaveSettings,
    min_measured_s: float,
    cancel: threading.Event,
    *,
    post_rounds: Callable[[RoundProgress], None] | None,
    finish: _Finish,
) -> AbResult:
    """Both sides in interleaved rounds until conclusive or the cap; the run
    ends on the change, as a one-switch A/B does."""
    switcher = EngineSwitcher(
        engine, frames, tracker, sides_of(sample, request), replicas=replica_count(engine)
    )
    plan = LookPlan(cap_s=rounds.cap_s, primary=2, spending=DEFAULT_SPENDING)
    try:
        verdict = run_interleaved(
            frames, tracker, switcher, profile, target,
            pairwise_judge(0, 1, (THROUGHPUT, LATENCY_P50), plan),
            settings=rounds, cancel=cancel, on_progress=post_rounds,
        )  # fmt: skip
    except KeyboardInterrupt:
        return finish(AbStatus.CANCELLED, "interrupted", None, None, "unknown: see `gtui ls`")
    config_now = "unknown: run `gtui recover`"
    # Cancelled: back to where it started; else it ends on the change.
    end_side = 0 if verdict.status is InterleaveStatus.CANCELLED else 1
    if verdict.switch_failed and verdict.side_now is not None:
        end_side = verdict.side_now  # not that switch again: it ends where it is
    if verdict.side_now is not None:
        try:
            if verdict.side_now != end_side:
                switcher.switch(end_side)
            config_now = "unchanged" if end_side == 0 else "changed: " + switcher.names[1]
        except SwitchFailed as error:
            config_now = f"{switcher.names[verdict.side_now]} (switching back failed: {error})"
    comparison = None
    merged = [side_epoch(verdict, side) for side in (0, 1)]
    if merged[0] is not None and merged[1] is not None:
        comparison = compare_epochs(
            merged[0], merged[1], min_measured_s=min(min_measured_s, 4.0),
            notes=("each side's interleaved segments together: the verdict is the rounds'",),
        )  # fmt: skip
    if verdict.status is InterleaveStatus.CANCELLED:
        reason = (
            "cancelled during the interleaved rounds; nothing changed (the original config is back)"
            if config_now == "unchanged"
            else "cancelled during the interleaved rounds"
        )
        return finish(AbStatus.CANCELLED, reason, comparison, verdict, config_now)
    if verdict.status is InterleaveStatus.STOPPED:
        return finish(AbStatus.MEASUREMENT_FAILED, verdict.reason, comparison, verdict, config_now)
    return finish(AbStatus.COMPARED, None, comparison, verdict, config_now)


def _current_sample(frames: FrameSource, tracker: EpochTracker) -> InstanceSample | None:
    frame = frames()
    tracker.observe_frame(frame)
    return tracker.select(frame)


def _refusal(
    engine: RetuneEngine, sample: InstanceSample, request: RetuneRequest
) -> tuple[tuple[str, ...], str] | None:
    if not request.changes():
        return (), "the request changes nothing"
    problems = validate_request(request, sample.config)
    if problems:
        return (), "; ".join(problems)
    try:
        plan = engine.plan_retune(sample, request)
    except (ActionRefused, EngineUnavailable) as error:
        return (), str(error)
    if not plan.ok:
        return tuple(plan.describe()), plan.refusal or "refused"
    return None


def _changes_text(request: RetuneRequest) -> str:
    return ", ".join(f"{name}={value}" for name, value in request.changes().items())
