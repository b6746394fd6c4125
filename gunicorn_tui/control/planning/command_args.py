"""Find Gunicorn's arguments in a container's command and rewrite settings in them.

A retune that re-creates a container changes a setting where it lives:
on the command line (``Entrypoint`` + ``Cmd``, a ``sh -c`` script, or a
``Cmd`` passed through an entrypoint script), or in ``GUNICORN_CMD_ARGS`` /
``WEB_CONCURRENCY``. Everything else in the command is left word for word.

Pure functions over words and strings.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gunicorn_tui.host.process_tree import gunicorn_args
from gunicorn_tui.model.instances import ConfigValue
from gunicorn_tui.settings.command_line import parse_arguments

# Gunicorn's command-line flags for the retunable settings (checked against the
# installed Gunicorn by a test). The last flag is the one gtui writes.
OPTION_FLAGS: dict[str, tuple[str, ...]] = {
    "workers": ("-w", "--workers"),
    "worker_class": ("-k", "--worker-class"),
    "threads": ("--threads",),
    "worker_connections": ("--worker-connections",),
    "timeout": ("-t", "--timeout"),
    "graceful_timeout": ("--graceful-timeout",),
    "max_requests": ("--max-requests",),
    "max_requests_jitter": ("--max-requests-jitter",),
    "keepalive": ("--keep-alive",),
    "preload_app": ("--preload",),
}
BOOLEAN_SETTINGS = frozenset({"preload_app"})

_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "busybox"})
_INIT_WRAPPERS = frozenset({"tini", "tini-static", "dumb-init", "catatonit", "docker-init"})
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SHELL_SEPARATOR = re.compile(r"&&|\|\||;|\||\n")
_APP_MODULE = re.compile(r"^[A-Za-z_][\w.]*(:[\w.()\[\]'\",= ]+)?$")


class CannotExpress(ValueError):
    """A change that the command line cannot express (e.g. preload off when a
    config file turns it on: Gunicorn has no ``--no-preload``)."""


def format_value(value: ConfigValue) -> str:
    """A setting value as a command-line word."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _matches(word: str, flags: Sequence[str]) -> tuple[bool, str | None]:
    """(is this word the option, its glued value if any)."""
    for flag in flags:
        if word == flag:
            return True, None
        if flag.startswith("--") and word.startswith(flag + "="):
            return True, word[len(flag) + 1 :]
        if not flag.startswith("--") and word.startswith(flag) and len(word) > len(flag):
            return True, word[len(flag) :]
    return False, None


def rewrite_arguments(args: Sequence[str], changes: Mapping[str, ConfigValue]) -> tuple[str, ...]:
    """``args`` with each changed setting set to its new value.

    An option already present keeps its place and spelling with the new value
    (later repeats are removed: argparse lets the last one win); a missing one
    is inserted at the front. ``preload_app=False`` removes ``--preload``.
    Words after ``--`` are never touched.
    """
    words = list(args)
    for name, value in changes.items():
        flags = OPTION_FLAGS[name]
        words = _rewrite_one(words, name, flags, value)
    return tuple(words)


def _rewrite_one(
    words: list[str], name: str, flags: Sequence[str], value: ConfigValue
) -> list[str]:
    out: list[str] = []
    replaced = False
    index = 0
    end = words.index("--") if "--" in words else len(words)
    while index < len(words):
        word = words[index]
        if index >= end:
            out.append(word)
            index += 1
            continue
        hit, glued = _matches(word, flags)
        if not hit:
            out.append(word)
            index += 1
            continue
        takes_value = name not in BOOLEAN_SETTINGS
        consumed = 1 if (glued is not None or not takes_value) else 2
        if not replaced:
            replaced = True
            if name in BOOLEAN_SETTINGS:
                if value:
                    out.append(word)
            elif glued is not None:
                out.append(word[: len(word) - len(glued)] + format_value(value))
            else:
                out.extend([word, format_value(value)])
        index += consumed
    if not replaced:
        if name in BOOLEAN_SETTINGS:
            insert = [flags[-1]] if value else []
        else:
            insert = [flags[-1], format_value(value)]
        out = insert + out
    return out


class ArgsPlace(StrEnum):
    """Where Gunicorn's arguments live in a container's command."""

    COMMAND = "command"  # Entrypoint + Cmd run gunicorn (maybe via tini/env)
    SHELL_SCRIPT = "shell script"  # sh -c "... gunicorn ..."
    PASSTHROUGH = "Cmd passed to the entrypoint script"


