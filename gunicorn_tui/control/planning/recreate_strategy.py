"""Re-create: replace a container with one running the changed command or env.

Compose v2 style (create, stop, rename aside, rename, start, wait, remove), rolled
back by the executor when the new container does not serve.
"""

from __future__ import annotations

from collections.abc import Mapping

from gunicorn_tui.control.planning.command_args import (
    CannotExpress,
    env_list_get,
    env_list_set,
    locate_arguments,
    rewrite_command,
    rewrite_env_arguments,
)
from gunicorn_tui.control.planning.container_spec import (
    aside_name,
    recreate_spec,
    temporary_name,
)
from gunicorn_tui.control.planning.facts import ENV_CMD_ARGS, ENV_WEB_CONCURRENCY, RetuneFacts
from gunicorn_tui.control.planning.managed_config import (
    managed_settings,
)
from gunicorn_tui.control.planning.plan import (
    CheckConfig,
    ContainerRole,
    CreateContainer,
    PlanStep,
    RemoveContainer,
    RenameContainer,
    RevertSpec,
    StartContainer,
    StopContainer,
    Strategy,
    WaitServing,
)
from gunicorn_tui.control.planning.recreate_preflight import describe_losses
from gunicorn_tui.control.planning.strategy_common import (
    SERVE_DEADLINE_S,
    check_environment,
    container_id_of,
    expected_workers,
    probe_url,
    user_of,
    verify_map,
)
from gunicorn_tui.control.planning.strategy_context import StrategyContext, StrategyResult
from gunicorn_tui.model.instances import ConfigSource, ConfigValue

DOCKER_STOP_TIMEOUT_S = 10
_API_MULTI_NETWORK = (1, 44)


