"""``gtui compare`` and ``gtui ab``: measure, compare.

``gtui compare TARGET`` is headless and has two modes:

* live (default): measure the instance's current epoch for ``--duration``
  seconds, under ``--profile`` when given (else whatever traffic it gets),
  and print its summary. If the configuration changes during the
  measurement, the epoch splits and the two parts are compared instead.
* ``--from FILE``: replay a ``gtui watch --jsonl`` recording and compare
  the last two epochs of TARGET in it (or ``--epochs A B``).

``gtui ab TARGET --workers 4 ...``: guided A/B. When the change is a scale
or a HUP reload, both configs alternate in interleaved rounds under one load
run until every primary metric is conclusive or ``--cap`` (a line per look
on stderr); the report gives each metric's effect with its interval. A
change that needs a re-create (or ``--one-switch``): baseline under the
profile, retune, warm up, measure again, compare; the report says so.

Output: text (the Markdown table) by default, ``--json`` or ``--markdown``.
Exit codes as every gtui command; ``ab`` exits 1 when the retune was
refused or failed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gunicorn_tui.cli.exit_codes import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
)
from gunicorn_tui.cli.measured_load import load_target_for, profile_named
from gunicorn_tui.cli.retune_args import retune_request
from gunicorn_tui.cli.service_measure import ServiceSetup, select_measured
from gunicorn_tui.cli.target_monitor import (
    confirm,
    open_target_monitor,
    refuse_if_read_only,
    select_instance,
)
from gunicorn_tui.compare.comparison import EpochComparison, compare_epochs
from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.compare.guided_ab import AbProgress, AbResult, AbSettings, run_guided_ab
from gunicorn_tui.compare.interleave import (
    MIN_CAP_S,
    InterleaveSettings,
    RoundProgress,
    too_short,
)
from gunicorn_tui.compare.measurement import (
    FrameSource,
    Measurement,
    MeasurementError,
    measure_epoch,
)
from gunicorn_tui.compare.replay import replay_watch_lines
from gunicorn_tui.compare.report import (
    comparison_json,
    comparison_markdown,
    summary_json,
    summary_markdown,
)
from gunicorn_tui.compare.summary import DEFAULT_MIN_MEASURED_S, summarize
from gunicorn_tui.compare.verdict_report import progress_line, verdict_json, verdict_markdown
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.validation import validate_request
from gunicorn_tui.control.running.progress import StepFailed, StepFinished, StepStarted
from gunicorn_tui.control.service_engine import RetuneEngine

MAX_DURATION_S = 600.0


def _check_duration(value: float, name: str) -> None:
    if not 0 < value <= MAX_DURATION_S:
        raise CliError(f"{name} must be in (0, {MAX_DURATION_S:g}] seconds", EXIT_USAGE)


def _print_comparison(args: argparse.Namespace, comparison: EpochComparison, **extra: Any) -> None:
    if args.json:
        print(json.dumps(comparison_json(comparison, extra=extra), indent=2))
    else:
        print(comparison_markdown(comparison), end="")


# -- gtui compare ------------------------------------------------------------------------


def _compare_recording(args: argparse.Namespace) -> int:
    path = Path(args.from_file)
    tracker = EpochTracker(warmup_s=args.warmup)
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            counts = replay_watch_lines(lines, args.target, tracker)
    except OSError as error:
        raise CliError(f"--from {path}: {error.strerror or error}", EXIT_USAGE) from error
    if counts.malformed:
        print(
            f"gtui compare: skipped {counts.malformed} malformed line(s) "
            f"(first: {counts.first_malformed})",
            file=sys.stderr,
        )
    if not counts.records:
        raise CliError(f"no record of {args.target} in {path}", EXIT_FAILURE)
    epochs = tracker.epochs()
    if args.epochs:
        chosen = [tracker.epoch(number) for number in args.epochs]
        missing = [n for n, e in zip(args.epochs, chosen, strict=True) if e is None]
        if missing:
            known = ", ".join(str(e.id) for e in epochs)
            raise CliError(f"no epoch {missing[0]} in {path} (epochs: {known})", EXIT_USAGE)
        before, after = chosen
    elif len(epochs) < 2:
        raise CliError(
            f"{path}: only one epoch of {args.target} (no change of configuration recorded)",
            EXIT_FAILURE,
        )
    else:
        before, after = epochs[-2], epochs[-1]
    assert before is not None and after is not None
    comparison = compare_epochs(before, after, min_measured_s=args.min_measured)
    _print_comparison(args, comparison, replay={"file": str(path), "records": counts.records,
                                                "malformed_lines": counts.malformed})  # fmt: skip
    return EXIT_OK


def _live_measurement(args: argparse.Namespace) -> tuple[Measurement, EpochTracker]:
    _check_duration(args.duration, "--duration")
    monitor = open_target_monitor(args)
    try:
        sample = select_instance(monitor, args.target)
        tracker = EpochTracker(sample.key, warmup_s=args.warmup)
        profile = target = None
        if args.profile:
            profile = profile_named(args.profile)
            target = load_target_for(profile, args.url, sample)
        print(
            f"gtui compare: measuring {sample.label} for {args.duration:g} s"
            + (f" under {profile.source}" if profile else " (no load of gtui's)"),
            file=sys.stderr,
        )
        try:
            measurement = measure_epoch(
                monitor.sample, tracker, duration_s=args.duration, profile=profile, target=target
            )
        except MeasurementError as error:
            raise CliError(str(error), EXIT_FAILURE) from error
    finally:
        monitor.close()
    return measurement, tracker


def run_compare(args: argparse.Namespace) -> int:
    """``gtui compare TARGET``: see the module docstring."""
    if args.from_file:
        return _compare_recording(args)
    measurement, tracker = _live_measurement(args)
    extra = {"measurement": {"started_at": measurement.started_at,
                             "ended_at": measurement.ended_at,
                             "load_error": measurement.load_error}}  # fmt: skip
    if measurement.load_error:
        print(f"gtui compare: the load run failed: {measurement.load_error}", file=sys.stderr)
    if measurement.split:
        epochs = [e for e in tracker.epochs() if e.ended_at is None or
                  e.ended_at > measurement.started_at]  # fmt: skip
        before = epochs[-2].within(measurement.started_at + measurement.load_warmup_s,
                                   measurement.ended_at)  # fmt: skip
        kinds = ", ".join(change.label for change in measurement.changes)
        note = (
            f"the configuration changed during the measurement ({kinds}): "
            "the epoch was split and its two parts are compared"
        )
        comparison = compare_epochs(
            before, measurement.epoch, min_measured_s=args.min_measured, notes=(note,)
        )
        _print_comparison(args, comparison, **extra)
        return EXIT_OK
    summary = summarize(measurement.epoch, min_measured_s=args.min_measured)
    if args.json:
        print(json.dumps({"schema": "gtui.epoch/1", "epoch": summary_json(summary), **extra},
                         indent=2))  # fmt: skip
    else:
        print(summary_markdown(summary), end="")
    no_response = (
        measurement.run is not None and measurement.run.sent and (measurement.run.completed == 0)
    )
    return EXIT_FAILURE if no_response or measurement.load_error else EXIT_OK


# -- gtui ab ---------------------------------------------------------------------------------


def _ab_progress(progress: AbProgress) -> None:
    if progress.rounds is not None:
        _rounds_progress(progress.rounds)
        return
    event = progress.retune_event
    if event is not None:
        if isinstance(event, StepStarted):
            line = f"  [{event.index + 1}/{event.total}] {event.description}"
        elif isinstance(event, StepFinished):
            line = f"      ok: {event.detail}"
        elif isinstance(event, StepFailed):
            line = f"      FAILED: {event.error}"
        else:
            line = f"  {type(event).__name__}"
        print(line, file=sys.stderr, flush=True)
        return
    measurement = progress.measurement
    if measurement is None:
        print(f"[{progress.elapsed_s:5.0f} s] {progress.stage.value}: {progress.detail}",
              file=sys.stderr, flush=True)  # fmt: skip
    elif int(measurement.elapsed_s) % 10 == 0:
        state = "warm-up" if measurement.in_warmup else "measuring"
        print(f"[{progress.elapsed_s:5.0f} s] {progress.detail}: {state}, "
              f"{measurement.elapsed_s:.0f}/{measurement.total_s:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip


def _ab_report(
    args: argparse.Namespace, result: AbResult, service: ServiceSetup | None = None
) -> None:
    # A Compose service: named with its replicas, the load's URLs and the rolls.
    service_lines = service.report_lines() if service is not None else ()
    service_json = {"service": service.report()} if service is not None else {}
    if result.verdict is not None:
        extra_verdict = {"ab": {"interleaved": True, "status": result.status.value,
                                "config_now": result.config_now,
                                "elapsed_s": result.elapsed_s}, **service_json}  # fmt: skip
        if args.json:
            print(
                json.dumps(verdict_json(result.verdict, extra=extra_verdict), indent=2, default=str)
            )
        else:
            lines = (*service_lines, f"service config now: {result.config_now}")
            print(verdict_markdown(result.verdict, extra_lines=lines), end="")
        return
    extra = {
        "ab": {
            "status": result.status.value,
            "reason": result.reason,
            "request": result.request.changes(),
            "plan": list(result.plan_lines),
            "retune": result.outcome.summary() if result.outcome else None,
            "config_now": result.config_now,
            "elapsed_s": result.elapsed_s,
        },
        **service_json,
    }
    if result.comparison is not None:
        if args.json:
            print(json.dumps(comparison_json(result.comparison, extra=extra), indent=2))
        else:
            retune = result.outcome.summary() if result.outcome else ""
            lines = (*service_lines, f"retune: {retune}")
            print(comparison_markdown(result.comparison, title="gtui A/B",
                                      extra_lines=lines), end="")  # fmt: skip
        return
    if args.json:
        print(json.dumps(extra, indent=2))
    else:
        for line in service_lines:
            print(line)
        print(f"A/B {result.status.value}: {result.reason}")
        for line in result.plan_lines:
            print(f"  {line}")
        if result.outcome is not None:
            print(f"retune: {result.outcome.summary()}")
        print(f"service config now: {result.config_now}")


def _check_one_switch(args: argparse.Namespace) -> None:
    _check_duration(args.duration, "--duration")
    if args.duration < DEFAULT_MIN_MEASURED_S:
        raise CliError(
            f"--duration {args.duration:g} s cannot answer: each side needs at least "
            f"{DEFAULT_MIN_MEASURED_S:g} s measured after its warm-up (the default, 30 s, "
            "answers a 2x change); or leave out --one-switch and let interleaved rounds "
            "stop when the answer is known",
            EXIT_USAGE,
        )


def interleave_settings(args: argparse.Namespace, sides: int = 2) -> InterleaveSettings:
    """The interleaved run's shape from ``--cap`` and ``--segment``; a cap too
    short to answer is refused before anything runs."""
    if not MIN_CAP_S <= args.cap <= MAX_DURATION_S:
        raise CliError(f"--cap must be in [{MIN_CAP_S:g}, {MAX_DURATION_S:g}] seconds", EXIT_USAGE)
    if not 1.0 <= args.segment <= 60.0:
        raise CliError("--segment must be in [1, 60] seconds", EXIT_USAGE)
    settings = InterleaveSettings(cap_s=args.cap, segment_s=args.segment)
    problem = too_short(settings, sides)
    if problem is not None:
        raise CliError(problem, EXIT_USAGE)
    return settings


def _rounds_progress(progress: RoundProgress) -> None:
    """The CLI's progress line for an interleaved run: one per look."""
    if progress.detail == "look" and progress.look is not None:
        print(progress_line(progress.look, progress.elapsed_s), file=sys.stderr, flush=True)
    elif progress.detail.startswith("switching") and progress.round == 0:
        print(f"[{progress.elapsed_s:5.0f} s] {progress.detail}", file=sys.stderr, flush=True)


