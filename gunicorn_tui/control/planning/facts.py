"""What the planner needs to know about an instance beyond its sample.

Gathered once per plan by :mod:`gunicorn_tui.control.planning.fact_gathering` (reads
/proc, inspects the container, probes the interpreter); the planner itself
is pure and is tested with hand-made facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gunicorn_tui.access.files import FileKind
from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.model.instances import ConfigSource, ConfigValue
from gunicorn_tui.sampling.local_instance import LaunchRecord

ENV_CMD_ARGS = "GUNICORN_CMD_ARGS"
ENV_WEB_CONCURRENCY = "WEB_CONCURRENCY"


@dataclass(frozen=True)
class MountFacts:
    """The mount a path of the container lives on (a volume, a bind mount, a tmpfs)."""

    kind: str  # "bind", "volume", "tmpfs"...
    destination: str  # in the container
    source: str  # on the host (bind) or the volume's name

    @property
    def is_bind(self) -> bool:
        return self.kind == "bind"

    def describe(self) -> str:
        if self.is_bind:
            return f"a bind mount of the host's {self.source} at {self.destination}"
        return f"a {self.kind} {self.source[:24]} mounted at {self.destination}"


@dataclass(frozen=True)
class ConfigFileFacts:
    """The config file Gunicorn reads on the next HUP."""

    path: str | None  # absolute, in the master's mount namespace; None when unknown
    explicit: bool  # named with -c (command line or GUNICORN_CMD_ARGS)
    # Anything at the path: a symlink or an unreadable file counts (it is
    # the operator's, never overwritten).
    exists: bool
    content: str | None  # a regular file's text
    managed: bool  # written by gtui
    writable: bool
    why_unknown: str | None = None
    # The file lives in the container's writable layer (lost on re-create).
    in_container_layer: bool = True
    kind: FileKind = FileKind.ABSENT
    what: str = ""  # "a symlink to /etc/x", "unreadable (Permission denied)"
    mount: MountFacts | None = None
    why_not_writable: str | None = None


@dataclass(frozen=True)
class ContainerFacts:
    """The container around a master, from a fresh inspect."""

    inspect: Mapping[str, Any] = field(repr=False)
    image_ref: str  # the tag when it still names the container's image, else the id
    host_network: bool
    auto_remove: bool
    names_taken: Mapping[str, str]  # name -> id, for the names a re-create would use
    api_version: str
    # Paths of the writable layer a re-create would lose (``docker diff``,
    # without what is rebuilt on start: bytecode caches, the control socket).
    layer_changes: tuple[str, ...] = ()
    # Containers that would break if this one were replaced, and why.
    dependents: tuple[str, ...] = ()
    # The orchestrator that owns this container (it would start a duplicate).
    orchestrator: str | None = None
    engine_id: str | None = None


@dataclass(frozen=True)
class RetuneFacts:
    """Everything a plan is made from, besides the sample and the request."""

    taken_at: float
    access: AccessKind  # how the master is reached
    master_pid: int
    master_ns_pid: int | None
    master_is_container_init: bool
    interpreter: str | None  # the master's python, in its namespace
    # Gunicorn's arguments (after the ``gunicorn`` word) and the whole command.
    arguments: tuple[str, ...] | None
    arguments_verified: bool
    argv: tuple[str, ...] | None
    environment: Mapping[str, str] | None  # the master's own environment
    start_cwd: str | None  # where the master started: ./gunicorn.conf.py is read there
    start_cwd_note: str | None
    config_file: ConfigFileFacts
    # The static layer that declares each retunable setting, and its value
    # there (what a HUP would come back to).
    declared_in: Mapping[str, ConfigSource]
    static_values: Mapping[str, ConfigValue]
    # For settings declared in the environment: which variable.
    env_declares: Mapping[str, str]
    control_socket_path: str | None  # in the master's namespace
    uid: int | None
    gid: int | None
    # Modules the runtime probe imported (True) or failed to import (False).
    modules: Mapping[str, bool]
    module_errors: Mapping[str, str]
    probe_error: str | None
    gunicorn_version: str | None
    container: ContainerFacts | None = None
    launch: LaunchRecord | None = None
    notes: tuple[str, ...] = ()
    # Tells the master from a later process with its pid (host pids only).
    master_start_ticks: int | None = None
    # gtui's own uid: acting on a host master of another user needs consent.
    operator_uid: int = 0
    # Start times of the workers (host pids), so a signal never reaches a
    # later process with a worker's pid.
    worker_start_ticks: Mapping[int, int] = field(default_factory=dict)

    @property
    def pids_local(self) -> bool:
        """The master's pid is this host's (/proc readable, pidfds)."""
        return self.access.has_local_pids

    @property
    def other_user(self) -> bool:
        """A host master that belongs to another user than gtui's."""
        return (
            self.access is AccessKind.HOST
            and self.uid is not None
            and (self.uid != self.operator_uid)
        )

    def layer(self, name: str) -> ConfigSource:
        return self.declared_in.get(name, ConfigSource.UNKNOWN)