@dataclass(frozen=True)
class ArgsLocation:
    """Gunicorn's arguments in ``Entrypoint`` + ``Cmd``.

    For COMMAND and PASSTHROUGH, ``start``/``end`` index the combined word
    list. For SHELL_SCRIPT, ``script_index`` is the script's word and
    ``start``/``end`` are character offsets of the gunicorn statement in it.
    ``verified`` is False when the place is inferred (an entrypoint script
    whose ``Cmd`` looks like Gunicorn arguments) and not confirmed by the
    master's own arguments.
    """

    place: ArgsPlace
    start: int
    end: int
    arguments: tuple[str, ...]
    script_index: int | None = None
    verified: bool = True


def _direct_span(words: Sequence[str], offset: int = 0) -> tuple[int, int] | None:
    """(start, end) of gunicorn's arguments in ``words`` run directly or via
    tini, dumb-init or env."""
    if not words:
        return None
    found = gunicorn_args(words)
    if found is not None:
        return offset + len(words) - len(found), offset + len(words)
    head = os.path.basename(words[0])
    rest_start = 1
    if head in _INIT_WRAPPERS:
        rest = list(words[1:])
        if "--" in rest:
            rest_start = 1 + rest.index("--") + 1
        else:
            while rest_start < len(words) and words[rest_start].startswith("-"):
                rest_start += 1
        return _direct_span(words[rest_start:], offset + rest_start)
    if head == "env":
        while rest_start < len(words) and (
            _ENV_ASSIGNMENT.match(words[rest_start]) or words[rest_start].startswith("-")
        ):
            rest_start += 1
        return _direct_span(words[rest_start:], offset + rest_start)
    return None


@dataclass(frozen=True)
class _Token:
    text: str
    bare: str


def _shell_tokens(statement: str) -> list[_Token]:
    """Whitespace-split words keeping their quotes (so ``"$PORT"`` survives)."""
    lexer = shlex.shlex(statement, posix=False)
    lexer.whitespace_split = True
    lexer.commenters = ""
    tokens = []
    for text in lexer:
        try:
            bare_words = shlex.split(text)
        except ValueError:
            bare_words = [text]
        tokens.append(_Token(text, bare_words[0] if len(bare_words) == 1 else text))
    return tokens


def _shell_statement_span(script: str) -> tuple[int, int, tuple[str, ...]] | None:
    """Character span of the statement running gunicorn, and its arguments."""
    position = 0
    for separator in [*_SHELL_SEPARATOR.finditer(script), None]:
        stop = separator.start() if separator is not None else len(script)
        statement = script[position:stop]
        try:
            tokens = _shell_tokens(statement)
        except ValueError:
            tokens = []
        words = [token.bare for token in tokens]
        while words and (words[0] == "exec" or _ENV_ASSIGNMENT.match(words[0])):
            words.pop(0)
        span = _direct_span(words)
        if span is not None:
            return position, stop, tuple(words[span[0] : span[1]])
        if separator is None:
            break
        position = separator.end()
    return None


def locate_arguments(
    entrypoint: Sequence[str],
    cmd: Sequence[str],
    known_arguments: Sequence[str] | None = None,
) -> ArgsLocation | None:
    """Where Gunicorn's arguments are in a container's Entrypoint + Cmd.

    ``known_arguments`` (the master's arguments as recovered from /proc) turns
    the entrypoint-script inference into a verified location.
    """
    combined = [*entrypoint, *cmd]
    span = _direct_span(combined)
    if span is not None:
        return ArgsLocation(ArgsPlace.COMMAND, span[0], span[1], tuple(combined[span[0] : span[1]]))
    if combined and os.path.basename(combined[0]) in _SHELLS and "-c" in combined:
        script_index = combined.index("-c") + 1
        if script_index < len(combined):
            found = _shell_statement_span(combined[script_index])
            if found is not None:
                start, end, arguments = found
                return ArgsLocation(ArgsPlace.SHELL_SCRIPT, start, end, arguments, script_index)
    if entrypoint and cmd:
        parsed = parse_arguments(cmd)
        verified = known_arguments is not None and tuple(known_arguments) == tuple(cmd)
        # Inferred only when Cmd reads as Gunicorn's own: known options and one
        # APP_MODULE last (``celery worker`` is not).
        looks_like_gunicorn = (
            bool(parsed.settings)
            and not parsed.warnings
            and parsed.app_module is not None
            and cmd[-1] == parsed.app_module
            and _APP_MODULE.match(parsed.app_module) is not None
        )
        if verified or looks_like_gunicorn:
            start = len(entrypoint)
            return ArgsLocation(
                ArgsPlace.PASSTHROUGH, start, len(combined), tuple(cmd), verified=verified
            )
    return None


