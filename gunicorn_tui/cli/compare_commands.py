"""``gtui load``, ``gtui compare`` and ``gtui ab``: load, measure, compare.

``gtui load TARGET`` runs the load driver (``gunicorn_tui.load.cli``) with
the instance's bind address as the default URL; TARGET may also be a URL.

``gtui compare TARGET`` is headless and has two modes:

* live (default): measure the instance's current epoch for ``--duration``
  seconds, under ``--profile`` when given (else whatever traffic it gets),
  and print its summary. If the configuration changes during the
  measurement, the epoch splits and the two parts are compared instead.
* ``--from FILE``: replay a ``gtui watch --jsonl`` recording and compare
  the last two epochs of TARGET in it (or ``--epochs A B``).

``gtui ab TARGET --workers 4 ...``: guided A/B: baseline under the
profile, retune, warm up, measure again, compare.

Output: text (the Markdown table) by default, ``--json`` or ``--markdown``.
Exit codes as every gtui command; ``ab`` exits 1 when the retune was
refused or failed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gunicorn_tui.cli.control_commands import (
    DOCKER_WAIT_S,
    _confirm,
    _select,
    add_retune_options,
    retune_request,
)
from gunicorn_tui.cli.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from gunicorn_tui.cli.inspect_commands import parse_statsd_address
from gunicorn_tui.compare.comparison import EpochComparison, compare_epochs
from gunicorn_tui.compare.epochs import DEFAULT_WARMUP_S, EpochTracker
from gunicorn_tui.compare.guided_ab import AbProgress, AbResult, AbSettings, run_guided_ab
from gunicorn_tui.compare.measurement import Measurement, MeasurementError, measure_epoch
from gunicorn_tui.compare.replay import replay_watch_lines
from gunicorn_tui.compare.report import (
    comparison_json,
    comparison_markdown,
    summary_json,
    summary_markdown,
)
from gunicorn_tui.compare.summary import DEFAULT_MIN_MEASURED_S, summarize
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.progress import StepFailed, StepFinished, StepStarted
from gunicorn_tui.control.validation import validate_request
from gunicorn_tui.load.profile import LoadProfile, ProfileError, load_profile_or_builtin
from gunicorn_tui.load.target import LoadTarget, TargetError, bind_of, resolve_target
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import TargetKind, parse_target

EXIT_INTERRUPTED = 130
MAX_DURATION_S = 600.0


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET", help="container name or id, or pid:N")
    parser.add_argument("--no-docker", action="store_true", help="do not look at Docker")
    parser.add_argument(
        "--api-only", action="store_true", help="reach containers through the Docker API only"
    )
    parser.add_argument(
        "--statsd",
        default="off",
        metavar="HOST:PORT|off",
        help="listen for Gunicorn's StatsD metrics here (default off: the access log is read)",
    )


def _output_options(parser: argparse.ArgumentParser) -> None:
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--markdown", action="store_true", help="print Markdown (the default)")


def add_compare_parsers(
    commands: dict[str, argparse.ArgumentParser], parser_class: type[argparse.ArgumentParser]
) -> None:
    """Register ``load``, ``compare`` and ``ab``."""
    load = parser_class(
        prog="gtui load",
        description="Send a bounded load to TARGET (its bind address, or a URL) and report "
        "throughput, errors and latency.",
    )
    load.add_argument("target", metavar="TARGET", help="container name or id, pid:N, or a URL")
    load.add_argument("--profile", default="mixed", help="profile file or built-in name")
    pacing = load.add_mutually_exclusive_group()
    pacing.add_argument("--rate", type=float, metavar="RPS")
    pacing.add_argument("--concurrency", type=int, metavar="N")
    load.add_argument("--duration", type=float, metavar="S")
    load.add_argument("--requests", type=int, metavar="N")
    load.add_argument("--url", help="base URL, overriding the instance's bind")
    load.add_argument("--path", action="append", metavar="PATH")
    load.add_argument("--insecure", action="store_true", help="accept any TLS certificate")
    load.add_argument("--json", action="store_true")
    load.add_argument("--quiet", action="store_true")
    load.add_argument("--no-docker", action="store_true")
    load.add_argument("--api-only", action="store_true")
    commands["load"] = load

    compare = parser_class(
        prog="gtui compare",
        description="Measure TARGET's current epoch (under --profile) and print its figures; "
        "if its configuration changes meanwhile, compare before and after. With --from, "
        "compare the last two epochs of a `gtui watch --jsonl` recording.",
    )
    _target_options(compare)
    compare.add_argument("--profile", help="load profile (file or built-in name)")
    compare.add_argument("--duration", type=float, default=30.0, metavar="S")
    compare.add_argument("--url", help="base URL for the load, overriding the instance's bind")
    compare.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_S, metavar="S")
    compare.add_argument("--from", dest="from_file", metavar="FILE", help="a watch --jsonl file")
    compare.add_argument("--epochs", type=int, nargs=2, metavar=("A", "B"))
    compare.add_argument("--min-measured", type=float, default=DEFAULT_MIN_MEASURED_S, metavar="S")
    _output_options(compare)
    commands["compare"] = compare

    ab = parser_class(
        prog="gtui ab",
        description="Guided A/B: measure under --profile, retune, warm up, measure again "
        "under the same profile, and compare. Asks before retuning (--yes skips).",
    )
    _target_options(ab)
    ab.add_argument("--profile", required=True, help="load profile (file or built-in name)")
    ab.add_argument("--duration", type=float, default=30.0, metavar="S", help="per side")
    ab.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_S, metavar="S")
    ab.add_argument("--url", help="base URL for the load, overriding the instance's bind")
    ab.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    ab.add_argument("--read-only", action="store_true", help="refuse to retune")
    add_retune_options(ab)
    _output_options(ab)
    commands["ab"] = ab


# -- shared ---------------------------------------------------------------------------


def _monitor(args: argparse.Namespace) -> Monitor:
    target = parse_target(args.target)
    if args.no_docker and target.kind is TargetKind.CONTAINER:
        raise CliError(f"container target {args.target} needs Docker: drop --no-docker", EXIT_USAGE)
    monitor = Monitor(
        MonitorOptions(
            targets=(target,),
            use_docker=not args.no_docker,
            force_api=args.api_only,
            statsd_address=parse_statsd_address(getattr(args, "statsd", "off")),
        )
    )
    try:
        monitor.open(wait_for_docker_s=DOCKER_WAIT_S)
        monitor.check_targets()
    except BaseException:
        monitor.close()
        raise
    return monitor


def _profile(name: str, duration: float | None = None) -> LoadProfile:
    overrides: dict[str, object] = {}
    if duration is not None:
        # The measurement bounds the run; the profile's count bound still holds.
        overrides["duration_s"] = duration
    try:
        return load_profile_or_builtin(name, overrides=overrides)
    except ProfileError as error:
        raise CliError(str(error), EXIT_USAGE) from error


def _load_target(profile: LoadProfile, url: str | None, sample: InstanceSample) -> LoadTarget:
    try:
        return resolve_target(
            override_url=url, profile_base_url=profile.base_url, bind=bind_of(sample)
        )
    except TargetError as error:
        raise CliError(str(error), EXIT_USAGE) from error


def _check_duration(value: float, name: str) -> None:
    if not 0 < value <= MAX_DURATION_S:
        raise CliError(f"{name} must be in (0, {MAX_DURATION_S:g}] seconds", EXIT_USAGE)


def _print_comparison(args: argparse.Namespace, comparison: EpochComparison, **extra: Any) -> None:
    if args.json:
        print(json.dumps(comparison_json(comparison, extra=extra), indent=2))
    else:
        print(comparison_markdown(comparison), end="")


# -- gtui load --------------------------------------------------------------------------


def run_load(args: argparse.Namespace) -> int:
    """``gtui load TARGET``: the load driver, aimed at the instance's bind."""
    from gunicorn_tui.load.cli import run_load_cli

    argv: list[str] = [args.profile]
    url = args.url
    bind: str | list[str] | None = None
    if _is_url(args.target):
        url = url or args.target
    else:
        monitor = _monitor(args)
        try:
            bind = bind_of(_select(monitor, args.target))
        finally:
            monitor.close()
    if url:
        argv += ["--url", url]
    for flag, value in (
        ("--rate", args.rate),
        ("--concurrency", args.concurrency),
        ("--duration", args.duration),
        ("--requests", args.requests),
    ):
        if value is not None:
            argv += [flag, str(value)]
    for path in args.path or ():
        argv += ["--path", path]
    argv += [flag for flag, on in (("--insecure", args.insecure), ("--json", args.json),
                                   ("--quiet", args.quiet)) if on]  # fmt: skip
    return run_load_cli(argv, default_bind=bind)


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
    monitor = _monitor(args)
    try:
        sample = _select(monitor, args.target)
        tracker = EpochTracker(sample.key, warmup_s=args.warmup)
        profile = target = None
        if args.profile:
            profile = _profile(args.profile)
            target = _load_target(profile, args.url, sample)
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


