"""Bring an interrupted or failed re-create to a state that serves.

Used by the executor's automatic rollback and by ``gtui recover``. It looks
at what really exists (the original container, the new one under its
temporary or final name) instead of trusting a step counter, so it is right
wherever the sequence stopped:

- forward: the new container runs under the service name and serves the new
  config, so the old one is removed;
- back: the new container is removed and the old one gets its name back and
  is started;

A container counts as "the new one" only when it carries this action's
label (:data:`container_ops.RETUNE_LABEL`): one that merely has the
temporary name, created by someone else, is never touched.
- restore: both are gone (removed by someone), so the original is created
  again from the inspect kept in the journal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gunicorn_tui.access.docker_engine import DockerEngine, NetworkEndpoint
from gunicorn_tui.access.errors import AccessError
from gunicorn_tui.access.resolve import AccessResolver
from gunicorn_tui.control.planning.container_spec import recreate_spec
from gunicorn_tui.control.planning.plan import RetunePlan, WaitServing
from gunicorn_tui.control.running import container_ops
from gunicorn_tui.control.running.serving_watch import ServingWatch
from gunicorn_tui.control.running.step_errors import StepError

ROLLBACK_STOP_TIMEOUT_S = 10
SETTLE_DEADLINE_S = 40.0


@dataclass(frozen=True)
class SettleResult:
    """Where a re-create ended: ``serving`` is "new", "old" or "restored"."""

    serving: str
    detail: str
    new_container_logs: str | None = None


def _wait_step(plan: RetunePlan) -> WaitServing:
    for step in plan.steps:
        if isinstance(step.action, WaitServing):
            return step.action
    return WaitServing(None, None, SETTLE_DEADLINE_S)


def _find_new(
    engine: DockerEngine, plan: RetunePlan, new_container_id: str | None, journal_id: str
) -> Mapping[str, Any] | None:
    """The replacement this action created, found by id or name, and only if it is ours."""
    original_id = plan.target.container_id
    candidates: list[str] = [new_container_id] if new_container_id else []
    candidates += [name for name in (plan.temporary_name, plan.target.container_name) if name]
    for candidate in candidates:
        found = engine.inspect(candidate)
        if found is None or found.get("Id") == original_id:
            continue
        if container_ops.created_by(found, journal_id):
            return found
    return None


def settle_recreate(
    resolver: AccessResolver,
    plan: RetunePlan,
    new_container_id: str | None,
    original_inspect: Mapping[str, Any] | None,
    forward: bool,
    journal_id: str,
) -> SettleResult:
    """Make the service run on the new container (``forward`` and it serves) or the old one."""
    try:
        return _settle(resolver, plan, new_container_id, original_inspect, forward, journal_id)
    except AccessError as error:
        raise StepError(str(error)) from error


def _settle(
    resolver: AccessResolver,
    plan: RetunePlan,
    new_container_id: str | None,
    original_inspect: Mapping[str, Any] | None,
    forward: bool,
    journal_id: str,
) -> SettleResult:
    name = plan.target.container_name
    original_id = plan.target.container_id
    assert name is not None and original_id is not None
    engine = resolver.engine()
    watch = ServingWatch(resolver, plan.target.access)
    wait = _wait_step(plan)
    original = engine.inspect(original_id)
    new = _find_new(engine, plan, new_container_id, journal_id)

    forward_error: str | None = None
    if new is not None and (forward or original is None):
        new_id = str(new["Id"])
        try:
            if container_ops.container_name(new) != name:
                if original is not None and container_ops.container_name(original) == name:
                    if container_ops.is_running(original):
                        engine.stop(original_id, ROLLBACK_STOP_TIMEOUT_S, name)
                    engine.rename(original_id, plan.aside_name or name + "-old", name)
                engine.rename(new_id, name, "the new container")
            if not container_ops.is_running(new):
                if original is not None and container_ops.is_running(
                    engine.inspect(original_id) or {}
                ):
                    engine.stop(original_id, ROLLBACK_STOP_TIMEOUT_S, "the old one")
                engine.start(new_id, name)
            watch.wait(
                replace(wait, deadline_s=SETTLE_DEADLINE_S), container_id=new_id, master=None
            )
        except (StepError, AccessError) as error:
            if original is None:
                raise
            forward_error = str(error)
        else:
            if original is not None:
                engine.remove(original_id, force=True)
            gone = "" if original is not None else " (the original container was gone)"
            return SettleResult("new", f"kept the new container {new_id[:12]}{gone}")

    if original is None:
        if original_inspect is None:
            raise StepError(
                "both the original and the new container are gone, and no inspect was kept"
            )
        return _restore_from_inspect(engine, plan, original_inspect, watch, journal_id)

    logs = None
    if new is not None:
        new_id = str(new["Id"])
        logs = engine.logs_tail(new_id)
        engine.remove(new_id, force=True)
    if container_ops.container_name(original) != name:
        engine.rename(original_id, name, "the old container")
    current = engine.inspect(original_id)
    if current is not None and not container_ops.is_running(current):
        engine.start(original_id, name)
    # Back on its own spec, the old container runs the workers it had before.
    before_workers = plan.before.get("workers")
    old_wait = WaitServing(
        before_workers if isinstance(before_workers, int) and before_workers > 0 else None,
        wait.url,
        SETTLE_DEADLINE_S,
        container=wait.container,
    )
    watch.wait(old_wait, container_id=original_id, master=None)
    detail = f"the old container {name} serves again"
    if forward_error:
        detail += f" (the new one did not: {forward_error})"
    return SettleResult("old", detail, logs)


def _restore_from_inspect(
    engine: DockerEngine,
    plan: RetunePlan,
    inspect: Mapping[str, Any],
    watch: ServingWatch,
    journal_id: str,
) -> SettleResult:
    name = plan.target.container_name
    original_id = plan.target.container_id
    assert name is not None and original_id is not None
    config = inspect.get("Config") or {}
    spec = recreate_spec(
        inspect,
        entrypoint=config.get("Entrypoint"),
        cmd=config.get("Cmd"),
        env=config.get("Env") or [],
        image=str(inspect.get("Image")),
    )
    container_id = engine.create(
        name,
        container_ops.labelled(spec.body, journal_id, original_id),
        [NetworkEndpoint(network, settings) for network, settings in spec.extra_networks],
    )
    engine.start(container_id, name)
    wait = _wait_step(plan)
    watch.wait(
        WaitServing(None, wait.url, SETTLE_DEADLINE_S), container_id=container_id, master=None
    )
    return SettleResult(
        "restored", f"both containers were gone: re-created {name} from the journal's inspect"
    )
