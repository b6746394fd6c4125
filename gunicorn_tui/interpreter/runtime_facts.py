"""A server's Gunicorn version and installed worker classes, from its files.

Three ways in, none of which runs the server's code with gtui's privileges:

- a host master: its files read in-process, with the master's own
  filesystem uid when it belongs to another user (:mod:`host.fs_identity`);
- a container on a local daemon: its files read through ``/proc/PID/root``
  with every path resolved inside the container's root
  (:class:`host.rooted_files.RootedFiles`);
- a container on a remote daemon: the same scan, run as a script with the
  container's own interpreter in isolated mode (``-I -S``: no site, no
  environment, nothing of the app imported) through ``docker exec``, i.e.
  inside the container's sandbox with its user.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gunicorn_tui.host.fs_identity import as_file_user
from gunicorn_tui.host.rooted_files import RootedFiles
from gunicorn_tui.interpreter import scan as scanner
from gunicorn_tui.interpreter.scan import FileView, OsFiles, ScanResult

PROC = "/proc"
EXEC_TIMEOUT_S = 20.0


class ProbeFailed(Exception):
    """The server's files could not be read, or the in-container scan did not answer."""


@dataclass(frozen=True)
class RuntimeFacts:
    """What the server's installation holds, and how that was found out."""

    python_version: str | None
    gunicorn_version: str | None
    # The interpreter that gives the server's import path (a venv's python).
    interpreter: str | None = None
    modules: Mapping[str, bool] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    # "files", "files as uid N", "files in the container's root", "docker exec scan"
    method: str = "files"
    notes: tuple[str, ...] = ()


def _facts(result: ScanResult, method: str) -> RuntimeFacts:
    return RuntimeFacts(
        python_version=result.python_version,
        gunicorn_version=result.gunicorn_version,
        interpreter=result.interpreter,
        modules=dict(result.modules),
        errors=dict(result.errors),
        method=method,
        notes=result.notes,
    )


def _same_root(pid: int) -> bool:
    try:
        theirs = os.stat(f"{PROC}/{pid}/root")
        ours = os.stat("/")
    except OSError as error:
        raise ProbeFailed(f"cannot see the root of pid {pid}: {error.strerror}") from error
    return (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)


def _owner(pid: int) -> tuple[int, int]:
    try:
        info = os.stat(f"{PROC}/{pid}")
    except OSError as error:
        raise ProbeFailed(f"pid {pid} is gone") from error
    return info.st_uid, info.st_gid


def _home_of(uid: int) -> str | None:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_dir
    except (KeyError, ImportError):
        return None


def local_runtime_facts(
    pid: int,
    modules: Sequence[str] = (),
    *,
    argv: Sequence[str] | None = None,
    environment: Mapping[str, str] | None = None,
) -> RuntimeFacts:
    """Scan the installation of a process on this machine (host or local container).

    ``argv`` and ``environment`` override what /proc shows, for a master
    whose command line and environment setproctitle hid and that were
    recovered elsewhere (a wrapper, the container's spec).
    """
    process = scanner.read_process_facts(pid, PROC)
    if process.executable is None and process.cwd is None:
        raise ProbeFailed(f"cannot read /proc/{pid} (gone, or not permitted)")
    if argv is not None and process.argv is None:
        process = replace(process, argv=tuple(argv))
    if environment is not None and not process.environment:
        process = replace(process, environment=dict(environment))
    if _same_root(pid):
        uid, gid = _owner(pid)
        process = replace(process, home=_home_of(uid))
        files: FileView = OsFiles()
        if os.geteuid() == 0 and uid != 0:
            result = as_file_user(uid, gid, lambda: scanner.scan(process, files, modules))
            return _facts(result, f"files as uid {uid}")
        return _facts(scanner.scan(process, files, modules), "files")
    try:
        rooted = RootedFiles(f"{PROC}/{pid}/root")
    except OSError as error:
        raise ProbeFailed(f"cannot open the container's root: {error.strerror}") from error
    with rooted:
        return _facts(scanner.scan(process, rooted, modules), "files in the container's root")


def _script_source() -> str:
    return Path(scanner.__file__).read_text(encoding="utf-8")


def container_exec_runtime_facts(
    container: Any,
    interpreters: Sequence[str],
    ns_pid: int | None,
    modules: Sequence[str] = (),
    *,
    argv: Sequence[str] | None = None,
    environment: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> RuntimeFacts:
    """Run the scan inside a container (remote daemon) with its own interpreter.

    ``python -I -S -c SCAN`` imports only the standard library; it reads
    ``/proc/NS_PID`` as the container sees it, unless ``argv``,
    ``environment`` and ``cwd`` are given (from the container's spec).
    """
    request: dict[str, object] = {"modules": list(modules)}
    if ns_pid is not None and argv is None:
        request["pid"] = ns_pid
    else:
        request["process"] = {
            "executable": None,
            "argv": list(argv) if argv is not None else None,
            "environment": dict(environment or {}),
            "cwd": cwd or "/",
        }
    source = _script_source()
    last_error = "no interpreter to run"
    for interpreter in interpreters:
        try:
            result = container.exec_run(
                [interpreter, "-I", "-S", "-c", source, json.dumps(request)],
                workdir="/",
                environment={"PATH": "/usr/local/bin:/usr/bin:/bin"},
            )
        except Exception as error:  # docker.errors.* and transport errors
            raise ProbeFailed(f"docker exec failed: {error}") from error
        output = result.output.decode("utf-8", "replace") if result.output else ""
        for line in reversed(output.splitlines()):
            if line.startswith("GTUI-SCAN "):
                try:
                    parsed = ScanResult.from_json(json.loads(line[len("GTUI-SCAN ") :]))
                except (ValueError, TypeError) as error:
                    raise ProbeFailed(f"scan output not understood: {error}") from error
                return _facts(parsed, "docker exec scan")
        tail = output.strip().splitlines()[-1][:200] if output.strip() else "no output"
        last_error = f"{interpreter}: {tail}"
    raise ProbeFailed(last_error)
