"""The journal: what an action is doing, durable before and after every step.

Before the first step, gtui writes the plan and (for containers) the
original container's full inspect to ``journal/<id>.json`` in the state
directory, fsynced. After each step it records the step and what it learnt
(the new container's id, the new master's pid). When the action ends the
file moves to ``archive/``, which keeps the original inspect and what
``gtui revert`` needs. A journal left in ``journal/`` means an action was
interrupted: ``gtui recover`` finishes or rolls it back.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from gunicorn_tui.control.durability.archive_pruning import prune_archive
from gunicorn_tui.control.durability.plan_codec import PlanDecodeError, decode_plan, encode
from gunicorn_tui.control.durability.state_dir import ensure_dir, fsync_dir, write_durably
from gunicorn_tui.control.planning.plan import ActionKind, RetunePlan

JOURNAL_VERSION = 1


class OutcomeStatus(StrEnum):
    """How an action ended."""

    OK = "ok"
    FAILED = "failed"  # nothing (more) was changed; the service runs as before
    ROLLED_BACK = "rolled back"  # a change was undone; the service runs as before
    NEEDS_RECOVERY = "needs recovery"  # could not finish or undo: run `gtui recover`


class JournalError(Exception):
    """A journal file that cannot be read."""


class Journal:
    """One action's journal file; every update is written durably."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def plan(self) -> RetunePlan:
        try:
            return decode_plan(self.data["plan"])
        except (PlanDecodeError, KeyError) as error:
            raise JournalError(f"{self.path}: plan unreadable ({error})") from error

    @property
    def steps_done(self) -> int:
        return len(self.data.get("steps") or [])

    @property
    def context(self) -> dict[str, Any]:
        context = self.data.setdefault("context", {})
        assert isinstance(context, dict)
        return context

    @property
    def phase(self) -> str:
        return str(self.data.get("phase", "running"))

    def _save(self) -> None:
        self.data["updated_at"] = time.time()
        write_durably(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode())

    def step_done(self, index: int, detail: str) -> None:
        """Record that step ``index`` completed."""
        self.data.setdefault("steps", []).append(
            {"index": index, "done_at": time.time(), "detail": detail}
        )
        self._save()

    def remember(self, **values: Any) -> None:
        """Record facts learnt while running (new container id, new master pid)."""
        self.context.update(values)
        self._save()

    def set_phase(self, phase: str, **values: Any) -> None:
        self.data["phase"] = phase
        self.data.update(values)
        self._save()

    def archive(self, outcome: Mapping[str, Any]) -> Path:
        """Move to the archive with the outcome; returns the new path."""
        self.data["outcome"] = dict(outcome)
        self.data["finished_at"] = time.time()
        self._save()
        archive_dir = ensure_dir(self.path.parent.parent / "archive")
        target = archive_dir / self.path.name
        os.replace(self.path, target)
        fsync_dir(archive_dir)
        fsync_dir(self.path.parent)
        self.path = target
        prune_archive(
            archive_dir,
            lambda data: str(data.get("lock_key", "")),
            str(self.data.get("lock_key", "")),
            needed=revert_source,
        )
        return target


def revert_source(data: Mapping[str, Any]) -> bool:
    """Whether an archived action is one ``gtui revert`` can undo: a
    retune or revert that ended well."""
    outcome = data.get("outcome") or {}
    return data.get("action") in (ActionKind.RETUNE.value, ActionKind.REVERT.value) and (
        isinstance(outcome, Mapping) and outcome.get("status") == OutcomeStatus.OK.value
    )


@dataclass(frozen=True)
class ArchivedAction:
    """A finished action as the archive keeps it."""

    id: str
    path: Path
    created_at: float
    lock_key: str
    target_label: str
    data: Mapping[str, Any]

    @property
    def plan(self) -> RetunePlan:
        return decode_plan(self.data["plan"])

    @property
    def outcome_status(self) -> str:
        return str((self.data.get("outcome") or {}).get("status", "unknown"))

    @property
    def revertible(self) -> bool:
        """A retune or revert that ended well: what ``gtui revert`` undoes."""
        return revert_source(self.data)


class JournalStore:
    """Journals and the archive in one state directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.journal_dir = directory / "journal"
        self.archive_dir = directory / "archive"

    def begin(
        self,
        plan: RetunePlan,
        original_inspect: Mapping[str, Any] | None,
        engine_id: str | None = None,
        engine_address: str | None = None,
    ) -> Journal:
        """Write a new journal for ``plan`` (durably) and return it.

        ``engine_id`` names the container engine (``docker info`` ID): recovery
        refuses to settle the journal on another engine.
        """
        ensure_dir(self.journal_dir)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        journal_id = f"{stamp}-{uuid.uuid4().hex[:8]}"
        data: dict[str, Any] = {
            "id": journal_id,
            "version": JOURNAL_VERSION,
            "created_at": time.time(),
            "holder_pid": os.getpid(),
            "lock_key": plan.target.lock_key,
            "target_label": plan.target.label,
            "host": plan.target.host,
            "action": plan.action.value,
            "strategy": plan.strategy.value if plan.strategy else None,
            "plan": encode(plan),
            "original_inspect": dict(original_inspect) if original_inspect else None,
            "engine_id": engine_id,
            "engine_address": engine_address,
            "phase": "running",
            "steps": [],
            "context": {},
        }
        journal = Journal(self.journal_dir / f"{journal_id}.json", data)
        journal._save()
        return journal

    def pending(self) -> list[Journal]:
        """Journals of actions that did not finish, oldest first."""
        return self._load_all(self.journal_dir)

    def unreadable_pending(self) -> list[Path]:
        """Journal files that could not be parsed (counted, never deleted)."""
        bad = []
        for path in sorted(self.journal_dir.glob("*.json")) if self.journal_dir.exists() else []:
            if self._load(path) is None:
                bad.append(path)
        return bad

    def archived(self) -> list[ArchivedAction]:
        """Finished actions, oldest first."""
        found = []
        for journal in self._load_all(self.archive_dir):
            data = journal.data
            found.append(
                ArchivedAction(
                    id=journal.id,
                    path=journal.path,
                    created_at=float(data.get("created_at", 0.0)),
                    lock_key=str(data.get("lock_key", "")),
                    target_label=str(data.get("target_label", "")),
                    data=data,
                )
            )
        found.sort(key=lambda action: action.created_at)
        return found

    def _load_all(self, directory: Path) -> list[Journal]:
        if not directory.exists():
            return []
        journals = [self._load(path) for path in sorted(directory.glob("*.json"))]
        found = [journal for journal in journals if journal is not None]
        return sorted(found, key=lambda journal: float(journal.data.get("created_at", 0.0)))

    @staticmethod
    def _load(path: Path) -> Journal | None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or "id" not in data or "plan" not in data:
            return None
        return Journal(path, data)
