"""What the control path may do to one Gunicorn master, whatever kind of target it is.

:class:`TargetAccess` is the one door: reading and writing the master's
files, signalling it and its workers, running a command in its context,
talking to its control socket, watching its workers. Each kind of target
(:class:`~gunicorn_tui.access.kinds.AccessKind`) has a class that does these
the safe way for that kind; callers never branch on the kind to decide
*how*, only (in the planner) to decide *what* is possible.

Paths are always as the master sees them (absolute in its mount namespace;
a relative path is relative to its working directory).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gunicorn_tui.access.control_socket import ControlReply
from gunicorn_tui.access.docker_engine import DockerEngine
from gunicorn_tui.access.files import FileState
from gunicorn_tui.access.host_commands import CommandResult, RunAs
from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.access.processes import ProcessRef
from gunicorn_tui.interpreter.runtime_facts import RuntimeFacts

FileReader = Callable[[str], str | None]


@dataclass(frozen=True)
class MasterView:
    """A master and its workers at one moment (pids as this access names them)."""

    master_pid: int
    worker_pids: tuple[int, ...]


@dataclass(frozen=True)
class SignalTarget:
    """A process to signal: by host pid (pinned by start time) or by its pid
    inside the container, and whether it is the container's PID 1."""

    process: ProcessRef | None = None
    ns_pid: int | None = None
    container_init: bool = False

    def describe(self) -> str:
        if self.process is not None:
            return f"process {self.process.pid}"
        return f"pid {self.ns_pid} in the container"


@dataclass(frozen=True)
class DirectoryState:
    """Whether gtui may create files in a directory, and if not, why."""

    exists: bool
    writable: bool
    reason: str | None = None


class TargetAccess(abc.ABC):
    """Every read, write, exec and signal of the control path for one master."""

    kind: AccessKind
    master: ProcessRef | None  # host pid of the master (None: pids are not this host's)
    master_ns_pid: int | None
    container_id: str | None
    engine: DockerEngine | None

    # -- identity ----------------------------------------------------------------

    @abc.abstractmethod
    def describe(self) -> str:
        """A few words: "host master 123", "container web (local daemon)"."""

    # -- files -------------------------------------------------------------------

    @abc.abstractmethod
    def file_state(self, path: str) -> FileState:
        """What is at ``path`` now (a symlink is reported, never followed out)."""

    @abc.abstractmethod
    def directory_state(self, path: str) -> DirectoryState:
        """Whether files can be created in the directory ``path``."""

    @abc.abstractmethod
    def write_file(
        self,
        path: str,
        data: bytes,
        *,
        mode: int,
        owner: tuple[int, int] | None,
        expect: str | None,
    ) -> str:
        """Replace ``path`` atomically once ``expect`` still holds; a line saying what was done."""

    @abc.abstractmethod
    def remove_file(self, path: str, *, expect: str | None) -> str:
        """Remove gtui's file at ``path`` once ``expect`` still holds."""

    def read_text(self, path: str) -> str | None:
        """A regular file's text, None for anything else."""
        return self.file_state(path).text

    @abc.abstractmethod
    def config_reader(self) -> FileReader:
        """Reads files as the master sees them, for the settings resolver."""

    # -- processes -----------------------------------------------------------------

    @abc.abstractmethod
    def send_signal(self, target: SignalTarget, signal_name: str) -> None:
        """Signal exactly that process (TargetChanged if its pid was reused)."""

    @abc.abstractmethod
    def master_running(self) -> bool:
        """True while the planned master runs."""

    @abc.abstractmethod
    def observe(self) -> MasterView | None:
        """The master and its workers now, or None when it is gone."""

    # -- commands ------------------------------------------------------------------

    @abc.abstractmethod
    def run_command(
        self,
        argv: Sequence[str],
        *,
        environment: Mapping[str, str],
        cwd: str | None,
        run_as: RunAs | None,
    ) -> CommandResult:
        """Run a command in the master's context (its user, env and directory) and wait."""

    @abc.abstractmethod
    def control(self, socket_path: str, commands: Sequence[str]) -> list[ControlReply]:
        """Commands on the master's control socket (ControlSocketError if it fails)."""

    @abc.abstractmethod
    def runtime_facts(
        self,
        modules: Sequence[str],
        *,
        argv: Sequence[str] | None,
        environment: Mapping[str, str] | None,
        cwd: str | None,
        interpreters: Sequence[str] = (),
    ) -> RuntimeFacts:
        """The server's Gunicorn version and installed modules, from its files."""
