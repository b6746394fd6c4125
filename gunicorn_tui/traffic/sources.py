"""Where an instance's access and error logs can be read from, here.

Gunicorn's ``accesslog`` and ``errorlog`` settings say "-" (stdout, stderr)
or a path. What "-" means depends on where the master's output goes:

- a container's stdout/stderr (a pipe or a pty the container runtime reads)
  are its log stream: follow it through the Docker API;
- a regular file (a wrapper redirected it; the demo) is followed as a file;
- a pipe or terminal of a host process cannot be read without stealing the
  lines from whoever reads them: say so, and say how to get a file.

``/dev/stdout``, ``/dev/stderr``, ``/proc/self/fd/1`` and their kin (links to
them too) mean the master's descriptor 1 or 2, exactly as "-" does: opened
by gtui they would be gtui's own output. Any other path is followed only
while it is a regular file (see :mod:`gunicorn_tui.traffic.log_paths`); a
FIFO, a device or a socket is said, never read. A container's paths are
resolved inside its own root, so its symlinks cannot lead gtui onto the
host's files.

When the configuration is hidden (setproctitle hides the command line and
the control socket does not report the log settings), the master's open
files tell: Gunicorn opens ``accesslog`` and ``errorlog`` files in the
master, in append mode, and the workers inherit them. Every regular file the
master holds open for appending is followed then, besides its stdout and
stderr.
"""

from __future__ import annotations

import ipaddress
import os
import posixpath
import stat
from dataclasses import dataclass
from enum import StrEnum

from gunicorn_tui.host.procfs import PROC
from gunicorn_tui.model.instances import ConfigSource, InstanceSample, SamplingMode, Source
from gunicorn_tui.traffic.log_paths import (
    LogFileRef,
    file_kind,
    file_status,
    master_cwd,
    normal_path,
    readlink_in_root,
    stdio_descriptor,
)


class StreamKind(StrEnum):
    """What a master's output descriptor points at."""

    FILE = "file"
    PIPE = "pipe"
    TERMINAL = "terminal"
    NULL = "null"
    SOCKET = "socket"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SourcePlan:
    """How to read one instance's logs.

    ``access_log_enabled`` is None when the configuration is hidden: whether
    there is an access log is then learnt from the lines that arrive.
    ``from_open_files`` is set when ``files`` were found among the master's
    open files rather than read from its configuration;
    ``access_log_readable`` when the configured access log itself is read.
    """

    container_logs: bool
    files: tuple[LogFileRef, ...]
    notes: tuple[str, ...]
    access_log_enabled: bool | None
    from_open_files: bool = False
    # The access log's own file or stream is among the sources.
    access_log_readable: bool = False
    # The files (among ``files``) found open in the master.
    open_files: tuple[LogFileRef, ...] = ()


def classify_target(target: str) -> StreamKind:
    """Kind of a ``/proc/<pid>/fd/N`` link target."""
    if target.startswith("pipe:"):
        return StreamKind.PIPE
    if target.startswith("socket:"):
        return StreamKind.SOCKET
    if target.startswith(("/dev/pts/", "/dev/tty", "/dev/console")):
        return StreamKind.TERMINAL
    if target == "/dev/null":
        return StreamKind.NULL
    if target.startswith("/") and not target.endswith(" (deleted)"):
        return StreamKind.FILE
    return StreamKind.UNKNOWN


def _fd_target(pid: int, fd: int) -> str | None:
    try:
        return os.readlink(f"{PROC}/{pid}/fd/{fd}")
    except OSError:
        return None


_O_ACCMODE = 0o3
_O_APPEND = 0o2000


def appended_files(pid: int, first_fd: int = 3) -> list[str]:
    """Regular files ``pid`` holds open for appending (write or read-write
    with ``O_APPEND``), from descriptor ``first_fd`` on, as the process names
    them. Deleted files are left out."""
    fd_dir = f"{PROC}/{pid}/fd"
    try:
        names = sorted(int(name) for name in os.listdir(fd_dir) if name.isdigit())
    except OSError:
        return []
    found: list[str] = []
    for fd in names:
        if fd < first_fd:
            continue
        target = _fd_target(pid, fd)
        if target is None or classify_target(target) is not StreamKind.FILE:
            continue
        try:
            with open(f"{PROC}/{pid}/fdinfo/{fd}", encoding="ascii") as info:
                flags = next(int(line.split()[1], 8) for line in info if line.startswith("flags:"))
        except (OSError, StopIteration, ValueError, IndexError):
            continue
        if flags & _O_APPEND and flags & _O_ACCMODE in (1, 2):
            found.append(target)
    return found


