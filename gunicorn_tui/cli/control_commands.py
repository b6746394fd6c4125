"""``gtui scale``, ``retune``, ``reload``, ``kill-worker``, ``revert`` and ``recover``.

Each action command samples the TARGET, takes its lock (held from the plan
to the outcome, so the plan is made from facts nobody else changes),
prints the plan (steps and exact commands), asks for confirmation
(``--yes`` skips it; with no terminal and no ``--yes`` it refuses), runs it
with progress on stderr, and prints the outcome; its last line says which
configuration the service runs. ``--dry-run`` stops after the plan.
What ``--yes`` does not give is asked for by its own flag
(``--discard-changes``, ``--allow-bind-mount``, ``--allow-other-user``).
SIGINT or SIGTERM while the plan runs finishes or rolls back the current
step (see :mod:`action_signals`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict

from gunicorn_tui.cli.action_signals import ActionSignals, Cancelled, exit_code_for
from gunicorn_tui.cli.exit_codes import (
    EXIT_DOCKER_UNREACHABLE,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
)
from gunicorn_tui.cli.inspect_commands import sample_settled
from gunicorn_tui.control.engine import ActionRefused, ControlEngine, EngineUnavailable
from gunicorn_tui.control.plan import RetunePlan
from gunicorn_tui.control.progress import (
    ActionOutcome,
    OutcomeStatus,
    ProgressEvent,
    RollbackFinished,
    RollbackStarted,
    StepFailed,
    StepFinished,
    StepStarted,
)
from gunicorn_tui.control.requests import Consent, RequestError, RetuneRequest, parse_scale
from gunicorn_tui.control.validation import validate_request
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import TargetKind, TargetNotFound, parse_target

DOCKER_WAIT_S = 15.0


def add_action_options(parser: argparse.ArgumentParser) -> None:
    """Options every action command takes."""
    parser.add_argument("target", metavar="TARGET", help="container name or id, or pid:N")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    parser.add_argument(
        "--read-only", action="store_true", help="refuse every action (for shared sessions)"
    )
    parser.add_argument("--no-docker", action="store_true", help="do not look at Docker")
    parser.add_argument(
        "--api-only",
        action="store_true",
        help="reach containers through the Docker API only, as with a remote daemon",
    )
    consent = parser.add_argument_group("consent that --yes does not give")
    consent.add_argument(
        "--discard-changes",
        action="store_true",
        help="re-create a container even though files changed inside it (docker diff) are lost",
    )
    consent.add_argument(
        "--allow-bind-mount",
        action="store_true",
        help="write gtui's config file into a directory bind-mounted from the host",
    )
    consent.add_argument(
        "--allow-other-user",
        action="store_true",
        help="restart a host master that runs as another user (its code runs as that user)",
    )


def consent_of(args: argparse.Namespace) -> Consent:
    """The consents the command line gives."""
    return Consent(
        restart=bool(getattr(args, "restart", False)),
        other_user=bool(getattr(args, "allow_other_user", False)),
        bind_mount=bool(getattr(args, "allow_bind_mount", False)),
        discard_changes=bool(getattr(args, "discard_changes", False)),
    )


def add_retune_options(parser: argparse.ArgumentParser) -> None:
    """The settings ``gtui retune`` can change."""
    settings = parser.add_argument_group("settings (each optional; unnamed ones stay as they are)")
    settings.add_argument("--workers", "-w", type=int, metavar="N")
    settings.add_argument("--worker-class", "-k", metavar="CLASS")
    settings.add_argument("--threads", type=int, metavar="N")
    settings.add_argument("--worker-connections", type=int, metavar="N")
    settings.add_argument("--timeout", "-t", type=int, metavar="SECONDS")
    settings.add_argument("--graceful-timeout", type=int, metavar="SECONDS")
    settings.add_argument("--max-requests", type=int, metavar="N")
    settings.add_argument("--max-requests-jitter", type=int, metavar="N")
    settings.add_argument("--keep-alive", type=int, metavar="SECONDS", dest="keepalive")
    preload = settings.add_mutually_exclusive_group()
    preload.add_argument("--preload", action="store_true", default=None, dest="preload_app")
    preload.add_argument("--no-preload", action="store_false", dest="preload_app")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="allow stopping and starting a host master gtui did not start",
    )


# -- shared flow ------------------------------------------------------------------


def _open_monitor(args: argparse.Namespace) -> Monitor:
    """Like ``gtui ls``, but an action waits longer for Docker's first list: a
    busy daemon must not turn into "Docker unreachable"."""
    target = parse_target(args.target)
    if args.no_docker and target.kind is TargetKind.CONTAINER:
        raise CliError(f"container target {args.target} needs Docker: drop --no-docker", EXIT_USAGE)
    monitor = Monitor(
        MonitorOptions(targets=(target,), use_docker=not args.no_docker, force_api=args.api_only)
    )
    try:
        monitor.open(wait_for_docker_s=DOCKER_WAIT_S)
        monitor.check_targets()
    except BaseException:
        monitor.close()
        raise
    return monitor


def _select(monitor: Monitor, text: str) -> InstanceSample:
    frame = sample_settled(monitor, 0.2)
    target = parse_target(text)
    instances = list(frame.instances)
    if target.kind is TargetKind.PID:
        instances = [
            sample
            for sample in instances
            if sample.master.pid == target.pid or any(w.pid == target.pid for w in sample.workers)
        ]
    if not instances:
        raise TargetNotFound(f"no Gunicorn server found in {text}")
    if len(instances) > 1:
        masters = ", ".join(f"pid:{s.master.pid}" for s in instances)
        raise CliError(
            f"{text} runs {len(instances)} Gunicorn masters; name one of them: {masters}",
            EXIT_USAGE,
        )
    return instances[0]


def _engine(args: argparse.Namespace, monitor: Monitor | None) -> ControlEngine:
    client = monitor.watcher.client if monitor is not None and monitor.watcher else None
    return ControlEngine(
        read_only=bool(getattr(args, "read_only", False)),
        docker_client=client,
        api_only=bool(getattr(args, "api_only", False)),
    )


def _confirm(args: argparse.Namespace) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CliError("no terminal to confirm on: pass --yes to act", EXIT_USAGE)
    sys.stderr.write("Proceed? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("cancelled", EXIT_FAILURE)


def _progress(event: ProgressEvent) -> None:
    if isinstance(event, StepStarted):
        sys.stderr.write(f"[{event.index + 1}/{event.total}] {event.description} ...\n")
    elif isinstance(event, StepFinished):
        sys.stderr.write(f"      ok ({event.duration_ms / 1000:.2f} s): {event.detail}\n")
    elif isinstance(event, StepFailed):
        sys.stderr.write(f"      FAILED: {event.error}\n")
    elif isinstance(event, RollbackStarted):
        sys.stderr.write(f"rolling back: {event.reason}\n")
    elif isinstance(event, RollbackFinished):
        sys.stderr.write(f"rollback {'done' if event.ok else 'FAILED'}: {event.detail}\n")
    sys.stderr.flush()


def _report(outcome: ActionOutcome) -> int:
    print(outcome.summary())
    if outcome.new_container_logs and outcome.status is not OutcomeStatus.OK:
        print("new container's last log lines:")
        for line in outcome.new_container_logs.splitlines()[-20:]:
            print(f"  {line}")
    if outcome.status is OutcomeStatus.NEEDS_RECOVERY:
        print(f"journal kept at {outcome.journal_path}: run `gtui recover`")
    if outcome.interrupted:
        print(
            f"interrupted ({outcome.interrupted}) at step {outcome.steps_done + 1} of "
            f"{outcome.steps_total}: {outcome.status.value}"
        )
    # The last word: which configuration the service runs now.
    print(outcome.standing_line())
    if outcome.interrupted:
        return exit_code_for(outcome.interrupted)
    return EXIT_OK if outcome.ok else EXIT_FAILURE


PlanMaker = Callable[[ControlEngine, InstanceSample, Consent], RetunePlan]


def _run_action(
    args: argparse.Namespace,
    make_plan: PlanMaker,
    check: Callable[[InstanceSample], None] | None = None,
    purpose: str = "action",
) -> int:
    if getattr(args, "read_only", False):
        # Refuse before touching anything, even before sampling.
        raise CliError("read-only session: actions are disabled (--read-only)", EXIT_FAILURE)
    args.targets = [args.target]
    with ActionSignals() as signals:
        try:
            return _run_locked(args, make_plan, check, purpose, signals)
        except Cancelled as cancelled:
            sys.stderr.write(f"{cancelled}\n")
            return exit_code_for(cancelled.signal_name)


def _run_locked(
    args: argparse.Namespace,
    make_plan: PlanMaker,
    check: Callable[[InstanceSample], None] | None,
    purpose: str,
    signals: ActionSignals,
) -> int:
    monitor = _open_monitor(args)
    try:
        sample = _select(monitor, args.target)
        if check is not None:
            check(sample)
        engine = _engine(args, monitor)
        consent = consent_of(args)
        try:
            with engine.hold(sample, purpose):
                plan = make_plan(engine, sample, consent)
                for line in plan.describe():
                    print(line)
                if not plan.ok:
                    return EXIT_FAILURE
                if args.dry_run:
                    return EXIT_OK
                sys.stdout.flush()
                _confirm(args)
                signals.running()
                outcome = engine.execute(plan, on_event=_progress, interrupt=signals.interrupt)
        except ActionRefused as error:
            raise CliError(str(error), EXIT_FAILURE) from error
        except EngineUnavailable as error:
            raise CliError(str(error), EXIT_DOCKER_UNREACHABLE) from error
        return _report(outcome)
    finally:
        monitor.close()


# -- commands ------------------------------------------------------------------------


def run_scale(args: argparse.Namespace) -> int:
    """``gtui scale TARGET +N|-N|=N``."""
    try:
        request = parse_scale(args.change)
    except RequestError as error:
        raise CliError(str(error), EXIT_USAGE) from error
    return _run_action(
        args,
        lambda engine, sample, consent: engine.plan_scale(sample, request, consent),
        None,
        "scale",
    )


def retune_request(args: argparse.Namespace) -> RetuneRequest:
    """The RetuneRequest named by ``gtui retune``'s options."""
    return RetuneRequest(
        workers=args.workers,
        worker_class=args.worker_class,
        threads=args.threads,
        worker_connections=args.worker_connections,
        timeout=args.timeout,
        graceful_timeout=args.graceful_timeout,
        max_requests=args.max_requests,
        max_requests_jitter=args.max_requests_jitter,
        keepalive=args.keepalive,
        preload_app=args.preload_app,
        allow_restart=args.restart,
    )


