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
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

from gunicorn_tui.access.engine_connect import EngineConnector
from gunicorn_tui.cli.action_signals import ActionSignals, Cancelled, exit_code_for
from gunicorn_tui.cli.engine_hosts import (
    first_address,
    first_api_only,
    first_host,
    other_hosts,
    remote_gtuis,
)
from gunicorn_tui.cli.exit_codes import (
    EXIT_DOCKER_UNREACHABLE,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
)
from gunicorn_tui.cli.retune_args import retune_request
from gunicorn_tui.cli.target_monitor import (
    confirm,
    engine_endpoints,
    open_target_monitor,
    parse_args_target,
    refuse_if_read_only,
    select_instance,
    select_replicas,
)
from gunicorn_tui.control.durability.journal import OutcomeStatus
from gunicorn_tui.control.durability.plan_codec import encode as encode_plan
from gunicorn_tui.control.engine import ActionRefused, ControlEngine, EngineUnavailable
from gunicorn_tui.control.planning.plan import RetunePlan
from gunicorn_tui.control.planning.requests import Consent, RequestError, parse_scale
from gunicorn_tui.control.planning.validation import validate_request
from gunicorn_tui.control.remote_host import parse_master_stamp, plan_digest
from gunicorn_tui.control.running.progress import (
    ActionOutcome,
    ProgressEvent,
    RollbackFinished,
    RollbackStarted,
    StepFailed,
    StepFinished,
    StepStarted,
)
from gunicorn_tui.control.running.service_roll import (
    ReplicaResult,
    ReplicaStatus,
    RollOutcome,
    replica_disagreements,
    replica_name,
    roll_over_replicas,
)
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import Monitor
from gunicorn_tui.monitor.targets import TargetKind

_log = logging.getLogger("gtui.actions")


def _engine(args: argparse.Namespace, monitor: Monitor | None) -> ControlEngine:
    client = monitor.watcher.client if monitor is not None and monitor.watcher else None
    if monitor is None:
        return ControlEngine(
            read_only=bool(getattr(args, "read_only", False)),
            docker_client=client,
            api_only=bool(getattr(args, "api_only", False)),
        )
    return ControlEngine(
        read_only=bool(getattr(args, "read_only", False)),
        docker_client=client,
        api_only=bool(getattr(args, "api_only", False)) or first_api_only(monitor),
        host=first_host(monitor),
        other_hosts=other_hosts(monitor),
        docker_address=first_address(monitor),
        remote_gtuis=remote_gtuis(monitor),
    )


def consent_of(args: argparse.Namespace) -> Consent:
    """The consents the command line gives (``--restart``, ``--allow-*``, ``--discard-changes``)."""
    return Consent(
        restart=bool(getattr(args, "restart", False)),
        other_user=bool(getattr(args, "allow_other_user", False)),
        bind_mount=bool(getattr(args, "allow_bind_mount", False)),
        discard_changes=bool(getattr(args, "discard_changes", False)),
    )


def _progress(event: ProgressEvent) -> None:
    _log.info("%s", event)
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
    _log.info("outcome: %s", outcome.summary())
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
    return _exit_code(outcome)


def _exit_code(outcome: ActionOutcome) -> int:
    if outcome.interrupted:
        return exit_code_for(outcome.interrupted)
    return EXIT_OK if outcome.ok else EXIT_FAILURE


