"""Small, exact reads of /proc files that psutil does not cover cheaply.

Every function here takes a host pid and raises only ``ProcessGone`` (the
process ended) or ``PermissionError`` (the field is not readable by us); the
caller decides how to show either.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

PROC = "/proc"


NO_PROCFS_NOTICE = (
    "no /proc here (macOS?): containers are read through the Docker API alone, "
    "host servers are not seen"
)


def procfs_available() -> bool:
    """Whether this system has a Linux /proc to read processes from."""
    return os.path.isdir(f"{PROC}/self")


class ProcessGone(Exception):
    """The process ended (or its pid was reused) while it was being read."""


_CHUNK_BYTES = 65536


def read_whole(path: str) -> bytes:
    """All of ``path`` as bytes (small /proc and cgroup files)."""
    # Plain os.open/os.read: half the CPU of a buffered open() for the small
    # files read hundreds of times a second (~10 us against ~20 us here).
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = [os.read(fd, _CHUNK_BYTES)]
        while chunks[-1]:
            chunks.append(os.read(fd, _CHUNK_BYTES))
    finally:
        os.close(fd)
    return b"".join(chunks)


# /proc/PID/stat, statm and schedstat are one line each, far below this,
# and the kernel renders such a file whole at the first read: a read that
# comes back shorter than asked is the whole file, and the read that would
# only say "end of file" is saved (a third of the system calls of the reads
# made for every process every second).
_ONE_LINE_BYTES = 4096


def read_one_line_file(path: str) -> bytes:
    """``path``, a one-line /proc file, in one read when it fits in one."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, _ONE_LINE_BYTES)
        if len(data) < _ONE_LINE_BYTES:
            return data
        chunks = [data]
        while chunks[-1]:
            chunks.append(os.read(fd, _CHUNK_BYTES))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_bytes(path: str, reader: Callable[[str], bytes] = read_whole) -> bytes:
    try:
        return reader(path)
    except (FileNotFoundError, ProcessLookupError) as error:
        raise ProcessGone(path) from error
    except OSError as error:
        # ESRCH shows up as a plain OSError on some kernels for dead tasks.
        if error.errno == 3:
            raise ProcessGone(path) from error
        raise


def read_cmdline_bytes(pid: int) -> bytes:
    """The raw command line (NUL-separated words)."""
    return _read_bytes(f"{PROC}/{pid}/cmdline")


def read_argv(pid: int) -> tuple[str, ...]:
    """The command line, as words; a setproctitle title is one word."""
    return parse_argv(read_cmdline_bytes(pid))


def parse_argv(raw: bytes) -> tuple[str, ...]:
    """Words of a raw command line; a setproctitle title is one word."""
    words = [word for word in raw.split(b"\0") if word]
    text = [word.decode("utf-8", "replace") for word in words]
    if len(text) == 1 and text[0].startswith("gunicorn: "):
        # setproctitle pads the title with spaces on some versions.
        return (text[0].rstrip(),)
    return tuple(text)


def read_ppid(pid: int) -> int:
    """Parent pid from /proc/<pid>/stat (after the command's closing paren)."""
    raw = _read_bytes(f"{PROC}/{pid}/stat", read_one_line_file)
    tail = raw[raw.rfind(b")") + 2 :].split()
    return int(tail[1])


@dataclass(frozen=True)
class ProcStat:
    """The figures a sample needs from /proc/<pid>/stat, read in one go."""

    cpu_time_s: float
    start_ticks: int
    rss_bytes: int
    threads: int


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def read_stat(pid: int) -> ProcStat:
    """CPU time (user + system, all threads), start time and RSS of ``pid``.

    Two small reads, where psutil's ``is_running`` plus ``oneshot`` costs
    about five times as much CPU. ``start_ticks`` tells a reused pid apart.
    RSS comes from ``statm`` (as psutil's does, equal to VmRSS): the RSS
    field of ``stat`` is an unsummed per-CPU counter, off by ~0.5% on recent
    kernels.
    """
    raw = _read_bytes(f"{PROC}/{pid}/stat", read_one_line_file)
    rss_bytes = read_rss_bytes(pid)
    # Fields counted after the command name, which may hold spaces and ")".
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return ProcStat(
            cpu_time_s=(int(fields[11]) + int(fields[12])) / _CLOCK_TICKS,
            start_ticks=int(fields[19]),
            rss_bytes=rss_bytes,
            threads=int(fields[17]),
        )
    except (IndexError, ValueError) as error:
        raise ProcessGone(f"{pid}: unreadable stat line") from error


def read_rss_bytes(pid: int) -> int:
    """Resident memory from ``statm`` (VmRSS, as psutil reports it)."""
    statm = _read_bytes(f"{PROC}/{pid}/statm", read_one_line_file).split()
    try:
        return int(statm[1]) * _PAGE_BYTES
    except (IndexError, ValueError) as error:
        raise ProcessGone(f"{pid}: unreadable statm line") from error


def read_sched_ns(pid: int) -> int | None:
    """Nanoseconds the process's main thread has spent on a CPU
    (``schedstat``'s first field), or None when the kernel has no schedstat.

    One small read and no parsing beyond one number: a cheap "has it run
    since?" test. It counts the main thread only (``/proc/<pid>/task/*``
    has the others), so it says "did not run" only for a process that had a
    single thread.
    """
    try:
        raw = _read_bytes(f"{PROC}/{pid}/schedstat", read_one_line_file)
    except PermissionError:
        return None
    except ProcessGone:
        if os.path.exists(f"{PROC}/{pid}"):
            return None  # the process is there: the kernel lacks schedstat
        raise
    end = raw.find(b" ")
    try:
        return int(raw[:end] if end > 0 else raw)
    except ValueError:
        return None