def recreate_plan(context: StrategyContext) -> StrategyResult:
    """Re-create the container with ``context.changes`` written where each
    setting lives; on a revert, with the command and env it had before."""
    sample, facts, changes, restore = (
        context.sample,
        context.facts,
        context.changes,
        context.restore,
    )
    container = facts.container
    assert sample.container is not None
    if container is None:
        return StrategyResult.refused("the container could not be inspected")
    if container.orchestrator is not None:
        # Nothing else matters: the orchestrator would undo a re-create.
        return StrategyResult.refused(container.orchestrator)
    obstacles: list[str] = []
    if container.dependents:
        obstacles.append(
            "other containers depend on this one and would break if it were replaced: "
            + "; ".join(container.dependents)
            + ". Re-create them together (e.g. `docker compose up -d` with the change in the "
            "compose file), or change the setting in place"
        )
    losses = _layer_losses(facts)
    if losses and not context.consent.discard_changes:
        obstacles.append(
            f"a re-create loses {len(losses)} change(s) made inside the "
            f"container (docker diff: {describe_losses(losses)}); pass "
            "--discard-changes to re-create anyway"
        )
    if container.auto_remove:
        obstacles.append("the container is started with --rm (AutoRemove): stopping it deletes it")
    name = sample.container.name
    temporary, aside = temporary_name(name), aside_name(name)
    for taken, taken_id in container.names_taken.items():
        obstacles.append(
            f"a container named {taken} already exists ({taken_id[:12]}): remove it, or run "
            "`gtui recover` if an interrupted retune left it"
        )
    inspect = container.inspect
    config = inspect.get("Config") or {}
    old_entrypoint = tuple(config["Entrypoint"]) if config.get("Entrypoint") else None
    old_cmd = tuple(config["Cmd"]) if config.get("Cmd") else None
    old_env = tuple(config.get("Env") or ())
    notes: list[str] = []
    if restore is not None:
        assert restore.env is not None
        entrypoint, cmd, env = restore.entrypoint, restore.cmd, restore.env
    else:
        entrypoint, cmd, env = old_entrypoint, old_cmd, old_env
        try:
            entrypoint, cmd, env, where = _rewrite_container_command(
                facts, changes, old_entrypoint, old_cmd, old_env
            )
            notes.extend(where)
        except CannotExpress as error:
            obstacles.append(str(error))
    if obstacles:
        return StrategyResult.refused(*obstacles)
    api = tuple(int(p) for p in container.api_version.split(".")[:2] if p.isdigit())
    spec = recreate_spec(
        inspect,
        entrypoint=entrypoint,
        cmd=cmd,
        env=env,
        image=container.image_ref,
        connect_extra_networks=api < _API_MULTI_NETWORK,
    )
    notes.extend(spec.notes)
    if losses:
        notes.append(
            "discards what was written inside the container (allowed by --discard-changes): "
            + describe_losses(losses)
        )
    # Reverting re-creates with the original command and env, plus what gtui's
    # config file in the old container's layer held (else it would be lost).
    revert_env = old_env
    carried = carried_file_settings(facts)
    if carried:
        current = env_list_get(old_env, ENV_CMD_ARGS) or ""
        revert_env = env_list_set(old_env, ENV_CMD_ARGS, rewrite_env_arguments(current, carried))
    stop_timeout = int(config.get("StopTimeout") or DOCKER_STOP_TIMEOUT_S)
    labels = config.get("Labels") or {}
    if any(key.startswith("com.docker.compose.") for key in labels):
        notes.append(
            "Compose labels are kept, so the container stays in its project; a later "
            "`docker compose up --force-recreate` returns to the compose file's command"
        )
    if not container.host_network and probe_url(sample, facts) is None:
        notes.append("readiness is judged by the master and its workers (no HTTP probe from here)")
    verify = verify_map(facts, changes) if restore is None else {}
    check = _recreate_check(facts, entrypoint, cmd, env, old_env)
    checks: tuple[PlanStep, ...] = ()
    if check is not None:
        checks = (
            PlanStep(
                "check the new command with gunicorn --check-config in the running container",
                check,
                changes_service=False,
            ),
        )
    else:
        notes.append("the new command cannot be checked first (Gunicorn's arguments not found)")
    steps = (
        *checks,
        PlanStep(
            f"create the new container as {temporary}", CreateContainer(temporary, spec), False
        ),
        PlanStep(
            f"stop the old container {name}",
            StopContainer(ContainerRole.ORIGINAL, name, stop_timeout),
        ),
        PlanStep(
            f"move the old container aside as {aside}",
            RenameContainer(ContainerRole.ORIGINAL, name, aside),
        ),
        PlanStep(
            f"give the new container the name {name}",
            RenameContainer(ContainerRole.NEW, temporary, name),
        ),
        PlanStep(f"start the new container {name}", StartContainer(ContainerRole.NEW, name)),
        PlanStep(
            "wait until it serves with the new settings (else roll back to the old one)",
            WaitServing(
                expected_workers(facts, changes) if restore is None else None,
                probe_url(sample, facts),
                SERVE_DEADLINE_S,
                verify=verify,
                container=ContainerRole.NEW,
                control_socket_path=facts.control_socket_path,
            ),
            changes_service=False,
        ),
        PlanStep(
            f"remove the old container {aside} (its volumes stay)",
            RemoveContainer(ContainerRole.ORIGINAL, aside),
        ),
    )
    return context.plan(
        Strategy.RECREATE,
        steps,
        notes,
        RevertSpec(
            settings=dict(context.before), entrypoint=old_entrypoint, cmd=old_cmd, env=revert_env
        ),
        temporary_name=temporary,
        aside_name=aside,
        deadline_s=stop_timeout + SERVE_DEADLINE_S + 30.0,
        discarded_changes=container.layer_changes,
    )


def _layer_losses(facts: RetuneFacts) -> tuple[str, ...]:
    """What a re-create loses of the writable layer: not gtui's own config file,
    whose settings it carries over."""
    container = facts.container
    if container is None:
        return ()
    file = facts.config_file
    carried = file.path if file.managed and file.in_container_layer else None
    return tuple(line for line in container.layer_changes if line.partition(" ")[2] != carried)