def _print_json(plan: RetunePlan, outcome: ActionOutcome | None, agent_plan: bool = False) -> None:
    """``--json``: the plan and, when it ran, its outcome, as one document
    (with ``--agent-plan``, the whole plan for the local gtui that asked)."""
    document: dict[str, object] = {
        "plan": _plan_json(plan),
        "outcome": None,
    }
    if agent_plan:
        document["agent"] = {
            "plan": encode_plan(plan),
            "digest": plan_digest(plan),
            "journal_id": outcome.journal_id if outcome is not None else None,
        }
    if outcome is not None:
        logs = (outcome.new_container_logs or "").splitlines()[-20:]
        document["outcome"] = {
            "status": outcome.status.value,
            "summary": outcome.summary(),
            "steps_done": outcome.steps_done,
            "steps_total": outcome.steps_total,
            "error": outcome.error,
            "served_after_s": outcome.served_after_s,
            "new_master_pid": outcome.new_master_pid,
            "new_container_id": outcome.new_container_id,
            "journal_path": outcome.journal_path,
            "interrupted": outcome.interrupted,
            "standing": outcome.standing.value,
            "new_container_log_tail": logs,
            "notes": list(outcome.notes),
        }
    json.dump(document, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


PlanMaker = Callable[[ControlEngine, InstanceSample, Consent], RetunePlan]


def _run_action(
    args: argparse.Namespace,
    make_plan: PlanMaker,
    check: Callable[[InstanceSample], None] | None = None,
    purpose: str = "action",
    must_agree: tuple[str, ...] = (),
) -> int:
    refuse_if_read_only(args)
    with ActionSignals() as signals:
        try:
            if parse_args_target(args, args.target).kind is TargetKind.SERVICE:
                return _run_rolling(args, make_plan, check, purpose, signals, must_agree)
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
    monitor = open_target_monitor(args)
    try:
        sample = select_instance(monitor, args.target)
        if check is not None:
            check(sample)
        engine = _engine(args, monitor)
        try:
            with engine.hold(sample, purpose):
                plan = make_plan(engine, sample, consent_of(args))
                _check_expected(args, plan)
                if not args.json:
                    for line in plan.describe():
                        print(line)
                _log.info("plan: %s", " | ".join(plan.describe()))
                if not plan.ok or args.dry_run:
                    if args.json:
                        _print_json(plan, None, args.agent_plan)
                    return EXIT_OK if plan.ok else EXIT_FAILURE
                sys.stdout.flush()
                confirm(args)
                signals.running()
                if args.agent_plan:
                    _interrupt_when_stdin_closes(signals)
                outcome = engine.execute(plan, on_event=_progress, interrupt=signals.interrupt)
        except ActionRefused as error:
            raise CliError(str(error), EXIT_FAILURE) from error
        except EngineUnavailable as error:
            raise CliError(str(error), EXIT_DOCKER_UNREACHABLE) from error
        if args.json:
            _log.info("outcome: %s", outcome.summary())
            _print_json(plan, outcome, args.agent_plan)
            return _exit_code(outcome)
        return _report(outcome)
    finally:
        monitor.close()


def _interrupt_when_stdin_closes(signals: ActionSignals) -> None:
    """A run for a local gtui (``--agent-plan``): its SSH channel's stdin
    closing is that gtui's interrupt (Ctrl-C there, its dashboard quitting),
    honoured as SIGHUP here: the current step finishes or rolls back."""

    def watch() -> None:
        try:
            while os.read(sys.stdin.fileno(), 4096):
                pass
        except (OSError, ValueError):
            pass
        signals.interrupt.request("SIGHUP")

    threading.Thread(target=watch, name="gtui-stdin-interrupt", daemon=True).start()


def _check_expected(args: argparse.Namespace, plan: RetunePlan) -> None:
    """``--expect-master``/``--expect-plan`` (a local gtui acting here
    through this one): the plan it confirmed, for the same process, or nothing."""
    stamp = getattr(args, "expect_master", None)
    if stamp:
        try:
            pid, ticks = parse_master_stamp(stamp)
        except ValueError as error:
            raise CliError(f"--expect-master {error}", EXIT_USAGE) from error
        target = plan.target
        if target.master_pid != pid or (ticks is not None and target.master_start_ticks != ticks):
            raise CliError(
                f"pid {pid} is no longer the master the plan was confirmed for "
                "(another process, started at another time): plan again",
                EXIT_FAILURE,
            )
    digest = getattr(args, "expect_plan", None)
    if digest and plan_digest(plan) != digest:
        raise CliError(
            f"{plan.target.label}: the plan here is no longer the one confirmed "
            f"({plan.refusal or 'its settings or steps changed'}): plan again",
            EXIT_FAILURE,
        )


def _run_rolling(
    args: argparse.Namespace,
    make_plan: PlanMaker,
    check: Callable[[InstanceSample], None] | None,
    purpose: str,
    signals: ActionSignals,
    must_agree: tuple[str, ...],
) -> int:
    """The action on every replica of a Compose service, one at a time
    (see :mod:`gunicorn_tui.control.running.service_roll`)."""
    monitor = open_target_monitor(args)
    try:
        replicas = select_replicas(monitor, args.target)
        if check is not None:
            for sample in replicas:
                check(sample)
        disagree = replica_disagreements(replicas, must_agree)
        if disagree:
            raise CliError(
                f"{args.target}: the replicas disagree ({'; '.join(disagree)}): "
                "give an absolute value (e.g. =N) or name one container",
                EXIT_USAGE,
            )
        names = ", ".join(replica_name(sample) for sample in replicas)
        if not args.json:
            print(f"{args.target}: {len(replicas)} replicas, one at a time: {names}")
        engine = _engine(args, monitor)
        confirmed = False
        documents: list[dict[str, object]] = []

        def step(sample: InstanceSample) -> tuple[RetunePlan, ActionOutcome | None]:
            nonlocal confirmed
            with engine.hold(sample, purpose):
                plan = make_plan(engine, sample, consent_of(args))
                if not args.json:
                    print(f"-- {replica_name(sample)}")
                    for line in plan.describe():
                        print(line)
                if not plan.ok or args.dry_run:
                    return plan, None
                sys.stdout.flush()
                if not confirmed:
                    confirm(args)
                    confirmed = True
                signals.running()
                outcome = engine.execute(plan, on_event=_progress, interrupt=signals.interrupt)
                if not args.json:
                    print(outcome.summary())
                return plan, outcome

        try:
            if args.dry_run:
                plans = [step(sample)[0] for sample in replicas]
                if args.json:
                    json.dump({"service": args.target, "plans": [_plan_json(p) for p in plans]},
                              sys.stdout, indent=2, default=str)  # fmt: skip
                    sys.stdout.write("\n")
                return EXIT_OK if all(plan.ok for plan in plans) else EXIT_FAILURE
            roll = roll_over_replicas(args.target, replicas, step)
        except ActionRefused as error:
            raise CliError(str(error), EXIT_FAILURE) from error
        except EngineUnavailable as error:
            raise CliError(str(error), EXIT_DOCKER_UNREACHABLE) from error
        _log.info("roll: %s", roll.summary())
        if args.json:
            documents = [_replica_json(result) for result in roll.results]
            json.dump({"service": args.target, "ok": roll.ok, "summary": roll.summary(),
                       "replicas": documents}, sys.stdout, indent=2, default=str)  # fmt: skip
            sys.stdout.write("\n")
        else:
            for result in roll.results:
                print(result.line)
            print(roll.summary())
        return _roll_exit_code(roll)
    finally:
        monitor.close()


def _roll_exit_code(roll: RollOutcome) -> int:
    for result in roll.results:
        if result.outcome is not None and result.outcome.interrupted:
            return exit_code_for(result.outcome.interrupted)
    return EXIT_OK if roll.ok else EXIT_FAILURE


def _plan_json(plan: RetunePlan) -> dict[str, object]:
    changed = {k: [plan.before.get(k), v] for k, v in plan.after.items()
               if plan.before.get(k) != v}  # fmt: skip
    return {
        "action": plan.action.value,
        "target": plan.target.label,
        "host": plan.target.host,
        "strategy": plan.strategy.value if plan.strategy else None,
        "ok": plan.ok,
        "refusal": plan.refusal,
        "change": changed,
        "steps": [{"description": s.description, "command": s.command} for s in plan.steps],
        "notes": list(plan.notes),
    }


def _replica_json(result: ReplicaResult) -> dict[str, object]:
    outcome = result.outcome
    return {
        "name": result.name,
        "status": result.status.value,
        "plan": _plan_json(result.plan) if result.plan is not None else None,
        "outcome": None
        if outcome is None
        else {
            "status": outcome.status.value,
            "summary": outcome.summary(),
            "error": outcome.error,
            "served_after_s": outcome.served_after_s,
            "new_container_id": outcome.new_container_id,
            "standing": outcome.standing.value,
        },
        "kept_old_config": result.status is not ReplicaStatus.DONE,
    }


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
        () if request.mode.value == "=" else ("workers",),
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
                f"{item.journal_id}  {started}  {item.action} {item.host}/{item.target} "
                f"({item.strategy}), {item.steps_done}/{item.steps_total} steps, {state}"
            )
        return EXIT_OK
    from gunicorn_tui.cli.sweep_recovery import recover_sweeps
    from gunicorn_tui.sweep.recovery import interrupted_sweeps

    endpoints = engine_endpoints(args)
    connectors = [EngineConnector(endpoint) for endpoint in endpoints]
    # Actions on masters outside containers of ssh:// hosts were journaled
    # there, by the gtui there: settled by it.
    remote_failed, remote_settled = _recover_remote(connectors, bool(args.read_only))
    if not pending and not interrupted_sweeps(engine):
        for connector in connectors:
            connector.close()
        if not remote_settled:
            print(f"nothing to recover (state: {engine.state_dir})")
        return EXIT_FAILURE if remote_failed else EXIT_OK
    given = [
        ControlEngine(
            read_only=engine.read_only,
            connect_docker=connector,
            docker_address=connector.endpoint.url,
            api_only=not connector.endpoint.on_this_host,
            host=connector.endpoint.name,
        )
        for connector in connectors
    ]
    try:
        # Each journal on the engine it names, of those given.
        results = engine.recover_on(given) if connectors else engine.recover()
        failed = remote_failed
        for result in results:
            print(
                f"{result.journal_id}  {result.action} {result.target}: "
                f"{result.result}: {result.detail}"
            )
            failed = failed or not result.ok or result.result == "in progress"
        # Killed sweeps: once their retunes are settled, put the original config
        # back, each through the engine its journal names.
        choices = [(e, c.endpoint) for e, c in zip(given, connectors, strict=True)]
        for sweep in recover_sweeps(engine, choices):
            print(f"{sweep.sweep_id}  sweep {sweep.target}: {sweep.result}: {sweep.detail}")
            failed = failed or not sweep.ok
    except ActionRefused as error:
        raise CliError(str(error), EXIT_FAILURE) from error
    finally:
        for connector in connectors:
            connector.close()
    return EXIT_FAILURE if failed else EXIT_OK


def _recover_remote(connectors: list[EngineConnector], read_only: bool) -> tuple[bool, bool]:
    """``gtui recover`` of the gtui on each ssh:// engine given (lines printed);
    (whether one failed, whether one settled anything)."""
    if not any(connector.ssh_session is not None for connector in connectors):
        return False, False
    from gunicorn_tui.cli.remote_recovery import recover_remote_hosts
    from gunicorn_tui.monitor.agent_link import remote_command

    failed = settled = False
    for result in recover_remote_hosts(connectors, remote_command(), read_only):
        for line in result.lines:
            print(line)
        failed = failed or result.failed
        settled = settled or result.settled_any
    return failed, settled
