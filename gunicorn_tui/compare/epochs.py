"""Epochs: stretches of time during which one instance ran one configuration.

An :class:`EpochTracker` follows one Gunicorn instance through monitor
frames and starts a new epoch on every change of its configuration, whether
gtui made it (:meth:`EpochTracker.mark_change`, or :meth:`begin_change` /
:meth:`end_change` around an action that takes a while) or it was noticed
from outside:

* the worker count changed and stayed changed for ``stable_readings``
  readings (a HUP doubles the workers for a moment, a restart drops one:
  neither is a new configuration);
* a reload (the error log's "Hang up", or the control socket's reload
  counter);
* the container was re-created (same name, new id);
* the worker class, threads, timeout or another tuning setting changed;
* the master restarted (a new master pid for the same container or bind).

Where a change was noticed, the boundary is put at the last reading that
still showed the old configuration, so nothing of the new one leaks into
the old epoch; the readings in between go to the new epoch's warm-up.

Each epoch keeps bounded per-second records from three sources: the server's
traffic (:class:`ServerSecond`, from the traffic view's per-second history),
the instance's resources (:class:`ResourceReading`, one per monitor frame)
and, when a load ran, the load driver's client-side seconds
(:class:`ClientSecond`). A record belongs to an epoch only if it lies wholly
inside it: a second that straddles a boundary is dropped (and counted).

A warm-up (``warmup_s`` after each change, and for as long as a change
announced with :meth:`begin_change` is in progress) is kept but left out of
summaries, which say so. A change noticed during a warm-up does not start
another epoch: it belongs to the change under way (a retune announced by
gtui is then seen happening); the configuration is updated and the warm-up
starts again from it.

Thread-safety: every public method takes a lock, so the load driver's
thread may call :meth:`add_client_second` while the monitor's thread calls
:meth:`observe`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from gunicorn_tui.control.planning.requests import RETUNABLE_SETTINGS
from gunicorn_tui.control.planning.running_config import running_config
from gunicorn_tui.model.instances import (
    ConfigValue,
    InstanceSample,
    Source,
    WorkerSample,
    WorkerState,
)
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.traffic.instance_traffic import TrafficView

if TYPE_CHECKING:
    # The load driver's code is not needed to watch (the dashboard's first frame).
    from gunicorn_tui.load.summary import SecondSummary

DEFAULT_WARMUP_S = 10.0
DEFAULT_STABLE_READINGS = 3
DEFAULT_MAX_EPOCHS = 32
# One hour of per-second records per epoch; older ones are dropped (counted).
DEFAULT_MAX_SECONDS = 3600
_BUSY_STATES = frozenset({WorkerState.BUSY, WorkerState.STUCK})


# (instance key, "mark_change" | "begin_change" | "end_change", its arguments)
MarkListener = Callable[[str | None, str, dict[str, object]], None]


class ChangeKind(StrEnum):
    """What started an epoch."""

    STARTED = "started"  # the tracker began watching
    MARKED = "marked"  # announced by gtui (or the caller)
    WORKER_COUNT = "worker count"
    RELOAD = "reload"
    SETTINGS = "settings"
    CONTAINER_RECREATED = "container re-created"
    MASTER_RESTARTED = "master restarted"


@dataclass(frozen=True)
class EpochChange:
    """Why an epoch started, and when (the boundary, wall clock)."""

    kind: ChangeKind
    at: float
    detail: str

    @property
    def label(self) -> str:
        """A short label for a graph mark or a table."""
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value


@dataclass(frozen=True)
class EpochConfig:
    """The configuration an epoch ran, as sampled.

    ``workers`` is the running worker count; ``settings`` holds the tuning
    settings (those a retune can change) as read from the configuration.
    """

    workers: int | None
    worker_class: str | None
    threads: int | None
    timeout_s: float | None
    settings: Mapping[str, ConfigValue]
    container_id: str | None
    container_name: str | None
    master_pid: int | None
    gunicorn_version: str | None
    bind: str | None

    @classmethod
    def of(cls, sample: InstanceSample) -> EpochConfig:
        """The configuration ``sample`` shows, ``workers`` as it runs (a count
        scaled by TTIN/TTOU or the control socket leaves the configured
        value behind: the after side of a scale showed the old one)."""
        config = running_config(sample)
        threads = config.value("threads")
        bind = config.value("bind")
        if isinstance(bind, list | tuple):
            bind = ",".join(str(item) for item in bind)
        return cls(
            workers=len(sample.workers),
            worker_class=config.worker_class,
            threads=threads if isinstance(threads, int) else None,
            timeout_s=config.timeout_s,
            settings={name: config.value(name) for name in RETUNABLE_SETTINGS},
            container_id=sample.container.id if sample.container else None,
            container_name=sample.container.name if sample.container else None,
            master_pid=sample.master.pid,
            gunicorn_version=sample.gunicorn_version,
            bind=str(bind) if bind is not None else None,
        )

    def describe(self) -> str:
        """One line: ``4 x sync, threads 1, timeout 30 s``."""
        parts = [
            f"{self.workers if self.workers is not None else '?'} x {self.worker_class or '?'}"
        ]
        if self.threads is not None:
            parts.append(f"threads {self.threads}")
        if self.timeout_s is not None:
            parts.append(f"timeout {self.timeout_s:g} s")
        return ", ".join(parts)


@dataclass(frozen=True)
class ServerSecond:
    """One second of the server's traffic (access log or StatsD), by arrival."""

    second: int
    requests: int
    error_rate: float | None  # 5xx share of responses with a status
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None

    @property
    def start_at(self) -> float:
        return float(self.second)

    @property
    def end_at(self) -> float:
        return float(self.second + 1)