def read_ns_pid(pid: int) -> int | None:
    """The pid as seen inside the process's own pid namespace (``NSpid``)."""
    raw = _read_bytes(f"{PROC}/{pid}/status")
    for line in raw.splitlines():
        if line.startswith(b"NSpid:"):
            fields = line.split()[1:]
            return int(fields[-1]) if fields else None
    return None


def read_children(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (``/proc/<pid>/task/*/children``).

    Much cheaper than scanning every process for its parent. Raises
    ``FileNotFoundError`` when the kernel lacks CONFIG_PROC_CHILDREN, which
    callers treat as "fall back to a scan".
    """
    try:
        tasks = os.listdir(f"{PROC}/{pid}/task")
    except FileNotFoundError as error:
        raise ProcessGone(str(pid)) from error
    children: list[int] = []
    for task in tasks:
        try:
            raw = _read_bytes(f"{PROC}/{pid}/task/{task}/children")
        except ProcessGone:
            # A thread that ended; the process itself may be alive.
            if not os.path.exists(f"{PROC}/{pid}"):
                raise
            continue
        children.extend(int(word) for word in raw.split())
    return children


def read_environ(pid: int) -> dict[str, str]:
    """The environment the process started with."""
    raw = _read_bytes(f"{PROC}/{pid}/environ")
    environment: dict[str, str] = {}
    for entry in raw.split(b"\0"):
        if b"=" in entry:
            key, _, value = entry.partition(b"=")
            environment[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return environment


def read_cgroup_lines(pid: int) -> list[str]:
    """Lines of /proc/<pid>/cgroup (``ID:CONTROLLERS:PATH``)."""
    return _read_bytes(f"{PROC}/{pid}/cgroup").decode("utf-8", "replace").splitlines()


@dataclass(frozen=True)
class OpenFiles:
    """What a process's descriptors point at, as gtui needs it."""

    heartbeat_paths: tuple[str, ...]
    heartbeat_fd_paths: tuple[str, ...]
    socket_inodes: frozenset[int]


def read_open_files(pid: int) -> OpenFiles:
    """Heartbeat temp files (``wgunicorn-*``) and socket inodes of ``pid``."""
    fd_dir = f"{PROC}/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except (FileNotFoundError, ProcessLookupError) as error:
        raise ProcessGone(fd_dir) from error
    heartbeats: list[str] = []
    heartbeat_fds: list[str] = []
    sockets: set[int] = set()
    for name in names:
        link_path = f"{fd_dir}/{name}"
        try:
            target = os.readlink(link_path)
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            sockets.add(int(target[8:-1]))
        elif "wgunicorn-" in target:
            heartbeats.append(target)
            heartbeat_fds.append(link_path)
    return OpenFiles(tuple(heartbeats), tuple(heartbeat_fds), frozenset(sockets))


@dataclass(frozen=True)
class Heartbeat:
    """A worker's heartbeat file: when it was last touched, and whether ever."""

    touched_at: float
    ever_touched: bool


def read_heartbeat(fd_path: str) -> Heartbeat | None:
    """Read a worker's heartbeat through its descriptor link.

    Gunicorn >= 21 touches the file with ``os.utime(fd, (monotonic,
    monotonic))``: the kernel stamps ``st_ctime`` with the wall clock, and
    ``st_mtime`` holds a monotonic value far from the wall-clock creation time
    the file started with. Gunicorn 20 toggled the mode between 0 and 1 with
    ``fchmod`` (also moving ``st_ctime``); a fresh file has mode 0600. Either
    way ``st_ctime`` is the last touch in wall-clock seconds. Returns None when
    the descriptor is gone (worker exited).
    """
    try:
        stat = os.stat(fd_path)
    except (FileNotFoundError, ProcessLookupError):
        return None
    ever_touched = (stat.st_mode & 0o777) in (0, 1) or abs(stat.st_mtime - stat.st_ctime) > 1.0
    return Heartbeat(touched_at=stat.st_ctime, ever_touched=ever_touched)


def read_uss_bytes(pid: int) -> int:
    """Unique set size: private pages, the memory freed if the process exits."""
    raw = _read_bytes(f"{PROC}/{pid}/smaps_rollup")
    total_kib = 0
    for line in raw.splitlines():
        if line.startswith((b"Private_Clean:", b"Private_Dirty:", b"Private_Hugetlb:")):
            total_kib += int(line.split()[1])
    return total_kib * 1024


def read_net_namespace(pid: int) -> str:
    """An identifier of the process's network namespace."""
    try:
        return os.readlink(f"{PROC}/{pid}/ns/net")
    except (FileNotFoundError, ProcessLookupError) as error:
        raise ProcessGone(str(pid)) from error


def parse_environ_list(entries: list[str] | None) -> Mapping[str, str]:
    """``["K=V", ...]`` (Docker's Config.Env) as a mapping."""
    environment: dict[str, str] = {}
    for entry in entries or []:
        key, sep, value = entry.partition("=")
        if sep:
            environment[key] = value
    return environment