def run_ab(args: argparse.Namespace) -> int:
    """``gtui ab TARGET --profile FILE --workers 4 ...``."""
    refuse_if_read_only(args)
    request = retune_request(args)
    if not request.changes():
        raise CliError("name at least one setting to change (see gtui ab --help)", EXIT_USAGE)
    rounds = None if args.one_switch else interleave_settings(args)
    # Also the fallback's when the change needs a re-create.
    _check_one_switch(args)
    profile = profile_named(args.profile)
    monitor = open_target_monitor(args)
    service: ServiceSetup | None = None
    try:
        client = monitor.watcher.client if monitor.watcher is not None else None
        control = ControlEngine(docker_client=client)
        checked, service = select_measured(args, monitor, profile, control)
        problems = validate_request(request, checked.config)
        if problems:
            raise CliError("; ".join(problems), EXIT_USAGE)
        if service is not None:
            sample, target = service.sample, service.target
            frames: FrameSource = service.view
            engine: RetuneEngine = service.engine
        else:
            sample, frames, engine = checked, monitor.sample, control
            target = load_target_for(profile, args.url, sample)
        how = (
            f"{args.duration:g} s before, retune, warm-up {args.warmup:g} s, {args.duration:g} s "
            "after"
            if rounds is None
            else f"interleaved rounds of {rounds.segment_s:g} s per side until conclusive or "
            f"{rounds.cap_s:g} s (one switch if the change needs a re-create)"
        )
        subject = (
            f"the whole service {service.describe()}, each switch rolled over the replicas "
            "one at a time"
            if service is not None
            else sample.label
        )
        print(
            f"A/B on {subject}: {request.changes()} under {profile.source} against "
            f"{target.label}: {how}",
            file=sys.stderr,
        )
        confirm(args)
        tracker = EpochTracker(sample.key, warmup_s=args.warmup)
        result = run_guided_ab(
            frames,
            tracker,
            engine,
            request,
            profile,
            target,
            settings=AbSettings(measure_s=args.duration, warmup_s=args.warmup, interleave=rounds),
            on_progress=_ab_progress,
        )
    finally:
        monitor.close()
    _ab_report(args, result, service)
    if result.status.value == "cancelled":
        return EXIT_INTERRUPTED
    return EXIT_OK if result.ok else EXIT_FAILURE
