"""A plan: the exact, ordered steps an action will take, or why it is refused.

Plans are data. The dashboard lists ``step.description`` and
``step.command`` in its confirm dialog; the executor runs the ``action`` of
each step; the journal stores the whole plan as JSON before the first step.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.control.planning.container_spec import CreateSpec, describe_create
from gunicorn_tui.model.instances import ConfigValue, Source


class ActionKind(StrEnum):
    """What the operator asked for."""

    SCALE = "scale"
    RELOAD = "reload"
    KILL_WORKER = "kill-worker"
    RETUNE = "retune"
    REVERT = "revert"


class Strategy(StrEnum):
    """How a plan gets there, least disruptive first."""

    CONTROL_SOCKET = "control socket"
    SIGNALS = "signals"
    HUP_WITH_CONFIG = "reload (HUP) with a gtui config file"
    RELOAD = "reload (HUP)"
    RECREATE = "re-create the container"
    RESTART_LOCAL = "restart the host master"


class SignalRoute(StrEnum):
    """How a signal reaches a master."""

    HOST = "host kill"  # a pidfd of the host pid (also reaches a container's PID 1)
    DOCKER_KILL = "docker kill"  # the API; only reaches the container's PID 1
    DOCKER_EXEC = "docker exec kill"  # kill run inside the container


class ContainerRole(StrEnum):
    """Which container a docker step acts on; the new one's id is known only
    once it is created."""

    ORIGINAL = "original"
    NEW = "new"


# -- step actions ---------------------------------------------------------------


@dataclass(frozen=True)
class ControlCommand:
    """One command on Gunicorn's control socket."""

    command: str
    socket_path: str  # in the master's mount namespace
    # Set when the socket is reached with ``docker exec`` (API-only access).
    container_id: str | None = None

    def text(self) -> str:
        prefix = f"docker exec {self.container_id[:12]} " if self.container_id else ""
        return f"{prefix}gunicornc -s {self.socket_path} -c {shlex.quote(self.command)}"


@dataclass(frozen=True)
class SendSignal:
    """``count`` times the signal, one at a time (signals do not queue)."""

    signal_name: str  # "TTIN", "HUP", "TERM"
    route: SignalRoute
    host_pid: int | None
    ns_pid: int | None = None
    container_id: str | None = None
    count: int = 1
    # Worker count expected after each signal; lets the executor wait for one
    # to take effect before sending the next.
    worker_counts: tuple[int, ...] = ()
    # The process's start time: a signal never reaches a later process that
    # got the same pid.
    start_ticks: int | None = None

    def text(self) -> str:
        times = f" (x{self.count}, one at a time)" if self.count > 1 else ""
        if self.route is SignalRoute.HOST:
            return f"kill -{self.signal_name} {self.host_pid}{times}"
        short = (self.container_id or "")[:12]
        if self.route is SignalRoute.DOCKER_KILL:
            return f"docker kill --signal {self.signal_name} {short}{times}"
        return f"docker exec {short} kill -{self.signal_name} {self.ns_pid}{times}"


@dataclass(frozen=True)
class WriteFile:
    """Write (or, with ``content`` None, remove) a file as the master sees it."""

    path: str  # in the master's mount namespace
    content: str | None
    container_id: str | None = None  # for the text: the container the path is in
    mode: int = 0o644
    uid: int | None = None
    gid: int | None = None
    # What must be at ``path`` just before this step (see access.files):
    # "absent", "sha256:...", or None for anything.
    expect: str | None = None

    def text(self) -> str:
        where = f"{self.container_id[:12]}:{self.path}" if self.container_id else self.path
        if self.content is None:
            return f"rm {where}"
        lines = self.content.count("\n")
        return f"write {where} ({lines} lines, mode {self.mode:o})"


