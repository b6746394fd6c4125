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

Each strategy is a module of its own (``scale_strategy``, ``hup_strategy``,
``recreate_strategy``, ``restart_strategy``) reading one
:class:`~gunicorn_tui.control.planning.strategy_context.StrategyContext` and
answering a ``StrategyResult``; this module picks among them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from gunicorn_tui.control.planning.facts import RetuneFacts
from gunicorn_tui.control.planning.hup_strategy import hup_obstacles, hup_plan
from gunicorn_tui.control.planning.plan import (
    ActionKind,
    PlanStep,
    RetunePlan,
    RevertSpec,
    SendSignal,
    SignalRoute,
    StepAction,
    Strategy,
    WaitServing,
)
from gunicorn_tui.control.planning.recreate_strategy import recreate_plan
from gunicorn_tui.control.planning.requests import (
    NO_CONSENT,
    Consent,
    RetuneRequest,
    ScaleMode,
    ScaleRequest,
)
from gunicorn_tui.control.planning.restart_strategy import restart_plan
from gunicorn_tui.control.planning.running_config import (
    current_workers,
    running_config,
    running_value,
)
from gunicorn_tui.control.planning.scale_strategy import plan_scale
from gunicorn_tui.control.planning.strategy_common import (
    SERVE_DEADLINE_S,
    check_config_action,
    check_obstacle,
    container_id_of,
    control_action,
    file_refusal,
    graceful_s,
    plan_target,
    probe_url,
    signal_action,
)
from gunicorn_tui.control.planning.strategy_context import StrategyContext
from gunicorn_tui.control.planning.validation import validate_request
from gunicorn_tui.control.planning.worker_classes import UnknownWorkerClass, resolve_worker_class
from gunicorn_tui.model.instances import ConfigSource, ConfigValue, InstanceSample
from gunicorn_tui.settings.resolve import short_worker_class


def _same(name: str, current: ConfigValue, wanted: ConfigValue) -> bool:
    if name == "worker_class" and isinstance(current, str) and isinstance(wanted, str):
        try:
            return short_worker_class(current) == resolve_worker_class(wanted).short
        except UnknownWorkerClass:
            return False
    return current == wanted


# -- reload and kill one worker ---------------------------------------------------------


def plan_reload(sample: InstanceSample, facts: RetuneFacts) -> RetunePlan:
    """Graceful reload (HUP): config re-read, workers replaced one set at a time."""
    target = plan_target(sample, facts)
    steps: list[PlanStep] = []
    notes: list[str] = []
    check = check_config_action(facts, ())
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
    signal = signal_action(facts, "HUP")
    control = control_action(facts, "reload")
    hup: StepAction | None = signal or control
    if hup is None:
        return StrategyContext(sample, facts, ActionKind.RELOAD).refuse(
            "the master cannot be signalled and has no control socket"
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
                graceful_s(sample) + SERVE_DEADLINE_S,
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
        return StrategyContext(sample, facts, ActionKind.KILL_WORKER).refuse(
            f"pid {worker_pid} is not a worker of this master (workers: {pids or 'none'})"
        )
    count = current_workers(sample)
    ns_pid = worker.ns_pid
    action: StepAction | None = None
    strategy = Strategy.SIGNALS
    if facts.control_socket_path is not None and ns_pid is not None:
        action = control_action(facts, f"worker kill {ns_pid}")
        strategy = Strategy.CONTROL_SOCKET
    if action is None and facts.pids_local:
        ticks = facts.worker_start_ticks.get(worker_pid)
        action = SendSignal("TERM", SignalRoute.HOST, worker_pid, ns_pid, start_ticks=ticks)
    if action is None and ns_pid is not None and facts.container is not None:
        action = SendSignal("TERM", SignalRoute.DOCKER_EXEC, None, ns_pid, container_id_of(facts))
    if action is None:
        return StrategyContext(sample, facts, ActionKind.KILL_WORKER).refuse(
            "this worker cannot be reached (remote daemon, no control socket)"
        )
    steps = (
        PlanStep(f"stop worker {worker_pid} gracefully (TERM); the master replaces it", action),
        PlanStep(
            "wait until the replacement runs",
            WaitServing(
                count,
                probe_url(sample, facts),
                graceful_s(sample) + SERVE_DEADLINE_S,
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
    changes = request.changes()
    # Not sample.config: its worker count lags a count changed through the
    # control socket, and a retune back to the old count would look like a no-op.
    running = running_config(sample)
    before = {name: running.value(name) for name in changes}
    asked = StrategyContext(
        sample, facts, ActionKind.RETUNE, changes, before, changes, consent=consent
    )
    problems = validate_request(request, running)
    if problems:
        return asked.refuse("; ".join(problems))
    effective = {k: v for k, v in changes.items() if not _same(k, before[k], v)}
    if not effective:
        return asked.refuse("the server already runs with these settings")
    refusal = _worker_class_refusal(effective, facts)
    if refusal is not None:
        return asked.refuse(refusal)
    if set(effective) == {"workers"}:
        workers = effective["workers"]
        assert isinstance(workers, int)
        scale = plan_scale(
            sample, facts, ScaleRequest(ScaleMode.SET, workers), ActionKind.RETUNE, consent
        )
        if scale.ok or sample.workers_target == workers or len(sample.workers) == workers:
            return scale
    context = replace(asked, changes=effective)
    in_place = hup_obstacles(facts, effective, consent)
    if not in_place:
        return hup_plan(context).to_plan(context)
    why_not = ("not in place: " + "; ".join(in_place),)
    if sample.container is not None:
        return recreate_plan(context).to_plan(context, why_not)
    return restart_plan(context).to_plan(context, why_not)


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


# -- revert ------------------------------------------------------------------------------


def plan_revert(
    sample: InstanceSample, facts: RetuneFacts, spec: RevertSpec, consent: Consent = NO_CONSENT
) -> RetunePlan:
    """Re-apply the configuration an earlier action replaced."""
    if spec.workers is not None:
        return plan_scale(
            sample, facts, ScaleRequest(ScaleMode.SET, spec.workers), ActionKind.REVERT, consent
        )
    after = dict(spec.settings)
    before = {name: running_value(sample, name) for name in after}
    context = StrategyContext(
        sample, facts, ActionKind.REVERT, after, before, after, consent=consent, restore=spec
    )
    if spec.file_path is not None:
        file = facts.config_file
        if file.path != spec.file_path:
            return context.refuse(f"Gunicorn no longer reads {spec.file_path} (now: {file.path})")
        if file.exists and not file.managed:
            what = "" if file.content is not None else f" (now {file.what})"
            return context.refuse(
                f"{file.path} is no longer gtui's file{what}; it is left as it is"
            )
        refusal = file_refusal(facts, consent)
        if refusal is not None:
            return context.refuse(refusal)
        return hup_plan(context).to_plan(context)
    if spec.env is not None:
        if sample.container is None:
            return context.refuse("the earlier action re-created a container")
        return recreate_plan(context).to_plan(context)
    if spec.argv is not None and spec.environment is not None and spec.cwd is not None:
        restart = replace(context, consent=replace(consent, restart=True))
        return restart_plan(restart).to_plan(restart)
    return context.refuse("the earlier action recorded nothing to revert to")
