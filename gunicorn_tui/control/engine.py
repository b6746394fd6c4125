"""The control engine: what the dashboard and the CLI call to act on a server.

Typical use (the dashboard does the same from a worker thread)::

    engine = ControlEngine(docker_client=monitor.watcher.client)
    with engine.hold(sample, "retune"):       # optional: one lock for plan and run
        plan = engine.plan_retune(sample, RetuneRequest(workers=4, worker_class="gthread"))
        show(plan.describe())            # or plan.refusal
        outcome = engine.execute(plan, on_event=post_progress)
    show(outcome.summary())

Safety: a ``read_only`` engine refuses every action; one action at a time
per target, across users of this host and across hosts driving one engine
(:mod:`target_lock`), and plans are made from facts read under that lock;
an instance with an interrupted action is refused until ``recover``; every
executed action is journaled (with its engine's ID) before its first step
and written to the audit log. Every read, write, exec and signal goes
through the access layer (:mod:`gunicorn_tui.access`).
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gunicorn_tui.access.docker_engine import DockerEngine
from gunicorn_tui.access.endpoints import LOCAL_NAME
from gunicorn_tui.access.errors import AccessError, EngineLost
from gunicorn_tui.access.host import HostMaster
from gunicorn_tui.access.processes import ProcessRef
from gunicorn_tui.access.resolve import AccessResolver
from gunicorn_tui.control.durability.audit_log import AuditLog, AuditRecord
from gunicorn_tui.control.durability.journal import (
    ArchivedAction,
    Journal,
    JournalStore,
    OutcomeStatus,
)
from gunicorn_tui.control.durability.plan_codec import PlanDecodeError, decode_revert
from gunicorn_tui.control.durability.state_dir import ensure_dir, secure_state_dir, state_dir
from gunicorn_tui.control.durability.target_lock import LockHeld, TargetLock, scoped_key
from gunicorn_tui.control.planning.fact_gathering import FactsUnavailable, gather_facts
from gunicorn_tui.control.planning.facts import RetuneFacts
from gunicorn_tui.control.planning.plan import ActionKind, PlanTarget, RetunePlan
from gunicorn_tui.control.planning.planner import (
    plan_kill_worker,
    plan_reload,
    plan_retune,
    plan_revert,
)
from gunicorn_tui.control.planning.requests import NO_CONSENT, Consent, RetuneRequest, ScaleRequest
from gunicorn_tui.control.planning.scale_strategy import plan_scale
from gunicorn_tui.control.planning.strategy_common import lock_key_of, plan_target
from gunicorn_tui.control.planning.worker_classes import UnknownWorkerClass, resolve_worker_class
from gunicorn_tui.control.remote_host import (
    NOT_OURS_HINT,
    RemoteGtuiReach,
    RemoteHostActions,
    RemoteRefused,
    kill_worker_words,
    reload_words,
    retune_words,
    revert_words,
    scale_words,
)
from gunicorn_tui.control.running import container_ops
from gunicorn_tui.control.running.executor import PlanExecutor
from gunicorn_tui.control.running.interrupt import Interrupt
from gunicorn_tui.control.running.progress import (
    ActionOutcome,
    ProgressCallback,
    StepFailed,
    StepFinished,
    StepStarted,
)
from gunicorn_tui.control.running.recovery import (
    PendingAction,
    RecoveryResult,
    list_pending,
    recover_one,
)
from gunicorn_tui.control.running.service_probe import Disruption
from gunicorn_tui.control.running.step_errors import StepError, WrongEngine
from gunicorn_tui.model.instances import InstanceSample, Source
from gunicorn_tui.sampling.local_instance import LaunchRecord

READ_ONLY_REASON = "read-only session: actions are disabled (--read-only)"
# Set by tests to keep locks out of the shared host directory.
_LOCK_DIR: Path | None = None


@dataclass(frozen=True)
class HostEngine:
    """How a ControlEngine reaches another engine of the session: its client
    (None while disconnected), its address, and whether its pids are ours."""

    connect: Callable[[], object]
    address: str
    api_only: bool


class ActionRefused(Exception):
    """An action that will not run; the message says why in one line."""


class EngineUnavailable(Exception):
    """Something the engine needs (Docker) cannot be reached."""


@dataclass
class _Held:
    lock: TargetLock
    thread: int
    depth: int


def _watch_only(sample: InstanceSample) -> bool:
    return sample.container is not None and sample.container.watch_only is not None


class ControlEngine:
    """Plans and runs actions on Gunicorn instances; see the module docstring."""

    def __init__(
        self,
        *,
        read_only: bool = False,
        state_directory: Path | None = None,
        docker_client: object = None,
        connect_docker: Callable[[], object] | None = None,
        launched: Sequence[LaunchRecord] = (),
        measure: bool = True,
        api_only: bool = False,
        lock_directory: Path | None = None,
        host: str = LOCAL_NAME,
        other_hosts: Mapping[str, HostEngine] | None = None,
        docker_address: str | None = None,
        remote_gtuis: Mapping[str, RemoteGtuiReach] | None = None,
    ) -> None:
        self.read_only = read_only
        # The gtui of each ssh:// host that streams its figures: masters
        # outside containers there are acted on by it (remote_host.py).
        self._remote_gtuis: Mapping[str, RemoteGtuiReach] = dict(remote_gtuis or {})
        self._remote_actions: dict[str, RemoteHostActions] = {}
        # The engine this one acts through, and the others of the session:
        # an action always goes to the engine its instance came from.
        self.host = host
        self._other_hosts: Mapping[str, HostEngine] = dict(other_hosts or {})
        self._siblings: dict[str, ControlEngine] = {}
        self.state_dir = state_directory if state_directory is not None else state_dir()
        self._launched: dict[int, LaunchRecord] = {record.pid: record for record in launched}
        self.measure = measure
        self.journals = JournalStore(self.state_dir)
        self.audit = AuditLog(self.state_dir)
        # Journals hold environments: private on every start, whatever an
        # older gtui or a umask left. A state directory that cannot be
        # opened says so at its first write.
        with contextlib.suppress(OSError):
            secure_state_dir(self.state_dir)
        self.lock_directory = lock_directory if lock_directory is not None else _LOCK_DIR
        self._held: dict[str, _Held] = {}
        self.default_consent = NO_CONSENT
        self._held_guard = threading.Lock()
        engine: DockerEngine | Callable[[], DockerEngine] | None
        if docker_client is not None:
            engine = DockerEngine(docker_client, docker_address)
        elif connect_docker is not None:
            connect = connect_docker

            def engine() -> DockerEngine:
                return DockerEngine(connect(), docker_address)

        else:
            engine = None
        self.access = AccessResolver(engine, api_only=api_only)

    # -- engines -----------------------------------------------------------------------

    def for_host(self, host: str, *, container: bool = True) -> ControlEngine:
        """The engine acting on instances of ``host`` (sharing this one's state,
        locks, journals and consent). A master outside containers is acted on
        only on this machine."""
        if not container:
            if host != LOCAL_NAME:
                self.remote_actions(host)  # refuses, saying why
                raise ActionRefused(f"a master outside containers on {host}: act on it by its gtui")
            return self
        if host == self.host:
            return self
        reach = self._other_hosts.get(host)
        if reach is None:
            raise ActionRefused(f"engine {host} is not one this session watches")
        sibling = self._siblings.get(host)
        if sibling is None:
            sibling = copy.copy(self)
            sibling.host = host
            connect = reach.connect

            def engine() -> DockerEngine:
                client = connect()
                if client is None:
                    raise EngineLost(f"engine {host} is not connected")
                return DockerEngine(client, reach.address)

            sibling.access = AccessResolver(engine, api_only=reach.api_only)
            self._siblings[host] = sibling
        if sibling.default_consent != self.default_consent:
            sibling = copy.copy(sibling)
            sibling.default_consent = self.default_consent
        return sibling

    def remote_actions(self, host: str) -> RemoteHostActions:
        """Who acts on ``host``'s masters outside containers: the gtui there
        (over the SSH connection of its agent); ActionRefused with the hint
        when there is none, or one of another schema version."""
        reach = self._remote_gtuis.get(host)
        got = reach() if reach is not None else "not an ssh:// host with a gtui agent"
        if isinstance(got, str):
            raise ActionRefused(
                f"a master outside containers on {host}: no gtui there to act on it ({got}); "
                + NOT_OURS_HINT.format(host=host)
            )
        actions = self._remote_actions.get(host)
        if actions is None or actions.remote is not got:
            actions = self._remote_actions[host] = RemoteHostActions(got)
        return actions

    def _remote_for(self, sample: InstanceSample) -> RemoteHostActions | None:
        """The remote gtui that acts on ``sample`` (a master outside
        containers on another host), None for everything acted on here."""
        if sample.container is not None or sample.host == LOCAL_NAME:
            return None
        if sample.stale is not None:
            raise ActionRefused(f"{sample.label}: {sample.stale}")
        return self.remote_actions(sample.host)

    def _remote_plan(
        self, sample: InstanceSample, words: list[str], consent: Consent | None = None
    ) -> RetunePlan:
        remote = self._remote_for(sample)
        assert remote is not None
        try:
            return remote.plan(sample, words, self._consent(consent))
        except RemoteRefused as error:
            raise ActionRefused(str(error)) from error

    def _noted(self, plan: RetunePlan) -> RetunePlan:
        """A plan for another host's engine says how it gets there."""
        host = plan.target.host
        if host == LOCAL_NAME or plan.target.container_id is None:
            return plan
        reach = self._other_hosts.get(host)
        api_only = reach.api_only if reach is not None else self.access.api_only
        note = f"on {host}: through its Docker engine's API"
        if reach is not None:
            note += f" ({reach.address})"
        if api_only:
            note += ", not through a gtui agent"
        return replace(plan, notes=(note, *plan.notes))

    def _route(self, sample: InstanceSample) -> ControlEngine:
        if sample.stale is not None:
            raise ActionRefused(f"{sample.label}: {sample.stale}")
        return self.for_host(sample.host, container=sample.container is not None)

    # -- dependencies ----------------------------------------------------------------

    def docker(self) -> DockerEngine:
        """The container engine, connecting on first use (EngineUnavailable if it cannot)."""
        try:
            return self.access.engine()
        except (AccessError, Exception) as error:
            raise EngineUnavailable(str(error)) from error

    @property
    def launched(self) -> tuple[LaunchRecord, ...]:
        """Host masters gtui started (including restarts it made)."""
        return tuple(self._launched.values())

    def facts(
        self, sample: InstanceSample, modules: Sequence[str] = (), preflight: bool = False
    ) -> RetuneFacts:
        """Examine an instance for planning (reads /proc, inspects, scans its files);
        ``preflight`` adds what a re-create would break (for retunes and reverts)."""
        if self._remote_for(sample) is not None:
            raise ActionRefused(
                f"{sample.label} on {sample.host}: its facts are read by the gtui there"
            )
        if (other := self._route(sample)) is not self:
            return other.facts(sample, modules, preflight)
        launch = self._launched.get(sample.master.pid or -1)
        try:
            facts, _ = gather_facts(sample, self.access, launch, modules, preflight)
        except FactsUnavailable as error:
            raise ActionRefused(str(error)) from error
        except EngineLost as error:
            raise EngineUnavailable(str(error)) from error
        return facts

    # -- locking -------------------------------------------------------------------------

    def _target_lock(
        self, key: str, container_id: str | None, purpose: str, label: str
    ) -> TargetLock:
        if container_id is None:
            return TargetLock(self.lock_directory, key, purpose, label=label)
        engine = self.docker()
        try:
            inspect = engine.inspect(container_id)
        except AccessError as error:
            raise ActionRefused(str(error)) from error
        if inspect is None:
            raise ActionRefused(f"container {label} no longer exists")
        try:
            engine_id = engine.identity().engine_id
        except AccessError as error:
            raise ActionRefused(str(error)) from error
        return TargetLock(
            self.lock_directory,
            scoped_key(key, engine_id),
            purpose,
            engine=engine,
            inspect=inspect,
            label=label,
        )

    @contextlib.contextmanager
    def _locked(
        self, key: str, container_id: str | None, purpose: str, label: str
    ) -> Iterator[None]:
        me = threading.get_ident()
        with self._held_guard:
            held = self._held.get(key)
            if held is not None:
                if held.thread != me:
                    raise ActionRefused(f"{key}: another action of this session is running on it")
                held.depth += 1
        if held is not None:
            try:
                yield
            finally:
                with self._held_guard:
                    held.depth -= 1
            return
        lock = self._target_lock(key, container_id, purpose, label)
        try:
            lock.acquire()
        except LockHeld as error:
            raise ActionRefused(str(error)) from error
        with self._held_guard:
            self._held[key] = _Held(lock, me, 1)
        try:
            yield
        finally:
            with self._held_guard:
                self._held.pop(key, None)
            lock.release()

    @contextlib.contextmanager
    def hold(self, sample: InstanceSample, purpose: str) -> Iterator[None]:
        """Hold ``sample``'s target lock for a whole run (a sweep, a guided A/B,
        a CLI action from plan to outcome); plans and executions inside it, from
        this thread, use it. ActionRefused when another gtui holds it."""
        if self.read_only:
            raise ActionRefused(READ_ONLY_REASON)
        if self._remote_for(sample) is not None:
            # The gtui there holds the target's lock from its plan to its outcome.
            yield
            return
        if (other := self._route(sample)) is not self:
            with other.hold(sample, purpose):
                yield
            return
        container = sample.container
        if container is not None and container.watch_only is not None:
            raise ActionRefused(f"{container.name}: {container.watch_only}")
        container_id = container.id if container is not None else None
        label = container.name if container is not None else sample.label
        with self._locked(lock_key_of(sample), container_id, purpose, label):
            yield

    # -- planning ----------------------------------------------------------------------

    def with_consent(self, consent: Consent) -> ControlEngine:
        """This engine (same state, locks and journals) planning with ``consent``
        where a caller gives none: the dashboard's "allow and plan again"."""
        view = copy.copy(self)
        view.default_consent = consent
        return view

    def _consent(self, given: Consent | None) -> Consent:
        return given if given is not None else self.default_consent

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
            host=sample.host,
        )
        reason = READ_ONLY_REASON
        if container is not None and container.watch_only is not None:
            reason = f"{container.name}: {container.watch_only}"
        return RetunePlan(action, target, None, (), {}, {}, refusal=reason)

    def plan_scale(
        self, sample: InstanceSample, request: ScaleRequest, consent: Consent | None = None
    ) -> RetunePlan:
        """Plan ``+N``/``-N``/``=N`` workers now."""
        if self.read_only or _watch_only(sample):
            return self._read_only_plan(sample, ActionKind.SCALE)
        if self._remote_for(sample) is not None:
            return self._remote_plan(sample, scale_words(sample, request), consent)
        with self.hold(sample, "plan scale"):
            plan = plan_scale(sample, self.facts(sample), request, consent=self._consent(consent))
        return self._noted(plan)

    def plan_retune(
        self, sample: InstanceSample, request: RetuneRequest, consent: Consent | None = None
    ) -> RetunePlan:
        """Plan a retune (reading the server's files for a new worker class)."""
        if self.read_only or _watch_only(sample):
            return self._read_only_plan(sample, ActionKind.RETUNE)
        if self._remote_for(sample) is not None:
            return self._remote_plan(sample, retune_words(sample, request), consent)
        modules: tuple[str, ...] = ()
        if request.worker_class is not None:
            try:
                modules = (resolve_worker_class(request.worker_class).module,)
            except UnknownWorkerClass:
                modules = ()  # the planner's validation says why
        with self.hold(sample, "plan retune"):
            plan = plan_retune(
                sample, self.facts(sample, modules, preflight=True), request, self._consent(consent)
            )
        return self._noted(plan)

    def plan_reload(self, sample: InstanceSample) -> RetunePlan:
        """Plan a graceful reload (HUP)."""
        if self.read_only or _watch_only(sample):
            return self._read_only_plan(sample, ActionKind.RELOAD)
        if self._remote_for(sample) is not None:
            return self._remote_plan(sample, reload_words(sample))
        with self.hold(sample, "plan reload"):
            plan = plan_reload(sample, self.facts(sample))
        return self._noted(plan)

    def plan_kill_worker(self, sample: InstanceSample, worker_pid: int) -> RetunePlan:
        """Plan stopping one worker (its host pid) so the master replaces it."""
        if self.read_only or _watch_only(sample):
            return self._read_only_plan(sample, ActionKind.KILL_WORKER)
        if self._remote_for(sample) is not None:
            return self._remote_plan(sample, kill_worker_words(sample, worker_pid))
        with self.hold(sample, "plan kill-worker"):
            plan = plan_kill_worker(sample, self.facts(sample), worker_pid)
        return self._noted(plan)

    def last_change(self, sample: InstanceSample) -> ArchivedAction | None:
        """The last successful retune or revert of this instance, from the archive."""
        key = lock_key_of(sample)
        for action in reversed(self.journals.archived()):
            if action.lock_key == key and action.revertible:
                return action
        return None

    def plan_revert(self, sample: InstanceSample, consent: Consent | None = None) -> RetunePlan:
        """Plan re-applying the configuration from before the last retune."""
        if self.read_only or _watch_only(sample):
            return self._read_only_plan(sample, ActionKind.REVERT)
        if self._remote_for(sample) is not None:
            return self._remote_plan(sample, revert_words(sample), consent)
        with self.hold(sample, "plan revert"):
            plan = self._plan_revert(sample, self._consent(consent))
        return self._noted(plan)

    def _plan_revert(self, sample: InstanceSample, consent: Consent) -> RetunePlan:
        last = self.last_change(sample)
        facts = self.facts(sample, preflight=True)
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
        plan = plan_revert(sample, facts, spec, consent)
        note = f"reverts {last.data.get('action')} {last.id}"
        return replace(plan, notes=(note, *plan.notes))

    # -- execution ---------------------------------------------------------------------

    def execute(
        self,
        plan: RetunePlan,
        on_event: ProgressCallback | None = None,
        interrupt: Interrupt | None = None,
    ) -> ActionOutcome:
        """Run ``plan``: lock, journal, steps, rollback, audit. ActionRefused if it may not."""
        if self.read_only:
            raise ActionRefused(READ_ONLY_REASON)
        if not plan.ok:
            raise ActionRefused(plan.refusal or "refused")
        if plan.target.container_id is None and plan.target.host != LOCAL_NAME:
            return self._remote_execute(plan, on_event, interrupt)
        other = self.for_host(plan.target.host, container=plan.target.container_id is not None)
        if other is not self:
            return other.execute(plan, on_event, interrupt)
        target = plan.target
        label = target.container_name or target.label
        with self._locked(target.lock_key, target.container_id, plan.action.value, label):
            interrupted = [
                j for j in self.journals.pending() if j.data.get("lock_key") == plan.target.lock_key
            ]
            if interrupted:
                raise ActionRefused(
                    f"{plan.target.label}: an interrupted {interrupted[0].data.get('action')} "
                    f"({interrupted[0].id}) must be settled first: run `gtui recover`"
                )
            original = self._check_still_there(plan)
            ensure_dir(self.state_dir)
            identity = self.docker().identity() if plan.target.container_id else None
            journal = self.journals.begin(
                plan,
                original,
                engine_id=identity.engine_id if identity else None,
                engine_address=identity.address if identity else None,
            )
            executor = PlanExecutor(
                self.access, self.state_dir, on_event, measure=self.measure, interrupt=interrupt
            )
            outcome = executor.execute(plan, journal)
            self._finish(plan, journal, outcome)
            return replace(outcome, journal_path=str(journal.path))

    def _remote_execute(
        self, plan: RetunePlan, on_event: ProgressCallback | None, interrupt: Interrupt | None
    ) -> ActionOutcome:
        """Run a remote gtui's plan there; the audit line here names the host
        (the journal, lock and full audit are the remote gtui's)."""
        remote = self.remote_actions(plan.target.host)
        what = f"{plan.action.value} {plan.target.label}, run by the gtui on {remote.host}"
        started = time.monotonic()
        if on_event is not None:
            on_event(StepStarted(0, 1, what, f"gtui {plan.action.value} (over SSH)"))
        try:
            outcome, journal_id = remote.execute(plan, interrupt)
        except RemoteRefused as error:
            if on_event is not None:
                on_event(StepFailed(0, 1, what, str(error)))
            raise ActionRefused(str(error)) from error
        if on_event is not None:
            if outcome.ok:
                took_ms = (time.monotonic() - started) * 1000
                on_event(StepFinished(0, 1, what, outcome.summary(), took_ms))
            else:
                on_event(StepFailed(0, 1, what, outcome.error or outcome.status.value))
        with contextlib.suppress(OSError):
            ensure_dir(self.state_dir)
            self.audit.append(
                _audit_record(plan, outcome, f"{remote.host}:{journal_id}" if journal_id else None)
            )
        return outcome

    def _check_still_there(self, plan: RetunePlan) -> dict[str, Any] | None:
        target = plan.target
        if target.container_id is not None:
            engine = self.docker()
            try:
                inspect = engine.inspect(target.container_id)
                engine_id = engine.identity().engine_id
            except AccessError as error:
                raise ActionRefused(str(error)) from error
            if target.engine_id and engine_id and engine_id != target.engine_id:
                raise ActionRefused(
                    f"the plan was made on another engine ({target.engine_id}): plan again"
                )
            if inspect is None:
                raise ActionRefused(f"container {target.container_name} no longer exists")
            if not container_ops.is_running(inspect):
                raise ActionRefused(f"container {target.container_name} is not running")
            return dict(inspect)
        if target.source is Source.LOCAL:
            master = HostMaster(ProcessRef(target.master_pid, target.master_start_ticks))
            if not master.master_running():
                raise ActionRefused(f"master {target.master_pid} is gone: plan again")
        return None

    def _finish(self, plan: RetunePlan, journal: Journal, outcome: ActionOutcome) -> None:
        if outcome.launch is not None:
            self._launched[outcome.launch.pid] = outcome.launch
        record = _outcome_json(outcome)
        if outcome.status is not OutcomeStatus.NEEDS_RECOVERY:
            journal.archive(record)
        self.audit.append(_audit_record(plan, outcome, journal.id))

    # -- recovery ------------------------------------------------------------------------

    def pending(self) -> list[PendingAction]:
        """Interrupted (or running) actions, from the journal directory."""
        return list_pending(self.journals, self.lock_directory)

    def recover(self) -> list[RecoveryResult]:
        """Finish or undo every interrupted action (``gtui recover``).

        A journal of a container is settled only on the engine it was
        written for (its ID is in the journal); on another one it is refused.
        """
        if self.read_only:
            raise ActionRefused(READ_ONLY_REASON)
        return [self._recover_journal(journal) for journal in self.journals.pending()]

    def recover_on(self, engines: Sequence[ControlEngine]) -> list[RecoveryResult]:
        """``gtui recover -H ... --context ...``: settle each interrupted
        action on the engine of ``engines`` its journal names (by engine ID,
        else, for an older journal without one, by host name); a journal
        of none of them is refused, saying which engine it needs. Actions
        on masters outside containers are settled here (this machine)."""
        if self.read_only:
            raise ActionRefused(READ_ONLY_REASON)
        ids: dict[str, str] = {}
        unreachable: dict[str, str] = {}
        for engine in engines:
            try:
                ids[engine.host] = engine.access.engine().identity().engine_id
            except Exception as error:  # AccessError, EngineUnreachable, ssh's reason
                unreachable[engine.host] = str(error).splitlines()[0] if str(error) else "?"
        results = []
        for journal in self.journals.pending():
            target = (journal.data.get("plan") or {}).get("target") or {}
            if not target.get("container_id"):
                results.append(self._recover_journal(journal))
                continue
            wanted = journal.data.get("engine_id") or target.get("engine_id")
            host = str(journal.data.get("host") or target.get("host") or LOCAL_NAME)
            chosen = next(
                (
                    engine
                    for engine in engines
                    if engine.host in ids
                    and (ids[engine.host] == wanted if wanted else engine.host == host)
                ),
                None,
            )
            if chosen is not None:
                results.append(chosen._recover_journal(journal))
                continue
            given = ", ".join(engine.host for engine in engines)
            why = "".join(f"; {name} unreachable: {reason}" for name, reason in unreachable.items())
            results.append(
                RecoveryResult(
                    journal.id,
                    str(journal.data.get("target_label", "?")),
                    str(journal.data.get("action", "?")),
                    "refused",
                    f"{_written_for(journal)}, none of the engines given ({given}){why}: "
                    f"{_recover_hint(journal)}",
                )
            )
        return results

    def _recover_journal(self, journal: Journal) -> RecoveryResult:
        return recover_one(
            journal,
            self.state_dir,
            self.audit,
            self.access,
            self._engine_check,
            self.lock_directory,
        )

    def _engine_check(self, journal: Journal) -> None:
        """Raise WrongEngine when ``journal`` was written for another engine."""
        target = (journal.data.get("plan") or {}).get("target") or {}
        if not target.get("container_id"):
            return
        try:
            engine = self.access.engine()
            engine_id = engine.identity().engine_id
        except (AccessError, Exception) as error:
            raise StepError(f"Docker unreachable: {error}") from error
        wanted = journal.data.get("engine_id") or target.get("engine_id")
        if wanted and engine_id != wanted:
            raise WrongEngine(
                f"{_written_for(journal)}, but this is {engine.identity().describe()}: "
                f"{_recover_hint(journal)}"
            )


