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
from typing import Any

from gunicorn_tui.control.audit_log import AuditLog, AuditRecord
from gunicorn_tui.control.executor import PlanExecutor
from gunicorn_tui.control.journal import Journal, JournalStore
from gunicorn_tui.control.target_lock import LockHeld, TargetLock


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


@dataclass(frozen=True)
class RecoveryResult:
    """What ``recover`` did with one journal."""

    journal_id: str
    target: str
    action: str
    result: str  # completed, rolled back, nothing to do, in progress, failed
    detail: str

    @property
    def ok(self) -> bool:
        return self.result not in ("failed",)


def _lock(state_dir: Path, journal: Journal) -> TargetLock:
    return TargetLock(state_dir / "locks", str(journal.data.get("lock_key", journal.id)), "recover")


def list_pending(store: JournalStore, state_dir: Path) -> list[PendingAction]:
    """Unfinished actions, oldest first."""
    found = []
    for journal in store.pending():
        lock = _lock(state_dir, journal)
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
            )
        )
    return found


def recover_all(
    store: JournalStore,
    state_dir: Path,
    audit: AuditLog,
    client_for: Callable[[Journal], Any],
) -> list[RecoveryResult]:
    """Settle every unfinished action whose process is gone."""
    results = []
    for journal in store.pending():
        results.append(recover_one(journal, state_dir, audit, client_for))
    return results


def recover_one(
    journal: Journal,
    state_dir: Path,
    audit: AuditLog,
    client_for: Callable[[Journal], Any],
) -> RecoveryResult:
    """Settle one journal (skipped while its process still runs)."""
    target = str(journal.data.get("target_label", "?"))
    action = str(journal.data.get("action", "?"))
    lock = _lock(state_dir, journal)
    try:
        lock.acquire()
    except LockHeld as held:
        return RecoveryResult(journal.id, target, action, "in progress", str(held))
    try:
        try:
            plan = journal.plan
            client = client_for(journal)
            result, detail = PlanExecutor(client, state_dir, measure=False).finish_interrupted(
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
            )
        )
        return RecoveryResult(journal.id, target, action, result, detail)
    finally:
        lock.release()