@dataclass(frozen=True)
class CheckConfig:
    """``gunicorn --check-config`` with the server's interpreter, environment,
    working directory and user; a failure stops the plan before any change."""

    argv: tuple[str, ...]
    workdir: str | None
    environment: Mapping[str, str] | None
    user: str | None  # "uid:gid" it runs as
    container_id: str | None = None

    def text(self) -> str:
        command = shlex.join(self.argv)
        if self.container_id:
            options = f"-w {self.workdir} " if self.workdir else ""
            options += f"-u {self.user} " if self.user else ""
            return f"docker exec {options}{self.container_id[:12]} {command}"
        cd = f"cd {shlex.quote(self.workdir)} && " if self.workdir else ""
        who = f" (as {self.user}, the master's environment)" if self.user else ""
        return f"{cd}{command}{who}"


@dataclass(frozen=True)
class WaitServing:
    """Wait until the server runs the new config: its master has ``workers``
    workers (none of them one that ran before step ``fresh_after_step``), the settings in
    ``verify`` read back from the control socket, and ``url`` answers."""

    workers: int | None
    url: str | None
    deadline_s: float
    verify: Mapping[str, ConfigValue] = field(default_factory=dict)
    fresh_after_step: int | None = None
    container: ContainerRole | None = None
    gone_worker_pid: int | None = None
    control_socket_path: str | None = None  # in the master's namespace, for ``verify``

    def text(self) -> str:
        parts = []
        if self.workers is not None:
            parts.append(f"{self.workers} workers")
        if self.fresh_after_step is not None:
            parts.append("all of them new")
        if self.verify:
            parts.append(
                "control socket shows " + ", ".join(f"{k}={v}" for k, v in self.verify.items())
            )
        if self.url:
            parts.append(f"GET {self.url} answers")
        return f"wait up to {self.deadline_s:.0f} s: " + ("; ".join(parts) or "master running")


@dataclass(frozen=True)
class CreateContainer:
    """Create the replacement under a temporary name (not started)."""

    name: str
    spec: CreateSpec

    def text(self) -> str:
        return describe_create(self.name, self.spec)


@dataclass(frozen=True)
class StopContainer:
    container: ContainerRole
    name: str
    timeout_s: int

    def text(self) -> str:
        return f"docker stop --time {self.timeout_s} {self.name}"


@dataclass(frozen=True)
class RenameContainer:
    container: ContainerRole
    old_name: str
    new_name: str

    def text(self) -> str:
        return f"docker rename {self.old_name} {self.new_name}"


@dataclass(frozen=True)
class StartContainer:
    container: ContainerRole
    name: str

    def text(self) -> str:
        return f"docker start {self.name}"


@dataclass(frozen=True)
class RemoveContainer:
    """Remove a container, keeping its volumes (the new one mounts them)."""

    container: ContainerRole
    name: str

    def text(self) -> str:
        return f"docker rm {self.name}  (volumes kept)"


@dataclass(frozen=True)
class StopLocalMaster:
    pid: int
    timeout_s: float
    start_ticks: int | None = None

    def text(self) -> str:
        return f"kill -TERM {self.pid}; wait up to {self.timeout_s:.0f} s for it to exit"


@dataclass(frozen=True)
class StartLocalMaster:
    argv: tuple[str, ...]
    environment: Mapping[str, str]
    cwd: str
    log_path: str
    # The user it runs as (the old master's); None only in journals written
    # before gtui recorded it, which are refused.
    uid: int | None = None
    gid: int | None = None

    def text(self) -> str:
        who = f" (as uid {self.uid}, gid {self.gid})" if self.uid is not None else ""
        command = shlex.join(self.argv)
        return f"cd {shlex.quote(self.cwd)} && {command} >>{self.log_path} 2>&1 &{who}"


StepAction = (
    ControlCommand
    | SendSignal
    | WriteFile
    | CheckConfig
    | WaitServing
    | CreateContainer
    | StopContainer
    | RenameContainer
    | StartContainer
    | RemoveContainer
    | StopLocalMaster
    | StartLocalMaster
)


