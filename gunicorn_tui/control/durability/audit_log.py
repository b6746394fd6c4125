"""The audit log: one JSON line per action gtui performed on a server.

Each record: time, target, action, strategy, before and after settings,
outcome (ok, failed, rolled back) and the error if any. Appended with
``O_APPEND`` and fsynced, so concurrent writers never interleave a line and
a crash loses at most the line being written. Lines that cannot be parsed
when read back are counted, not fatal.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gunicorn_tui.control.durability.state_dir import ensure_dir, open_private_append

AUDIT_FILE = "audit.jsonl"


@dataclass(frozen=True)
class AuditRecord:
    """One action, as the audit log keeps it."""

    at: float
    target: str
    action: str
    strategy: str | None
    outcome: str
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    journal_id: str | None = None
    served_after_s: float | None = None
    # The engine (or machine) acted on: "local", a context or host name.
    host: str = "local"

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.at)),
            "target": self.target,
            "host": self.host,
            "action": self.action,
            "strategy": self.strategy,
            "outcome": self.outcome,
            "before": dict(self.before),
            "after": dict(self.after),
            "error": self.error,
            "journal_id": self.journal_id,
            "served_after_s": self.served_after_s,
        }


@dataclass(frozen=True)
class AuditReading:
    """Records read back, and how many lines were skipped as malformed."""

    records: tuple[AuditRecord, ...]
    skipped_lines: int


class AuditLog:
    """Appends to and reads ``audit.jsonl`` in the state directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / AUDIT_FILE

    def append(self, record: AuditRecord) -> None:
        """Append one record durably."""
        ensure_dir(self.directory)
        line = (json.dumps(record.to_json(), sort_keys=True) + "\n").encode()
        fd = open_private_append(self.path)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> AuditReading:
        """Every record, oldest first."""
        records: list[AuditRecord] = []
        skipped = 0
        for raw in self._lines():
            try:
                data = json.loads(raw)
                records.append(
                    AuditRecord(
                        at=float(data["at"]),
                        target=str(data["target"]),
                        action=str(data["action"]),
                        strategy=data.get("strategy"),
                        outcome=str(data["outcome"]),
                        before=dict(data.get("before") or {}),
                        after=dict(data.get("after") or {}),
                        error=data.get("error"),
                        journal_id=data.get("journal_id"),
                        served_after_s=data.get("served_after_s"),
                    )
                )
            except (ValueError, KeyError, TypeError):
                skipped += 1
        return AuditReading(tuple(records), skipped)

    def _lines(self) -> Iterator[str]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if line.strip():
                        yield line
        except FileNotFoundError:
            return
