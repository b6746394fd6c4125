"""What the planner needs to know about an instance beyond its sample.

Gathered once per plan by :mod:`gunicorn_tui.control.fact_gathering` (reads
/proc, inspects the container, probes the interpreter); the planner itself
is pure and is tested with hand-made facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gunicorn_tui.model.instances import ConfigSource, ConfigValue
from gunicorn_tui.sampling.local_instance import LaunchRecord

ENV_CMD_ARGS = "GUNICORN_CMD_ARGS"
ENV_WEB_CONCURRENCY = "WEB_CONCURRENCY"


@dataclass(frozen=True)
class ConfigFileFacts:
    """The config file Gunicorn reads on the next HUP."""

    path: str | None  # absolute, in the master's mount namespace; None when unknown
    explicit: bool  # named with -c (command line or GUNICORN_CMD_ARGS)
    exists: bool
    content: str | None
    managed: bool  # written by gtui
    host_path: str | None  # the same file reached from this host (local daemon)
    writable: bool
    why_unknown: str | None = None
    # The file lives in the container's writable layer (lost on re-create).
    in_container_layer: bool = True


@dataclass(frozen=True)
class ContainerFacts:
    """The container around a master, from a fresh inspect."""

    inspect: Mapping[str, Any] = field(repr=False)
    image_ref: str  # the tag when it still names the container's image, else the id
    host_network: bool
    auto_remove: bool
    names_taken: Mapping[str, str]  # name -> id, for the names a re-create would use
    api_version: str


@dataclass(frozen=True)
class RetuneFacts:
    """Everything a plan is made from, besides the sample and the request."""

    taken_at: float
    daemon_local: bool  # /proc of the master is readable here
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
    control_socket_host_path: str | None
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

    def layer(self, name: str) -> ConfigSource:
        return self.declared_in.get(name, ConfigSource.UNKNOWN)
