"""Run a plan step by step, journal each step, roll back on failure.

The executor reports progress through a callback (frozen dataclass events)
and returns an :class:`ActionOutcome`. While a plan runs and the server's
bind address is reachable on 127.0.0.1, a :class:`ServiceProbe` measures
what clients saw (failed probes, longest outage).

Test hook: with ``GTUI_CRASH_AFTER_STEP=K`` in the environment the process
kills itself with SIGKILL right after step K is journaled (K=0: right after
the journal is first written). The recovery tests use it to interrupt a
retune at every step.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gunicorn_tui.control import container_ops
from gunicorn_tui.control.journal import Journal
from gunicorn_tui.control.local_master import master_alive, start_master, stop_master
from gunicorn_tui.control.managed_config import render_managed
from gunicorn_tui.control.master_access import (
    StepError,
    check_config,
    control_request,
    send_signal,
    write_file,
)
from gunicorn_tui.control.observation import observe_container_api, observe_local_master
from gunicorn_tui.control.plan import (
    CheckConfig,
    ContainerRole,
    ControlCommand,
    CreateContainer,
    PlanStep,
    RemoveContainer,
    RenameContainer,
    RetunePlan,
    SendSignal,
    StartContainer,
    StartLocalMaster,
    StepAction,
    StopContainer,
    StopLocalMaster,
    Strategy,
    WaitServing,
    WriteFile,
)
from gunicorn_tui.control.progress import (
    ActionOutcome,
    OutcomeStatus,
    ProgressCallback,
    ProgressEvent,
    RollbackFinished,
    RollbackStarted,
    StepFailed,
    StepFinished,
    StepStarted,
)
from gunicorn_tui.control.recreate_settle import settle_recreate
from gunicorn_tui.control.service_probe import Disruption, ServiceProbe
from gunicorn_tui.control.serving_watch import ServingWatch
from gunicorn_tui.sampling.local_instance import LaunchRecord

CRASH_HOOK_ENV = "GTUI_CRASH_AFTER_STEP"
ROLLBACK_DEADLINE_S = 40.0


@dataclass
class RunState:
    """What an execution has learnt so far (mirrored into the journal)."""

    started: float = field(default_factory=time.monotonic)
    step_started_at: dict[int, float] = field(default_factory=dict)
    # Worker pids seen just before a step that a later wait needs replaced.
    workers_before: dict[int, frozenset[int]] = field(default_factory=dict)
    new_container_id: str | None = None
    new_master_pid: int | None = None
    launch: LaunchRecord | None = None
    served_after_s: float | None = None
    new_container_logs: str | None = None
    kept_new: bool = False


def _crash_hook(steps_done: int) -> None:
    if os.environ.get(CRASH_HOOK_ENV) == str(steps_done):
        os.kill(os.getpid(), signal.SIGKILL)


def _probe_url(plan: RetunePlan) -> str | None:
    for step in plan.steps:
        if isinstance(step.action, WaitServing) and step.action.url:
            return step.action.url
    return None


class PlanExecutor:
    """Runs one plan at a time; the engine holds the lock and the journal."""

    def __init__(
        self,
        client: Any,
        state_dir: Path,
        on_event: ProgressCallback | None = None,
        measure: bool = True,
    ) -> None:
        self.client = client
        self.state_dir = state_dir
        self.on_event = on_event
        self.measure = measure

    def _emit(self, event: ProgressEvent) -> None:
        if self.on_event is not None:
            # A broken progress display must not break the action.
            with contextlib.suppress(Exception):
                self.on_event(event)

    def execute(self, plan: RetunePlan, journal: Journal) -> ActionOutcome:
        """Run every step; on failure undo what was done; journal throughout."""
        state = RunState()
        total = len(plan.steps)
        url = _probe_url(plan) if self.measure else None
        probe = ServiceProbe(url).start() if url else None
        error: str | None = None
        status = OutcomeStatus.OK
        done = 0
        fresh_steps = {
            step.action.fresh_after_step
            for step in plan.steps
            if isinstance(step.action, WaitServing) and step.action.fresh_after_step is not None
        }
        _crash_hook(0)
        try:
            for index, step in enumerate(plan.steps):
                self._emit(StepStarted(index, total, step.description, step.command))
                began = time.monotonic()
                state.step_started_at[index] = time.time()
                if index in fresh_steps:
                    state.workers_before[index] = self._watch(plan).worker_pids(
                        plan.target.container_id if plan.target.api_mode else None,
                        plan.target.master_pid,
                    )
                try:
                    detail = self._run_guarded(step.action, plan, state, journal, index)
                except StepError as failure:
                    error = str(failure)
                    self._emit(StepFailed(index, total, step.description, error))
                    status = self._recover_from(plan, state, journal, index, error)
                    break
                done = index + 1
                journal.step_done(index, detail)
                if isinstance(step.action, WaitServing) and state.served_after_s is None:
                    state.served_after_s = time.monotonic() - state.started
                self._emit(
                    StepFinished(
                        index, total, step.description, detail, (time.monotonic() - began) * 1000
                    )
                )
                _crash_hook(done)
        finally:
            disruption: Disruption | None = probe.stop() if probe is not None else None
        outcome = ActionOutcome(
            status=status,
            action=plan.action.value,
            strategy=plan.strategy.value if plan.strategy else None,
            target=plan.target.label,
            before=plan.before,
            after=plan.after,
            steps_done=done,
            steps_total=total,
            error=error,
            served_after_s=state.served_after_s if status is OutcomeStatus.OK else None,
            disruption=disruption,
            new_container_logs=state.new_container_logs,
            journal_id=journal.id,
            journal_path=str(journal.path),
            new_master_pid=state.new_master_pid,
            new_container_id=state.new_container_id,
            launch=state.launch,
            notes=plan.notes,
        )
        return outcome

    # -- steps ------------------------------------------------------------------------

    def _container_id(self, role: ContainerRole, plan: RetunePlan, state: RunState) -> str:
        if role is ContainerRole.ORIGINAL:
            assert plan.target.container_id is not None
            return plan.target.container_id
        if state.new_container_id is None:
            raise StepError("the new container was not created")
        return state.new_container_id

    def _worker_count(self, plan: RetunePlan) -> int | None:
        if plan.target.api_mode and plan.target.container_id:
            view = observe_container_api(self.client, plan.target.container_id)
        else:
            view = observe_local_master(plan.target.master_pid)
        return len(view.worker_pids) if view is not None else None

    def _run_guarded(
        self, action: StepAction, plan: RetunePlan, state: RunState, journal: Journal, index: int
    ) -> str:
        """Run a step; anything unforeseen becomes a StepError, so the rollback
        still runs and the operator still gets one line."""
        try:
            return self._run(action, plan, state, journal, index)
        except StepError:
            raise
        except Exception as error:
            raise StepError(f"unexpected {type(error).__name__}: {error}"[:300]) from error

    def _run(
        self, action: StepAction, plan: RetunePlan, state: RunState, journal: Journal, index: int
    ) -> str:
        client = self.client
        if isinstance(action, ControlCommand):
            reply = control_request(action, client)
            return f"{action.command}: {reply.data}"
        if isinstance(action, SendSignal):
            return send_signal(action, client, lambda: self._worker_count(plan))
        if isinstance(action, WriteFile):
            return write_file(action, client)
        if isinstance(action, CheckConfig):
            return check_config(action, client)
        if isinstance(action, WaitServing):
            return self._wait(action, plan, state)
        if isinstance(action, CreateContainer):
            state.new_container_id = container_ops.create(client, action.name, action.spec)
            journal.remember(new_container_id=state.new_container_id)
            return f"created {action.name} ({state.new_container_id[:12]})"
        if isinstance(action, StopContainer):
            container_ops.stop(
                client,
                self._container_id(action.container, plan, state),
                action.timeout_s,
                action.name,
            )
            return f"stopped {action.name}"
        if isinstance(action, RenameContainer):
            container_ops.rename(
                client,
                self._container_id(action.container, plan, state),
                action.new_name,
                action.old_name,
            )
            return f"renamed {action.old_name} to {action.new_name}"
        if isinstance(action, StartContainer):
            container_ops.start(
                client, self._container_id(action.container, plan, state), action.name
            )
            return f"started {action.name}"
        if isinstance(action, RemoveContainer):
            container_ops.remove(client, self._container_id(action.container, plan, state))
            return f"removed {action.name}"
        if isinstance(action, StopLocalMaster):
            return stop_master(action.pid, action.timeout_s)
        if isinstance(action, StartLocalMaster):
            log_path = self.state_dir / "logs" / action.log_path
            pid = start_master(action.argv, action.environment, action.cwd, log_path)
            state.new_master_pid = pid
            state.launch = LaunchRecord(pid, action.argv, dict(action.environment), action.cwd)
            journal.remember(new_master_pid=pid)
            return f"started master {pid} (log: {log_path})"
        raise StepError(f"unknown step {type(action).__name__}")

    def _watch(self, plan: RetunePlan) -> ServingWatch:
        return ServingWatch(self.client, plan.target.api_mode)

    def _wait(self, action: WaitServing, plan: RetunePlan, state: RunState) -> str:
        watch = self._watch(plan)
        old_workers = (
            state.workers_before.get(action.fresh_after_step)
            if action.fresh_after_step is not None
            else None
        )
        if action.container is ContainerRole.NEW:
            return watch.wait(action, container_id=state.new_container_id, master_pid=None)
        master = state.new_master_pid or plan.target.master_pid
        container_id = plan.target.container_id if plan.target.api_mode else None
        return watch.wait(
            action, container_id=container_id, master_pid=master, old_workers=old_workers
        )

    # -- failure ---------------------------------------------------------------------------

    def _recover_from(
        self, plan: RetunePlan, state: RunState, journal: Journal, failed: int, error: str
    ) -> OutcomeStatus:
        """Undo what the plan changed before step ``failed``; the resulting status."""
        changed = any(step.changes_service for step in plan.steps[: failed + 1])
        strategy = plan.strategy
        if strategy is Strategy.RECREATE:
            if failed == len(plan.steps) - 1:
                # Only the old container's removal failed: the new one serves.
                return OutcomeStatus.OK
            status = self._rollback(
                journal, lambda: self._settle(plan, state, journal, False), changed
            )
            if status is OutcomeStatus.ROLLED_BACK and state.kept_new:
                return OutcomeStatus.OK
            return status
        if strategy is Strategy.HUP_WITH_CONFIG:
            return self._rollback(journal, lambda: self._undo_config(plan, state, failed), changed)
        if strategy is Strategy.RESTART_LOCAL and changed:
            return self._rollback(journal, lambda: self._restart_old(plan, state))
        return OutcomeStatus.FAILED

    def _rollback(self, journal: Journal, undo: Any, changed: bool = True) -> OutcomeStatus:
        self._emit(RollbackStarted("undoing the change"))
        journal.set_phase("rolling back")
        try:
            detail = undo()
        except Exception as error:  # StepError, or anything unforeseen: keep the journal
            self._emit(RollbackFinished(False, str(error)))
            journal.set_phase("needs recovery", rollback_error=str(error))
            return OutcomeStatus.NEEDS_RECOVERY
        self._emit(RollbackFinished(True, detail))
        journal.set_phase("rolled back", rollback_detail=detail)
        return OutcomeStatus.ROLLED_BACK if changed else OutcomeStatus.FAILED

    def _settle(self, plan: RetunePlan, state: RunState, journal: Journal, forward: bool) -> str:
        result = settle_recreate(
            self.client,
            plan,
            state.new_container_id,
            journal.data.get("original_inspect"),
            forward=forward,
        )
        state.new_container_logs = result.new_container_logs
        state.kept_new = result.serving == "new"
        return result.detail

    def finish_interrupted(self, plan: RetunePlan, journal: Journal) -> tuple[str, str]:
        """Complete or undo a plan whose process died after ``journal.steps_done``
        steps: ("completed" | "rolled back" | "nothing to do", detail).

        StepError when the service could not be brought to a known state.
        """
        done = journal.steps_done
        context = journal.context
        state = RunState(
            new_container_id=context.get("new_container_id"),
            new_master_pid=context.get("new_master_pid"),
        )
        if done >= len(plan.steps):
            return "completed", "every step had finished"
        strategy = plan.strategy
        if strategy is Strategy.RECREATE:
            started_new = any(isinstance(step.action, StartContainer) for step in plan.steps[:done])
            detail = self._settle(plan, state, journal, forward=started_new)
            return ("completed" if state.kept_new else "rolled back"), detail
        if strategy is Strategy.HUP_WITH_CONFIG:
            return "rolled back", self._undo_config(plan, state, done)
        if strategy is Strategy.RESTART_LOCAL:
            if state.new_master_pid is not None and master_alive(state.new_master_pid):
                return "completed", f"the new master {state.new_master_pid} runs"
            if not any(step.changes_service for step in plan.steps[:done]):
                return "nothing to do", "nothing had changed"
            return "rolled back", self._restart_old(plan, state)
        return "nothing to do", "signals and control-socket commands need no recovery"

    def _undo_config(self, plan: RetunePlan, state: RunState, failed: int) -> str:
        """Put the previous config file back and reload it (or restart the
        container when the master already exited on the new one)."""
        revert = plan.revert
        assert revert is not None and revert.file_path is not None
        path = revert.file_path
        done = plan.steps[:failed]
        writes = [s.action for s in plan.steps if isinstance(s.action, WriteFile)]
        candidate = next((w for w in writes if w.path != path), None)
        final = next((w for w in writes if w.path == path), None)
        replaced = any(isinstance(s.action, WriteFile) and s.action.path == path for s in done)
        hup_sent = any(isinstance(s.action, SendSignal | ControlCommand) for s in done) or (
            failed < len(plan.steps) and isinstance(plan.steps[failed].action, WaitServing)
        )
        if replaced and final is not None and self._master_took_container_down(plan):
            return self._restore_stopped_container(plan, candidate, final)
        if candidate is not None:
            write_file(
                WriteFile(candidate.path, None, candidate.host_path, candidate.container_id),
                self.client,
            )
        if not replaced or final is None:
            return "nothing had changed; candidate file removed"
        write_file(replace(final, content=revert.file_content), self.client)
        if not hup_sent:
            return f"restored {path}"
        return self._reload_again(plan, state) + f"; restored {path}"

    def _master_took_container_down(self, plan: RetunePlan) -> bool:
        target = plan.target
        if target.container_id is None:
            return False
        inspect = container_ops.inspect_or_none(self.client, target.container_id)
        if inspect is None:
            raise StepError(f"container {target.container_name} no longer exists")
        if not container_ops.is_running(inspect):
            return True
        return not target.api_mode and not master_alive(target.master_pid)

    def _restore_stopped_container(
        self, plan: RetunePlan, candidate: WriteFile | None, final: WriteFile
    ) -> str:
        """The master exited on the new config: fix the file through the archive
        API (which works on a stopped container), then start the container."""
        revert = plan.revert
        target = plan.target
        assert revert is not None and target.container_id is not None
        # An empty gtui file sets nothing: the same as no file, and writable
        # without a running container.
        content = revert.file_content if revert.file_content is not None else render_managed({})
        through_api = replace(
            final, content=content, host_path=None, container_id=target.container_id
        )
        write_file(through_api, self.client)
        inspect = container_ops.inspect_or_none(self.client, target.container_id) or {}
        state = (inspect.get("State") or {}).get("Status")
        if not container_ops.is_running(inspect) and state != "restarting":
            container_ops.start(self.client, target.container_id, target.label)
        ServingWatch(self.client, target.api_mode).wait(
            WaitServing(None, _probe_url(plan), ROLLBACK_DEADLINE_S),
            container_id=target.container_id,
            master_pid=None,
        )
        # Tidy up inside the running container; the service no longer depends on it.
        leftovers = [candidate.path] if candidate is not None else []
        if revert.file_content is None:
            leftovers.append(final.path)
        for path in leftovers:
            with contextlib.suppress(StepError):
                write_file(WriteFile(path, None, None, target.container_id), self.client)
        return "the master had exited on the new settings; restored them and started its container"

    def _reload_again(self, plan: RetunePlan, state: RunState) -> str:
        target = plan.target
        hup = next(
            s.action for s in plan.steps if isinstance(s.action, SendSignal | ControlCommand)
        )
        alive = master_alive(target.master_pid) if not target.api_mode else True
        watch = ServingWatch(self.client, target.api_mode)
        if not alive and target.container_id is not None:
            # The master exited on the bad config and took the container with it.
            inspect = container_ops.inspect_or_none(self.client, target.container_id)
            if inspect is not None and not container_ops.is_running(inspect):
                container_ops.start(self.client, target.container_id, target.label)
            watch.wait(
                WaitServing(None, _probe_url(plan), ROLLBACK_DEADLINE_S),
                container_id=target.container_id,
                master_pid=None,
            )
            return "the master had exited; restarted its container on the old settings"
        if not alive:
            raise StepError(f"master {target.master_pid} exited; start it again by hand")
        container_id = target.container_id if target.api_mode else None
        before = watch.worker_pids(container_id, target.master_pid)
        if isinstance(hup, SendSignal):
            send_signal(hup, self.client)
        else:
            control_request(hup, self.client)
        watch.wait(
            WaitServing(None, _probe_url(plan), ROLLBACK_DEADLINE_S),
            container_id=container_id,
            master_pid=target.master_pid,
            old_workers=before,
        )
        return "reloaded the old settings"

    def _restart_old(self, plan: RetunePlan, state: RunState) -> str:
        revert = plan.revert
        assert revert is not None and revert.argv is not None
        assert revert.environment is not None and revert.cwd is not None
        if state.new_master_pid is not None and master_alive(state.new_master_pid):
            stop_master(state.new_master_pid, ROLLBACK_DEADLINE_S)
        if master_alive(plan.target.master_pid):
            return "the old master still runs"
        log_path = self.state_dir / "logs" / f"master-{plan.target.master_pid}.log"
        pid = start_master(revert.argv, revert.environment, revert.cwd, log_path)
        state.new_master_pid = pid
        state.launch = LaunchRecord(pid, revert.argv, dict(revert.environment), revert.cwd)
        ServingWatch(self.client, False).wait(
            WaitServing(None, _probe_url(plan), ROLLBACK_DEADLINE_S),
            container_id=None,
            master_pid=pid,
        )
        return f"started the old command again (master {pid})"


def plan_step_count(plan: RetunePlan) -> int:
    """Steps that change the service (for progress displays)."""
    return sum(1 for step in plan.steps if isinstance(step, PlanStep) and step.changes_service)