def log_file_ref(pid: int, path: str, in_container: bool) -> LogFileRef | None:
    """A path as the master names it, made reachable from this host: inside
    a container's own root, a relative one against the master's working
    directory. None when that directory cannot be read."""
    if path.startswith("/"):
        return LogFileRef(normal_path(path), pid if in_container else None)
    if not in_container:
        return LogFileRef(f"{PROC}/{pid}/cwd/{path}")
    cwd = master_cwd(pid)
    if cwd is None:
        return None
    return LogFileRef(normal_path(posixpath.join(cwd, path)), pid)


def _stdio_note(label: str, kind: StreamKind, pid: int) -> str:
    if kind is StreamKind.NULL:
        return f"{label} goes to /dev/null"
    if kind is StreamKind.SOCKET:
        return (
            f"{label} goes to a socket of pid {pid} (journald, when systemd runs it): "
            "gtui cannot read it; journalctl can, or log to a file"
        )
    return (
        f"{label} goes to a {kind.value} of pid {pid}: gtui cannot read it without "
        f"taking the lines from its reader; log to a file instead"
    )


def plan_sources(sample: InstanceSample) -> SourcePlan:
    """Decide what to follow for ``sample``.

    Reads the master's ``/proc`` entries and, for a container, looks up
    links inside its root: call it outside any lock the sampling needs.
    """
    accesslog = sample.config.value("accesslog")
    errorlog = sample.config.value("errorlog")
    access_unknown = sample.config.get("accesslog").source is ConfigSource.UNKNOWN
    if access_unknown:
        # The command line is hidden: look at stdout in case it logs there.
        accesslog = "-"
    access_enabled: bool | None = (
        None if access_unknown else isinstance(accesslog, str) and accesslog != ""
    )
    in_container = sample.source is Source.DOCKER
    pid = sample.master.pid
    notes: list[str] = []
    files: list[LogFileRef] = []
    container_logs = False

    if sample.mode is SamplingMode.API:
        # Only the log stream is reachable through a remote daemon.
        container_logs = True
        for setting, value in (("access log", accesslog), ("error log", errorlog)):
            if isinstance(value, str) and value not in ("-", "") and not _names_stdio(value):
                notes.append(
                    f"{setting} is a file in the container ({value}): not readable "
                    "through a remote daemon; log to '-' to see it"
                )
        return SourcePlan(
            container_logs,
            (),
            tuple(notes),
            access_enabled,
            access_log_readable=access_enabled is True
            and isinstance(accesslog, str)
            and (accesslog == "-" or _names_stdio(accesslog)),
        )

    if pid is None:
        return SourcePlan(False, (), ("master pid unknown",), access_enabled)

    wanted: list[tuple[str, str, int]] = []
    if access_enabled is not False:
        # Hidden configuration: stdout is where an access log would go by "-".
        wanted.append(("stdout" if access_unknown else "access log", str(accesslog), 1))
    if errorlog is None or isinstance(errorlog, str):
        wanted.append(("error log", str(errorlog) if errorlog is not None else "-", 2))

    readlink = readlink_in_root(pid if in_container else None)
    access_readable = False
    for label, value, default_fd in wanted:
        fd = default_fd
        if value != "-":
            ref = log_file_ref(pid, value, in_container)
            if ref is None:
                notes.append(f"{label} {value}: the master's working directory is unreadable")
                continue
            named = stdio_descriptor(ref.path, readlink)
            if named is None:
                readable = _plan_file(label, ref, in_container, files, notes)
                container_logs = container_logs or readable is None
                access_readable = access_readable or (readable is True and label == "access log")
                continue
            # /dev/stdout and its kin: the master's own descriptor, like "-".
            fd = named
        target = _fd_target(pid, fd)
        kind = classify_target(target) if target is not None else StreamKind.UNKNOWN
        readable = True
        if kind is StreamKind.FILE and target is not None:
            ref = log_file_ref(pid, target, in_container)
            if ref is not None:
                files.append(ref)
        elif in_container and kind in (StreamKind.PIPE, StreamKind.TERMINAL, StreamKind.UNKNOWN):
            container_logs = True
        else:
            readable = False
            notes.append(_stdio_note(label, kind, pid))
        if readable and label == "access log":
            access_readable = True
    from_open_files = False
    found: list[LogFileRef] = []
    if access_unknown:
        found = [
            ref
            for ref in (log_file_ref(pid, path, in_container) for path in appended_files(pid))
            if ref is not None
        ]
        from_open_files = bool(found)
        files.extend(found)
        notes.append(
            "configuration hidden: following the files the master writes"
            if found
            else "configuration hidden and no log file open in the master"
        )
    return SourcePlan(
        container_logs,
        tuple(dict.fromkeys(files)),
        tuple(notes),
        access_enabled,
        from_open_files,
        access_readable and access_enabled is True,
        tuple(found) if access_unknown else (),
    )