def run_retune(args: argparse.Namespace) -> int:
    """``gtui retune TARGET --workers 8 --worker-class gthread ...``."""
    request = retune_request(args)
    if not request.changes():
        raise CliError("name at least one setting to change (see gtui retune --help)", EXIT_USAGE)

    def check(sample: InstanceSample) -> None:
        problems = validate_request(request, sample.config)
        if problems:
            raise CliError("; ".join(problems), EXIT_USAGE)

    return _run_action(
        args,
        lambda engine, sample, consent: engine.plan_retune(sample, request, consent),
        check,
        "retune",
    )


def run_reload(args: argparse.Namespace) -> int:
    """``gtui reload TARGET``: graceful reload (HUP)."""
    return _run_action(
        args, lambda engine, sample, consent: engine.plan_reload(sample), None, "reload"
    )


def run_kill_worker(args: argparse.Namespace) -> int:
    """``gtui kill-worker TARGET PID``."""
    return _run_action(
        args,
        lambda engine, sample, consent: engine.plan_kill_worker(sample, args.pid),
        None,
        "kill-worker",
    )


def run_revert(args: argparse.Namespace) -> int:
    """``gtui revert TARGET``: re-apply the config from before the last retune."""
    return _run_action(
        args, lambda engine, sample, consent: engine.plan_revert(sample, consent), None, "revert"
    )