@dataclass(frozen=True)
class ResourceReading:
    """The instance's resources at one monitor frame, over ``interval_s``."""

    taken_at: float
    interval_s: float
    cpu_percent: float | None  # of one core, whole instance
    cpu_percent_per_worker: float | None  # mean over workers
    memory_bytes: int | None  # whole instance (cgroup or master + workers)
    memory_bytes_per_worker: float | None  # mean worker USS (RSS when USS is unknown)
    workers: int
    busy_share: float | None  # share of workers busy or stuck
    worker_restarts: int  # workers replaced since the last reading

    @property
    def start_at(self) -> float:
        return self.taken_at - self.interval_s

    @property
    def end_at(self) -> float:
        return self.taken_at


@dataclass(frozen=True)
class ClientSecond:
    """One second of a load run, as the load driver saw it."""

    started_at: float
    window_s: float
    sent: int
    completed: int
    errors: int  # HTTP errors and transport failures
    transport_errors: int  # no response at all
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    # The driver's latency histogram of the second (bucket, count): pooled,
    # the percentiles of every request of a stretch (see compare/interleave).
    latency_buckets: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, second: SecondSummary) -> ClientSecond:
        """From the driver's per-second summary (latency from the due time)."""
        return cls(
            started_at=second.started_at,
            window_s=second.window_s,
            sent=second.sent,
            completed=second.completed,
            errors=second.errors.total,
            transport_errors=second.errors.transport_total,
            p50_ms=second.latency.p50_ms,
            p90_ms=second.latency.p90_ms,
            p99_ms=second.latency.p99_ms,
            latency_buckets=second.latency_buckets,
        )

    @property
    def start_at(self) -> float:
        return self.started_at

    @property
    def end_at(self) -> float:
        return self.started_at + self.window_s


@dataclass(frozen=True)
class Epoch:
    """One epoch as of the moment it was read (a frozen copy).

    ``measured_from`` is where the warm-up ends (infinity while a change
    announced with ``begin_change`` is still in progress); ``ended_at`` is
    None for the current epoch.
    """

    id: int
    change: EpochChange
    started_at: float
    ended_at: float | None
    measured_from: float
    config: EpochConfig | None
    server: tuple[ServerSecond, ...]
    resources: tuple[ResourceReading, ...]
    client: tuple[ClientSecond, ...]
    load_profiles: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    dropped_records: int = 0  # past the per-epoch bound, or straddling a boundary
    configs_seen: tuple[EpochConfig, ...] = field(default=())

    @property
    def warmup_s(self) -> float:
        """Seconds left out at the start (the whole epoch while a change runs)."""
        end = self.ended_at if self.ended_at is not None else math.inf
        return min(self.measured_from, end) - self.started_at

    def measured(self) -> Epoch:
        """This epoch without its warm-up records."""
        return self.within(self.measured_from, math.inf)

    def within(self, start: float, end: float) -> Epoch:
        """This epoch with only the records wholly inside [start, end]; the
        time before ``start`` counts as warm-up (a load's ramp, say)."""
        ended_at = end if self.ended_at is None else min(self.ended_at, end)
        return replace(
            self,
            ended_at=None if math.isinf(ended_at) else ended_at,
            measured_from=max(self.measured_from, start),
            server=tuple(i for i in self.server if i.start_at >= start and i.end_at <= end),
            resources=tuple(i for i in self.resources if i.start_at >= start and i.end_at <= end),
            client=tuple(i for i in self.client if i.start_at >= start and i.end_at <= end),
        )