def _recreate_check(
    facts: RetuneFacts,
    entrypoint: tuple[str, ...] | None,
    cmd: tuple[str, ...] | None,
    env: tuple[str, ...],
    old_env: tuple[str, ...],
) -> CheckConfig | None:
    """``--check-config`` of the new command and env inside the old container,
    so a bad config is caught before the old container stops."""
    location = locate_arguments(entrypoint or (), cmd or (), None)
    if location is None or facts.container is None:
        return None
    environment = {}
    for entry in env:
        key, sep, value = entry.partition("=")
        if sep:
            environment[key] = value
    for removed in (ENV_CMD_ARGS,):
        # exec adds to the container's env: blank out what the new one drops.
        if removed not in environment and env_list_get(old_env, removed) is not None:
            environment[removed] = ""
    interpreter = facts.interpreter or "python3"
    return CheckConfig(
        (interpreter, "-m", "gunicorn", *location.arguments, "--check-config"),
        facts.start_cwd,
        check_environment(environment, location.arguments, facts.start_cwd),
        user_of(facts),
        container_id_of(facts),
    )


def carried_file_settings(facts: RetuneFacts) -> dict[str, ConfigValue]:
    """Settings of gtui's config file when it lives in the container's writable
    layer: a new container would lose them, so a re-create carries them over."""
    file = facts.config_file
    if not (file.managed and file.in_container_layer and file.content):
        return {}
    return {
        key: value
        for key, value in managed_settings(file.content).items()
        if facts.layer(key) is ConfigSource.CONFIG_FILE
    }


def _rewrite_container_command(
    facts: RetuneFacts,
    changes: Mapping[str, ConfigValue],
    entrypoint: tuple[str, ...] | None,
    cmd: tuple[str, ...] | None,
    env: tuple[str, ...],
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None, tuple[str, ...], list[str]]:
    """Write each change where its setting lives; say where."""
    command_changes: dict[str, ConfigValue] = {}
    env_changes: dict[str, ConfigValue] = {}
    where: list[str] = []
    file = facts.config_file
    wanted = dict(changes)
    for key, value in carried_file_settings(facts).items():
        if key not in wanted:
            wanted[key] = value
            where.append(f"{key}={value!r} carried from gtui's config file into GUNICORN_CMD_ARGS")
    web_concurrency: ConfigValue = None
    for name, value in wanted.items():
        layer = facts.layer(name)
        if layer is ConfigSource.COMMAND_LINE:
            command_changes[name] = value
        elif layer is ConfigSource.ENV and facts.env_declares.get(name) == ENV_WEB_CONCURRENCY:
            web_concurrency = value
        else:
            if (
                name == "preload_app"
                and value is False
                and layer is ConfigSource.CONFIG_FILE
                and not file.managed
            ):
                raise CannotExpress(
                    f"preload_app is turned on in {file.path}; Gunicorn has no flag to turn it off"
                )
            env_changes[name] = value
    new_entrypoint, new_cmd = entrypoint, cmd
    if command_changes:
        location = locate_arguments(entrypoint or (), cmd or (), facts.arguments)
        if location is None:
            raise CannotExpress("Gunicorn's arguments were not found in the container's command")
        rewritten_entrypoint, rewritten_cmd = rewrite_command(
            entrypoint or (), cmd or (), location, command_changes
        )
        new_entrypoint = (
            rewritten_entrypoint if entrypoint is not None else (rewritten_entrypoint or None)
        )
        new_cmd = rewritten_cmd if (cmd is not None or rewritten_cmd) else None
        where.append(
            f"{', '.join(command_changes)} changed in the container's {location.place.value}"
        )
    new_env = env
    if env_changes:
        current = env_list_get(env, ENV_CMD_ARGS) or ""
        new_env = env_list_set(new_env, ENV_CMD_ARGS, rewrite_env_arguments(current, env_changes))
        where.append(f"{', '.join(env_changes)} set in GUNICORN_CMD_ARGS")
    if web_concurrency is not None:
        new_env = env_list_set(new_env, ENV_WEB_CONCURRENCY, str(web_concurrency))
        where.append("workers changed in WEB_CONCURRENCY")
    return new_entrypoint, new_cmd, new_env, where
