"""Bring an interrupted or failed re-create to a state that serves.

Used by the executor's automatic rollback and by ``gtui recover``. It looks
at what really exists (the original container, the new one under its
temporary or final name) instead of trusting a step counter, so it is right
wherever the sequence stopped:

- forward: the new container runs under the service name and serves the new
  config, so the old one is removed;
- back: the new container is removed and the old one gets its name back and
  is started;
- restore: both are gone (removed by someone), so the original is created
  again from the inspect kept in the journal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gunicorn_tui.control import container_ops
from gunicorn_tui.control.container_spec import recreate_spec
from gunicorn_tui.control.master_access import StepError
from gunicorn_tui.control.plan import RetunePlan, WaitServing
from gunicorn_tui.control.serving_watch import ServingWatch

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
    client: Any, plan: RetunePlan, new_container_id: str | None
) -> Mapping[str, Any] | None:
    original_id = plan.target.container_id
    if new_container_id:
        found = container_ops.inspect_or_none(client, new_container_id)
        if found is not None:
            return found
    for name in (plan.temporary_name, plan.target.container_name):
        if not name:
            continue
        found = container_ops.inspect_or_none(client, name)
        if found is not None and found.get("Id") != original_id:
            return found
    return None


def settle_recreate(
    client: Any,
    plan: RetunePlan,
    new_container_id: str | None,
    original_inspect: Mapping[str, Any] | None,
    forward: bool,
) -> SettleResult:
    """Make the service run on the new container (``forward`` and it serves) or the old one."""
    name = plan.target.container_name
    original_id = plan.target.container_id
    assert name is not None and original_id is not None
    watch = ServingWatch(client, plan.target.api_mode)
    wait = _wait_step(plan)
    original = container_ops.inspect_or_none(client, original_id)
    new = _find_new(client, plan, new_container_id)

    if new is not None and (forward or original is None):
        new_id = str(new["Id"])
        try:
            if container_ops.container_name(new) != name:
                if original is not None and container_ops.container_name(original) == name:
                    if container_ops.is_running(original):
                        container_ops.stop(client, original_id, ROLLBACK_STOP_TIMEOUT_S, name)
                    container_ops.rename(
                        client, original_id, plan.aside_name or name + "-old", name
                    )
                container_ops.rename(client, new_id, name, "the new container")
            if not container_ops.is_running(new):
                if original is not None and container_ops.is_running(
                    container_ops.inspect_or_none(client, original_id) or {}
                ):
                    container_ops.stop(client, original_id, ROLLBACK_STOP_TIMEOUT_S, "the old one")
                container_ops.start(client, new_id, name)
            watch.wait(
                replace(wait, deadline_s=SETTLE_DEADLINE_S), container_id=new_id, master_pid=None
            )
        except StepError as error:
            if original is None:
                raise
            forward_error: str | None = str(error)
        else:
            if original is not None:
                container_ops.remove(client, original_id, force=True)
            gone = "" if original is not None else " (the original container was gone)"
            return SettleResult("new", f"kept the new container {new_id[:12]}{gone}")
    else:
        forward_error = None

    if original is None:
        if original_inspect is None:
            raise StepError(
                "both the original and the new container are gone, and no inspect was kept"
            )
        return _restore_from_inspect(client, plan, original_inspect, watch)

    logs = None
    if new is not None:
        new_id = str(new["Id"])
        logs = container_ops.tail_logs(client, new_id)
        container_ops.remove(client, new_id, force=True)
    if container_ops.container_name(original) != name:
        container_ops.rename(client, original_id, name, "the old container")
    current = container_ops.inspect_or_none(client, original_id)
    if current is not None and not container_ops.is_running(current):
        container_ops.start(client, original_id, name)
    old_wait = WaitServing(None, wait.url, SETTLE_DEADLINE_S, container=wait.container)
    watch.wait(old_wait, container_id=original_id, master_pid=None)
    detail = f"the old container {name} serves again"
    if forward_error:
        detail += f" (the new one did not: {forward_error})"
    return SettleResult("old", detail, logs)


def _restore_from_inspect(
    client: Any, plan: RetunePlan, inspect: Mapping[str, Any], watch: ServingWatch
) -> SettleResult:
    name = plan.target.container_name
    assert name is not None
    config = inspect.get("Config") or {}
    spec = recreate_spec(
        inspect,
        entrypoint=config.get("Entrypoint"),
        cmd=config.get("Cmd"),
        env=config.get("Env") or [],
        image=str(inspect.get("Image")),
    )
    container_id = container_ops.create(client, name, spec)
    container_ops.start(client, container_id, name)
    wait = _wait_step(plan)
    watch.wait(
        WaitServing(None, wait.url, SETTLE_DEADLINE_S), container_id=container_id, master_pid=None
    )
    return SettleResult(
        "restored", f"both containers were gone: re-created {name} from the journal's inspect"
    )
