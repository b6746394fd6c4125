"""Recover a master's Gunicorn arguments when setproctitle has hidden them.

setproctitle overwrites both /proc/<pid>/cmdline and /proc/<pid>/environ of
the master (and of the workers it forks). The original words usually survive
one level up: in a wrapper's command line (``sh -c "gunicorn ..."``, ``tini --
gunicorn ...``) or in the container's own command (``Path`` + ``Args``).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence

from gunicorn_tui.discovery.process_tree import gunicorn_args

_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "busybox"})
_INIT_WRAPPERS = frozenset({"tini", "tini-static", "dumb-init", "catatonit", "docker-init"})
_SHELL_SEPARATORS = re.compile(r"\s*(?:&&|\|\||;|\|)\s*")
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def args_from_command(argv: Sequence[str]) -> tuple[str, ...] | None:
    """Gunicorn's arguments inside a command, looking through wrappers."""
    direct = gunicorn_args(argv)
    if direct is not None:
        return direct
    if not argv:
        return None
    head = os.path.basename(argv[0])
    if head in _INIT_WRAPPERS:
        rest = list(argv[1:])
        if "--" in rest:
            rest = rest[rest.index("--") + 1 :]
        else:
            while rest and rest[0].startswith("-"):
                rest.pop(0)
        return args_from_command(rest)
    if head == "env":
        rest = [word for word in argv[1:] if not _ENV_ASSIGNMENT.match(word)]
        while rest and rest[0].startswith("-"):
            rest.pop(0)
        return args_from_command(rest)
    if head in _SHELLS and "-c" in argv:
        index = list(argv).index("-c")
        if index + 1 < len(argv):
            return args_from_shell_string(argv[index + 1])
    return None


def args_from_shell_string(script: str) -> tuple[str, ...] | None:
    """Gunicorn's arguments in a shell command string (``sh -c "..."``)."""
    for statement in _SHELL_SEPARATORS.split(script):
        try:
            words = shlex.split(statement, comments=True)
        except ValueError:
            continue
        while words and (words[0] == "exec" or _ENV_ASSIGNMENT.match(words[0])):
            words.pop(0)
        found = args_from_command(words)
        if found is not None:
            return found
    return None
