"""What every planning strategy builds with: targets, steps, checks, refusals.

Pure, like the planner: each helper looks only at the sample and facts it is given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.control.planning.facts import ENV_CMD_ARGS, RetuneFacts
from gunicorn_tui.control.planning.plan import (
    CheckConfig,
    ControlCommand,
    PlanTarget,
    SendSignal,
    SignalRoute,
    WriteFile,
)
from gunicorn_tui.control.planning.requests import (
    RETUNABLE_SETTINGS,
    Consent,
)
from gunicorn_tui.discovery.container_shape import networking_of
from gunicorn_tui.discovery.reach import resolve_reach
from gunicorn_tui.model.instances import ConfigSource, ConfigValue, InstanceSample, Source
from gunicorn_tui.settings.command_line import parse_arguments, parse_env_arguments

# Seconds a server may take to serve again after a change, beyond its
# graceful timeout (old workers may finish requests first).
SERVE_DEADLINE_S = 30.0


# -- shared pieces -------------------------------------------------------------------


def lock_key_of(sample: InstanceSample) -> str:
    """The lock (and archive) key of an instance: its container's name, else
    its bind address (a restart changes the pid, not the address), else its pid."""
    bind = sample.config.value("bind")
    if sample.container is not None:
        return f"container-{sample.container.name}"
    if isinstance(bind, str) and bind:
        return f"local-{bind}"
    return f"pid-{sample.master.pid}"


def plan_target(sample: InstanceSample, facts: RetuneFacts) -> PlanTarget:
    """The instance as a plan names it."""
    container = sample.container
    lock_key = lock_key_of(sample)
    return PlanTarget(
        key=sample.key,
        label=sample.label,
        source=sample.source,
        lock_key=lock_key,
        master_pid=facts.master_pid,
        master_ns_pid=facts.master_ns_pid,
        container_id=container.id if container else None,
        container_name=container.name if container else None,
        access=facts.access,
        master_start_ticks=facts.master_start_ticks,
        master_is_init=facts.master_is_container_init,
        engine_id=facts.container.engine_id if facts.container else None,
        host=sample.host,
    )


def probe_url(sample: InstanceSample, facts: RetuneFacts) -> str | None:
    """``http://LOOPBACK:PORT/`` when this host reaches the server on loopback:
    its bind on this host or the host network, or the port published for it
    (read from the container's inspect at plan time; a re-create by gtui keeps
    host ports the engine picked, see container_spec)."""
    networking = (
        networking_of(facts.container.inspect)
        if facts.container is not None
        else (sample.container.networking if sample.container is not None else None)
    )
    bind = sample.config.value("bind")
    reach = resolve_reach(
        bind if isinstance(bind, str) else None,
        in_container=sample.source is Source.DOCKER,
        networking=networking,
    )
    if reach.url is None or not reach.on_loopback:
        return None
    return f"{reach.url}/"


def signal_action(
    facts: RetuneFacts, name: str, count: int = 1, counts: tuple[int, ...] = ()
) -> SendSignal | None:
    container_id = facts.container.inspect.get("Id") if facts.container else None
    if facts.pids_local:
        route = SignalRoute.HOST
    elif container_id and facts.master_is_container_init:
        route = SignalRoute.DOCKER_KILL
    elif container_id and facts.master_ns_pid is not None:
        route = SignalRoute.DOCKER_EXEC
    else:
        return None
    return SendSignal(
        name,
        route,
        facts.master_pid,
        facts.master_ns_pid,
        str(container_id) if container_id else None,
        count,
        counts,
        facts.master_start_ticks if route is SignalRoute.HOST else None,
    )


def control_action(facts: RetuneFacts, command: str) -> ControlCommand | None:
    if facts.control_socket_path is None:
        return None
    through_exec = facts.access is AccessKind.API_CONTAINER
    return ControlCommand(
        command, facts.control_socket_path, container_id_of(facts) if through_exec else None
    )


def container_id_of(facts: RetuneFacts) -> str | None:
    return str(facts.container.inspect.get("Id")) if facts.container else None


def file_write(facts: RetuneFacts, path: str, content: str | None, expect: str | None) -> WriteFile:
    """Write (or remove) ``path`` once it still holds what ``expect`` says."""
    return WriteFile(
        path,
        content,
        container_id_of(facts),
        uid=facts.uid,
        gid=facts.gid,
        expect=expect,
    )


def user_of(facts: RetuneFacts) -> str | None:
    return f"{facts.uid}:{facts.gid}" if facts.uid is not None and facts.gid is not None else None


def check_obstacle(facts: RetuneFacts) -> str | None:
    """Why ``--check-config`` cannot be run the safe way, or None."""
    if facts.arguments is None:
        return "Gunicorn's arguments are unknown, so the new config cannot be checked"
    if facts.interpreter is None and facts.container is None:
        return "the server's interpreter is unknown, so the new config cannot be checked"
    if facts.access is AccessKind.HOST:
        # It runs the server's code: only as the server's user, with exactly
        # its environment, never with gtui's.
        if facts.environment is None:
            return (
                "the master's environment is hidden (setproctitle), so the new config "
                "cannot be checked the way the server would load it"
            )
        if facts.uid is None or facts.gid is None:
            return "the master's user is not known, so the new config cannot be checked"
    return None


def check_config_action(facts: RetuneFacts, extra: tuple[str, ...]) -> CheckConfig | None:
    """``--check-config`` with the master's own interpreter, arguments, env and user."""
    if check_obstacle(facts) is not None or facts.arguments is None:
        return None
    interpreter = facts.interpreter or "python3"
    argv = (interpreter, "-m", "gunicorn", *facts.arguments, *extra, "--check-config")
    return CheckConfig(
        argv,
        facts.start_cwd,
        check_environment(facts.environment, facts.arguments, facts.start_cwd),
        user_of(facts),
        container_id_of(facts),
    )