def rewrite_command(
    entrypoint: Sequence[str],
    cmd: Sequence[str],
    location: ArgsLocation,
    changes: Mapping[str, ConfigValue],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """New (Entrypoint, Cmd) with ``changes`` written into Gunicorn's arguments."""
    if location.place is ArgsPlace.SHELL_SCRIPT:
        assert location.script_index is not None
        combined = [*entrypoint, *cmd]
        script = combined[location.script_index]
        statement = script[location.start : location.end]
        combined[location.script_index] = (
            script[: location.start]
            + _rewrite_statement(statement, changes)
            + script[location.end :]
        )
        return tuple(combined[: len(entrypoint)]), tuple(combined[len(entrypoint) :])
    homes = ["e"] * len(entrypoint) + ["c"] * len(cmd)
    combined = [*entrypoint, *cmd]
    arguments = combined[location.start : location.end]
    new_arguments = list(rewrite_arguments(arguments, changes))
    # Words keep their list; new words go where the arguments start (or into
    # Cmd when the arguments start at the boundary).
    home = homes[location.start] if location.start < len(homes) else "c"
    new_homes = _carry_homes(arguments, homes[location.start : location.end], new_arguments, home)
    words = combined[: location.start] + new_arguments + combined[location.end :]
    all_homes = homes[: location.start] + new_homes + homes[location.end :]
    new_entrypoint = tuple(w for w, h in zip(words, all_homes, strict=True) if h == "e")
    new_cmd = tuple(w for w, h in zip(words, all_homes, strict=True) if h == "c")
    return new_entrypoint, new_cmd


def _carry_homes(
    old: Sequence[str], old_homes: Sequence[str], new: Sequence[str], default: str
) -> list[str]:
    """Assign each new word the list of the old word it came from.

    Rewriting keeps the order of untouched words, so a two-pointer walk pairs
    them; inserted or replaced words take the neighbour's list.
    """
    homes: list[str] = []
    position = 0
    current = default
    for word in new:
        match = None
        for probe in range(position, len(old)):
            if old[probe] == word:
                match = probe
                break
        if match is not None:
            current = old_homes[match]
            position = match + 1
        homes.append(current)
    return homes


def _rewrite_statement(statement: str, changes: Mapping[str, ConfigValue]) -> str:
    leading = statement[: len(statement) - len(statement.lstrip())]
    trailing = statement[len(statement.rstrip()) :]
    tokens = _shell_tokens(statement.strip())
    bare = [token.bare for token in tokens]
    prefix = 0
    while prefix < len(bare) and (bare[prefix] == "exec" or _ENV_ASSIGNMENT.match(bare[prefix])):
        prefix += 1
    span = _direct_span(bare[prefix:])
    if span is None:
        raise CannotExpress("gunicorn statement not found in the shell script")
    start, end = prefix + span[0], prefix + span[1]
    # Options gtui touches are plain words; every other token keeps its quotes.
    texts = [token.text for token in tokens]
    arguments = bare[start:end]
    rewritten = rewrite_arguments(arguments, changes)
    originals = dict(zip(arguments, texts[start:end], strict=True))
    new_texts = [originals.get(word, shlex.quote(word)) for word in rewritten]
    return leading + " ".join(texts[:start] + new_texts + texts[end:]) + trailing


def rewrite_env_arguments(value: str, changes: Mapping[str, ConfigValue]) -> str:
    """``GUNICORN_CMD_ARGS`` with ``changes`` written in (Gunicorn shlex-splits it)."""
    words = shlex.split(value) if value.strip() else []
    return shlex.join(rewrite_arguments(words, changes))


def env_list_get(env: Sequence[str], key: str) -> str | None:
    """The value of ``key`` in a Docker ``Env`` list (``K=V`` strings)."""
    for entry in env:
        name, sep, value = entry.partition("=")
        if sep and name == key:
            return value
    return None


def env_list_set(env: Sequence[str], key: str, value: str | None) -> tuple[str, ...]:
    """``env`` with ``key`` set (in place, or appended), or removed when None."""
    out: list[str] = []
    done = False
    for entry in env:
        name, sep, _ = entry.partition("=")
        if sep and name == key:
            if value is not None and not done:
                out.append(f"{key}={value}")
            done = True
            continue
        out.append(entry)
    if not done and value is not None:
        out.append(f"{key}={value}")
    return tuple(out)
