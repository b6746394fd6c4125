"""Recognise Gunicorn masters and workers in a set of processes.

Pure functions over :class:`ProcRecord`, so the same rules apply to host
processes read from /proc and to the rows of ``docker top`` on a remote
daemon.

Rules (see ../shared/notes/gunicorn.md):
- With setproctitle, titles say ``gunicorn: master [NAME]`` and
  ``gunicorn: worker [NAME]``.
- Without it, master and workers show the same command line. A Gunicorn
  process whose parent is not a Gunicorn process is a master; a Gunicorn
  child of a master is a worker, unless it is the new master of a USR2
  re-exec (see :func:`role_under_master`).
- Wrappers (``sh -c "gunicorn ..."``, tini, dumb-init) are not Gunicorn
  processes themselves, so the master below them is found by the same rule.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

_TITLE = re.compile(r"^gunicorn: (master|worker|dirty-arbiter|dirty-worker)(?: \[(.*)\])?")
_PYTHON = re.compile(r"^(?:python|pypy)(?:\d+(?:\.\d+)*)?$")
# Gunicorn's console scripts and module entry points.
_GUNICORN_SCRIPTS = frozenset({"gunicorn", "gunicorn_paster"})
_GUNICORN_MODULES = frozenset({"gunicorn", "gunicorn.app.wsgiapp"})


class Role(StrEnum):
    """What a Gunicorn process is to its server."""

    MASTER = "master"
    WORKER = "worker"
    DIRTY_ARBITER = "dirty-arbiter"
    DIRTY_WORKER = "dirty-worker"


@dataclass(frozen=True)
class ProcRecord:
    """The facts about one process that recognition needs."""

    pid: int
    ppid: int
    argv: tuple[str, ...]


@dataclass(frozen=True)
class GunicornTree:
    """One master and the processes it owns, as found."""

    master_pid: int
    workers: tuple[int, ...]
    auxiliary: tuple[int, ...]
    name: str | None
    argv: tuple[str, ...]
    titled: bool
    parent_master_pid: int | None


def parse_title(argv: Sequence[str]) -> tuple[Role, str | None] | None:
    """Role and name from a setproctitle title, or None if not titled."""
    if not argv:
        return None
    title = " ".join(argv).strip()
    match = _TITLE.match(title)
    if match is None:
        return None
    return Role(match.group(1)), match.group(2)


def gunicorn_args(argv: Sequence[str]) -> tuple[str, ...] | None:
    """The arguments Gunicorn itself parses, or None if ``argv`` does not run it.

    Accepts ``gunicorn ARGS``, ``/path/bin/gunicorn ARGS``,
    ``python3 /path/bin/gunicorn ARGS`` and ``python -m gunicorn ARGS``.
    """
    if not argv:
        return None
    first = os.path.basename(argv[0])
    if first in _GUNICORN_SCRIPTS:
        return tuple(argv[1:])
    if not _PYTHON.match(first):
        return None
    index = 1
    while index < len(argv):
        arg = argv[index]
        if arg == "-m" and index + 1 < len(argv):
            if argv[index + 1] in _GUNICORN_MODULES:
                return tuple(argv[index + 2 :])
            return None
        if arg.startswith("-m") and len(arg) > 2:
            return tuple(argv[index + 1 :]) if arg[2:] in _GUNICORN_MODULES else None
        if arg.startswith("-"):
            # Interpreter flags such as -u, -X dev, -W ignore.
            index += 2 if arg in ("-X", "-W") else 1
            continue
        if os.path.basename(arg) in _GUNICORN_SCRIPTS or _is_gunicorn_main(arg):
            return tuple(argv[index + 1 :])
        return None
    return None


def _is_gunicorn_main(path: str) -> bool:
    # A master started with `python -m gunicorn` re-executes itself on USR2
    # as `python /path/to/gunicorn/__main__.py ...` (sys.argv[0] of -m).
    head, tail = os.path.split(path)
    return tail == "__main__.py" and os.path.basename(head) == "gunicorn"


def is_gunicorn(argv: Sequence[str]) -> bool:
    """True when the process is a titled or untitled Gunicorn process."""
    return parse_title(argv) is not None or gunicorn_args(argv) is not None


def name_from_args(args: Sequence[str]) -> str | None:
    """The server name Gunicorn would title itself with: ``--name`` or APP_MODULE."""
    name: str | None = None
    positional: list[str] = []
    skip_next = False
    for index, arg in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        if arg in ("-n", "--name") and index + 1 < len(args):
            name = args[index + 1]
            skip_next = True
        elif arg.startswith("--name="):
            name = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            # Options that take a value as the next word; a value glued with '='
            # or a flag takes none. Unknown options are assumed to take one only
            # when the next word does not look like an app module.
            skip_next = "=" not in arg and not _is_flag(arg)
        else:
            positional.append(arg)
    if name:
        return name
    return positional[-1] if positional else None


_FLAGS = frozenset(
    {
        "--preload",
        "--reload",
        "-D",
        "--daemon",
        "--check-config",
        "--print-config",
        "--spew",
        "-R",
        "--enable-stdio-inheritance",
        "--capture-output",
        "--no-sendfile",
        "--reuse-port",
        "--strip-header-spaces",
        "--no-control-socket",
        "--proxy-protocol",
        "--suppress-ragged-eofs",
        "--do-handshake-on-connect",
        "--log-syslog",
        "--disable-redirect-access-to-syslog",
        "--paste-global",
        "--initgroups",
        "--http2",
        "--version",
        "-v",
        "--help",
        "-h",
    }
)


def _is_flag(arg: str) -> bool:
    return arg in _FLAGS


def find_trees(records: Iterable[ProcRecord]) -> list[GunicornTree]:
    """Group Gunicorn processes into one tree per master.

    Processes that are neither Gunicorn nor children of a master are ignored.
    The result is sorted by master pid.
    """
    by_pid: dict[int, ProcRecord] = {record.pid: record for record in records}
    children: dict[int, list[int]] = {}
    for record in by_pid.values():
        children.setdefault(record.ppid, []).append(record.pid)
    gunicorn_pids = {pid for pid, record in by_pid.items() if is_gunicorn(record.argv)}

    roles: dict[int, Role] = {}
    for pid in gunicorn_pids:
        roles[pid] = _role(by_pid[pid], by_pid, children, gunicorn_pids)

    trees: list[GunicornTree] = []
    for pid, role in sorted(roles.items()):
        if role is not Role.MASTER:
            continue
        record = by_pid[pid]
        workers: list[int] = []
        auxiliary: list[int] = []
        for child in sorted(children.get(pid, [])):
            child_role = roles.get(child)
            if child_role is Role.WORKER:
                workers.append(child)
            elif child_role in (Role.DIRTY_ARBITER, Role.DIRTY_WORKER):
                auxiliary.append(child)
        title = parse_title(record.argv)
        args = gunicorn_args(record.argv)
        name = title[1] if title else (name_from_args(args) if args is not None else None)
        parent = record.ppid if roles.get(record.ppid) is Role.MASTER else None
        trees.append(
            GunicornTree(
                master_pid=pid,
                workers=tuple(workers),
                auxiliary=tuple(auxiliary),
                name=name,
                argv=record.argv,
                titled=title is not None,
                parent_master_pid=parent,
            )
        )
    return trees


def _role(
    record: ProcRecord,
    by_pid: Mapping[int, ProcRecord],
    children: Mapping[int, list[int]],
    gunicorn_pids: set[int],
) -> Role:
    title = parse_title(record.argv)
    if record.ppid not in gunicorn_pids:
        return title[0] if title is not None else Role.MASTER
    has_gunicorn_children = any(child in gunicorn_pids for child in children.get(record.pid, []))
    return role_under_master(record.argv, by_pid[record.ppid].argv, has_gunicorn_children)


def role_under_master(
    argv: Sequence[str], parent_argv: Sequence[str], has_gunicorn_children: bool
) -> Role:
    """The role of a Gunicorn process whose parent is a Gunicorn process.

    A worker is forked, not executed: until it sets its own title it shows
    its master's command line or title exactly. The new master of a USR2
    re-exec is executed: it shows Gunicorn's argv, then titles itself
    ``master [NAME.2]``. So a child is a new master when it shows a title
    with another name, or an untitled command line under a titled master or
    one that differs from its untitled master's. An untitled child showing
    its untitled master's very words is a worker unless it runs Gunicorn
    processes of its own (a worker whose app forks copies of itself looks
    the same; the caller may know better, from the environment).
    """
    title = parse_title(argv)
    parent_title = parse_title(parent_argv)
    if title is not None:
        role, name = title
        if role is not Role.MASTER:
            return role
        if parent_title is not None and name != parent_title[1]:
            return Role.MASTER
    elif parent_title is not None or tuple(argv) != tuple(parent_argv):
        return Role.MASTER
    return Role.MASTER if has_gunicorn_children else Role.WORKER