@dataclass(frozen=True)
class PlanStep:
    """One step: what it does in words, and exactly how."""

    description: str
    action: StepAction
    # True when the step changes the running service (a check or a wait does not).
    changes_service: bool = True

    @property
    def command(self) -> str:
        """The exact command, as an operator would type it."""
        return self.action.text()


@dataclass(frozen=True)
class PlanTarget:
    """The instance a plan acts on."""

    key: str
    label: str
    source: Source
    lock_key: str
    master_pid: int
    master_ns_pid: int | None = None
    container_id: str | None = None
    container_name: str | None = None
    access: AccessKind = AccessKind.HOST
    master_start_ticks: int | None = None
    master_is_init: bool = False
    # The engine the container is on (``docker info`` ID): recovery refuses
    # to act on another one.
    engine_id: str | None = None
    # The engine's name in gtui ("local", a context or host name).
    host: str = "local"

    @property
    def api_mode(self) -> bool:
        """Reached through the engine's API alone (pids are not this host's)."""
        return self.access is AccessKind.API_CONTAINER


@dataclass(frozen=True)
class RevertSpec:
    """What re-applies the configuration from before an action."""

    settings: Mapping[str, ConfigValue]
    workers: int | None = None  # scale back to this count
    file_path: str | None = None  # restore this managed config file...
    file_content: str | None = None  # ...to this content (None: remove it)
    entrypoint: tuple[str, ...] | None = None  # re-create with the original command
    cmd: tuple[str, ...] | None = None
    env: tuple[str, ...] | None = None
    argv: tuple[str, ...] | None = None  # restart a host master with its old command
    environment: Mapping[str, str] | None = None
    cwd: str | None = None


# How long a plan's steps may take in all, unless its strategy says.
DEFAULT_DEADLINE_S = 60.0


@dataclass(frozen=True)
class RetunePlan:
    """The exact steps of an action, or the reason it is refused."""

    action: ActionKind
    target: PlanTarget
    strategy: Strategy | None
    steps: tuple[PlanStep, ...]
    before: Mapping[str, ConfigValue]
    after: Mapping[str, ConfigValue]
    refusal: str | None = None
    notes: tuple[str, ...] = ()
    revert: RevertSpec | None = None
    created_at: float = 0.0
    # Names used by a container re-create (temporary and set-aside).
    temporary_name: str | None = None
    aside_name: str | None = None
    # Seconds the whole action may take before the executor gives up.
    deadline_s: float = DEFAULT_DEADLINE_S
    # A re-create: the paths of the writable layer the operator agreed to lose.
    discarded_changes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.refusal is None

    def describe(self) -> list[str]:
        """Readable lines: the change, the strategy, each step and its command."""
        lines = [f"{self.action.value} {self.target.label} on {self.target.host}"]
        changed = {k: v for k, v in self.after.items() if self.before.get(k) != v}
        if changed:
            lines.append(
                "change: "
                + ", ".join(f"{k} {self.before.get(k)!r} -> {v!r}" for k, v in changed.items())
            )
        if self.refusal is not None:
            lines.append(f"refused: {self.refusal}")
            return lines + [f"note: {note}" for note in self.notes]
        lines.append(f"strategy: {self.strategy.value if self.strategy else '?'}")
        for number, step in enumerate(self.steps, start=1):
            lines.append(f"{number}. {step.description}")
            lines.append(f"   $ {step.command}")
        lines.extend(f"note: {note}" for note in self.notes)
        return lines


def step_types() -> dict[str, type[Any]]:
    """Every dataclass a plan may hold, by name (for the journal codec)."""
    types: list[type[Any]] = [
        ControlCommand,
        SendSignal,
        WriteFile,
        CheckConfig,
        WaitServing,
        CreateContainer,
        StopContainer,
        RenameContainer,
        StartContainer,
        RemoveContainer,
        StopLocalMaster,
        StartLocalMaster,
        PlanStep,
        PlanTarget,
        RevertSpec,
        RetunePlan,
        CreateSpec,
    ]
    return {t.__name__: t for t in types}
