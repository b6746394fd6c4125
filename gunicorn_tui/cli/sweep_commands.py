"""``gtui sweep TARGET --workers 2,4,8 --worker-class sync,gthread --profile FILE``.

Every value is checked before anything starts (counts, class names, classes
the server's Python cannot import, a read-only session). Then each config
is applied, warmed up and measured under the same load; the original
config is restored at the end (``--keep-winner`` keeps the best one). Ctrl-C
stops the measurement, lets a retune in progress finish, and restores the
original; after a SIGKILL, ``gtui recover`` restores it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from gunicorn_tui.cli.engine_hosts import first_address, first_api_only, first_host, other_hosts
from gunicorn_tui.cli.exit_codes import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
)
from gunicorn_tui.cli.measured_load import load_target_for, profile_named
from gunicorn_tui.cli.service_measure import ServiceSetup, select_measured
from gunicorn_tui.cli.target_monitor import confirm, open_target_monitor
from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.compare.interleave import InterleaveSettings
from gunicorn_tui.compare.measurement import FrameSource
from gunicorn_tui.compare.verdict_report import progress_line
from gunicorn_tui.control.engine import READ_ONLY_REASON, ActionRefused, ControlEngine
from gunicorn_tui.control.planning.worker_classes import UnknownWorkerClass, resolve_worker_class
from gunicorn_tui.control.service_engine import RetuneEngine
from gunicorn_tui.model.instances import GunicornConfig, InstanceSample
from gunicorn_tui.sweep.grid import (
    SweepValueError,
    build_grid,
    check_grid,
    parse_int_list,
    parse_name_list,
)
from gunicorn_tui.sweep.plot_svg import sweep_svg
from gunicorn_tui.sweep.report import sweep_json, sweep_markdown, winner_line
from gunicorn_tui.sweep.rounds import sweep_rounds
from gunicorn_tui.sweep.runner import (
    SweepProgress,
    SweepRefused,
    SweepSettings,
    SweepStatus,
    run_sweep,
)


def _values(args: argparse.Namespace) -> tuple[tuple[int, ...], tuple[str, ...], tuple[int, ...]]:
    try:
        workers = parse_int_list(args.workers, "--workers")
        threads = parse_int_list(args.threads, "--threads") if args.threads else ()
    except SweepValueError as error:
        raise CliError(str(error), EXIT_USAGE) from error
    return workers, parse_name_list(args.worker_class), threads


def _progress(progress: SweepProgress) -> None:
    if progress.rounds is not None:
        look = progress.rounds.look
        if progress.rounds.detail == "look" and look is not None:
            before, after = look.pair
            print(f"{progress_line(look, progress.rounds.elapsed_s)}: {_names[after]} over "
                  f"{_names[before]}", file=sys.stderr, flush=True)  # fmt: skip
        return
    if progress.measurement is not None:  # once a second: the dashboard's, not a log's
        return
    where = f"[{progress.index + 1}/{progress.total}] " if progress.index >= 0 else ""
    print(f"{where}{progress.stage}: {progress.detail}", file=sys.stderr, flush=True)


# The configs' labels, for progress lines (one sweep per process).
_names: list[str] = []


def _round_settings(args: argparse.Namespace, configs: int) -> InterleaveSettings | None:
    """Interleaved rounds' shape; a cap too short to answer is refused here."""
    settings, problem = sweep_rounds(configs, cap_s=args.cap, segment_s=args.segment)
    if problem is not None:
        problem = problem.replace("the cap must", "--cap must").replace(
            "the segment must", "--segment must"
        )
        raise CliError(problem, EXIT_USAGE)
    return settings


def _modules(
    engine: ControlEngine, sample: InstanceSample, classes: tuple[str, ...]
) -> dict[str, bool]:
    modules = []
    for name in classes:
        try:
            modules.append(resolve_worker_class(name).module)
        except UnknownWorkerClass:
            continue
    if not modules:
        return {}
    try:
        return dict(engine.facts(sample, tuple(modules)).modules)
    except ActionRefused as error:
        raise CliError(f"cannot examine {sample.label}: {error}", EXIT_FAILURE) from error


