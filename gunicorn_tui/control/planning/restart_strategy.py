"""Restart: stop a host master and start its recorded command line with the change.

Only for masters gtui started, or with the operator's explicit confirmation.
"""

from __future__ import annotations

from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.control.planning.command_args import (
    rewrite_arguments,
)
from gunicorn_tui.control.planning.plan import (
    CheckConfig,
    PlanStep,
    RevertSpec,
    StartLocalMaster,
    StopLocalMaster,
    Strategy,
    WaitServing,
)
from gunicorn_tui.control.planning.strategy_common import (
    SERVE_DEADLINE_S,
    check_environment,
    expected_workers,
    graceful_s,
    probe_url,
    user_of,
    verify_map,
)
from gunicorn_tui.control.planning.strategy_context import StrategyContext, StrategyResult
from gunicorn_tui.host.process_tree import gunicorn_args
from gunicorn_tui.model.instances import ConfigSource


def restart_plan(context: StrategyContext) -> StrategyResult:
    """Restart a host master with ``context.changes`` on its command line; on a
    revert, with the command line, environment and directory it had before."""
    sample, facts, changes, restore = (
        context.sample,
        context.facts,
        context.changes,
        context.restore,
    )
    consent = context.consent
    obstacles: list[str] = []
    if facts.access is not AccessKind.HOST:
        obstacles.append("the master is not on this host")
    if facts.argv is None:
        obstacles.append(
            "the master's command line is hidden (setproctitle) and gtui did not start it"
        )
    if facts.environment is None:
        obstacles.append("the master's environment is not readable")
    if facts.start_cwd is None:
        obstacles.append(facts.start_cwd_note or "the master's working directory is not known")
    if facts.launch is None and not consent.restart and restore is None:
        obstacles.append(
            "a restart of a host master gtui did not start needs explicit confirmation "
            "(--restart, or allow_restart in the request)"
        )
    if facts.uid is None or facts.gid is None:
        obstacles.append("the master's user is not known")
    elif facts.other_user and not consent.other_user:
        obstacles.append(
            f"the master runs as uid {facts.uid}, not as gtui's user (uid {facts.operator_uid}): "
            "restarting it runs that user's code; pass --allow-other-user to run it as "
            f"uid {facts.uid} anyway"
        )
    if obstacles:
        return StrategyResult.refused(*obstacles)
    assert facts.uid is not None and facts.gid is not None
    assert facts.argv is not None and facts.environment is not None and facts.start_cwd is not None
    if restore is not None:
        assert restore.argv is not None and restore.environment is not None
        assert restore.cwd is not None
        new_argv, environment, cwd = restore.argv, restore.environment, restore.cwd
    else:
        arguments = gunicorn_args(facts.argv)
        if arguments is None:
            return StrategyResult.refused("gunicorn was not found in the master's command line")
        if (
            changes.get("preload_app") is False
            and facts.layer("preload_app") is ConfigSource.CONFIG_FILE
        ):
            return StrategyResult.refused(
                "preload_app is turned on in the config file; Gunicorn has no flag to turn it off"
            )
        start = len(facts.argv) - len(arguments)
        new_argv = (*facts.argv[:start], *rewrite_arguments(arguments, changes))
        environment, cwd = facts.environment, facts.start_cwd
    new_arguments = gunicorn_args(new_argv) or ()
    check = CheckConfig(
        (*new_argv, "--check-config"),
        cwd,
        check_environment(environment, new_arguments, cwd),
        user_of(facts),
    )
    notes = ["the service is down between the stop and the new master's first workers"]
    if facts.other_user:
        notes.append(
            f"the check and the new master run as uid {facts.uid} (the master's user, "
            "allowed by --allow-other-user), with the master's environment"
        )
    steps = (
        PlanStep(
            "check the new command with gunicorn --check-config", check, changes_service=False
        ),
        PlanStep(
            f"stop the master {facts.master_pid} (graceful)",
            StopLocalMaster(facts.master_pid, graceful_s(sample) + 10.0, facts.master_start_ticks),
        ),
        PlanStep(
            "start it again with the new command line",
            StartLocalMaster(
                tuple(new_argv),
                dict(environment),
                cwd,
                f"master-{facts.master_pid}.log",
                facts.uid,
                facts.gid,
            ),
        ),
        PlanStep(
            "wait until it serves with the new settings (else start the old command again)",
            WaitServing(
                expected_workers(facts, changes) if restore is None else None,
                probe_url(sample, facts),
                SERVE_DEADLINE_S,
                verify=verify_map(facts, changes) if restore is None else {},
                control_socket_path=facts.control_socket_path,
            ),
            changes_service=False,
        ),
    )
    return context.plan(
        Strategy.RESTART_LOCAL,
        steps,
        notes,
        RevertSpec(
            settings=dict(context.before),
            argv=tuple(facts.argv),
            environment=dict(facts.environment),
            cwd=facts.start_cwd,
        ),
        deadline_s=graceful_s(sample) + SERVE_DEADLINE_S + 20.0,
    )
