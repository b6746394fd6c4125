"""Run a plan step by step, journal each step, roll back on failure or interrupt.

Every read, write, exec and signal goes through the access layer
(:mod:`gunicorn_tui.access`), which re-checks what the step relies on just
before it acts: a file still holds what the plan was made from, a pid still
names the planned process, a container's writable layer holds nothing the
operator did not agree to lose.

The executor reports progress through a callback (frozen dataclass events)
and returns an :class:`ActionOutcome`. While a plan runs and the server's
bind address is reachable on 127.0.0.1, a :class:`ServiceProbe` measures
what clients saw (failed probes, longest outage).

An :class:`Interrupt` (Ctrl-C, SIGTERM, quitting the dashboard) is honoured
between steps: the current step finishes (a wait is cut short), then the
plan is rolled back, or completed when only clean-up was left, so the
service ends on the old or the new configuration.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from gunicorn_tui.access.control_socket import ControlReply, ControlSocketError
from gunicorn_tui.access.docker_engine import NetworkEndpoint
from gunicorn_tui.access.errors import AccessError
from gunicorn_tui.access.files import expect_content
from gunicorn_tui.access.host import HostMaster, start_host_master
from gunicorn_tui.access.host_commands import RunAs
from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.access.processes import ProcessRef
from gunicorn_tui.access.resolve import AccessResolver
from gunicorn_tui.access.target import SignalTarget, TargetAccess
from gunicorn_tui.control.durability.journal import Journal, OutcomeStatus
from gunicorn_tui.control.durability.state_dir import ensure_dir
from gunicorn_tui.control.planning.managed_config import render_managed
from gunicorn_tui.control.planning.plan import (
    CheckConfig,
    ContainerRole,
    ControlCommand,
    CreateContainer,
    RemoveContainer,
    RenameContainer,
    RetunePlan,
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
from gunicorn_tui.control.planning.recreate_preflight import (
    dependents,
    describe_losses,
    layer_losses,
    mount_points,
)
from gunicorn_tui.control.running import container_ops
from gunicorn_tui.control.running.interrupt import Interrupt
from gunicorn_tui.control.running.progress import (
    ActionOutcome,
    ProgressCallback,
    ProgressEvent,
    RollbackFinished,
    RollbackStarted,
    ServiceStanding,
    StepFailed,
    StepFinished,
    StepStarted,
)
from gunicorn_tui.control.running.recreate_settle import settle_recreate
from gunicorn_tui.control.running.service_probe import Disruption, ServiceProbe
from gunicorn_tui.control.running.serving_watch import ServingWatch
from gunicorn_tui.control.running.step_errors import Interrupted, StepError
from gunicorn_tui.sampling.local_instance import LaunchRecord

ROLLBACK_DEADLINE_S = 40.0
SIGNAL_EFFECT_TIMEOUT_S = 5.0
ROLLBACK_STRATEGIES = (Strategy.RECREATE, Strategy.HUP_WITH_CONFIG, Strategy.RESTART_LOCAL)


@dataclass
class RunState:
    """What an execution has learnt so far (mirrored into the journal)."""

    started: float = field(default_factory=time.monotonic)
    step_started_at: dict[int, float] = field(default_factory=dict)
    # Worker pids seen just before a step that a later wait needs replaced.
    workers_before: dict[int, frozenset[int]] = field(default_factory=dict)
    new_container_id: str | None = None
    new_master: ProcessRef | None = None
    launch: LaunchRecord | None = None
    served_after_s: float | None = None
    new_container_logs: str | None = None
    kept_new: bool = False


def _probe_url(plan: RetunePlan) -> str | None:
    for step in plan.steps:
        if isinstance(step.action, WaitServing) and step.action.url:
            return step.action.url
    return None


def _last_wait(plan: RetunePlan) -> int | None:
    waits = [i for i, step in enumerate(plan.steps) if isinstance(step.action, WaitServing)]
    return waits[-1] if waits else None


def _run_as(user: str | None) -> RunAs | None:
    if not user or ":" not in user:
        return None
    uid, _, gid = user.partition(":")
    try:
        return RunAs(int(uid), int(gid))
    except ValueError:
        return None


def target_access(resolver: AccessResolver, plan: RetunePlan) -> TargetAccess:
    """The access a plan's target names (its master pinned by start time)."""
    target = plan.target
    master = (
        ProcessRef(target.master_pid, target.master_start_ticks)
        if target.access.has_local_pids
        else None
    )
    return resolver.target(
        target.access,
        master=master,
        master_ns_pid=target.master_ns_pid,
        container_id=target.container_id,
        master_is_init=target.master_is_init,
    )