@dataclass(frozen=True)
class EpochMark:
    """Where a graph marks the start of an epoch."""

    epoch_id: int
    at: float
    kind: ChangeKind
    label: str
    measured_from: float


Record = ServerSecond | ResourceReading | ClientSecond
ReloadCounts = tuple[int | None, int | None]


_R = TypeVar("_R", ServerSecond, ResourceReading, ClientSecond)


def _start_of(record: Record) -> float:
    return record.start_at


def _insert(bucket: deque[_R], record: _R) -> int:
    """Insert keeping ``bucket`` sorted by start; returns 1 if the bound
    pushed the oldest record out."""
    dropped = 1 if len(bucket) == bucket.maxlen else 0
    # Records arrive nearly in order: appending is the common case.
    if not bucket or bucket[-1].start_at <= record.start_at:
        bucket.append(record)
    else:
        items = list(bucket)
        items.append(record)
        items.sort(key=_start_of)
        bucket.clear()
        bucket.extend(items)
    return dropped


class _Building:
    """An epoch being filled (mutable, inside the tracker's lock)."""

    def __init__(
        self,
        epoch_id: int,
        change: EpochChange,
        measured_from: float,
        config: EpochConfig | None,
        max_records: int,
    ) -> None:
        self.id = epoch_id
        self.change = change
        self.started_at = change.at
        self.ended_at: float | None = None
        self.measured_from = measured_from
        # The warm-up of the change that opened the epoch; a part of that
        # change noticed later (new workers counted) warms up as long.
        self.warmup_s = measured_from - change.at
        self.config = config
        self.configs_seen: list[EpochConfig] = [config] if config is not None else []
        self.server: deque[ServerSecond] = deque(maxlen=max_records)
        self.resources: deque[ResourceReading] = deque(maxlen=max_records)
        self.client: deque[ClientSecond] = deque(maxlen=max_records)
        self.load_profiles: list[str] = []
        self.notes: list[str] = []
        self.dropped = 0
        self.in_change = False  # begin_change() without end_change() yet

    def holds(self, record: Record) -> bool | None:
        """True: inside; False: outside; None: straddles a boundary."""
        end = self.ended_at if self.ended_at is not None else math.inf
        if record.end_at <= self.started_at or record.start_at >= end:
            return False
        if record.start_at >= self.started_at and record.end_at <= end:
            return True
        return None

    def add(self, record: Record) -> None:
        if isinstance(record, ServerSecond):
            self.dropped += _insert(self.server, record)
        elif isinstance(record, ResourceReading):
            self.dropped += _insert(self.resources, record)
        else:
            self.dropped += _insert(self.client, record)

    def take_from(self, at: float) -> list[Record]:
        """Remove and return the records that start at or after ``at``."""
        taken: list[Record] = []
        for bucket in (self.server, self.resources, self.client):
            while bucket and bucket[-1].end_at > at:
                taken.append(bucket.pop())
        return taken

    def freeze(self) -> Epoch:
        return Epoch(
            id=self.id,
            change=self.change,
            started_at=self.started_at,
            ended_at=self.ended_at,
            measured_from=math.inf if self.in_change else self.measured_from,
            config=self.config,
            server=tuple(self.server),
            resources=tuple(self.resources),
            client=tuple(self.client),
            load_profiles=tuple(self.load_profiles),
            notes=tuple(self.notes),
            dropped_records=self.dropped,
            configs_seen=tuple(self.configs_seen),
        )


@dataclass
class _Seen:
    """The last reading, and a worker count waiting to be confirmed."""

    sample: InstanceSample
    at: float
    reloads: ReloadCounts
    worker_pids: frozenset[int]
    pending_workers: int | None = None
    pending_since: float = 0.0
    pending_readings: int = 0


