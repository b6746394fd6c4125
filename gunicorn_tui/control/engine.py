"""The control engine: what the dashboard and the CLI call to act on a server.

Typical use (the dashboard does the same from a worker thread)::

    engine = ControlEngine(docker_client=monitor.watcher.client)
    plan = engine.plan_retune(sample, RetuneRequest(workers=4, worker_class="gthread"))
    show(plan.describe())            # or plan.refusal
    outcome = engine.execute(plan, on_event=post_progress)
    show(outcome.summary())

Safety: a ``read_only`` engine refuses every action; one action at a time
per instance (a lock in the state directory); an instance with an
interrupted action is refused until ``recover``; every executed action is
journaled before its first step and written to the audit log.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from gunicorn_tui.control import container_ops
from gunicorn_tui.control.audit_log import AuditLog, AuditRecord
from gunicorn_tui.control.executor import PlanExecutor
from gunicorn_tui.control.fact_gathering import FactsUnavailable, gather_facts
from gunicorn_tui.control.facts import RetuneFacts
from gunicorn_tui.control.journal import ArchivedAction, Journal, JournalStore
from gunicorn_tui.control.local_master import master_alive
from gunicorn_tui.control.master_access import StepError
from gunicorn_tui.control.plan import ActionKind, PlanTarget, RetunePlan
from gunicorn_tui.control.plan_codec import PlanDecodeError, decode_revert
from gunicorn_tui.control.planner import (
    lock_key_of,
    plan_kill_worker,
    plan_reload,
    plan_retune,
    plan_revert,
    plan_scale,
    plan_target,
)
from gunicorn_tui.control.progress import ActionOutcome, OutcomeStatus, ProgressCallback
from gunicorn_tui.control.recovery import (
    PendingAction,
    RecoveryResult,
    list_pending,
    recover_all,
)
from gunicorn_tui.control.requests import RetuneRequest, ScaleRequest
from gunicorn_tui.control.service_probe import Disruption
from gunicorn_tui.control.state_dir import ensure_dir, secure_state_dir, state_dir
from gunicorn_tui.control.target_lock import LockHeld, TargetLock
from gunicorn_tui.control.worker_classes import UnknownWorkerClass, resolve_worker_class
from gunicorn_tui.model.instances import InstanceSample, Source
from gunicorn_tui.sampling.local_instance import LaunchRecord

READ_ONLY_REASON = "read-only session: actions are disabled (--read-only)"


class ActionRefused(Exception):
    """An action that will not run; the message says why in one line."""


class EngineUnavailable(Exception):
    """Something the engine needs (Docker) cannot be reached."""


class ControlEngine:
    """Plans and runs actions on Gunicorn instances; see the module docstring."""

    def __init__(
        self,
        *,
        read_only: bool = False,
        state_directory: Path | None = None,
        docker_client: Any = None,
        connect_docker: Callable[[], Any] | None = None,
        launched: Sequence[LaunchRecord] = (),
        measure: bool = True,
    ) -> None:
        self.read_only = read_only
        self.state_dir = state_directory if state_directory is not None else state_dir()
        self._client = docker_client
        self._connect = connect_docker
        self._launched: dict[int, LaunchRecord] = {record.pid: record for record in launched}
        self.measure = measure
        self.journals = JournalStore(self.state_dir)
        self.audit = AuditLog(self.state_dir)
        # Journals hold environments: private on every start, whatever an
        # older gtui or a umask left. A state directory that cannot be
        # opened says so at its first write.
        with contextlib.suppress(OSError):
            secure_state_dir(self.state_dir)

    # -- dependencies ----------------------------------------------------------------

    def docker_client(self) -> Any:
        """The Docker client, connecting on first use (EngineUnavailable if it cannot)."""
        if self._client is None:
            if self._connect is None:
                from gunicorn_tui.discovery.docker_engine import DockerUnavailable, connect

                try:
                    self._client = connect()
                except DockerUnavailable as error:
                    raise EngineUnavailable(str(error)) from error
            else:
                self._client = self._connect()
        return self._client

    @property
    def launched(self) -> tuple[LaunchRecord, ...]:
        """Host masters gtui started (including restarts it made)."""
        return tuple(self._launched.values())

    def facts(self, sample: InstanceSample, modules: Sequence[str] = ()) -> RetuneFacts:
        """Examine an instance for planning (reads /proc, inspects, probes)."""
        client = self.docker_client() if sample.container is not None else None
        launch = self._launched.get(sample.master.pid or -1)
        try:
            return gather_facts(sample, client, launch, modules)
        except FactsUnavailable as error:
            raise ActionRefused(str(error)) from error

    # -- planning ----------------------------------------------------------------------

    def _read_only_plan(self, sample: InstanceSample, action: ActionKind) -> RetunePlan:
        container = sample.container
        target = PlanTarget(
            key=sample.key,
            label=sample.label,
            source=sample.source,
            lock_key=lock_key_of(sample),
            master_pid=sample.master.pid or 0,
            container_id=container.id if container else None,
            container_name=container.name if container else None,
        )
        return RetunePlan(action, target, None, (), {}, {}, refusal=READ_ONLY_REASON)

    def plan_scale(self, sample: InstanceSample, request: ScaleRequest) -> RetunePlan:
        """Plan ``+N``/``-N``/``=N`` workers now."""
        if self.read_only:
            return self._read_only_plan(sample, ActionKind.SCALE)
        return plan_scale(sample, self.facts(sample), request)

    def plan_retune(self, sample: InstanceSample, request: RetuneRequest) -> RetunePlan:
        """Plan a retune (probing the server's Python for a new worker class)."""
        if self.read_only:
            return self._read_only_plan(sample, ActionKind.RETUNE)
        modules: tuple[str, ...] = ()
        if request.worker_class is not None:
            try:
                modules = (resolve_worker_class(request.worker_class).module,)
            except UnknownWorkerClass:
                modules = ()  # the planner's validation says why
        return plan_retune(sample, self.facts(sample, modules), request)

    def plan_reload(self, sample: InstanceSample) -> RetunePlan:
        """Plan a graceful reload (HUP)."""
        if self.read_only:
            return self._read_only_plan(sample, ActionKind.RELOAD)
        return plan_reload(sample, self.facts(sample))

    def plan_kill_worker(self, sample: InstanceSample, worker_pid: int) -> RetunePlan:
        """Plan stopping one worker (its host pid) so the master replaces it."""
        if self.read_only:
            return self._read_only_plan(sample, ActionKind.KILL_WORKER)
        return plan_kill_worker(sample, self.facts(sample), worker_pid)

    def last_change(self, sample: InstanceSample) -> ArchivedAction | None:
        """The last successful retune or revert of this instance, from the archive."""
        key = lock_key_of(sample)
        for action in reversed(self.journals.archived()):
            if action.lock_key == key and action.revertible:
                return action
        return None

    def plan_revert(self, sample: InstanceSample) -> RetunePlan:
        """Plan re-applying the configuration from before the last retune."""
        if self.read_only:
            return self._read_only_plan(sample, ActionKind.REVERT)
        last = self.last_change(sample)
        facts = self.facts(sample)
        if last is None:
            target = plan_target(sample, facts)
            return RetunePlan(
                ActionKind.REVERT,
                target,
                None,
                (),
                {},
                {},
                refusal="no earlier retune of this instance in the journal archive",
            )
        try:
            spec = decode_revert((last.data.get("plan") or {}).get("revert"))
        except PlanDecodeError as error:
            target = plan_target(sample, facts)
            return RetunePlan(
                ActionKind.REVERT,
                target,
                None,
                (),
                {},
                {},
                refusal=f"the last retune ({last.id}) recorded nothing to revert to ({error})",
            )
        plan = plan_revert(sample, facts, spec)
        note = f"reverts {last.data.get('action')} {last.id}"
        return replace(plan, notes=(note, *plan.notes))

    # -- execution ---------------------------------------------------------------------

    def execute(self, plan: RetunePlan, on_event: ProgressCallback | None = None) -> ActionOutcome:
        """Run ``plan``: lock, journal, steps, rollback, audit. ActionRefused if it may not."""
        if self.read_only:
            raise ActionRefused(READ_ONLY_REASON)
        if not plan.ok:
            raise ActionRefused(plan.refusal or "refused")
        lock = TargetLock(self.state_dir / "locks", plan.target.lock_key, plan.action.value)
        try:
            lock.acquire()
        except LockHeld as held:
            raise ActionRefused(str(held)) from held
        try:
            interrupted = [
                j for j in self.journals.pending() if j.data.get("lock_key") == plan.target.lock_key
            ]
            if interrupted:
                raise ActionRefused(
                    f"{plan.target.label}: an interrupted {interrupted[0].data.get('action')} "
                    f"({interrupted[0].id}) must be settled first: run `gtui recover`"
                )
            client = self.docker_client() if plan.target.container_id else None
            original = self._check_still_there(plan, client)
            ensure_dir(self.state_dir)
            journal = self.journals.begin(plan, original)
            executor = PlanExecutor(client, self.state_dir, on_event, measure=self.measure)
            outcome = executor.execute(plan, journal)
            self._finish(plan, journal, outcome)
            return replace(outcome, journal_path=str(journal.path))
        finally:
            lock.release()

    def _check_still_there(self, plan: RetunePlan, client: Any) -> dict[str, Any] | None:
        target = plan.target
        if target.container_id is not None:
            try:
                inspect = container_ops.inspect_or_none(client, target.container_id)
            except StepError as error:
                raise ActionRefused(str(error)) from error
            if inspect is None:
                raise ActionRefused(f"container {target.container_name} no longer exists")
            if not container_ops.is_running(inspect):
                raise ActionRefused(f"container {target.container_name} is not running")
            return dict(inspect)
        if target.source is Source.LOCAL and not master_alive(target.master_pid):
            raise ActionRefused(f"master {target.master_pid} is gone: plan again")
        return None

    def _finish(self, plan: RetunePlan, journal: Journal, outcome: ActionOutcome) -> None:
        if outcome.launch is not None:
            self._launched[outcome.launch.pid] = outcome.launch
        record = _outcome_json(outcome)
        if outcome.status is not OutcomeStatus.NEEDS_RECOVERY:
            journal.archive(record)
        self.audit.append(
            AuditRecord(
                at=time.time(),
                target=plan.target.label,
                action=plan.action.value,
                strategy=plan.strategy.value if plan.strategy else None,
                outcome=outcome.status.value,
                before=dict(plan.before),
                after=dict(plan.after) if outcome.ok else {},
                error=outcome.error,
                journal_id=journal.id,
                served_after_s=outcome.served_after_s,
            )
        )

    # -- recovery ------------------------------------------------------------------------

    def pending(self) -> list[PendingAction]:
        """Interrupted (or running) actions, from the journal directory."""
        return list_pending(self.journals, self.state_dir)

    def recover(self) -> list[RecoveryResult]:
        """Finish or undo every interrupted action (``gtui recover``)."""
        if self.read_only:
            raise ActionRefused(READ_ONLY_REASON)

        def client_for(journal: Journal) -> Any:
            target = (journal.data.get("plan") or {}).get("target") or {}
            if not target.get("container_id"):
                return None
            try:
                return self.docker_client()
            except EngineUnavailable as error:
                raise StepError(str(error)) from error

        return recover_all(self.journals, self.state_dir, self.audit, client_for)


def _outcome_json(outcome: ActionOutcome) -> dict[str, Any]:
    disruption: Disruption | None = outcome.disruption
    return {
        "status": outcome.status.value,
        "error": outcome.error,
        "steps_done": outcome.steps_done,
        "steps_total": outcome.steps_total,
        "served_after_s": outcome.served_after_s,
        "disruption": None
        if disruption is None
        else {
            "url": disruption.url,
            "probes": disruption.probes,
            "failed_probes": disruption.failed_probes,
            "longest_outage_s": disruption.longest_outage_s,
        },
        "new_container_id": outcome.new_container_id,
        "new_master_pid": outcome.new_master_pid,
        "new_container_logs": outcome.new_container_logs,
    }
