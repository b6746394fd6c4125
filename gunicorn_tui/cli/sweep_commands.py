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

from gunicorn_tui.cli.compare_commands import (
    EXIT_INTERRUPTED,
    _load_target,
    _monitor,
    _profile,
    _target_options,
)
from gunicorn_tui.cli.control_commands import _confirm, _select
from gunicorn_tui.cli.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.control.engine import READ_ONLY_REASON, ActionRefused, ControlEngine
from gunicorn_tui.control.worker_classes import UnknownWorkerClass, resolve_worker_class
from gunicorn_tui.model.instances import GunicornConfig, InstanceSample
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.sweep.grid import (
    SweepValueError,
    build_grid,
    check_grid,
    parse_int_list,
    parse_name_list,
)
from gunicorn_tui.sweep.journal import SweepTarget
from gunicorn_tui.sweep.plot_svg import sweep_svg
from gunicorn_tui.sweep.recovery import SweepRecovery, interrupted_sweeps, recover_sweep
from gunicorn_tui.sweep.report import sweep_json, sweep_markdown, winner_line
from gunicorn_tui.sweep.runner import (
    SweepProgress,
    SweepRefused,
    SweepSettings,
    SweepStatus,
    run_sweep,
)


def add_sweep_parser(
    commands: dict[str, argparse.ArgumentParser], parser_class: type[argparse.ArgumentParser]
) -> None:
    """Register ``sweep``."""
    sweep = parser_class(
        prog="gtui sweep",
        description="Try each combination of --workers, --worker-class (and --threads for "
        "gthread) under the same load, rank them, and restore the original config.",
    )
    _target_options(sweep)
    sweep.add_argument("--workers", required=True, metavar="N,N,...")
    sweep.add_argument("--worker-class", default="sync", metavar="CLASS,...")
    sweep.add_argument("--threads", metavar="N,N,...", help="thread counts for gthread")
    sweep.add_argument("--profile", required=True, help="load profile (file or built-in name)")
    sweep.add_argument("--warmup", type=float, default=5.0, metavar="S")
    sweep.add_argument("--measure", type=float, default=20.0, metavar="S")
    sweep.add_argument("--url", help="base URL for the load, overriding the instance's bind")
    sweep.add_argument("--keep-winner", action="store_true", help="end on the best config")
    sweep.add_argument("--json", dest="json_file", metavar="FILE", help="write JSON here")
    sweep.add_argument("--markdown", dest="markdown_file", metavar="FILE")
    sweep.add_argument("--svg", dest="svg_file", metavar="FILE", help="write the plot (SVG) here")
    sweep.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    sweep.add_argument("--read-only", action="store_true", help="refuse (shared sessions)")
    commands["sweep"] = sweep


def _values(args: argparse.Namespace) -> tuple[tuple[int, ...], tuple[str, ...], tuple[int, ...]]:
    try:
        workers = parse_int_list(args.workers, "--workers")
        threads = parse_int_list(args.threads, "--threads") if args.threads else ()
    except SweepValueError as error:
        raise CliError(str(error), EXIT_USAGE) from error
    return workers, parse_name_list(args.worker_class), threads


def _progress(progress: SweepProgress) -> None:
    if progress.measurement is not None:  # once a second: the dashboard's, not a log's
        return
    where = f"[{progress.index + 1}/{progress.total}] " if progress.index >= 0 else ""
    print(f"{where}{progress.stage}: {progress.detail}", file=sys.stderr, flush=True)


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
    workers, classes, threads = _values(args)
    problems = check_grid(workers, classes, threads, _no_config())
    if problems:
        raise CliError("; ".join(problems), EXIT_USAGE)
    if args.warmup < 0 or not 0 < args.measure <= 600:
        raise CliError("--warmup must be >= 0 and --measure in (0, 600] seconds", EXIT_USAGE)
    profile = _profile(args.profile)
    monitor = _monitor(args)
    cancel = threading.Event()
    try:
        sample = _select(monitor, args.target)
        client = monitor.watcher.client if monitor.watcher is not None else None
        engine = ControlEngine(docker_client=client)
        problems = check_grid(
            workers, classes, threads, sample.config, _modules(engine, sample, classes)
        )
        if problems:
            raise CliError("; ".join(problems), EXIT_USAGE)
        configs = build_grid(workers, classes, threads)
        target = _load_target(profile, args.url, sample)
        per_config = args.warmup + args.measure
        print(
            f"sweep on {sample.label}: {len(configs)} configs "
            f"({', '.join(c.label for c in configs)}), {per_config:g} s each under "
            f"{profile.source} against {target.label}; the original config is restored "
            + ("unless a winner is kept" if args.keep_winner else "at the end"),
            file=sys.stderr,
        )
        _confirm(args)

        def interrupted(signum: int, _frame: FrameType | None) -> None:
            if not cancel.is_set():
                print("\ninterrupted: finishing the current step, then restoring the "
                      "original config", file=sys.stderr, flush=True)  # fmt: skip
            cancel.set()

        previous = signal.signal(signal.SIGINT, interrupted)
        previous_term = signal.signal(signal.SIGTERM, interrupted)
        try:
            result = run_sweep(
                monitor.sample,
                EpochTracker(sample.key, warmup_s=args.warmup),
                engine,
                configs,
                profile,
                target,
                settings=SweepSettings(
                    warmup_s=args.warmup, measure_s=args.measure, keep_winner=args.keep_winner
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
    print(markdown, end="")
    exports = (
        (args.markdown_file, markdown),
        (args.json_file, json.dumps(sweep_json(result), indent=2) + "\n"),
        (args.svg_file, sweep_svg(result, verdict=winner_line(result))),
    )
    for path, text in exports:
        if path:
            try:
                Path(path).write_text(text, encoding="utf-8")
            except OSError as error:
                print(f"gtui sweep: cannot write {path}: {error.strerror}", file=sys.stderr)
    if result.status is SweepStatus.CANCELLED:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.status is SweepStatus.COMPLETED else EXIT_FAILURE


def _no_config() -> GunicornConfig:
    # The values alone, before any server is looked at: counts and names.
    return GunicornConfig(settings={})


def recover_sweeps(engine: ControlEngine) -> list[SweepRecovery]:
    """``gtui recover``'s second half: restore the original config of killed sweeps."""
    results = []
    for journal in interrupted_sweeps(engine):

        def find(target: SweepTarget) -> InstanceSample | None:
            monitor = Monitor(
                MonitorOptions(
                    targets=(parse_target(target.target_text),),
                    use_docker=target.container_name is not None,
                    statsd_address=None,
                    collect_traffic=False,
                )
            )
            try:
                monitor.open(wait_for_docker_s=15.0)
                return _select(monitor, target.target_text)
            except Exception:  # not found, Docker away: reported as "not found"
                return None
            finally:
                monitor.close()

        results.append(recover_sweep(journal, engine, find))
    return results