def run_recover(args: argparse.Namespace) -> int:
    """``gtui recover [--list]``."""
    engine = ControlEngine(read_only=bool(args.read_only))
    pending = engine.pending()
    if args.list or args.json:
        if args.json:
            rows = [asdict(item) for item in pending]
            json.dump({"pending": rows, "state_dir": str(engine.state_dir)}, sys.stdout, indent=2)
            sys.stdout.write("\n")
            return EXIT_OK
        if not pending:
            print(f"no interrupted actions (state: {engine.state_dir})")
        for item in pending:
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(item.started_at))
            state = "running now" if item.in_progress else item.phase
            print(
                f"{item.journal_id}  {started}  {item.action} {item.target} "
                f"({item.strategy}), {item.steps_done}/{item.steps_total} steps, {state}"
            )
        return EXIT_OK
    from gunicorn_tui.cli.sweep_commands import recover_sweeps
    from gunicorn_tui.sweep.recovery import interrupted_sweeps

    if not pending and not interrupted_sweeps(engine):
        print(f"nothing to recover (state: {engine.state_dir})")
        return EXIT_OK
    try:
        results = engine.recover()
    except ActionRefused as error:
        raise CliError(str(error), EXIT_FAILURE) from error
    failed = False
    for result in results:
        print(
            f"{result.journal_id}  {result.action} {result.target}: "
            f"{result.result}: {result.detail}"
        )
        failed = failed or not result.ok or result.result == "in progress"
    # Killed sweeps: once their retunes are settled, put the original config back.
    for sweep in recover_sweeps(engine):
        print(f"{sweep.sweep_id}  sweep {sweep.target}: {sweep.result}: {sweep.detail}")
        failed = failed or not sweep.ok
    return EXIT_FAILURE if failed else EXIT_OK