def _ab_report(args: argparse.Namespace, result: AbResult) -> None:
    extra = {
        "ab": {
            "status": result.status.value,
            "reason": result.reason,
            "request": result.request.changes(),
            "plan": list(result.plan_lines),
            "retune": result.outcome.summary() if result.outcome else None,
            "config_now": result.config_now,
            "elapsed_s": result.elapsed_s,
        }
    }
    if result.comparison is not None:
        if args.json:
            print(json.dumps(comparison_json(result.comparison, extra=extra), indent=2))
        else:
            retune = result.outcome.summary() if result.outcome else ""
            print(comparison_markdown(result.comparison, title="gtui A/B",
                                      extra_lines=(f"retune: {retune}",)), end="")  # fmt: skip
        return
    if args.json:
        print(json.dumps(extra, indent=2))
    else:
        print(f"A/B {result.status.value}: {result.reason}")
        for line in result.plan_lines:
            print(f"  {line}")
        if result.outcome is not None:
            print(f"retune: {result.outcome.summary()}")
        print(f"service config now: {result.config_now}")


def run_ab(args: argparse.Namespace) -> int:
    """``gtui ab TARGET --profile FILE --workers 4 ...``."""
    if getattr(args, "read_only", False):
        raise CliError("read-only session: actions are disabled (--read-only)", EXIT_FAILURE)
    _check_duration(args.duration, "--duration")
    request = retune_request(args)
    if not request.changes():
        raise CliError("name at least one setting to change (see gtui ab --help)", EXIT_USAGE)
    profile = _profile(args.profile)
    monitor = _monitor(args)
    try:
        sample = _select(monitor, args.target)
        problems = validate_request(request, sample.config)
        if problems:
            raise CliError("; ".join(problems), EXIT_USAGE)
        target = _load_target(profile, args.url, sample)
        print(
            f"A/B on {sample.label}: {args.duration:g} s under {profile.source} against "
            f"{target.label}, retune {request.changes()}, warm-up {args.warmup:g} s, "
            f"{args.duration:g} s again",
            file=sys.stderr,
        )
        _confirm(args)
        client = monitor.watcher.client if monitor.watcher is not None else None
        engine = ControlEngine(docker_client=client)
        tracker = EpochTracker(sample.key, warmup_s=args.warmup)
        result = run_guided_ab(
            monitor.sample,
            tracker,
            engine,
            request,
            profile,
            target,
            settings=AbSettings(measure_s=args.duration, warmup_s=args.warmup),
            on_progress=_ab_progress,
        )
    finally:
        monitor.close()
    _ab_report(args, result)
    if result.status.value == "cancelled":
        return EXIT_INTERRUPTED
    return EXIT_OK if result.ok else EXIT_FAILURE


def command_names() -> Sequence[str]:
    """The commands this module handles."""
    return ("load", "compare", "ab")