def check_environment(
    environment: Mapping[str, str] | None, arguments: Sequence[str], cwd: str | None
) -> dict[str, str] | None:
    """The environment for ``--check-config``: the server's, plus its
    ``--pythonpath`` entries on PYTHONPATH. Gunicorn applies --pythonpath only
    after the check has loaded the app, so without this a server that needs
    it fails the check while it runs fine."""
    env = dict(environment) if environment is not None else None
    sources = [parse_arguments(arguments).settings.get("pythonpath")]
    if env is not None:
        sources.append(parse_env_arguments(env.get(ENV_CMD_ARGS, "")).settings.get("pythonpath"))
    paths = [
        path if os.path.isabs(path) or cwd is None else os.path.join(cwd, path)
        for value in sources
        if isinstance(value, str)
        for path in value.split(",")
        if path
    ]
    if not paths:
        return env
    env = env if env is not None else {}
    existing = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join([*paths, *([existing] if existing else [])])
    return env


def graceful_s(sample: InstanceSample) -> float:
    value = sample.config.value("graceful_timeout")
    return float(value) if isinstance(value, int | float) else 30.0


def file_refusal(facts: RetuneFacts, consent: Consent) -> str | None:
    """Why gtui's config file may not be written where Gunicorn reads it, or None."""
    file = facts.config_file
    if file.path is None:
        return file.why_unknown or "the config file Gunicorn reads on reload is not known"
    if file.exists and not file.managed:
        if file.content is not None:
            return f"{file.path} is the operator's own config file; gtui does not edit it"
        return f"{file.path} is {file.what}: it counts as the operator's file and is left alone"
    if not file.writable:
        return file.why_not_writable or f"{os.path.dirname(file.path)} is not writable"
    if file.mount is not None and file.mount.is_bind and not consent.bind_mount:
        return (
            f"{os.path.dirname(file.path)} is {file.mount.describe()}: a file written there "
            "lands in the host's directory (pass --allow-bind-mount to write it anyway)"
        )
    return None


def mount_notes(facts: RetuneFacts, consent: Consent) -> list[str]:
    mount = facts.config_file.mount
    if mount is not None and mount.is_bind and consent.bind_mount:
        return [
            f"writes into {mount.describe()} (allowed by --allow-bind-mount): "
            "the host's directory gets the file too"
        ]
    return []


def verify_map(facts: RetuneFacts, changes: Mapping[str, ConfigValue]) -> dict[str, ConfigValue]:
    # Only the control socket reads settings back; without one the worker count
    # (and the HTTP answer) is what can be checked.
    if facts.control_socket_path is None:
        return {}
    return {k: v for k, v in changes.items() if k in RETUNABLE_SETTINGS}


def expected_workers(
    facts: RetuneFacts, changes: Mapping[str, ConfigValue], file_workers: ConfigValue = None
) -> int | None:
    wanted = changes.get("workers")
    if isinstance(wanted, int):
        return wanted
    if isinstance(file_workers, int):
        return file_workers
    value = facts.static_values.get("workers")
    if isinstance(value, int) and facts.layer("workers") is not ConfigSource.UNKNOWN:
        return value
    return None
