"""Masters inside containers: on an engine of this host, or reached through its API only.

A :class:`LocalContainer` is a :class:`ProcTarget` (its processes are this
host's) whose commands run inside the container through the engine; a
:class:`ApiContainer` does everything through the engine: files with the
archive API (what ``docker cp`` uses: the engine resolves paths inside the
container's root), signals with ``docker kill`` (PID 1) or ``kill`` run in
the container, commands and the control socket with ``docker exec`` of the
container's own interpreter in isolated mode.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from gunicorn_tui.access.control_socket import ControlReply, DockerExecTransport
from gunicorn_tui.access.docker_engine import DockerEngine, ExecResult
from gunicorn_tui.access.docker_top import PS_ARGS, parse_top
from gunicorn_tui.access.errors import AccessError, AccessRefused, TargetChanged
from gunicorn_tui.access.files import FileKind, FileState, check_expectation
from gunicorn_tui.access.host_commands import CommandResult, RunAs
from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.access.proc_target import ProcTarget
from gunicorn_tui.access.processes import ProcessRef
from gunicorn_tui.access.target import (
    DirectoryState,
    FileReader,
    MasterView,
    SignalTarget,
    TargetAccess,
)
from gunicorn_tui.host.process_tree import ProcRecord, find_trees
from gunicorn_tui.interpreter.runtime_facts import (
    ProbeFailed,
    RuntimeFacts,
    container_exec_runtime_facts,
)

T = TypeVar("T")


@dataclass(frozen=True)
class _ExecOutput:
    exit_code: int
    output: bytes


class ExecAdapter:
    """``exec_run`` on top of :class:`DockerEngine`, for the helpers that run a
    script in a container (the control-socket client, the installation scan)."""

    def __init__(self, engine: DockerEngine, container_id: str) -> None:
        self._engine = engine
        self._container_id = container_id

    def exec_run(
        self,
        cmd: Sequence[str],
        stdout: bool = True,
        stderr: bool = True,
        workdir: str | None = None,
        environment: Mapping[str, str] | None = None,
        user: str = "",
    ) -> _ExecOutput:
        result = self._engine.exec(
            self._container_id, cmd, user=user or None, workdir=workdir, environment=environment
        )
        return _ExecOutput(result.exit_code, result.output.encode())


def _user_text(run_as: RunAs | None) -> str | None:
    return f"{run_as.uid}:{run_as.gid}" if run_as is not None else None


def _exec_command(
    engine: DockerEngine,
    container_id: str,
    argv: Sequence[str],
    environment: Mapping[str, str],
    cwd: str | None,
    run_as: RunAs | None,
) -> CommandResult:
    result: ExecResult = engine.exec(
        container_id, argv, user=_user_text(run_as), workdir=cwd, environment=environment
    )
    return CommandResult(result.exit_code, result.output)


class LocalContainer(ProcTarget):
    """A master in a container whose engine runs on this host."""

    kind = AccessKind.LOCAL_CONTAINER
    container_id: str

    def __init__(
        self,
        engine: DockerEngine | None,
        container_id: str,
        master: ProcessRef,
        master_ns_pid: int | None = None,
    ) -> None:
        # Without an engine (the sampler's view) files and signals still work;
        # commands, which run inside the container, do not.
        super().__init__(master, master_ns_pid)
        self.engine = engine
        self.container_id = container_id

    def describe(self) -> str:
        return f"container {self.container_id[:12]}"

    def _as_owner(self, work: Callable[[], T]) -> T:
        # Inside the container's root, as root: what ``docker cp`` does. The
        # root handle keeps every path in the container.
        return work()

    def _write_owner(self) -> tuple[int, int] | None:
        return self.owner_ids()

    def run_command(
        self,
        argv: Sequence[str],
        *,
        environment: Mapping[str, str],
        cwd: str | None,
        run_as: RunAs | None,
    ) -> CommandResult:
        if self.engine is None:
            raise AccessRefused("the container's engine is not connected")
        return _exec_command(self.engine, self.container_id, argv, environment, cwd, run_as)


class ApiContainer(TargetAccess):
    """A master in a container reached through the engine's API alone."""

    kind = AccessKind.API_CONTAINER
    master = None
    container_id: str

    def __init__(
        self,
        engine: DockerEngine,
        container_id: str,
        master_ns_pid: int | None,
        *,
        master_is_init: bool = False,
        interpreters: Sequence[str] = ("python3", "python"),
    ) -> None:
        self.engine = engine
        self.container_id = container_id
        self.master_ns_pid = master_ns_pid
        self.master_is_init = master_is_init
        self.interpreters = tuple(interpreters)

    def describe(self) -> str:
        return f"container {self.container_id[:12]} (through the engine's API)"

    @property
    def _engine(self) -> DockerEngine:
        assert self.engine is not None
        return self.engine

    # -- files -----------------------------------------------------------------------

    def file_state(self, path: str) -> FileState:
        if not path.startswith("/"):
            raise AccessRefused(f"{path}: relative paths are not known through the API")
        return self._engine.file_state(self.container_id, path)

    def directory_state(self, path: str) -> DirectoryState:
        inspect = self._engine.inspect(self.container_id)
        if inspect is None:
            return DirectoryState(False, False, "the container no longer exists")
        if ((inspect.get("HostConfig") or {}).get("ReadonlyRootfs")) and not _under_mount(
            path, inspect
        ):
            return DirectoryState(True, False, "the container's root filesystem is read-only")
        found = self._engine.stat(self.container_id, path)
        if found is None:
            return DirectoryState(False, False, f"{path} does not exist")
        if found.is_symlink:
            found = self._engine.stat(self.container_id, path.rstrip("/") + "/.")
        if found is None or not found.is_directory:
            return DirectoryState(False, False, f"{path} is not a directory")
        return DirectoryState(True, True)

    def write_file(
        self,
        path: str,
        data: bytes,
        *,
        mode: int,
        owner: tuple[int, int] | None,
        expect: str | None,
    ) -> str:
        check_expectation(path, self.file_state(path), expect)
        self._engine.put_file(self.container_id, path, data, mode=mode, owner=owner or (0, 0))
        return f"wrote {path} ({len(data)} bytes) in container {self.container_id[:12]}"

    def remove_file(self, path: str, *, expect: str | None) -> str:
        found = self.file_state(path)
        check_expectation(path, found, expect)
        if not found.exists:
            return f"{path} was already absent"
        if found.kind is not FileKind.REGULAR:
            raise TargetChanged(f"{path} is {found.describe()}: gtui removes only its own files")
        # rm without -r on one regular file the container's own tools resolve
        # inside the container.
        result = self._engine.exec(self.container_id, ["rm", "-f", "--", path])
        if result.exit_code != 0:
            raise AccessError(f"could not remove {path} in the container: {result.output[:200]}")
        return f"removed {path}"

    def config_reader(self) -> FileReader:
        def read(path: str) -> str | None:
            if not path.startswith("/"):
                return None
            try:
                found = self.file_state(path)
            except AccessError:
                return None
            return found.text

        return read

    # -- processes ---------------------------------------------------------------------

    def send_signal(self, target: SignalTarget, signal_name: str) -> None:
        name = signal_name.upper().removeprefix("SIG")
        if target.container_init:
            self._engine.kill(self.container_id, name)
            return
        if target.ns_pid is None:
            raise AccessRefused("no pid inside the container to signal")
        result = self._engine.exec(self.container_id, ["kill", f"-{name}", str(target.ns_pid)])
        if result.exit_code != 0:
            raise AccessError(f"kill in the container failed: {result.output.strip()[:200]}")

    def master_running(self) -> bool:
        return self.observe() is not None

    def observe(self) -> MasterView | None:
        try:
            result = self._engine.top(self.container_id, PS_ARGS)
        except AccessError:
            return None
        rows = parse_top(result)
        trees = find_trees(ProcRecord(row.pid, row.ppid, row.argv) for row in rows)
        if not trees:
            return None
        tree = trees[0]
        return MasterView(tree.master_pid, tuple(tree.workers))

    # -- commands ------------------------------------------------------------------------

    def run_command(
        self,
        argv: Sequence[str],
        *,
        environment: Mapping[str, str],
        cwd: str | None,
        run_as: RunAs | None,
    ) -> CommandResult:
        return _exec_command(self._engine, self.container_id, argv, environment, cwd, run_as)

    def control(self, socket_path: str, commands: Sequence[str]) -> list[ControlReply]:
        adapter = ExecAdapter(self._engine, self.container_id)
        return DockerExecTransport(adapter, socket_path).request(list(commands))

    def runtime_facts(
        self,
        modules: Sequence[str],
        *,
        argv: Sequence[str] | None,
        environment: Mapping[str, str] | None,
        cwd: str | None,
        interpreters: Sequence[str] = (),
    ) -> RuntimeFacts:
        adapter = ExecAdapter(self._engine, self.container_id)
        try:
            return container_exec_runtime_facts(
                adapter,
                [*interpreters, *self.interpreters],
                self.master_ns_pid,
                modules,
                argv=argv,
                environment=environment,
                cwd=cwd,
            )
        except AccessError as error:
            raise ProbeFailed(str(error)) from error


def _under_mount(path: str, inspect: Mapping[str, Any]) -> bool:
    for mount in inspect.get("Mounts") or []:
        destination = str(mount.get("Destination") or "")
        if destination and (path == destination or path.startswith(destination.rstrip("/") + "/")):
            return True
    return False
