"""HUP reload: write gtui's config file where Gunicorn reads it, check it, then HUP."""

from __future__ import annotations

from collections.abc import Mapping

from gunicorn_tui.access.files import EXPECT_ABSENT, expect_content
from gunicorn_tui.control.planning.facts import ENV_CMD_ARGS, RetuneFacts
from gunicorn_tui.control.planning.managed_config import (
    candidate_path,
    managed_settings,
    render_managed,
)
from gunicorn_tui.control.planning.plan import (
    PlanStep,
    RevertSpec,
    StepAction,
    Strategy,
    WaitServing,
)
from gunicorn_tui.control.planning.requests import (
    NO_CONSENT,
    Consent,
)
from gunicorn_tui.control.planning.running_config import (
    current_workers,
)
from gunicorn_tui.control.planning.strategy_common import (
    SERVE_DEADLINE_S,
    check_config_action,
    check_obstacle,
    control_action,
    expected_workers,
    file_refusal,
    file_write,
    graceful_s,
    mount_notes,
    probe_url,
    signal_action,
    verify_map,
)
from gunicorn_tui.control.planning.strategy_context import StrategyContext, StrategyResult
from gunicorn_tui.model.instances import ConfigSource, ConfigValue


def hup_obstacles(
    facts: RetuneFacts, changes: Mapping[str, ConfigValue], consent: Consent = NO_CONSENT
) -> list[str]:
    """Why ``changes`` cannot be applied with a gtui config file and HUP (empty: they can)."""
    obstacles: list[str] = []
    file = facts.config_file
    for name in changes:
        layer = facts.layer(name)
        if layer is ConfigSource.COMMAND_LINE:
            obstacles.append(f"{name} is set on the command line, which beats a config file")
        elif layer is ConfigSource.ENV and facts.env_declares.get(name) == ENV_CMD_ARGS:
            obstacles.append(f"{name} is set in GUNICORN_CMD_ARGS, which beats a config file")
        elif layer is ConfigSource.UNKNOWN:
            obstacles.append(f"where {name} is set is not known")
        elif layer is ConfigSource.CONFIG_FILE and not file.managed:
            obstacles.append(f"{name} is set in {file.path}, the operator's own config file")
    refusal = file_refusal(facts, consent)
    if refusal is not None:
        obstacles.append(refusal)
    check = check_obstacle(facts)
    if check is not None:
        obstacles.append(check)
    elif not facts.arguments_verified and facts.control_socket_path is None:
        obstacles.append(
            "Gunicorn's arguments are inferred and there is no control socket to confirm the change"
        )
    return obstacles


def hup_plan(context: StrategyContext) -> StrategyResult:
    """Apply ``context.changes`` with gtui's config file and HUP; on a revert,
    put back the file content the earlier action replaced (None: no file)."""
    sample, facts, changes = context.sample, context.facts, context.changes
    before, restore = context.before, context.restore
    file = facts.config_file
    assert file.path is not None
    notes: list[str] = mount_notes(facts, context.consent)
    previous = file.content if file.exists else None
    if restore is not None:
        content = restore.file_content
        file_workers: ConfigValue = (
            managed_settings(content).get("workers") if content is not None else None
        )
    else:
        settings = managed_settings(previous) if previous is not None and file.managed else {}
        settings.update(changes)
        pinned = facts.layer("workers") is ConfigSource.COMMAND_LINE or (
            facts.env_declares.get("workers") == ENV_CMD_ARGS
        )
        running = current_workers(sample)
        if (
            "workers" not in changes
            and not pinned
            and running != facts.static_values.get("workers")
        ):
            settings["workers"] = running
            notes.append(
                f"keeps the {running} workers running now (a reload would otherwise reset them)"
            )
        content = render_managed(settings)
        file_workers = settings.get("workers")
    steps: list[PlanStep] = []
    if content is not None:
        candidate = candidate_path(file.path)
        check = check_config_action(facts, ("-c", candidate))
        assert check is not None
        steps += [
            PlanStep(
                f"write the new settings to a candidate file {candidate}",
                file_write(facts, candidate, content, EXPECT_ABSENT),
                changes_service=False,
            ),
            PlanStep(
                "check it with gunicorn --check-config in the server's environment",
                check,
                changes_service=False,
            ),
            PlanStep(
                f"{'replace gtui' if previous else 'create gtui'}'s config file {file.path}",
                file_write(facts, file.path, content, expect_content(previous)),
            ),
            PlanStep(
                "remove the candidate file",
                file_write(facts, candidate, None, expect_content(content)),
                changes_service=False,
            ),
        ]
    else:
        steps.append(
            PlanStep(
                f"remove gtui's config file {file.path}",
                file_write(facts, file.path, None, expect_content(previous)),
            )
        )
        check = check_config_action(facts, ())
        if check is not None:
            steps.append(
                PlanStep("check the configuration without it", check, changes_service=False)
            )
    hup: StepAction | None = signal_action(facts, "HUP") or control_action(facts, "reload")
    if hup is None:
        return StrategyResult.refused("the master cannot be signalled and has no control socket")
    hup_index = len(steps)
    steps.append(PlanStep("reload: HUP to the master (new workers start, old ones finish)", hup))
    steps.append(
        PlanStep(
            "wait until the new workers run the new settings",
            WaitServing(
                expected_workers(facts, changes, file_workers),
                probe_url(sample, facts),
                graceful_s(sample) + SERVE_DEADLINE_S,
                verify=verify_map(facts, changes),
                fresh_after_step=hup_index,
                control_socket_path=facts.control_socket_path,
            ),
            changes_service=False,
        )
    )
    if facts.container is not None and facts.container.orchestrator is not None:
        notes.append(
            "the container belongs to an orchestrator: the change lasts until it replaces the "
            "container"
        )
    if file.in_container_layer and sample.container is not None:
        notes.append(
            f"{file.path} lives in the container's writable layer: re-creating the container "
            "(e.g. docker compose up) drops it and returns to the original settings"
        )
    elif sample.container is not None:
        notes.append(f"{file.path} is on a mounted volume: it outlives the container")
    return context.plan(
        Strategy.HUP_WITH_CONFIG,
        steps,
        notes,
        RevertSpec(settings=dict(before), file_path=file.path, file_content=previous),
    )
