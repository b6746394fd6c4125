"""``gtui recover``: finish or undo actions whose process died mid-way.

A journal left in ``journal/`` whose lock is free belongs to a process
that is gone. Each is settled by looking at what really exists (see
:mod:`recreate_settle`), then archived, so the original inspect stays
available for a later revert or by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gunicorn_tui.access.endpoints import LOCAL_NAME
from gunicorn_tui.access.errors import AccessError
from gunicorn_tui.access.resolve import AccessResolver
from gunicorn_tui.control.durability.audit_log import AuditLog, AuditRecord
from gunicorn_tui.control.durability.journal import Journal, JournalStore
from gunicorn_tui.control.durability.target_lock import HostLock, LockHeld, TargetLock, scoped_key
from gunicorn_tui.control.running.executor import PlanExecutor
from gunicorn_tui.control.running.step_errors import WrongEngine


@dataclass(frozen=True)
class PendingAction:
    """An unfinished action, for ``gtui recover --list`` and the dashboard."""

    journal_id: str
    path: str
    target: str
    action: str
    strategy: str | None
    started_at: float
    steps_done: int
    steps_total: int
    phase: str
    in_progress: bool  # its process still holds the lock
    # The engine it acts on ("local": this machine's default), as named then.
    host: str = LOCAL_NAME


@dataclass(frozen=True)
class RecoveryResult:
    """What ``recover`` did with one journal."""

    journal_id: str
    target: str
    action: str
    result: str  # completed, rolled back, nothing to do, in progress, refused, failed
    detail: str

    @property
    def ok(self) -> bool:
        return self.result not in ("failed", "refused")


def _key(journal: Journal) -> str:
    key = str(journal.data.get("lock_key", journal.id))
    target = (journal.data.get("plan") or {}).get("target") or {}
    if not target.get("container_id"):
        return key
    return scoped_key(key, journal.data.get("engine_id") or target.get("engine_id"))


def _host(journal: Journal) -> str:
    """The engine the journal's action was on, as named then."""
    target = (journal.data.get("plan") or {}).get("target") or {}
    return str(journal.data.get("host") or target.get("host") or LOCAL_NAME)


def _lock(
    lock_dir: Path | None, journal: Journal, resolver: AccessResolver | None = None
) -> TargetLock:
    """The lock the interrupted action held: the host's, and the engine's when it
    can be taken (the journal keeps the container's inspect)."""
    original = journal.data.get("original_inspect")
    if resolver is None or not isinstance(original, dict):
        return TargetLock(lock_dir, _key(journal), "recover")
    try:
        engine = resolver.engine()
    except AccessError:
        return TargetLock(lock_dir, _key(journal), "recover")
    return TargetLock(lock_dir, _key(journal), "recover", engine=engine, inspect=original)


def list_pending(store: JournalStore, lock_dir: Path | None) -> list[PendingAction]:
    """Unfinished actions, oldest first."""
    found = []
    for journal in store.pending():
        lock = HostLock(lock_dir, _key(journal), "recover")
        try:
            lock.acquire()
        except LockHeld:
            in_progress = True
        else:
            lock.release()
            in_progress = False
        plan_steps = len((journal.data.get("plan") or {}).get("steps") or [])
        found.append(
            PendingAction(
                journal_id=journal.id,
                path=str(journal.path),
                target=str(journal.data.get("target_label", "?")),
                action=str(journal.data.get("action", "?")),
                strategy=journal.data.get("strategy"),
                started_at=float(journal.data.get("created_at", 0.0)),
                steps_done=journal.steps_done,
                steps_total=plan_steps,
                phase=journal.phase,
                in_progress=in_progress,
                host=_host(journal),
            )
        )
    return found


def recover_one(
    journal: Journal,
    state_dir: Path,
    audit: AuditLog,
    resolver: AccessResolver,
    engine_check: Callable[[Journal], None],
    lock_dir: Path | None = None,
) -> RecoveryResult:
    """Settle one journal (skipped while its process still runs)."""
    target = str(journal.data.get("target_label", "?"))
    action = str(journal.data.get("action", "?"))
    host_lock = HostLock(lock_dir, _key(journal), "recover")
    try:
        host_lock.acquire()
    except LockHeld as held:
        return RecoveryResult(journal.id, target, action, "in progress", str(held))
    host_lock.release()
    try:
        engine_check(journal)
    except WrongEngine as error:
        return RecoveryResult(journal.id, target, action, "refused", str(error))
    except Exception as error:
        return RecoveryResult(journal.id, target, action, "failed", str(error))
    lock = _lock(lock_dir, journal, resolver)
    try:
        lock.acquire()
    except LockHeld as held:
        return RecoveryResult(journal.id, target, action, "in progress", str(held))
    try:
        try:
            plan = journal.plan
            result, detail = PlanExecutor(resolver, state_dir, measure=False).finish_interrupted(
                plan, journal
            )
        except Exception as error:  # StepError, JournalError, or unforeseen: keep the journal
            journal.set_phase("needs recovery", recover_error=str(error))
            audit.append(
                AuditRecord(
                    time.time(),
                    target,
                    f"recover {action}",
                    journal.data.get("strategy"),
                    "failed",
                    error=str(error),
                    journal_id=journal.id,
                    host=_host(journal),
                )
            )
            return RecoveryResult(journal.id, target, action, "failed", str(error))
        status = "ok" if result == "completed" else result
        journal.archive({"status": f"recovered: {result}", "detail": detail})
        audit.append(
            AuditRecord(
                time.time(),
                target,
                f"recover {action}",
                journal.data.get("strategy"),
                status,
                before=dict((journal.data.get("plan") or {}).get("before") or {}),
                after=dict((journal.data.get("plan") or {}).get("after") or {})
                if result == "completed"
                else {},
                journal_id=journal.id,
                host=_host(journal),
            )
        )
        return RecoveryResult(journal.id, target, action, result, detail)
    finally:
        lock.release()
