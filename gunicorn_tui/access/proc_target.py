"""What host masters and containers on a local engine share: /proc, pidfds, a rooted view.

Both kinds are processes of this host. Their files are read and written
through :class:`~gunicorn_tui.host.rooted_files.RootedFiles` opened on
``/proc/PID/root`` *after* the master has been pinned by pid and start
time, so a reused pid cannot redirect a write into another process's
root. Their control socket is connected through an ``O_PATH`` handle
opened the same way (a socket path that is a symlink to the host's Docker
socket leads nowhere). Signals go through pidfds.
"""

from __future__ import annotations

import abc
import errno
import os
import socket
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import psutil

from gunicorn_tui.access.control_socket import (
    ControlReply,
    ControlSocketError,
    UnixSocketTransport,
)
from gunicorn_tui.access.errors import AccessError, AccessRefused, TargetChanged, TargetGone
from gunicorn_tui.access.files import FileKind, FileState, rooted_remove, rooted_state, rooted_write
from gunicorn_tui.access.host_commands import CommandResult, RunAs
from gunicorn_tui.access.processes import ProcessRef, is_running, pinned, send_signal, signal_number
from gunicorn_tui.access.target import (
    DirectoryState,
    FileReader,
    MasterView,
    SignalTarget,
    TargetAccess,
)
from gunicorn_tui.host.host_processes import gunicorn_records
from gunicorn_tui.host.process_tree import find_trees
from gunicorn_tui.host.procfs import (
    PROC,
    ProcessGone,
    read_argv,
    read_children,
    read_environ,
)
from gunicorn_tui.host.rooted_files import RootedFiles
from gunicorn_tui.interpreter.runtime_facts import ProbeFailed, RuntimeFacts, local_runtime_facts

T = TypeVar("T")
CONTROL_TIMEOUT_S = 5.0


def file_owner_ids(pid: int) -> tuple[int, int] | None:
    """The filesystem uid and gid of ``pid`` (what the kernel checks its file accesses against)."""
    try:
        with open(f"{PROC}/{pid}/status", encoding="utf-8", errors="replace") as handle:
            uid = gid = None
            for line in handle:
                if line.startswith("Uid:"):
                    uid = int(line.split()[4])
                elif line.startswith("Gid:"):
                    gid = int(line.split()[4])
    except (OSError, ValueError, IndexError):
        return None
    return (uid, gid) if uid is not None and gid is not None else None


