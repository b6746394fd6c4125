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

from gunicorn_tui.host.process_tree import gunicorn_args

_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "busybox"})
_INIT_WRAPPERS = frozenset({"tini", "tini-static", "dumb-init", "catatonit", "docker-init"})
# A background "&" starts a second command just like ";" does: two servers
# started by one script must not be read as one command line.
_SHELL_SEPARATORS = re.compile(r"\s*(?:&&|\|\||;|\||&|\n)\s*")
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Words that expand to every positional parameter, once shlex removed quotes.
_ALL_POSITIONAL = frozenset({"$@", "${@}", "$*", "${*}"})
# env(1) options whose value is the next word.
_ENV_OPTIONS_WITH_VALUE = frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"})


def args_from_command(argv: Sequence[str]) -> tuple[str, ...] | None:
    """Gunicorn's arguments inside a command, looking through wrappers.

    When the command starts several servers, these are the first one's.
    """
    found = all_args_from_command(argv)
    return found[0] if found else None


def all_args_from_command(argv: Sequence[str]) -> list[tuple[str, ...]]:
    """The arguments of every Gunicorn started by a command, in order."""
    direct = gunicorn_args(argv)
    if direct is not None:
        return [direct]
    if not argv:
        return []
    head = os.path.basename(argv[0])
    if head in _INIT_WRAPPERS:
        rest = list(argv[1:])
        if "--" in rest:
            rest = rest[rest.index("--") + 1 :]
        else:
            while rest and rest[0].startswith("-"):
                rest.pop(0)
        return all_args_from_command(rest)
    if head == "env":
        rest = list(argv[1:])
        while rest and (rest[0].startswith("-") or _ENV_ASSIGNMENT.match(rest[0])):
            word = rest.pop(0)
            if word in _ENV_OPTIONS_WITH_VALUE and rest:
                rest.pop(0)
        return all_args_from_command(rest)
    if head in _SHELLS:
        found = _shell_script(argv)
        if found is not None:
            return all_args_from_shell_string(*found)
    return []


def _shell_script(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    """The script of ``sh -c SCRIPT [NAME [ARGS...]]`` and its ARGS (``$@``)."""
    # -c may come in a cluster of short options (sh -ec, bash -lc), after
    # long options (bash --norc -c) or after -o OPTION.
    words = list(argv[1:])
    while words:
        word = words.pop(0)
        if word in ("-o", "+o"):
            if words:
                words.pop(0)
            continue
        if word == "--" or not word.startswith(("-", "+")):
            return None
        if word.startswith("--"):
            continue
        if "c" in word[1:]:
            return (words[0], words[2:]) if words else None
    return None


def all_args_from_shell_string(
    script: str, positional: Sequence[str] = ()
) -> list[tuple[str, ...]]:
    """The arguments of every Gunicorn a shell command string starts.

    ``"$@"`` stands for ``positional`` (the words after ``sh -c SCRIPT NAME``).
    A command using any other expansion (``$PORT``, backquotes) is left out:
    its words are only known to the shell that ran it.
    """
    found: list[tuple[str, ...]] = []
    for statement in _SHELL_SEPARATORS.split(script):
        try:
            words = shlex.split(statement, comments=True)
        except ValueError:
            continue
        while words and (words[0] == "exec" or _ENV_ASSIGNMENT.match(words[0])):
            words.pop(0)
        expanded: list[str] = []
        for word in words:
            if word in _ALL_POSITIONAL:
                expanded.extend(positional)
            else:
                expanded.append(word)
        commands = all_args_from_command(expanded)
        if any("$" in word or "`" in word for command in commands for word in command):
            continue
        found.extend(commands)
    return found
