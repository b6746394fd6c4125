"""What one sample of a Gunicorn instance holds.

These dataclasses cross every layer: the sampler builds them, the dashboard and
the ``--json`` outputs read them. A figure that could not be measured is
``None`` and its field name is listed in ``unavailable`` with the reason, so no
consumer ever shows a guess as if it were a measurement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

EMPTY_REASONS: Mapping[str, str] = {}


class Source(StrEnum):
    """Where an instance runs."""

    DOCKER = "docker"
    LOCAL = "local"


class SamplingMode(StrEnum):
    """How figures were read.

    ``procfs``: /proc and cgroup files of a daemon on this host (full figures).
    ``api``: only what the Docker API gives (remote daemon, Docker Desktop).
    """

    PROCFS = "procfs"
    API = "api"


class ConfigSource(StrEnum):
    """Where a configuration value came from, highest precedence first."""

    CONTROL_SOCKET = "control socket"
    COMMAND_LINE = "command line"
    ENV = "env"
    CONFIG_FILE = "config file"
    DEFAULT = "default"
    UNKNOWN = "unknown"


class WorkerState(StrEnum):
    """What a worker is doing, derived from heartbeat, connections and CPU."""

    IDLE = "idle"
    BUSY = "busy"
    STUCK = "stuck"
    BOOTING = "booting"
    UNKNOWN = "unknown"


ConfigValue = str | int | float | bool | None


@dataclass(frozen=True)
class PublishedPort:
    """One host port the engine forwards to a container port
    (``docker run -p HOST_IP:HOST_PORT:CONTAINER_PORT``)."""

    container_port: int
    protocol: str
    host_ip: str
    host_port: int
    # False when the engine chose the host port (``-p 8000``): a re-created
    # container then gets another one.
    fixed: bool = True


@dataclass(frozen=True)
class ContainerNetworking:
    """How a container is wired: its network mode (``host``, ``bridge``,
    ``none``, ``container:ID`` or a user network's name) and its published ports."""

    mode: str
    published: tuple[PublishedPort, ...] = ()

    @property
    def host_network(self) -> bool:
        return self.mode == "host"


@dataclass(frozen=True)
class ComposeMembership:
    """The Compose project and service a container belongs to (its
    ``com.docker.compose.*`` labels)."""

    project: str
    service: str
    number: int | None = None
    config_files: tuple[str, ...] = ()
    working_dir: str | None = None

    @property
    def service_name(self) -> str:
        """``PROJECT/SERVICE``, as targets name it."""
        return f"{self.project}/{self.service}"


@dataclass(frozen=True)
class ContainerRef:
    """A Docker container as the engine names it."""

    id: str
    name: str
    image: str
    networking: ContainerNetworking | None = None
    compose: ComposeMembership | None = None
    # Why gtui only watches it (a Kubernetes pod's container), or None.
    watch_only: str | None = None

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass(frozen=True)
class ConfigSetting:
    """One Gunicorn setting: its value, where that value was read, and which
    static layer (command line, env, config file, default) declares it.

    ``declared_in`` matters for retuning: a value pinned on the command line
    cannot be changed by editing the config file and sending HUP.
    """

    value: ConfigValue
    source: ConfigSource
    declared_in: ConfigSource


@dataclass(frozen=True)
class GunicornConfig:
    """The effective settings of one master, by Gunicorn setting name."""

    settings: Mapping[str, ConfigSetting]
    config_file: str | None = None
    warnings: tuple[str, ...] = ()

    def get(self, name: str) -> ConfigSetting:
        """The setting called ``name``, or an unknown placeholder."""
        return self.settings.get(
            name, ConfigSetting(None, ConfigSource.UNKNOWN, ConfigSource.UNKNOWN)
        )

    def value(self, name: str) -> ConfigValue:
        return self.get(name).value

    @property
    def workers(self) -> int | None:
        value = self.value("workers")
        return value if isinstance(value, int) else None

    @property
    def worker_class(self) -> str | None:
        value = self.value("worker_class")
        return value if isinstance(value, str) else None

    @property
    def timeout_s(self) -> float | None:
        value = self.value("timeout")
        return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class ProcessSample:
    """CPU and memory of one process over the last sampling interval."""

    pid: int | None
    ns_pid: int | None
    cpu_percent: float | None
    rss_bytes: int | None
    uss_bytes: int | None
    age_s: float | None
    unavailable: Mapping[str, str] = field(default_factory=lambda: EMPTY_REASONS)
    # Seconds since uss_bytes was read: USS is re-read every 10 s or more
    # (see sampling/process_figures.py), not each sample. None with no USS.
    uss_age_s: float | None = None


@dataclass(frozen=True)
class WorkerSample:
    """One worker: its process figures plus heartbeat, connections and state."""

    process: ProcessSample
    heartbeat_age_s: float | None
    client_connections: int | None
    state: WorkerState
    unavailable: Mapping[str, str] = field(default_factory=lambda: EMPTY_REASONS)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def ns_pid(self) -> int | None:
        return self.process.ns_pid


@dataclass(frozen=True)
class ResourceTotals:
    """CPU and memory of a whole instance (its container's cgroup when it has
    one, else the sum of master and workers)."""

    cpu_percent: float | None
    memory_bytes: int | None
    memory_limit_bytes: int | None
    cpu_limit_cores: float | None
    from_cgroup: bool
    unavailable: Mapping[str, str] = field(default_factory=lambda: EMPTY_REASONS)


@dataclass(frozen=True)
class InstanceSample:
    """One sample of one Gunicorn master and its workers."""

    key: str
    source: Source
    container: ContainerRef | None
    name: str
    master: ProcessSample
    config: GunicornConfig
    workers: tuple[WorkerSample, ...]
    totals: ResourceTotals
    gunicorn_version: str | None
    workers_target: int | None
    mode: SamplingMode
    taken_at: float
    control_socket: str | None = None
    warnings: tuple[str, ...] = ()
    # Reloads the master has done since it started (control socket's
    # ``show stats``); None without a control socket.
    reloads: int | None = None
    # The engine (or machine) it runs on: "local", a context or host name.
    host: str = "local"
    # Why these are old figures (its engine stopped answering); None: current.
    stale: str | None = None

    @property
    def label(self) -> str:
        """Short human name: container name (and master pid) or host pid."""
        if self.container is not None:
            return f"{self.container.name}:{self.master.ns_pid or self.master.pid}"
        return f"pid:{self.master.pid}"