class ProcTarget(TargetAccess, abc.ABC):
    """A master whose pid is this host's (a host master, or one in a local container)."""

    master: ProcessRef

    def __init__(self, master: ProcessRef, master_ns_pid: int | None = None) -> None:
        self.master = master
        self.master_ns_pid = master_ns_pid

    # -- what each kind decides ----------------------------------------------------

    @abc.abstractmethod
    def _as_owner(self, work: Callable[[], T]) -> T:
        """Run file work with the identity it must have (see the subclasses)."""

    @abc.abstractmethod
    def _write_owner(self) -> tuple[int, int] | None:
        """The owner a new file gets (None: whoever writes it)."""

    # -- the master's root -----------------------------------------------------------

    def owner_ids(self) -> tuple[int, int] | None:
        return file_owner_ids(self.master.pid)

    def process(self) -> MasterProcess:
        """What /proc shows of the master, read while it is pinned (TargetGone if not)."""
        pid = self.master.pid
        with pinned(self.master):
            try:
                argv: tuple[str, ...] | None = read_argv(pid)
            except (ProcessGone, PermissionError):
                argv = None
            try:
                environment: Mapping[str, str] | None = read_environ(pid) or None
            except (ProcessGone, PermissionError):
                environment = None
            try:
                executable: str | None = os.readlink(f"{PROC}/{pid}/exe").removesuffix(" (deleted)")
            except OSError:
                executable = None
            owner = self.owner_ids()
        return MasterProcess(
            argv=argv,
            environment=environment,
            cwd=self.cwd(),
            executable=executable,
            uid=owner[0] if owner else None,
            gid=owner[1] if owner else None,
        )

    def _root(self) -> RootedFiles:
        """The master's root, opened while the master is pinned (never a later pid's)."""
        with pinned(self.master):
            try:
                return RootedFiles(f"{PROC}/{self.master.pid}/root")
            except PermissionError as error:
                raise AccessRefused(
                    f"cannot open the root of {self.master.pid}: {error.strerror}"
                ) from error
            except OSError as error:
                raise TargetGone(
                    f"cannot open the root of {self.master.pid}: {error.strerror}"
                ) from error

    def cwd(self) -> str | None:
        """The master's working directory, as it sees it."""
        try:
            with pinned(self.master):
                return os.readlink(f"{PROC}/{self.master.pid}/cwd").removesuffix(" (deleted)")
        except (OSError, AccessError):
            return None

    def _absolute(self, path: str) -> str:
        if path.startswith("/"):
            return path
        cwd = self.cwd()
        if cwd is None:
            raise AccessRefused(f"{path}: the master's working directory is not readable")
        return os.path.normpath(os.path.join(cwd, path))

    # -- files -------------------------------------------------------------------------

    def file_state(self, path: str) -> FileState:
        full = self._absolute(path)
        with self._root() as root:
            return self._as_owner(lambda: rooted_state(root, full))

    def directory_state(self, path: str) -> DirectoryState:
        full = self._absolute(path)

        def examine(root: RootedFiles) -> DirectoryState:
            try:
                with root.directory(full) as fd:
                    if os.fstatvfs(fd).f_flag & os.ST_RDONLY:
                        return DirectoryState(True, False, f"{full} is on a read-only filesystem")
                    writable = os.access(
                        f"/proc/self/fd/{fd}", os.W_OK | os.X_OK, effective_ids=True
                    )
            except FileNotFoundError:
                return DirectoryState(False, False, f"{full} does not exist")
            except OSError as error:
                return DirectoryState(False, False, f"{full}: {error.strerror}")
            if not writable:
                return DirectoryState(True, False, f"{full} is not writable by the server's user")
            return DirectoryState(True, True)

        with self._root() as root:
            return self._as_owner(lambda: examine(root))

    def write_file(
        self,
        path: str,
        data: bytes,
        *,
        mode: int,
        owner: tuple[int, int] | None,
        expect: str | None,
    ) -> str:
        full = self._absolute(path)
        chosen = owner if owner is not None else self._write_owner()
        with self._root() as root:
            try:
                self._as_owner(
                    lambda: rooted_write(root, full, data, mode=mode, owner=chosen, expect=expect)
                )
            except AccessError:
                raise
            except OSError as error:
                raise AccessError(f"could not write {full}: {error.strerror or error}") from error
        return f"wrote {full} ({len(data)} bytes) inside {self.describe()}'s root"

    def remove_file(self, path: str, *, expect: str | None) -> str:
        full = self._absolute(path)
        with self._root() as root:
            try:
                removed = self._as_owner(lambda: rooted_remove(root, full, expect=expect))
            except AccessError:
                raise
            except OSError as error:
                raise AccessError(f"could not remove {full}: {error.strerror or error}") from error
        return f"removed {full}" if removed else f"{full} was already absent"

    def config_reader(self) -> FileReader:
        def read(path: str) -> str | None:
            try:
                found = self.file_state(path)
            except AccessRefused as error:
                raise PermissionError(str(error)) from error
            except AccessError:
                return None
            if found.kind is FileKind.UNREADABLE:
                raise PermissionError(found.reason or "unreadable")
            return found.text

        return read

    # -- processes -----------------------------------------------------------------------

    def send_signal(self, target: SignalTarget, signal_name: str) -> None:
        if target.process is None:
            raise AccessRefused(f"{target.describe()}: no host pid to signal")
        send_signal(target.process, signal_number(signal_name))

    def master_running(self) -> bool:
        return is_running(self.master)

    def observe(self) -> MasterView | None:
        pid = self.master.pid
        if not self.master_running():
            return None
        try:
            children = read_children(pid)
        except (ProcessGone, FileNotFoundError):
            try:
                children = [child.pid for child in psutil.Process(pid).children()]
            except psutil.Error:
                return None
        records = gunicorn_records([pid, *children])
        trees = [tree for tree in find_trees(records) if tree.master_pid == pid]
        workers = trees[0].workers if trees else ()
        return MasterView(pid, tuple(workers))

    # -- the control socket ------------------------------------------------------------

    def control_transport(self, socket_path: str, timeout_s: float) -> UnixSocketTransport | None:
        """A transport to the control socket at ``socket_path`` as the master
        sees it, or None when no socket is there. Each connection resolves the
        path inside the master's root again (Gunicorn re-creates the socket)."""
        try:
            full = self._absolute(socket_path)
            root = self._root()
        except AccessError:
            return None
        try:
            info = root.lstat(full)
        except OSError:
            info = None
        if info is None or not stat.S_ISSOCK(info.mode):
            root.close()
            return None
        return RootedSocketTransport(root, full, timeout_s)

    def control(self, socket_path: str, commands: Sequence[str]) -> list[ControlReply]:
        for attempt in range(3):
            transport = self.control_transport(socket_path, CONTROL_TIMEOUT_S)
            if transport is not None:
                break
            time.sleep(0.02 * (attempt + 1))  # Gunicorn re-creates it around forks
        else:
            raise ControlSocketError(f"no control socket at {socket_path}")
        try:
            return transport.request(list(commands))
        finally:
            if isinstance(transport, RootedSocketTransport):
                transport.close()

    # -- the server's installation -------------------------------------------------------

    def runtime_facts(
        self,
        modules: Sequence[str],
        *,
        argv: Sequence[str] | None,
        environment: Mapping[str, str] | None,
        cwd: str | None,
        interpreters: Sequence[str] = (),
    ) -> RuntimeFacts:
        if not self.master_running():
            raise ProbeFailed(f"process {self.master.pid} is gone")
        return local_runtime_facts(self.master.pid, modules, argv=argv, environment=environment)

    def _check_run_as(self, run_as: RunAs | None) -> RunAs:
        owner = self.owner_ids()
        if owner is None:
            raise TargetGone(f"process {self.master.pid} is gone")
        if run_as is None:
            return RunAs(*owner)
        if (run_as.uid, run_as.gid) != owner:
            raise TargetChanged(
                f"the master now runs as uid {owner[0]}, not uid {run_as.uid} as planned"
            )
        return run_as

    def run_command(
        self,
        argv: Sequence[str],
        *,
        environment: Mapping[str, str],
        cwd: str | None,
        run_as: RunAs | None,
    ) -> CommandResult:
        raise AccessRefused(f"{self.describe()}: commands are not run this way")


