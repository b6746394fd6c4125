"""Where an instance's access and error logs can be read from, here.

Gunicorn's ``accesslog`` and ``errorlog`` settings say "-" (stdout, stderr)
or a path. What "-" means depends on where the master's output goes:

- a container's stdout/stderr (a pipe or a pty the container runtime reads)
  are its log stream: follow it through the Docker API;
- a regular file (a wrapper redirected it; the demo) is followed as a file;
- a pipe or terminal of a host process cannot be read without stealing the
  lines from whoever reads them: say so, and say how to get a file.

Paths are opened through ``/proc/<master>/root`` so a file inside a container
is reached from the host without an exec.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum

from gunicorn_tui.model.instances import ConfigSource, InstanceSample, SamplingMode, Source
from gunicorn_tui.sampling.procfs import PROC


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
    """How to read one instance's logs."""

    container_logs: bool
    files: tuple[str, ...]
    notes: tuple[str, ...]
    access_log_enabled: bool


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


def host_path(pid: int, path: str, in_container: bool) -> str:
    """A path as the master sees it, reachable from this host."""
    if in_container:
        return f"{PROC}/{pid}/root{path}" if path.startswith("/") else f"{PROC}/{pid}/cwd/{path}"
    if path.startswith("/"):
        return path
    return f"{PROC}/{pid}/cwd/{path}"


def plan_sources(sample: InstanceSample) -> SourcePlan:
    """Decide what to follow for ``sample``."""
    accesslog = sample.config.value("accesslog")
    errorlog = sample.config.value("errorlog")
    access_unknown = sample.config.get("accesslog").source is ConfigSource.UNKNOWN
    if access_unknown:
        # The command line is hidden: look at stdout in case it logs there.
        accesslog = "-"
    access_enabled = isinstance(accesslog, str) and accesslog != ""
    in_container = sample.source is Source.DOCKER
    pid = sample.master.pid
    notes: list[str] = []
    files: list[str] = []
    container_logs = False

    if sample.mode is SamplingMode.API:
        # Only the log stream is reachable through a remote daemon.
        container_logs = True
        for setting, value in (("access log", accesslog), ("error log", errorlog)):
            if isinstance(value, str) and value not in ("-", ""):
                notes.append(
                    f"{setting} is a file in the container ({value}): not readable "
                    "through a remote daemon; log to '-' to see it"
                )
        return SourcePlan(container_logs, (), tuple(notes), access_enabled)

    if pid is None:
        return SourcePlan(False, (), ("master pid unknown",), access_enabled)

    wanted: list[tuple[str, str | None, int]] = []
    if access_enabled:
        wanted.append(("access log", str(accesslog), 1))
    if errorlog is None or isinstance(errorlog, str):
        wanted.append(("error log", str(errorlog) if errorlog is not None else "-", 2))

    for label, value, fd in wanted:
        if value not in ("-", None):
            files.append(host_path(pid, str(value), in_container))
            continue
        target = _fd_target(pid, fd)
        kind = classify_target(target) if target is not None else StreamKind.UNKNOWN
        if kind is StreamKind.FILE and target is not None:
            files.append(host_path(pid, target, in_container))
        elif in_container and kind in (StreamKind.PIPE, StreamKind.TERMINAL, StreamKind.UNKNOWN):
            container_logs = True
        elif kind is StreamKind.NULL:
            notes.append(f"{label} goes to /dev/null")
        else:
            notes.append(
                f"{label} goes to a {kind.value} of pid {pid}: gtui cannot read it without "
                f"taking the lines from its reader; log to a file instead"
            )
    return SourcePlan(container_logs, tuple(dict.fromkeys(files)), tuple(notes), access_enabled)