def _written_for(journal: Journal) -> str:
    """Which engine (ID, address, host name) a container's journal was written for."""
    target = (journal.data.get("plan") or {}).get("target") or {}
    wanted = journal.data.get("engine_id") or target.get("engine_id") or "?"
    address = journal.data.get("engine_address") or "address unknown"
    host = journal.data.get("host") or target.get("host") or LOCAL_NAME
    return f"written for engine {wanted} ({address}) on host {host}"


def _recover_hint(journal: Journal) -> str:
    address = journal.data.get("engine_address")
    if address:
        return f"run `gtui recover -H {address}` (or --context NAME) to settle it there"
    return "run `gtui recover` with -H URL or --context NAME naming that engine"


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
        "interrupted": outcome.interrupted,
        "standing": outcome.standing.value,
    }


def _audit_record(plan: RetunePlan, outcome: ActionOutcome, journal_id: str | None) -> AuditRecord:
    """The audit line of a plan's outcome (``journal_id``: where it is journaled)."""
    return AuditRecord(
        at=time.time(),
        target=plan.target.label,
        action=plan.action.value,
        strategy=plan.strategy.value if plan.strategy else None,
        outcome=outcome.status.value,
        before=dict(plan.before),
        after=dict(plan.after) if outcome.ok else {},
        error=outcome.error,
        journal_id=journal_id,
        served_after_s=outcome.served_after_s,
        host=plan.target.host,
    )