def _names_stdio(value: str) -> bool:
    return value.startswith("/") and stdio_descriptor(value, lambda _path: None) is not None


def _plan_file(
    label: str, ref: LogFileRef, in_container: bool, files: list[LogFileRef], notes: list[str]
) -> bool | None:
    """Follow ``ref`` if it is (or may become) a regular file: True. A FIFO,
    device or socket is never read: False, with a note; None when, in a
    container, its lines may reach the log stream instead (a FIFO's reader
    there usually forwards them to the container's stdout)."""
    try:
        mode = file_status(ref).st_mode
    except OSError:
        mode = None  # absent yet, or unreachable: the follower says which
    if mode is None or stat.S_ISREG(mode):
        files.append(ref)
        return True
    kind = file_kind(mode)
    if in_container and stat.S_ISFIFO(mode):
        notes.append(
            f"{label} {ref.display} is a FIFO: not read (that would take lines from its "
            "reader); following the container's log stream, where its reader may forward them"
        )
        return None
    notes.append(f"{label} {ref.display} is a {kind}: not read; log to a regular file")
    return False


def _udp_address(text: str) -> tuple[str, int] | None:
    """``0100007F:1F8D`` (/proc/net/udp) or its 32-digit IPv6 form."""
    try:
        address_hex, port_hex = text.split(":")
        port = int(port_hex, 16)
        raw = bytes.fromhex(address_hex)
    except ValueError:
        return None
    if len(raw) not in (4, 16):
        return None
    # The kernel prints each 32-bit word in host (little-endian) order.
    ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(ordered)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address), port


@dataclass(frozen=True)
class UdpPeer:
    """A connected UDP socket: where it sends, and its own port (the
    sender port a receiver sees, on the same host)."""

    host: str
    port: int
    local_port: int


def statsd_peers(pid: int) -> list[UdpPeer]:
    """Where ``pid``'s connected UDP sockets send: Gunicorn's StatsD logger
    connects one in the master to ``statsd_host`` (the workers inherit it),
    so this names the StatsD target when the configuration is hidden, and
    the port its packets come from."""
    fd_dir = f"{PROC}/{pid}/fd"
    inodes: set[str] = set()
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return []
    for name in names:
        target = _fd_target(pid, int(name)) if name.isdigit() else None
        if target is not None and target.startswith("socket:["):
            inodes.add(target[8:-1])
    peers: list[UdpPeer] = []
    for table in ("udp", "udp6"):
        try:
            with open(f"{PROC}/{pid}/net/{table}", encoding="ascii", errors="replace") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 10 or fields[9] not in inodes:
                continue
            remote = _udp_address(fields[2])
            local = _udp_address(fields[1])
            if remote is not None and remote[1] != 0 and local is not None:
                peers.append(UdpPeer(remote[0], remote[1], local[1]))
    return peers