def _reload_counts(sample: InstanceSample, traffic: TrafficView | None) -> ReloadCounts:
    """The control socket's reload counter and the error log's, each None
    when that source is not read."""
    logged = traffic.worker_lives.reloads if traffic and traffic.lines.error_events else None
    return (sample.reloads, logged)


def _reloaded(before: ReloadCounts, after: ReloadCounts) -> int | None:
    """The new count when either source counted a reload, else None."""
    for old, new in zip(before, after, strict=True):
        if old is not None and new is not None and new > old:
            return new
    return None


def _worker_pids(sample: InstanceSample) -> frozenset[int]:
    return frozenset(worker.pid for worker in sample.workers if worker.pid is not None)


def _mean(values: Iterable[float | int | None]) -> float | None:
    kept = [float(value) for value in values if value is not None]
    return sum(kept) / len(kept) if kept else None


def _fresh_memory(worker: WorkerSample, interval_s: float) -> int | None:
    """A worker's USS if it was read in this sample's interval (USS is re-read
    every 10 s or so; repeating a kept figure every second would feed the
    significance test identical values and make any step look significant),
    else its RSS when USS cannot be read at all."""
    process = worker.process
    if process.uss_bytes is None:
        return process.rss_bytes
    if process.uss_age_s is None or process.uss_age_s < max(interval_s, 0.5):
        return process.uss_bytes
    return None


def resource_reading(
    sample: InstanceSample, interval_s: float, worker_restarts: int
) -> ResourceReading:
    """The resource figures of one sample."""
    workers = sample.workers
    known_states = [w for w in workers if w.state is not WorkerState.UNKNOWN]
    return ResourceReading(
        taken_at=sample.taken_at,
        interval_s=interval_s,
        cpu_percent=sample.totals.cpu_percent,
        cpu_percent_per_worker=_mean(w.process.cpu_percent for w in workers),
        memory_bytes=sample.totals.memory_bytes,
        memory_bytes_per_worker=_mean(_fresh_memory(w, interval_s) for w in workers),
        workers=len(workers),
        busy_share=(
            sum(1 for w in known_states if w.state in _BUSY_STATES) / len(known_states)
            if known_states
            else None
        ),
        worker_restarts=worker_restarts,
    )


def server_seconds(view: TrafficView, after_second: int | None) -> list[ServerSecond]:
    """The complete seconds of ``view``'s history after ``after_second``."""
    return [
        ServerSecond(
            second=point.second,
            requests=point.requests,
            error_rate=point.error_rate,
            p50_ms=point.p50_ms,
            p90_ms=point.p90_ms,
            p99_ms=point.p99_ms,
        )
        for point in view.history
        if after_second is None or point.second > after_second
    ]


def _settings_change(old: EpochConfig, new: EpochConfig) -> str | None:
    changed = []
    for name in RETUNABLE_SETTINGS:
        if name == "workers":
            continue  # the running count decides, once it stays
        before, after = old.settings.get(name), new.settings.get(name)
        # A setting read for the first time (the config is read a moment
        # after the master is found) is not a change.
        if before != after and before is not None and after is not None:
            changed.append(f"{name} {before} -> {after}")
    return ", ".join(changed) or None


