"""Plan an action on one instance: the least disruptive way that works, or a refusal.

Pure: ``plan_*(sample, facts, request)`` look only at their arguments, so the
dashboard can show the plan before anything happens and tests can check
plans with hand-made data.

Strategies, least disruptive first:

1. worker count only: the control socket (``worker add/remove N``) or
   TTIN/TTOU signals to the master;
2. other settings in place: a config file gtui controls, checked with
   ``gunicorn --check-config``, then HUP; possible when no changed setting is
   pinned on the command line or in ``GUNICORN_CMD_ARGS`` (they beat the
   file) and Gunicorn reads a file gtui may write (``./gunicorn.conf.py`` in
   the directory the master started in, absent or gtui's own);
3. containers: re-create with the changed command or env (Compose v2 style,
   rolled back automatically if the new one does not serve);
4. host masters: stop and start the recorded command line, only for masters
   gtui started or with the operator's explicit confirmation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

from gunicorn_tui.access.files import EXPECT_ABSENT, expect_content
from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.control.planning.command_args import (
    CannotExpress,
    env_list_get,
    env_list_set,
    locate_arguments,
    rewrite_arguments,
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
    candidate_path,
    managed_settings,
    render_managed,
)
from gunicorn_tui.control.planning.plan import (
    ActionKind,
    CheckConfig,
    ContainerRole,
    ControlCommand,
    CreateContainer,
    PlanStep,
    PlanTarget,
    RemoveContainer,
    RenameContainer,
    RetunePlan,
    RevertSpec,
    SendSignal,
    SignalRoute,
    StartContainer,
    StartLocalMaster,
    StepAction,
    StopContainer,
    StopLocalMaster,
    Strategy,
    WaitServing,
    WriteFile,
)
from gunicorn_tui.control.planning.recreate_preflight import describe_losses
from gunicorn_tui.control.planning.requests import (
    NO_CONSENT,
    RETUNABLE_SETTINGS,
    Consent,
    RetuneRequest,
    ScaleMode,
    ScaleRequest,
)
from gunicorn_tui.control.planning.running_config import (
    current_workers,
    running_config,
    running_value,
)
from gunicorn_tui.control.planning.validation import MAX_WORKERS, validate_request
from gunicorn_tui.control.planning.worker_classes import UnknownWorkerClass, resolve_worker_class
from gunicorn_tui.discovery.container_shape import networking_of
from gunicorn_tui.discovery.process_tree import gunicorn_args
from gunicorn_tui.discovery.reach import resolve_reach
from gunicorn_tui.model.instances import ConfigSource, ConfigValue, InstanceSample, Source
from gunicorn_tui.settings.command_line import parse_arguments, parse_env_arguments
from gunicorn_tui.settings.resolve import short_worker_class

# Seconds a server may take to serve again after a change, beyond its
# graceful timeout (old workers may finish requests first).
SERVE_DEADLINE_S = 30.0
DOCKER_STOP_TIMEOUT_S = 10
_API_MULTI_NETWORK = (1, 44)


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


def _signal(
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


def _control(facts: RetuneFacts, command: str) -> ControlCommand | None:
    if facts.control_socket_path is None:
        return None
    through_exec = facts.access is AccessKind.API_CONTAINER
    return ControlCommand(
        command, facts.control_socket_path, _container_id(facts) if through_exec else None
    )


def _container_id(facts: RetuneFacts) -> str | None:
    return str(facts.container.inspect.get("Id")) if facts.container else None


def _file_write(
    facts: RetuneFacts, path: str, content: str | None, expect: str | None
) -> WriteFile:
    """Write (or remove) ``path`` once it still holds what ``expect`` says."""
    return WriteFile(
        path,
        content,
        _container_id(facts),
        uid=facts.uid,
        gid=facts.gid,
        expect=expect,
    )


def _user(facts: RetuneFacts) -> str | None:
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


def _check_config(facts: RetuneFacts, extra: tuple[str, ...]) -> CheckConfig | None:
    """``--check-config`` with the master's own interpreter, arguments, env and user."""
    if check_obstacle(facts) is not None or facts.arguments is None:
        return None
    interpreter = facts.interpreter or "python3"
    argv = (interpreter, "-m", "gunicorn", *facts.arguments, *extra, "--check-config")
    return CheckConfig(
        argv,
        facts.start_cwd,
        check_environment(facts.environment, facts.arguments, facts.start_cwd),
        _user(facts),
        _container_id(facts),
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


def _graceful_s(sample: InstanceSample) -> float:
    value = sample.config.value("graceful_timeout")
    return float(value) if isinstance(value, int | float) else 30.0


def _refuse(
    action: ActionKind,
    target: PlanTarget,
    reason: str,
    before: Mapping[str, ConfigValue] | None = None,
    after: Mapping[str, ConfigValue] | None = None,
    notes: tuple[str, ...] = (),
) -> RetunePlan:
    return RetunePlan(
        action=action,
        target=target,
        strategy=None,
        steps=(),
        before=dict(before or {}),
        after=dict(after or {}),
        refusal=reason,
        notes=notes,
        created_at=time.time(),
    )


def _same(name: str, current: ConfigValue, wanted: ConfigValue) -> bool:
    if name == "worker_class" and isinstance(current, str) and isinstance(wanted, str):
        try:
            return short_worker_class(current) == resolve_worker_class(wanted).short
        except UnknownWorkerClass:
            return False
    return current == wanted


# -- scale -----------------------------------------------------------------------------


def plan_scale(
    sample: InstanceSample,
    facts: RetuneFacts,
    request: ScaleRequest,
    action: ActionKind = ActionKind.SCALE,
    consent: Consent = NO_CONSENT,
) -> RetunePlan:
    """Add or remove workers now: control socket, else TTIN/TTOU."""
    target = plan_target(sample, facts)
    current = current_workers(sample)
    wanted = request.target(current)
    before = {"workers": current}
    after: dict[str, ConfigValue] = {"workers": wanted}
    if wanted < 1:
        return _refuse(
            action,
            target,
            f"{request} would leave {wanted} workers: at least 1 is needed",
            before,
            after,
        )
    if wanted > MAX_WORKERS:
        return _refuse(
            action,
            target,
            f"{wanted} workers is more than gtui allows ({MAX_WORKERS})",
            before,
            after,
        )
    if wanted == current:
        return _refuse(action, target, f"the server already runs {current} workers", before, after)
    delta = wanted - current
    steps: list[PlanStep] = []
    notes: list[str] = []
    verb = "add" if delta > 0 else "remove"
    control = _control(facts, f"worker {verb} {abs(delta)}")
    strategy: Strategy
    if control is not None:
        strategy = Strategy.CONTROL_SOCKET
        steps.append(PlanStep(f"{verb} {abs(delta)} worker(s) through the control socket", control))
    else:
        step = 1 if delta > 0 else -1
        counts = tuple(current + step * (i + 1) for i in range(abs(delta)))
        signal = _signal(facts, "TTIN" if delta > 0 else "TTOU", abs(delta), counts)
        if signal is None:
            return _refuse(
                action,
                target,
                "no control socket, and the master cannot be signalled (not PID 1 of its "
                "container on a remote daemon)",
                before,
                after,
            )
        strategy = Strategy.SIGNALS
        steps.append(
            PlanStep(
                f"send {'TTIN' if delta > 0 else 'TTOU'} {abs(delta)} time(s): "
                f"{verb} one worker per signal",
                signal,
            )
        )
    layer = facts.layer("workers")
    pinned = layer is ConfigSource.COMMAND_LINE or facts.env_declares.get("workers") == ENV_CMD_ARGS
    file = facts.config_file
    file_refusal = _file_refusal(facts, consent)
    if (
        file.managed
        and file.path is not None
        and not pinned
        and file.content is not None
        and file_refusal is None
    ):
        settings = managed_settings(file.content)
        settings["workers"] = wanted
        steps.append(
            PlanStep(
                f"keep {wanted} workers across reloads: update gtui's config file {file.path}",
                _file_write(
                    facts, file.path, render_managed(settings), expect_content(file.content)
                ),
            )
        )
        notes.extend(_mount_notes(facts, consent))
    else:
        configured = facts.static_values.get("workers")
        notes.append(
            f"not kept across a reload: HUP returns to the configured {configured} worker(s) "
            f"({layer.value}); use Retune to change the configured count"
        )
    steps.append(
        PlanStep(
            f"wait until {wanted} workers run",
            WaitServing(wanted, probe_url(sample, facts), _graceful_s(sample) + SERVE_DEADLINE_S),
            changes_service=False,
        )
    )
    return RetunePlan(
        action=action,
        target=target,
        strategy=strategy,
        steps=tuple(steps),
        before=before,
        after=after,
        notes=tuple(notes),
        revert=RevertSpec(settings=before, workers=current),
        created_at=time.time(),
    )


# -- reload and kill one worker ---------------------------------------------------------


def plan_reload(sample: InstanceSample, facts: RetuneFacts) -> RetunePlan:
    """Graceful reload (HUP): config re-read, workers replaced one set at a time."""
    target = plan_target(sample, facts)
    steps: list[PlanStep] = []
    notes: list[str] = []
    check = _check_config(facts, ())
    if check is not None:
        steps.append(
            PlanStep(
                "check the config Gunicorn will re-read (a failing one makes the master exit)",
                check,
                changes_service=False,
            )
        )
    else:
        notes.append(f"not checked first: {check_obstacle(facts)}")
    signal = _signal(facts, "HUP")
    control = _control(facts, "reload")
    hup: StepAction | None = signal or control
    if hup is None:
        return _refuse(
            ActionKind.RELOAD, target, "the master cannot be signalled and has no control socket"
        )
    hup_index = len(steps)
    steps.append(PlanStep("reload: HUP to the master", hup))
    configured = facts.static_values.get("workers")
    workers = (
        configured
        if isinstance(configured, int) and facts.layer("workers") is not (ConfigSource.UNKNOWN)
        else None
    )
    if sample.workers_target is not None and workers != sample.workers_target:
        notes.append(
            f"HUP returns to the configured worker count ({workers}); "
            f"{sample.workers_target} run now"
        )
    steps.append(
        PlanStep(
            "wait until the new workers run",
            WaitServing(
                workers,
                probe_url(sample, facts),
                _graceful_s(sample) + SERVE_DEADLINE_S,
                fresh_after_step=hup_index,
            ),
            changes_service=False,
        )
    )
    return RetunePlan(
        action=ActionKind.RELOAD,
        target=target,
        strategy=Strategy.RELOAD,
        steps=tuple(steps),
        before={},
        after={},
        notes=tuple(notes),
        created_at=time.time(),
    )


def plan_kill_worker(sample: InstanceSample, facts: RetuneFacts, worker_pid: int) -> RetunePlan:
    """TERM one worker (the master starts a replacement)."""
    target = plan_target(sample, facts)
    worker = next((w for w in sample.workers if w.pid == worker_pid), None)
    if worker is None:
        pids = ", ".join(str(w.pid) for w in sample.workers)
        return _refuse(
            ActionKind.KILL_WORKER,
            target,
            f"pid {worker_pid} is not a worker of this master (workers: {pids or 'none'})",
        )
    count = current_workers(sample)
    ns_pid = worker.ns_pid
    action: StepAction | None = None
    strategy = Strategy.SIGNALS
    if facts.control_socket_path is not None and ns_pid is not None:
        action = _control(facts, f"worker kill {ns_pid}")
        strategy = Strategy.CONTROL_SOCKET
    if action is None and facts.pids_local:
        ticks = facts.worker_start_ticks.get(worker_pid)
        action = SendSignal("TERM", SignalRoute.HOST, worker_pid, ns_pid, start_ticks=ticks)
    if action is None and ns_pid is not None and facts.container is not None:
        action = SendSignal("TERM", SignalRoute.DOCKER_EXEC, None, ns_pid, _container_id(facts))
    if action is None:
        return _refuse(
            ActionKind.KILL_WORKER,
            target,
            "this worker cannot be reached (remote daemon, no control socket)",
        )
    steps = (
        PlanStep(f"stop worker {worker_pid} gracefully (TERM); the master replaces it", action),
        PlanStep(
            "wait until the replacement runs",
            WaitServing(
                count,
                probe_url(sample, facts),
                _graceful_s(sample) + SERVE_DEADLINE_S,
                gone_worker_pid=worker_pid,
            ),
            changes_service=False,
        ),
    )
    return RetunePlan(
        action=ActionKind.KILL_WORKER,
        target=target,
        strategy=strategy,
        steps=steps,
        before={},
        after={},
        created_at=time.time(),
    )


# -- retune ----------------------------------------------------------------------------


def plan_retune(
    sample: InstanceSample,
    facts: RetuneFacts,
    request: RetuneRequest,
    consent: Consent = NO_CONSENT,
) -> RetunePlan:
    """The plan for a retune, or a refusal saying why."""
    if request.allow_restart and not consent.restart:
        consent = replace(consent, restart=True)
    target = plan_target(sample, facts)
    changes = request.changes()
    # Not sample.config: its worker count lags a count changed through the
    # control socket, and a retune back to the old count would look like a no-op.
    running = running_config(sample)
    before = {name: running.value(name) for name in changes}
    problems = validate_request(request, running)
    if problems:
        return _refuse(ActionKind.RETUNE, target, "; ".join(problems), before, changes)
    effective = {k: v for k, v in changes.items() if not _same(k, before[k], v)}
    if not effective:
        return _refuse(
            ActionKind.RETUNE,
            target,
            "the server already runs with these settings",
            before,
            changes,
        )
    refusal = _worker_class_refusal(effective, facts)
    if refusal is not None:
        return _refuse(ActionKind.RETUNE, target, refusal, before, changes)
    if set(effective) == {"workers"}:
        workers = effective["workers"]
        assert isinstance(workers, int)
        scale = plan_scale(
            sample, facts, ScaleRequest(ScaleMode.SET, workers), ActionKind.RETUNE, consent
        )
        if scale.ok or sample.workers_target == workers or len(sample.workers) == workers:
            return scale
    in_place = hup_obstacles(facts, effective, consent)
    if not in_place:
        return _hup_plan(sample, facts, effective, before, changes, ActionKind.RETUNE, consent)
    why_not = "not in place: " + "; ".join(in_place)
    if sample.container is not None:
        obstacles, plan = _recreate_plan(
            sample, facts, effective, before, changes, ActionKind.RETUNE, consent=consent
        )
        if plan is not None:
            return _with_notes(plan, (why_not,))
        return _refuse(ActionKind.RETUNE, target, "; ".join([*obstacles, why_not]), before, changes)
    obstacles, plan = _restart_plan(sample, facts, effective, before, changes, consent)
    if plan is not None:
        return _with_notes(plan, (why_not,))
    return _refuse(ActionKind.RETUNE, target, "; ".join([*obstacles, why_not]), before, changes)


def _with_notes(plan: RetunePlan, notes: tuple[str, ...]) -> RetunePlan:
    return replace(plan, notes=notes + plan.notes)


def _file_refusal(facts: RetuneFacts, consent: Consent) -> str | None:
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


def _mount_notes(facts: RetuneFacts, consent: Consent) -> list[str]:
    mount = facts.config_file.mount
    if mount is not None and mount.is_bind and consent.bind_mount:
        return [
            f"writes into {mount.describe()} (allowed by --allow-bind-mount): "
            "the host's directory gets the file too"
        ]
    return []


def _worker_class_refusal(effective: Mapping[str, ConfigValue], facts: RetuneFacts) -> str | None:
    name = effective.get("worker_class")
    if not isinstance(name, str):
        return None
    spec = resolve_worker_class(name)
    if facts.probe_error is not None:
        return (
            f"cannot check that the server's Python can load worker class {name!r} "
            f"({spec.module}): {facts.probe_error}"
        )
    found = facts.modules.get(spec.module)
    if found is None:
        return f"worker class {name!r}: module {spec.module} was not checked"
    if not found:
        reason = facts.module_errors.get(spec.module, "import failed")
        return (
            f"worker class {name!r} is not available in the server's environment: "
            f"{spec.module} does not import ({reason})"
        )
    return None


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
    refusal = _file_refusal(facts, consent)
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


def _verify_map(facts: RetuneFacts, changes: Mapping[str, ConfigValue]) -> dict[str, ConfigValue]:
    # Only the control socket reads settings back; without one the worker count
    # (and the HTTP answer) is what can be checked.
    if facts.control_socket_path is None:
        return {}
    return {k: v for k, v in changes.items() if k in RETUNABLE_SETTINGS}


def _expected_workers(
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


def _hup_plan(
    sample: InstanceSample,
    facts: RetuneFacts,
    changes: Mapping[str, ConfigValue],
    before: Mapping[str, ConfigValue],
    after: Mapping[str, ConfigValue],
    action: ActionKind,
    consent: Consent = NO_CONSENT,
    content_override: tuple[str | None] | None = None,
) -> RetunePlan:
    file = facts.config_file
    assert file.path is not None
    notes: list[str] = _mount_notes(facts, consent)
    previous = file.content if file.exists else None
    if content_override is not None:
        content = content_override[0]
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
        check = _check_config(facts, ("-c", candidate))
        assert check is not None
        steps += [
            PlanStep(
                f"write the new settings to a candidate file {candidate}",
                _file_write(facts, candidate, content, EXPECT_ABSENT),
                changes_service=False,
            ),
            PlanStep(
                "check it with gunicorn --check-config in the server's environment",
                check,
                changes_service=False,
            ),
            PlanStep(
                f"{'replace gtui' if previous else 'create gtui'}'s config file {file.path}",
                _file_write(facts, file.path, content, expect_content(previous)),
            ),
            PlanStep(
                "remove the candidate file",
                _file_write(facts, candidate, None, expect_content(content)),
                changes_service=False,
            ),
        ]
    else:
        steps.append(
            PlanStep(
                f"remove gtui's config file {file.path}",
                _file_write(facts, file.path, None, expect_content(previous)),
            )
        )
        check = _check_config(facts, ())
        if check is not None:
            steps.append(
                PlanStep("check the configuration without it", check, changes_service=False)
            )
    hup: StepAction | None = _signal(facts, "HUP") or _control(facts, "reload")
    if hup is None:
        return _refuse(
            action,
            plan_target(sample, facts),
            "the master cannot be signalled and has no control socket",
            before,
            after,
        )
    hup_index = len(steps)
    steps.append(PlanStep("reload: HUP to the master (new workers start, old ones finish)", hup))
    steps.append(
        PlanStep(
            "wait until the new workers run the new settings",
            WaitServing(
                _expected_workers(facts, changes, file_workers),
                probe_url(sample, facts),
                _graceful_s(sample) + SERVE_DEADLINE_S,
                verify=_verify_map(facts, changes),
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
    return RetunePlan(
        action=action,
        target=plan_target(sample, facts),
        strategy=Strategy.HUP_WITH_CONFIG,
        steps=tuple(steps),
        before=dict(before),
        after=dict(after),
        notes=tuple(notes),
        revert=RevertSpec(settings=dict(before), file_path=file.path, file_content=previous),
        created_at=time.time(),
    )


def _recreate_plan(
    sample: InstanceSample,
    facts: RetuneFacts,
    changes: Mapping[str, ConfigValue],
    before: Mapping[str, ConfigValue],
    after: Mapping[str, ConfigValue],
    action: ActionKind,
    exact: tuple[tuple[str, ...] | None, tuple[str, ...] | None, tuple[str, ...]] | None = None,
    consent: Consent = NO_CONSENT,
) -> tuple[list[str], RetunePlan | None]:
    container = facts.container
    assert sample.container is not None
    if container is None:
        return ["the container could not be inspected"], None
    if container.orchestrator is not None:
        # Nothing else matters: the orchestrator would undo a re-create.
        return [container.orchestrator], None
    obstacles: list[str] = []
    if container.dependents:
        obstacles.append(
            "other containers depend on this one and would break if it were replaced: "
            + "; ".join(container.dependents)
            + ". Re-create them together (e.g. `docker compose up -d` with the change in the "
            "compose file), or change the setting in place"
        )
    losses = _layer_losses(facts)
    if losses and not consent.discard_changes:
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
    if exact is not None:
        entrypoint, cmd, env = exact
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
        return obstacles, None
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
    verify = _verify_map(facts, changes) if exact is None else {}
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
                _expected_workers(facts, changes) if exact is None else None,
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
    plan = RetunePlan(
        action=action,
        target=plan_target(sample, facts),
        strategy=Strategy.RECREATE,
        steps=steps,
        before=dict(before),
        after=dict(after),
        notes=tuple(notes),
        revert=RevertSpec(
            settings=dict(before), entrypoint=old_entrypoint, cmd=old_cmd, env=revert_env
        ),
        created_at=time.time(),
        temporary_name=temporary,
        aside_name=aside,
        deadline_s=stop_timeout + SERVE_DEADLINE_S + 30.0,
        discarded_changes=container.layer_changes,
    )
    return [], plan


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
        _user(facts),
        _container_id(facts),
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


def _restart_plan(
    sample: InstanceSample,
    facts: RetuneFacts,
    changes: Mapping[str, ConfigValue],
    before: Mapping[str, ConfigValue],
    after: Mapping[str, ConfigValue],
    consent: Consent,
    exact: tuple[tuple[str, ...], Mapping[str, str], str] | None = None,
    action: ActionKind = ActionKind.RETUNE,
) -> tuple[list[str], RetunePlan | None]:
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
    if facts.launch is None and not consent.restart and exact is None:
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
        return obstacles, None
    assert facts.uid is not None and facts.gid is not None
    assert facts.argv is not None and facts.environment is not None and facts.start_cwd is not None
    if exact is not None:
        new_argv, environment, cwd = exact
    else:
        arguments = gunicorn_args(facts.argv)
        if arguments is None:
            return ["gunicorn was not found in the master's command line"], None
        if (
            changes.get("preload_app") is False
            and facts.layer("preload_app") is ConfigSource.CONFIG_FILE
        ):
            return [
                "preload_app is turned on in the config file; Gunicorn has no flag to turn it off"
            ], None
        start = len(facts.argv) - len(arguments)
        new_argv = (*facts.argv[:start], *rewrite_arguments(arguments, changes))
        environment, cwd = facts.environment, facts.start_cwd
    new_arguments = gunicorn_args(new_argv) or ()
    check = CheckConfig(
        (*new_argv, "--check-config"),
        cwd,
        check_environment(environment, new_arguments, cwd),
        _user(facts),
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
            StopLocalMaster(facts.master_pid, _graceful_s(sample) + 10.0, facts.master_start_ticks),
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
                _expected_workers(facts, changes) if exact is None else None,
                probe_url(sample, facts),
                SERVE_DEADLINE_S,
                verify=_verify_map(facts, changes) if exact is None else {},
                control_socket_path=facts.control_socket_path,
            ),
            changes_service=False,
        ),
    )
    plan = RetunePlan(
        action=action,
        target=plan_target(sample, facts),
        strategy=Strategy.RESTART_LOCAL,
        steps=steps,
        before=dict(before),
        after=dict(after),
        notes=tuple(notes),
        revert=RevertSpec(
            settings=dict(before),
            argv=tuple(facts.argv),
            environment=dict(facts.environment),
            cwd=facts.start_cwd,
        ),
        created_at=time.time(),
        deadline_s=_graceful_s(sample) + SERVE_DEADLINE_S + 20.0,
    )
    return [], plan


# -- revert ------------------------------------------------------------------------------


def plan_revert(
    sample: InstanceSample, facts: RetuneFacts, spec: RevertSpec, consent: Consent = NO_CONSENT
) -> RetunePlan:
    """Re-apply the configuration an earlier action replaced."""
    target = plan_target(sample, facts)
    after = dict(spec.settings)
    before = {name: running_value(sample, name) for name in after}
    if spec.workers is not None:
        return plan_scale(
            sample, facts, ScaleRequest(ScaleMode.SET, spec.workers), ActionKind.REVERT, consent
        )
    if spec.file_path is not None:
        file = facts.config_file
        if file.path != spec.file_path:
            return _refuse(
                ActionKind.REVERT,
                target,
                f"Gunicorn no longer reads {spec.file_path} (now: {file.path})",
                before,
                after,
            )
        if file.exists and not file.managed:
            what = "" if file.content is not None else f" (now {file.what})"
            return _refuse(
                ActionKind.REVERT,
                target,
                f"{file.path} is no longer gtui's file{what}; it is left as it is",
                before,
                after,
            )
        refusal = _file_refusal(facts, consent)
        if refusal is not None:
            return _refuse(ActionKind.REVERT, target, refusal, before, after)
        return _hup_plan(
            sample,
            facts,
            after,
            before,
            after,
            ActionKind.REVERT,
            consent,
            content_override=(spec.file_content,),
        )
    if spec.env is not None:
        if sample.container is None:
            return _refuse(
                ActionKind.REVERT,
                target,
                "the earlier action re-created a container",
                before,
                after,
            )
        obstacles, plan = _recreate_plan(
            sample,
            facts,
            after,
            before,
            after,
            ActionKind.REVERT,
            (spec.entrypoint, spec.cmd, spec.env),
            consent,
        )
        if plan is None:
            return _refuse(ActionKind.REVERT, target, "; ".join(obstacles), before, after)
        return plan
    if spec.argv is not None and spec.environment is not None and spec.cwd is not None:
        obstacles, plan = _restart_plan(
            sample,
            facts,
            after,
            before,
            after,
            replace(consent, restart=True),
            (spec.argv, spec.environment, spec.cwd),
            ActionKind.REVERT,
        )
        if plan is None:
            return _refuse(ActionKind.REVERT, target, "; ".join(obstacles), before, after)
        return plan
    return _refuse(
        ActionKind.REVERT, target, "the earlier action recorded nothing to revert to", before, after
    )