def run_sweep_command(args: argparse.Namespace) -> int:
    """``gtui sweep``: see the module docstring."""
    if getattr(args, "read_only", False):
        raise CliError(READ_ONLY_REASON, EXIT_FAILURE)
    outputs = _outputs(args)
    workers, classes, threads = _values(args)
    problems = check_grid(workers, classes, threads, _no_config())
    if problems:
        raise CliError("; ".join(problems), EXIT_USAGE)
    if args.warmup < 0 or not 0 < args.measure <= 600:
        raise CliError("--warmup must be >= 0 and --measure in (0, 600] seconds", EXIT_USAGE)
    # Refused before anything runs: a cap too short for the grid.
    rounds = None if args.in_turn else _round_settings(args, len(build_grid(workers, classes,
                                                                            threads)))  # fmt: skip
    profile = profile_named(args.profile)
    monitor = open_target_monitor(args)
    cancel = threading.Event()
    service: ServiceSetup | None = None
    try:
        client = monitor.watcher.client if monitor.watcher is not None else None
        # Built as the control commands build it: the engine the target came
        # from acts, and the sweep's journal records which one it is.
        control = ControlEngine(
            docker_client=client,
            api_only=first_api_only(monitor),
            host=first_host(monitor),
            other_hosts=other_hosts(monitor),
            docker_address=first_address(monitor),
        )
        checked, service = select_measured(args, monitor, profile, control)
        problems = check_grid(
            workers, classes, threads, checked.config, _modules(control, checked, classes)
        )
        if problems:
            raise CliError("; ".join(problems), EXIT_USAGE)
        configs = build_grid(workers, classes, threads)
        _names[:] = [c.label for c in configs]
        if service is not None:
            sample, target = service.sample, service.target
            frames: FrameSource = service.view
            engine: RetuneEngine = service.engine
            subject = f"the whole service {service.describe()} (workers per replica)"
        else:
            sample, frames, engine, subject = checked, monitor.sample, control, checked.label
            target = load_target_for(profile, args.url, sample)
        per_config = args.warmup + args.measure
        how = (
            f"{per_config:g} s each"
            if rounds is None
            else f"interleaved in rounds until the winner is clear or {rounds.cap_s:g} s"
        )
        print(
            f"sweep on {subject}: {len(configs)} configs "
            f"({', '.join(c.label for c in configs)}), {how} under "
            f"{profile.source} against {target.label}; the original config is restored "
            + ("unless a winner is kept" if args.keep_winner else "at the end"),
            file=sys.stderr,
        )
        confirm(args)

        def interrupted(signum: int, _frame: FrameType | None) -> None:
            if not cancel.is_set():
                print("\ninterrupted: finishing the current step, then restoring the "
                      "original config", file=sys.stderr, flush=True)  # fmt: skip
            cancel.set()

        previous = signal.signal(signal.SIGINT, interrupted)
        previous_term = signal.signal(signal.SIGTERM, interrupted)
        try:
            result = run_sweep(
                frames,
                EpochTracker(sample.key, warmup_s=args.warmup),
                engine,
                configs,
                profile,
                target,
                settings=SweepSettings(
                    warmup_s=args.warmup,
                    measure_s=args.measure,
                    keep_winner=args.keep_winner,
                    interleave=rounds,
                ),
                cancel=cancel,
                on_progress=_progress,
            )
        except SweepRefused as error:
            raise CliError(str(error), EXIT_FAILURE) from error
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, previous_term)
    finally:
        monitor.close()
    markdown = sweep_markdown(result)
    document = sweep_json(result)
    if service is not None:
        document["service"] = service.report()
        lines = "".join(f"- {line}\n" for line in service.report_lines())
        head, _, rest = markdown.partition("\n\n")
        markdown = f"{head}\n\n{lines}{rest}"
    json_text = json.dumps(document, indent=2) + "\n"
    print(json_text if args.json else markdown, end="")
    texts = {"markdown": markdown, "json": json_text}
    for kind, path in outputs:
        text = texts[kind] if kind in texts else sweep_svg(result, verdict=winner_line(result))
        if path:
            try:
                Path(path).write_text(text, encoding="utf-8")
            except OSError as error:
                print(f"gtui sweep: cannot write {path}: {error.strerror}", file=sys.stderr)
    if result.status is SweepStatus.CANCELLED:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.status is SweepStatus.COMPLETED else EXIT_FAILURE


_SUFFIXES = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".svg": "svg"}


def _outputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(kind, path) of each file to write: ``--output`` by its suffix, and
    the older ``--markdown FILE`` / ``--svg FILE``. Checked before anything runs."""
    outputs = []
    for path in args.output or ():
        kind = _SUFFIXES.get(Path(path).suffix.lower())
        if kind is None:
            known = ", ".join(_SUFFIXES)
            raise CliError(f"--output {path}: name a .json, .md or .svg file ({known})",
                           EXIT_USAGE)  # fmt: skip
        outputs.append((kind, path))
    if args.markdown_file:
        outputs.append(("markdown", args.markdown_file))
    if args.svg_file:
        outputs.append(("svg", args.svg_file))
    return outputs


def _no_config() -> GunicornConfig:
    # The values alone, before any server is looked at: counts and names.
    return GunicornConfig(settings={})