class EpochTracker:
    """Follows one instance and cuts its time into epochs (module docstring)."""

    def __init__(
        self,
        key: str | None = None,
        *,
        warmup_s: float = DEFAULT_WARMUP_S,
        stable_readings: int = DEFAULT_STABLE_READINGS,
        max_epochs: int = DEFAULT_MAX_EPOCHS,
        max_records: int = DEFAULT_MAX_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if warmup_s < 0 or not math.isfinite(warmup_s):
            raise ValueError(f"warmup_s must be a finite number >= 0, got {warmup_s!r}")
        if stable_readings < 1:
            raise ValueError(f"stable_readings must be at least 1, got {stable_readings!r}")
        self.key = key
        self.warmup_s = warmup_s
        self.stable_readings = stable_readings
        self.max_records = max_records
        self._clock = clock
        self._lock = threading.Lock()
        self._epochs: deque[_Building] = deque(maxlen=max_epochs)
        self._next_id = 1
        self._seen: _Seen | None = None
        self._last_server_second: int | None = None
        self._load_profile: str | None = None
        self.dropped_epochs = 0
        self.straddling_records = 0
        self.missed_frames = 0  # frames without the followed instance
        # Told of every change gtui marks (a session recording keeps them).
        self.mark_listener: MarkListener | None = None

    # -- feeding -------------------------------------------------------------

    def observe_frame(self, frame: MonitorFrame) -> EpochChange | None:
        """Feed one monitor frame; returns the change it revealed, if any."""
        with self._lock:
            sample = self._find(frame.instances)
            if sample is None:
                self.missed_frames += 1
                return None
            return self._observe(sample, frame.traffic.get(sample.key))

    def select_sample(self, sample: InstanceSample) -> bool:
        """Whether ``sample`` is of the followed instance (or its successor)."""
        with self._lock:
            return self._find((sample,)) is sample

    def select(self, frame: MonitorFrame) -> InstanceSample | None:
        """The followed instance in ``frame`` (by key, container name, or bind)."""
        with self._lock:
            return self._find(frame.instances)

    def observe(
        self, sample: InstanceSample, traffic: TrafficView | None = None
    ) -> EpochChange | None:
        """Feed one sample of the followed instance (and its traffic view)."""
        with self._lock:
            return self._observe(sample, traffic)

    def add_server_seconds(self, seconds: Iterable[ServerSecond]) -> None:
        """Add server-side seconds from elsewhere (a replayed recording)."""
        with self._lock:
            for second in seconds:
                if self._last_server_second is not None and second.second <= (
                    self._last_server_second
                ):
                    continue  # seen already
                self._last_server_second = second.second
                self._route(second)

    def add_client_second(self, second: SecondSummary | ClientSecond) -> None:
        """Add one second of a load run (callable from the driver's thread)."""
        record = second if isinstance(second, ClientSecond) else ClientSecond.of(second)
        with self._lock:
            self._route(record)

    def set_load_profile(self, label: str | None) -> None:
        """Name the load that runs from now on (None: no load of gtui's)."""
        with self._lock:
            self._load_profile = label
            if label is not None and self._epochs:
                self._note_profile(self._epochs[-1])

    def mark_change(
        self, reason: str, *, at: float | None = None, warmup_s: float | None = None
    ) -> EpochChange:
        """Start a new epoch now (or at ``at``): a change gtui made at once."""
        with self._lock:
            change = EpochChange(ChangeKind.MARKED, self._now(at), reason)
            self._start(change, warmup_s)
        self._tell("mark_change", at=change.at, reason=reason, warmup_s=warmup_s)
        return change

    def begin_change(self, reason: str, *, at: float | None = None) -> EpochChange:
        """Start a new epoch for a change that takes a while (a retune): its
        warm-up lasts until :meth:`end_change`, plus ``warmup_s``."""
        with self._lock:
            change = EpochChange(ChangeKind.MARKED, self._now(at), reason)
            building = self._start(change, None)
            building.in_change = True
        self._tell("begin_change", at=change.at, reason=reason)
        return change

    def end_change(
        self, *, at: float | None = None, note: str | None = None, warmup_s: float | None = None
    ) -> None:
        """The change announced by :meth:`begin_change` is done: the warm-up
        runs ``warmup_s`` (default: the tracker's) from now (or ``at``)."""
        with self._lock:
            if not self._epochs:
                return
            building = self._epochs[-1]
            building.in_change = False
            warmup = self.warmup_s if warmup_s is None else warmup_s
            building.warmup_s = warmup
            ended_at = self._now(at)
            building.measured_from = max(building.measured_from, ended_at + warmup)
            if note:
                building.notes.append(note)
        self._tell("end_change", at=ended_at, note=note, warmup_s=warmup_s)

    def _tell(self, call: str, **arguments: object) -> None:
        listener = self.mark_listener
        if listener is not None:
            listener(self.key, call, arguments)

    # -- reading -------------------------------------------------------------

    def epochs(self) -> tuple[Epoch, ...]:
        """Every epoch kept, oldest first (the last is the current one)."""
        with self._lock:
            return tuple(building.freeze() for building in self._epochs)

    def current(self) -> Epoch | None:
        """The epoch in progress (None before the first sample)."""
        with self._lock:
            return self._epochs[-1].freeze() if self._epochs else None

    def previous(self) -> Epoch | None:
        """The epoch before the current one."""
        with self._lock:
            return self._epochs[-2].freeze() if len(self._epochs) > 1 else None

    def epoch(self, epoch_id: int) -> Epoch | None:
        """The epoch with ``epoch_id``, if still kept."""
        with self._lock:
            for building in self._epochs:
                if building.id == epoch_id:
                    return building.freeze()
            return None

    def marks(self) -> tuple[EpochMark, ...]:
        """Where each epoch starts, for graphs (cheap: no records copied)."""
        with self._lock:
            return tuple(
                EpochMark(
                    epoch_id=b.id,
                    at=b.started_at,
                    kind=b.change.kind,
                    label=b.change.label,
                    measured_from=math.inf if b.in_change else b.measured_from,
                )
                for b in self._epochs
            )

    # -- internals -----------------------------------------------------------

    def _now(self, at: float | None) -> float:
        return self._clock() if at is None else at

    def _find(self, instances: Iterable[InstanceSample]) -> InstanceSample | None:
        candidates = list(instances)
        if self.key is not None:
            for sample in candidates:
                if sample.key == self.key:
                    return sample
        seen = self._seen.sample if self._seen is not None else None
        if seen is None:
            if self.key is None and len(candidates) == 1:
                return candidates[0]
            return None
        # The same service under a new key: a re-created container keeps its
        # name; a restarted host master keeps its bind address.
        for sample in candidates:
            if seen.container is not None and sample.container is not None:
                if sample.container.name == seen.container.name:
                    return sample
            elif (
                seen.source is Source.LOCAL
                and sample.source is Source.LOCAL
                and seen.config.value("bind") is not None
                and sample.config.value("bind") == seen.config.value("bind")
            ):
                return sample
        return None

    def _start(
        self, change: EpochChange, warmup_s: float | None, config: EpochConfig | None = None
    ) -> _Building:
        warmup = self.warmup_s if warmup_s is None else warmup_s
        moved: list[Record] = []
        if self._epochs:
            previous = self._epochs[-1]
            previous.ended_at = change.at
            moved = previous.take_from(change.at)
            if config is None:
                config = previous.config
        if self._epochs.maxlen is not None and len(self._epochs) == self._epochs.maxlen:
            self.dropped_epochs += 1
        building = _Building(self._next_id, change, change.at + warmup, config, self.max_records)
        self._next_id += 1
        self._epochs.append(building)
        self._note_profile(building)
        for record in moved:
            self._route(record)
        return building

    def _note_profile(self, building: _Building) -> None:
        if self._load_profile is not None and self._load_profile not in building.load_profiles:
            building.load_profiles.append(self._load_profile)

    def _route(self, record: Record) -> None:
        for building in reversed(self._epochs):
            inside = building.holds(record)
            if inside is True:
                if isinstance(record, ClientSecond):
                    self._note_profile(building)
                building.add(record)
                return
            if inside is None:
                self.straddling_records += 1
                building.dropped += 1
                return
        # Older than every epoch kept (or before the first): nowhere to go.

    def _observe(self, sample: InstanceSample, traffic: TrafficView | None) -> EpochChange | None:
        now = sample.taken_at
        if self.key is None:
            self.key = sample.key
        seen = self._seen
        config = EpochConfig.of(sample)
        reloads = _reload_counts(sample, traffic)
        pids = _worker_pids(sample)
        change: EpochChange | None = None
        if seen is None or not self._epochs:
            building = self._start(EpochChange(ChangeKind.STARTED, now, ""), 0.0, config)
            building.config = config
            building.configs_seen = [config]
            self._seen = _Seen(sample, now, reloads, pids)
        else:
            change = self._detect(seen, sample, config, reloads)
            restarts = 0
            if len(pids) == len(seen.worker_pids):
                restarts = len(pids - seen.worker_pids)
            interval = max(0.0, now - seen.at)
            if change is None:
                self._confirm_config(config)
            reading = resource_reading(sample, interval, restarts)
            self._route(reading)
            self._seen = _Seen(
                sample,
                now,
                reloads,
                pids,
                pending_workers=seen.pending_workers,
                pending_since=seen.pending_since,
                pending_readings=seen.pending_readings,
            )
            self.key = sample.key
        if traffic is not None:
            for second in server_seconds(traffic, self._last_server_second):
                self._last_server_second = second.second
                self._route(second)
        return change

    def _confirm_config(self, config: EpochConfig) -> None:
        """Keep the latest view of the current epoch's settings (a setting
        may be read a little after the change that set it)."""
        building = self._epochs[-1]
        if building.config is None:
            building.config = config
        elif building.config.workers == config.workers:
            building.config = replace(config, workers=building.config.workers)

    def _detect(
        self,
        seen: _Seen,
        sample: InstanceSample,
        config: EpochConfig,
        reloads: ReloadCounts,
    ) -> EpochChange | None:
        building = self._epochs[-1]
        old = building.config or EpochConfig.of(seen.sample)
        boundary = seen.at
        found: tuple[ChangeKind, str] | None = None
        if (
            old.container_id is not None
            and config.container_id is not None
            and old.container_id != config.container_id
        ):
            found = (
                ChangeKind.CONTAINER_RECREATED,
                f"{config.container_name}: {old.container_id[:12]} -> {config.container_id[:12]}",
            )
        elif old.master_pid is not None and config.master_pid != old.master_pid:
            found = (ChangeKind.MASTER_RESTARTED, f"master {old.master_pid} -> {config.master_pid}")
        elif (settings := _settings_change(old, config)) is not None:
            found = (ChangeKind.SETTINGS, settings)
        elif (reload_number := _reloaded(seen.reloads, reloads)) is not None:
            found = (ChangeKind.RELOAD, f"reload #{reload_number}")
        if found is None:
            found, boundary = self._worker_count_change(seen, old, config, boundary)
        if found is None:
            return None
        kind, detail = found
        change = EpochChange(kind, boundary, detail)
        in_warmup = building.in_change or sample.taken_at < building.measured_from
        if in_warmup and building.change.kind is not ChangeKind.STARTED:
            # Part of the change under way: update, and warm up from here.
            building.config = config
            building.configs_seen.append(config)
            building.notes.append(f"{change.label} (during the warm-up)")
            building.measured_from = max(
                building.measured_from, sample.taken_at + building.warmup_s
            )
            seen.pending_workers = None
            return None
        seen.pending_workers = None
        new = self._start(change, None, config)
        new.config = config
        new.configs_seen = [config]
        return change

    def _worker_count_change(
        self, seen: _Seen, old: EpochConfig, config: EpochConfig, boundary: float
    ) -> tuple[tuple[ChangeKind, str] | None, float]:
        count = config.workers
        if count == old.workers or count is None:
            seen.pending_workers = None
            seen.pending_readings = 0
            return None, boundary
        if seen.pending_workers != count:
            seen.pending_workers = count
            seen.pending_since = seen.at
            seen.pending_readings = 0
        seen.pending_readings += 1
        if seen.pending_readings < self.stable_readings:
            return None, boundary
        detail = f"workers {old.workers} -> {count}"
        return (ChangeKind.WORKER_COUNT, detail), seen.pending_since


class EpochRegistry:
    """One tracker per instance seen in frames, for a dashboard that graphs
    them all. A re-created container or restarted master keeps its tracker
    (matched by container name, or by bind address on the host)."""

    def __init__(
        self,
        *,
        max_instances: int = 64,
        mark_listener: MarkListener | None = None,
        **tracker_options: float | int,
    ) -> None:
        self._options = tracker_options
        self.mark_listener = mark_listener
        self._max_instances = max_instances
        self._trackers: dict[str, EpochTracker] = {}
        self._lock = threading.Lock()

    def observe_frame(self, frame: MonitorFrame) -> dict[str, EpochChange]:
        """Feed a frame to every tracker; returns the changes by instance key."""
        changes: dict[str, EpochChange] = {}
        with self._lock:
            claimed: set[str] = set()
            for old_key, tracker in list(self._trackers.items()):
                change = tracker.observe_frame(frame)
                new_key = tracker.key or old_key
                if new_key != old_key:
                    del self._trackers[old_key]
                    self._trackers[new_key] = tracker
                claimed.add(new_key)
                if change is not None:
                    changes[new_key] = change
            for sample in frame.instances:
                if sample.key in claimed or sample.key in self._trackers:
                    continue
                if len(self._trackers) >= self._max_instances:
                    break
                tracker = EpochTracker(sample.key, **self._options)  # type: ignore[arg-type]
                tracker.mark_listener = self.mark_listener
                tracker.observe(sample, frame.traffic.get(sample.key))
                self._trackers[sample.key] = tracker
        return changes

    def clear(self) -> None:
        """Forget every instance (a replay that goes back starts again)."""
        with self._lock:
            self._trackers.clear()

    def tracker(self, key: str) -> EpochTracker | None:
        """The tracker following the instance now keyed ``key``."""
        with self._lock:
            return self._trackers.get(key)