# -- what /proc says about the master (read while it is pinned) ------------------------


@dataclass(frozen=True)
class MasterProcess:
    """The master's own command line, environment, directory and identity."""

    argv: tuple[str, ...] | None
    environment: Mapping[str, str] | None  # None when hidden (setproctitle) or unreadable
    cwd: str | None
    executable: str | None
    uid: int | None
    gid: int | None


class RootedSocketTransport(UnixSocketTransport):
    """A control-socket client whose path is resolved inside a master's root at
    each connection: a socket path that is a symlink leads nowhere outside it."""

    def __init__(self, root: RootedFiles, path: str, timeout_s: float) -> None:
        super().__init__(path, timeout_s=timeout_s)
        self._rooted = root

    def _connect(self) -> socket.socket:
        last: OSError | None = None
        for attempt in range(self.retries):
            try:
                return self._connect_once()
            except OSError as error:
                last = error
                # Gunicorn unlinks and re-creates the socket around forks.
                if error.errno in (errno.ENOENT, errno.ECONNREFUSED) and attempt + 1 < self.retries:
                    time.sleep(0.02)
                    continue
                break
        raise ControlSocketError(f"cannot connect to {self.path}: {last}")

    def _connect_once(self) -> socket.socket:
        fd = self._rooted.open(self.path, os.O_PATH | os.O_NOFOLLOW)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout_s)
        try:
            sock.connect(f"/proc/self/fd/{fd}")
        except OSError:
            sock.close()
            raise
        finally:
            os.close(fd)
        return sock

    def close(self) -> None:
        self._rooted.close()
