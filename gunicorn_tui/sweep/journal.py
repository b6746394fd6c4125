"""The sweep journal: the original config, written before the first retune.

``sweeps/<id>.json`` in the state directory holds the target and the
config the service ran before the sweep, durably. A clean end (restored,
or the winner kept on purpose) moves it to ``sweeps/archive/``. A file left
behind by a process that is gone means the sweep was killed: ``gtui
recover`` puts the original config back (each retune of the sweep has its
own journal too, settled first by the control engine).

A sweep of a container records its engine (``docker info`` ID, address,
host name): recovery restores it through that engine only, and refuses,
naming the ``gtui recover -H`` to run, when that engine is not given.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from gunicorn_tui.compare.service_view import is_service_key
from gunicorn_tui.control.durability.archive_pruning import prune_archive
from gunicorn_tui.control.durability.state_dir import ensure_dir, fsync_dir, write_durably
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.sweep.grid import SweepConfig

_START_SLACK_S = 1.0


@dataclass(frozen=True)
class SweepTarget:
    """How to find the instance again: container name, else the master's pid."""

    key: str
    label: str
    container_name: str | None
    master_pid: int | None

    @classmethod
    def of(cls, sample: InstanceSample) -> SweepTarget:
        if is_service_key(sample.key):
            # A Compose service measured as a whole: found again by its name.
            return cls(sample.key, sample.name, None, None)
        container = sample.container
        return cls(
            sample.key, sample.label, container.name if container else None, sample.master.pid
        )

    @property
    def service(self) -> bool:
        """Whether the sweep ran on a whole Compose service."""
        return is_service_key(self.key)

    @property
    def target_text(self) -> str:
        """The TARGET argument that finds it (``name``, ``pid:N`` or ``PROJECT/SERVICE``)."""
        if self.service:
            return self.label
        if self.container_name:
            return self.container_name
        return f"pid:{self.master_pid}"


@dataclass(frozen=True)
class SweepEngine:
    """The container engine a sweep's target runs on."""

    engine_id: str
    address: str | None
    host: str

    def describe(self) -> str:
        """``engine ID (address) on host NAME``."""
        return f"engine {self.engine_id} ({self.address or 'address unknown'}) on host {self.host}"

    def recover_hint(self) -> str:
        """The command that reaches it."""
        if self.address:
            return f"run `gtui recover -H {self.address}` (or --context NAME) to restore it there"
        return "run `gtui recover` with -H URL or --context NAME naming that engine"


def engine_record(engine: object, sample: InstanceSample) -> SweepEngine | None:
    """The engine ``sample``'s container is on, as ``engine`` reaches it
    (None: a master outside containers, or an engine that does not say)."""
    if sample.container is None and not is_service_key(sample.key):
        return None
    # A whole service's engine acts through one container engine.
    control = getattr(engine, "engine", engine)
    for_host = getattr(control, "for_host", None)
    if for_host is None:
        return None
    try:
        identity = for_host(sample.host).docker().identity()
    except Exception:  # ActionRefused, EngineUnavailable, AccessError: not recorded
        return None
    if not identity.engine_id:
        return None
    return SweepEngine(identity.engine_id, identity.address or None, sample.host)


def _config_json(config: SweepConfig) -> dict[str, Any]:
    return {"workers": config.workers, "worker_class": config.worker_class,
            "threads": config.threads}  # fmt: skip


def _config_from(data: Any) -> SweepConfig:
    if not isinstance(data, dict):
        raise ValueError("original config missing")
    threads = data.get("threads")
    return SweepConfig(
        int(data["workers"]), str(data["worker_class"]), None if threads is None else int(threads)
    )


class SweepJournal:
    """One sweep's journal file."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def target(self) -> SweepTarget:
        target = self.data.get("target") or {}
        return SweepTarget(
            str(target.get("key", "")),
            str(target.get("label", "?")),
            target.get("container_name"),
            target.get("master_pid"),
        )

    @property
    def engine(self) -> SweepEngine | None:
        """The engine the target runs on (None: a host master, or an older journal)."""
        data = self.data.get("engine")
        if not isinstance(data, dict) or not data.get("engine_id"):
            return None
        address = data.get("address")
        return SweepEngine(
            str(data["engine_id"]),
            str(address) if address else None,
            str(data.get("host") or "local"),
        )

    @property
    def original(self) -> SweepConfig:
        """The config to restore (ValueError when the file lacks it)."""
        return _config_from(self.data.get("original"))

    def holder_alive(self) -> bool:
        """Whether the process that wrote it still runs (same pid, same start)."""
        try:
            process = psutil.Process(int(self.data.get("holder_pid", -1)))
            started = process.create_time()
        except (psutil.Error, ValueError):
            return False
        return abs(started - float(self.data.get("holder_started", 0.0))) <= _START_SLACK_S

    def _save(self) -> None:
        self.data["updated_at"] = time.time()
        write_durably(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode())

    def note(self, **values: Any) -> None:
        """Record progress (current config, results so far)."""
        self.data.update(values)
        self._save()

    def archive(self, outcome: str) -> Path:
        """Move to ``sweeps/archive/`` with how it ended."""
        self.data["outcome"] = outcome
        self.data["finished_at"] = time.time()
        self._save()
        archive = ensure_dir(self.path.parent / "archive")
        target = archive / self.path.name
        os.replace(self.path, target)
        fsync_dir(archive)
        fsync_dir(self.path.parent)
        self.path = target
        prune_archive(archive, lambda data: (data.get("target") or {}).get("key"), self.target.key)
        return target


class SweepJournalStore:
    """Sweep journals in one state directory."""

    def __init__(self, state_directory: Path) -> None:
        self.directory = state_directory / "sweeps"

    def begin(
        self,
        sample: InstanceSample,
        original: SweepConfig,
        configs: tuple[SweepConfig, ...],
        engine: SweepEngine | None = None,
    ) -> SweepJournal:
        """Write a new journal (durably) before anything changes."""
        ensure_dir(self.directory)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        sweep_id = f"{stamp}-{uuid.uuid4().hex[:8]}"
        target = SweepTarget.of(sample)
        data: dict[str, Any] = {
            "id": sweep_id,
            "created_at": time.time(),
            "holder_pid": os.getpid(),
            "holder_started": psutil.Process().create_time(),
            "target": {
                "key": target.key,
                "label": target.label,
                "container_name": target.container_name,
                "master_pid": target.master_pid,
            },
            "engine": None
            if engine is None
            else {"engine_id": engine.engine_id, "address": engine.address, "host": engine.host},
            "original": _config_json(original),
            "configs": [_config_json(config) for config in configs],
            "phase": "running",
        }
        journal = SweepJournal(self.directory / f"{sweep_id}.json", data)
        journal._save()
        return journal

    def pending(self) -> list[SweepJournal]:
        """Unfinished sweeps (of live processes too), oldest first; unreadable
        files are left in place and skipped."""
        if not self.directory.exists():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and "id" in data:
                found.append(SweepJournal(path, data))
        return sorted(found, key=lambda j: float(j.data.get("created_at", 0.0)))