class PlanExecutor:
    """Runs one plan at a time; the engine holds the lock and the journal."""

    def __init__(
        self,
        resolver: AccessResolver,
        state_dir: Path,
        on_event: ProgressCallback | None = None,
        measure: bool = True,
        interrupt: Interrupt | None = None,
    ) -> None:
        self.resolver = resolver
        self.state_dir = state_dir
        self.on_event = on_event
        self.measure = measure
        self.interrupt = interrupt

    def _emit(self, event: ProgressEvent) -> None:
        if self.on_event is not None:
            # A broken progress display must not break the action.
            with contextlib.suppress(Exception):
                self.on_event(event)

    def _interrupted(self) -> bool:
        return self.interrupt is not None and self.interrupt.requested

    def execute(self, plan: RetunePlan, journal: Journal) -> ActionOutcome:
        """Run every step; on failure or interrupt undo what was done; journal throughout."""
        state = RunState()
        total = len(plan.steps)
        url = _probe_url(plan) if self.measure else None
        probe = ServiceProbe(url).start() if url else None
        error: str | None = None
        status = OutcomeStatus.OK
        done = 0
        last_wait = _last_wait(plan)
        fresh_steps = {
            step.action.fresh_after_step
            for step in plan.steps
            if isinstance(step.action, WaitServing) and step.action.fresh_after_step is not None
        }
        try:
            access = target_access(self.resolver, plan)
        except AccessError as failure:
            access = None
            error = str(failure)
            status = OutcomeStatus.FAILED
        try:
            for index, step in enumerate(plan.steps if access is not None else ()):
                assert access is not None
                finishing = last_wait is not None and index > last_wait
                if self._interrupted() and not finishing:
                    error = f"interrupted ({self.interrupt.reason if self.interrupt else '?'})"
                    status = self._after_interrupt(plan, state, journal, index, error)
                    break
                self._emit(StepStarted(index, total, step.description, step.command))
                began = time.monotonic()
                state.step_started_at[index] = time.time()
                if index in fresh_steps:
                    state.workers_before[index] = self._watch(plan).worker_pids(
                        plan.target.container_id if plan.target.api_mode else None,
                        self._master_ref(plan) if not plan.target.api_mode else None,
                    )
                try:
                    detail = self._run_guarded(step.action, plan, access, state, journal, index)
                except Interrupted as stop:
                    error = f"interrupted ({self.interrupt.reason if self.interrupt else '?'})"
                    self._emit(StepFailed(index, total, step.description, str(stop)))
                    status = self._after_interrupt(plan, state, journal, index, error)
                    break
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
        finally:
            disruption: Disruption | None = probe.stop() if probe is not None else None
        return ActionOutcome(
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
            new_master_pid=state.new_master.pid if state.new_master else None,
            new_container_id=state.new_container_id,
            launch=state.launch,
            notes=plan.notes,
            interrupted=self.interrupt.reason if self._interrupted() and self.interrupt else None,
            standing=_standing(plan, status, done),
        )

    # -- steps ------------------------------------------------------------------------

    @staticmethod
    def _master_ref(plan: RetunePlan) -> ProcessRef:
        return ProcessRef(plan.target.master_pid, plan.target.master_start_ticks)

    def _container_id(self, role: ContainerRole, plan: RetunePlan, state: RunState) -> str:
        if role is ContainerRole.ORIGINAL:
            assert plan.target.container_id is not None
            return plan.target.container_id
        if state.new_container_id is None:
            raise StepError("the new container was not created")
        return state.new_container_id

    def _run_guarded(
        self,
        action: StepAction,
        plan: RetunePlan,
        access: TargetAccess,
        state: RunState,
        journal: Journal,
        index: int,
    ) -> str:
        """Run a step; anything unforeseen becomes a StepError, so the rollback
        still runs and the operator still gets one line."""
        try:
            return self._run(action, plan, access, state, journal)
        except StepError:
            raise
        except AccessError as error:
            raise StepError(str(error)) from error
        except ControlSocketError as error:
            raise StepError(f"control socket: {error}") from error
        except Exception as error:
            raise StepError(f"unexpected {type(error).__name__}: {error}"[:300]) from error

    def _run(
        self,
        action: StepAction,
        plan: RetunePlan,
        access: TargetAccess,
        state: RunState,
        journal: Journal,
    ) -> str:
        if isinstance(action, ControlCommand):
            reply = control_request(access, action)
            return f"{action.command}: {reply.data}"
        if isinstance(action, SendSignal):
            return send_signal(access, action, lambda: _worker_count(access))
        if isinstance(action, WriteFile):
            return write_file(access, action)
        if isinstance(action, CheckConfig):
            return check_config(access, action)
        if isinstance(action, WaitServing):
            return self._wait(action, plan, state)
        engine = self.resolver.engine() if plan.target.container_id else None
        if isinstance(action, CreateContainer):
            assert engine is not None and plan.target.container_id is not None
            body = container_ops.labelled(action.spec.body, journal.id, plan.target.container_id)
            networks = [NetworkEndpoint(n, s) for n, s in action.spec.extra_networks]
            state.new_container_id = engine.create(action.name, body, networks)
            journal.remember(new_container_id=state.new_container_id)
            return f"created {action.name} ({state.new_container_id[:12]})"
        if isinstance(action, StopContainer):
            assert engine is not None
            if action.container is ContainerRole.ORIGINAL and plan.strategy is Strategy.RECREATE:
                self._recheck_recreate(plan)
            engine.stop(
                self._container_id(action.container, plan, state), action.timeout_s, action.name
            )
            return f"stopped {action.name}"
        if isinstance(action, RenameContainer):
            assert engine is not None
            engine.rename(
                self._container_id(action.container, plan, state), action.new_name, action.old_name
            )
            return f"renamed {action.old_name} to {action.new_name}"
        if isinstance(action, StartContainer):
            assert engine is not None
            engine.start(self._container_id(action.container, plan, state), action.name)
            return f"started {action.name}"
        if isinstance(action, RemoveContainer):
            assert engine is not None
            engine.remove(self._container_id(action.container, plan, state))
            return f"removed {action.name}"
        if isinstance(action, StopLocalMaster):
            return HostMaster(ProcessRef(action.pid, action.start_ticks)).stop(action.timeout_s)
        if isinstance(action, StartLocalMaster):
            return self._start_master(action, plan, state, journal)
        raise StepError(f"unknown step {type(action).__name__}")

    def _start_master(
        self, action: StartLocalMaster, plan: RetunePlan, state: RunState, journal: Journal
    ) -> str:
        if action.uid is None or action.gid is None:
            raise StepError("the plan does not say which user the master runs as: plan again")
        log_path = ensure_dir(self.state_dir / "logs") / action.log_path
        started = start_host_master(
            action.argv, action.environment, action.cwd, RunAs(action.uid, action.gid), log_path
        )
        state.new_master = started.master
        state.launch = LaunchRecord(
            started.master.pid, action.argv, dict(action.environment), action.cwd
        )
        journal.remember(
            new_master_pid=started.master.pid, new_master_start_ticks=started.master.start_ticks
        )
        return f"started master {started.master.pid} as uid {action.uid} (log: {log_path})"

    def _recheck_recreate(self, plan: RetunePlan) -> None:
        """Just before the old container stops: nothing new to lose, nobody new depending."""
        engine = self.resolver.engine()
        assert plan.target.container_id is not None
        inspect = engine.inspect(plan.target.container_id)
        if inspect is None:
            raise StepError(f"container {plan.target.container_name} no longer exists")
        losses = layer_losses(engine.diff(plan.target.container_id), mount_points(inspect))
        new = [line for line in losses if line not in plan.discarded_changes]
        if new:
            raise StepError(
                "the container's writable layer changed since the plan was made and a "
                f"re-create would lose it ({describe_losses(new)}): plan again"
            )
        found = dependents(engine, inspect)
        if found:
            raise StepError(
                "containers that depend on this one appeared since the plan was made: "
                + "; ".join(found)
            )

    def _watch(self, plan: RetunePlan) -> ServingWatch:
        return ServingWatch(self.resolver, plan.target.access, self.interrupt)

    def _wait(self, action: WaitServing, plan: RetunePlan, state: RunState) -> str:
        watch = self._watch(plan)
        old_workers = (
            state.workers_before.get(action.fresh_after_step)
            if action.fresh_after_step is not None
            else None
        )
        if action.container is ContainerRole.NEW:
            return watch.wait(action, container_id=state.new_container_id, master=None)
        if plan.target.api_mode:
            return watch.wait(
                action, container_id=plan.target.container_id, master=None, old_workers=old_workers
            )
        master = state.new_master or self._master_ref(plan)
        return watch.wait(
            action,
            container_id=plan.target.container_id,
            master=master,
            old_workers=old_workers,
        )

    # -- failure ---------------------------------------------------------------------------

    def _after_interrupt(
        self, plan: RetunePlan, state: RunState, journal: Journal, index: int, reason: str
    ) -> OutcomeStatus:
        """Stop at step ``index`` (not run, or cut short): roll back what can be."""
        if index == 0 and not isinstance(plan.steps[0].action, WaitServing):
            journal.set_phase("interrupted", interrupted_at_step=0)
            return OutcomeStatus.FAILED  # nothing ran
        if plan.strategy in ROLLBACK_STRATEGIES:
            return self._recover_from(plan, state, journal, index, reason)
        # Signals and control-socket commands: what was sent stays sent.
        changed = any(step.changes_service for step in plan.steps[:index])
        journal.set_phase("interrupted", interrupted_at_step=index)
        return OutcomeStatus.OK if changed else OutcomeStatus.FAILED

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

    def _rollback(
        self, journal: Journal, undo: Callable[[], str], changed: bool = True
    ) -> OutcomeStatus:
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

    def _rollback_watch(self, plan: RetunePlan) -> ServingWatch:
        # A rollback is never cut short by the interrupt that caused it.
        return ServingWatch(self.resolver, plan.target.access)

    def _settle(self, plan: RetunePlan, state: RunState, journal: Journal, forward: bool) -> str:
        result = settle_recreate(
            self.resolver,
            plan,
            state.new_container_id,
            journal.data.get("original_inspect"),
            forward=forward,
            journal_id=journal.id,
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
        new_pid = context.get("new_master_pid")
        state = RunState(
            new_container_id=context.get("new_container_id"),
            new_master=ProcessRef(int(new_pid), context.get("new_master_start_ticks"))
            if new_pid
            else None,
        )
        if done >= len(plan.steps):
            return "completed", "every step had finished"
        strategy = plan.strategy
        try:
            if strategy is Strategy.RECREATE:
                started_new = any(
                    isinstance(step.action, StartContainer) for step in plan.steps[:done]
                )
                detail = self._settle(plan, state, journal, forward=started_new)
                return ("completed" if state.kept_new else "rolled back"), detail
            if strategy is Strategy.HUP_WITH_CONFIG:
                return "rolled back", self._undo_config(plan, state, done)
            if strategy is Strategy.RESTART_LOCAL:
                if state.new_master is not None and HostMaster(state.new_master).master_running():
                    return "completed", f"the new master {state.new_master.pid} runs"
                if not any(step.changes_service for step in plan.steps[:done]):
                    return "nothing to do", "nothing had changed"
                return "rolled back", self._restart_old(plan, state)
        except AccessError as error:
            raise StepError(str(error)) from error
        return "nothing to do", "signals and control-socket commands need no recovery"

    def _undo_config(self, plan: RetunePlan, state: RunState, failed: int) -> str:
        """Put the previous config file back and reload it (or restart the
        container when the master already exited on the new one)."""
        revert = plan.revert
        assert revert is not None and revert.file_path is not None
        path = revert.file_path
        done = plan.steps[:failed]
        writes = [s.action for s in plan.steps if isinstance(s.action, WriteFile)]
        candidate = next((w for w in writes if w.path != path and w.content is not None), None)
        final = next((w for w in writes if w.path == path), None)
        replaced = any(isinstance(s.action, WriteFile) and s.action.path == path for s in done)
        hup_sent = any(isinstance(s.action, SendSignal | ControlCommand) for s in done) or (
            failed < len(plan.steps) and isinstance(plan.steps[failed].action, WaitServing)
        )
        if replaced and final is not None and self._master_took_container_down(plan):
            return self._restore_stopped_container(plan, candidate, final)
        access = target_access(self.resolver, plan)
        if candidate is not None and candidate.content is not None:
            # Only the candidate gtui wrote (its content) is removed.
            with contextlib.suppress(AccessError):
                access.remove_file(candidate.path, expect=expect_content(candidate.content))
        if not replaced or final is None:
            return "nothing had changed; candidate file removed"
        # The file must still hold what this plan wrote there.
        restore = replace(final, content=revert.file_content, expect=expect_content(final.content))
        write_file(access, restore)
        if not hup_sent:
            return f"restored {path}"
        return self._reload_again(plan, state) + f"; restored {path}"

    def _master_took_container_down(self, plan: RetunePlan) -> bool:
        target = plan.target
        if target.container_id is None:
            return False
        inspect = self.resolver.engine().inspect(target.container_id)
        if inspect is None:
            raise StepError(f"container {target.container_name} no longer exists")
        if not container_ops.is_running(inspect):
            return True
        if target.api_mode:
            return False
        return not HostMaster(self._master_ref(plan)).master_running()

    def _restore_stopped_container(
        self, plan: RetunePlan, candidate: WriteFile | None, final: WriteFile
    ) -> str:
        """The master exited on the new config: fix the file through the archive
        API (which works on a stopped container), then start the container."""
        revert = plan.revert
        target = plan.target
        assert revert is not None and target.container_id is not None
        engine = self.resolver.engine()
        # An empty gtui file sets nothing: the same as no file, and writable
        # without a running container.
        content = revert.file_content if revert.file_content is not None else render_managed({})
        found = engine.file_state(target.container_id, final.path)
        if found.text != final.content:
            raise StepError(
                f"{final.path} no longer holds what gtui wrote; left as it is: "
                "start the container by hand"
            )
        engine.put_file(
            target.container_id,
            final.path,
            content.encode(),
            mode=final.mode,
            owner=(final.uid or 0, final.gid or 0),
        )
        inspect = engine.inspect(target.container_id) or {}
        status = (inspect.get("State") or {}).get("Status")
        if not container_ops.is_running(inspect) and status != "restarting":
            engine.start(target.container_id, target.label)
        self._rollback_watch(plan).wait(
            WaitServing(None, _probe_url(plan), ROLLBACK_DEADLINE_S),
            container_id=target.container_id,
            master=None,
        )
        # Tidy up inside the running container; the service no longer depends on it.
        access = self.resolver.container(target.container_id)
        if candidate is not None and candidate.content is not None:
            with contextlib.suppress(AccessError):
                access.remove_file(candidate.path, expect=expect_content(candidate.content))
        if revert.file_content is None:
            with contextlib.suppress(AccessError):
                access.remove_file(final.path, expect=expect_content(content))
        return "the master had exited on the new settings; restored them and started its container"

    def _reload_again(self, plan: RetunePlan, state: RunState) -> str:
        target = plan.target
        hup = next(
            s.action for s in plan.steps if isinstance(s.action, SendSignal | ControlCommand)
        )
        watch = self._rollback_watch(plan)
        master = None if target.api_mode else self._master_ref(plan)
        alive = HostMaster(master).master_running() if master is not None else True
        engine = self.resolver.engine() if target.container_id is not None else None
        if not alive and target.container_id is not None and engine is not None:
            # The master exited on the bad config and took the container with it.
            inspect = engine.inspect(target.container_id)
            if inspect is not None and not container_ops.is_running(inspect):
                engine.start(target.container_id, target.label)
            watch.wait(
                WaitServing(None, _probe_url(plan), ROLLBACK_DEADLINE_S),
                container_id=target.container_id,
                master=None,
            )
            return "the master had exited; restarted its container on the old settings"
        if not alive:
            raise StepError(f"master {target.master_pid} exited; start it again by hand")
        container_id = target.container_id if target.api_mode else None
        before = watch.worker_pids(container_id, master)
        access = target_access(self.resolver, plan)
        if isinstance(hup, SendSignal):
            send_signal(access, replace(hup, count=1))
        else:
            control_request(access, hup)
        watch.wait(
            WaitServing(None, _probe_url(plan), ROLLBACK_DEADLINE_S),
            container_id=target.container_id,
            master=master,
            old_workers=before,
        )
        return "reloaded the old settings"

    def _restart_old(self, plan: RetunePlan, state: RunState) -> str:
        revert = plan.revert
        assert revert is not None and revert.argv is not None
        assert revert.environment is not None and revert.cwd is not None
        start = next((s.action for s in plan.steps if isinstance(s.action, StartLocalMaster)), None)
        if start is None or start.uid is None or start.gid is None:
            raise StepError("the plan does not say which user the master runs as")
        if state.new_master is not None and HostMaster(state.new_master).master_running():
            HostMaster(state.new_master).stop(ROLLBACK_DEADLINE_S)
        if HostMaster(self._master_ref(plan)).master_running():
            return "the old master still runs"
        log_path = ensure_dir(self.state_dir / "logs") / f"master-{plan.target.master_pid}.log"
        started = start_host_master(
            revert.argv, revert.environment, revert.cwd, RunAs(start.uid, start.gid), log_path
        )
        state.new_master = started.master
        state.launch = LaunchRecord(
            started.master.pid, revert.argv, dict(revert.environment), revert.cwd
        )
        self._rollback_watch(plan).wait(
            WaitServing(None, _probe_url(plan), ROLLBACK_DEADLINE_S),
            container_id=None,
            master=started.master,
        )
        return f"started the old command again (master {started.master.pid})"


def _worker_count(access: TargetAccess) -> int | None:
    view = access.observe()
    return len(view.worker_pids) if view is not None else None


def _standing(plan: RetunePlan, status: OutcomeStatus, done: int) -> ServiceStanding:
    """Which configuration the service runs once the executor is done."""
    if status is OutcomeStatus.NEEDS_RECOVERY:
        return ServiceStanding.UNKNOWN
    if status in (OutcomeStatus.ROLLED_BACK, OutcomeStatus.FAILED):
        return ServiceStanding.OLD
    if done < len(plan.steps):
        return ServiceStanding.NEW_UNVERIFIED
    return ServiceStanding.NEW


# -- what one step does, through the access layer ------------------------------------------


def send_signal(
    access: TargetAccess,
    action: SendSignal,
    worker_count: Callable[[], int | None] | None = None,
) -> str:
    """Send the signal ``action.count`` times; between two, wait for the
    previous one to take effect (standard signals do not queue)."""
    if action.route is SignalRoute.HOST:
        if action.host_pid is None:
            raise StepError("no host pid to signal")
        target = SignalTarget(process=ProcessRef(action.host_pid, action.start_ticks))
    else:
        target = SignalTarget(
            ns_pid=action.ns_pid, container_init=action.route is SignalRoute.DOCKER_KILL
        )
    for index in range(action.count):
        try:
            access.send_signal(target, action.signal_name)
        except AccessError as error:
            raise StepError(str(error)) from error
        wanted = action.worker_counts[index] if index < len(action.worker_counts) else None
        if action.count > 1 and wanted is not None and worker_count is not None:
            deadline = time.monotonic() + SIGNAL_EFFECT_TIMEOUT_S
            while time.monotonic() < deadline and worker_count() != wanted:
                time.sleep(0.02)
    return f"SIG{action.signal_name} sent {action.count} time(s)"


def control_request(access: TargetAccess, action: ControlCommand) -> ControlReply:
    """Run one control-socket command; StepError unless it answered ok."""
    try:
        (reply,) = access.control(action.socket_path, [action.command])
    except ControlSocketError as error:
        raise StepError(f"control socket: {error}") from error
    except AccessError as error:
        raise StepError(f"control socket: {error}") from error
    except ValueError as error:
        raise StepError(f"control socket: no reply to {action.command!r}") from error
    if not reply.ok:
        raise StepError(f"control socket refused {action.command!r}: {reply.error}")
    if reply.data.get("success") is False:
        raise StepError(f"control socket: {reply.data.get('error', 'failed')}")
    return reply


def write_file(access: TargetAccess, action: WriteFile) -> str:
    """Write or remove a file as the master sees it, once ``action.expect`` still holds."""
    try:
        if action.content is None:
            return access.remove_file(action.path, expect=action.expect)
        owner = (
            (action.uid, action.gid) if action.uid is not None and action.gid is not None else None
        )
        return access.write_file(
            action.path,
            action.content.encode(),
            mode=action.mode,
            owner=owner,
            expect=action.expect,
        )
    except AccessError as error:
        raise StepError(str(error)) from error


def check_config(access: TargetAccess, action: CheckConfig) -> str:
    """Run ``gunicorn --check-config``; StepError with its output when it fails."""
    run_as = _run_as(action.user)
    if access.kind is AccessKind.HOST and (run_as is None or action.environment is None):
        raise StepError(
            "the config check needs the master's user and environment, and the plan has "
            "neither: plan again"
        )
    try:
        result = access.run_command(
            action.argv,
            environment=dict(action.environment or {}),
            cwd=action.workdir,
            run_as=run_as,
        )
    except AccessError as error:
        raise StepError(f"gunicorn --check-config: {error}") from error
    if result.exit_code != 0:
        lines = [line for line in result.output.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {result.exit_code}"
        raise StepError(f"gunicorn --check-config failed: {reason[:300]}")
    return "configuration checked: OK"
