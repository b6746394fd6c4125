"""A Compose service's command and ``GUNICORN_CMD_ARGS``, read and rewritten
in its Compose file with comments and formatting kept.

The file is edited through ruamel.yaml's round-trip mode (the library that
keeps comments, key order and quoting), and the result is checked: only the
lines of the service's ``command`` or ``environment`` may change. What cannot
be rewritten exactly is refused with the reason, and the caller prints the
change to make by hand: YAML anchors, aliases and merge keys (a rewrite could
change what they share), variable interpolation (``${WORKERS:-4}``: the value
in the file is not the value that runs), ``extends`` (the command may live in
another file).
"""

from __future__ import annotations

import io
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gunicorn_tui.control.planning.command_args import (
    ArgsLocation,
    locate_arguments,
    rewrite_arguments,
    rewrite_env_arguments,
)
from gunicorn_tui.model.instances import ConfigValue
from gunicorn_tui.settings.command_line import parse_arguments, parse_env_arguments

ENV_CMD_ARGS = "GUNICORN_CMD_ARGS"


class ComposeRefused(Exception):
    """The Compose file cannot be rewritten exactly; the message says why."""


@dataclass(frozen=True)
class ComposeService:
    """What one Compose file says about one service."""

    path: str
    text: str
    service: str
    command: tuple[str, ...] | None
    command_is_text: bool
    env_args: str | None
    entrypoint: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())

    def command_settings(self) -> dict[str, ConfigValue]:
        location = self.location()
        if location is None:
            return {}
        return dict(parse_arguments(location.arguments).settings)

    def env_settings(self) -> dict[str, ConfigValue]:
        if not self.env_args:
            return {}
        return dict(parse_env_arguments(self.env_args).settings)

    def location(self) -> ArgsLocation | None:
        if self.command is None:
            return None
        return locate_arguments(self.entrypoint, self.command)


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long command
    return yaml


def _words(value: Any) -> tuple[tuple[str, ...] | None, bool]:
    if value is None:
        return None, False
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value)), True
        except ValueError as error:
            raise ComposeRefused(f"command: not a shell word list ({error})") from None
    if isinstance(value, Sequence):
        return tuple(str(word) for word in value), False
    raise ComposeRefused(f"command: unexpected YAML type {type(value).__name__}")


def _env_args(environment: Any) -> str | None:
    if isinstance(environment, Mapping):
        value = environment.get(ENV_CMD_ARGS)
        return None if value is None else str(value)
    if isinstance(environment, Sequence) and not isinstance(environment, str):
        for item in environment:
            key, sep, value = str(item).partition("=")
            if key == ENV_CMD_ARGS and sep:
                return value
    return None


def _structure_problems(text: str) -> list[str]:
    """Anchors, aliases and merge keys anywhere in the file."""
    from ruamel.yaml import YAML
    from ruamel.yaml.events import AliasEvent

    problems: list[str] = []
    for event in YAML(typ="rt").parse(io.StringIO(text)):
        if isinstance(event, AliasEvent):
            problems.append("it uses YAML aliases (*name)")
            break
        if getattr(event, "anchor", None):
            problems.append("it uses YAML anchors (&name)")
            break
    if "<<:" in text:
        problems.append("it uses YAML merge keys (<<)")
    return problems


def read_service(path: str, text: str, service: str) -> ComposeService | None:
    """What ``text`` (the file at ``path``) says about ``service``; None when
    the file does not name it. Raises :class:`ComposeRefused` for YAML that
    does not parse."""
    try:
        document = _yaml().load(text)
    except Exception as error:  # ruamel raises many error types
        # Where, never what: the path comes from a container's labels, and
        # the parser's message quotes the file (it may be any file of root's).
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ComposeRefused(f"{path}: not a Compose file (YAML does not parse{where})") from None
    services = document.get("services") if isinstance(document, Mapping) else None
    if not isinstance(services, Mapping) or service not in services:
        return None
    spec = services[service]
    if not isinstance(spec, Mapping):
        spec = {}
    problems = _structure_problems(text)
    if "extends" in spec:
        problems.append(f"service {service} uses extends (its settings may live in another file)")
    command, as_text = _words(spec.get("command"))
    entrypoint, _ = _words(spec.get("entrypoint"))
    env_args = _env_args(spec.get("environment"))
    for what, words in (("command", command or ()), ("environment", (env_args or "",))):
        if any("$" in word for word in words):
            problems.append(
                f"its {what} uses variable interpolation (${{...}}): the value in the file "
                "is not the value that runs"
            )
    return ComposeService(
        path=path,
        text=text,
        service=service,
        command=command,
        command_is_text=as_text,
        env_args=env_args,
        entrypoint=entrypoint or (),
        problems=tuple(problems),
    )


@dataclass(frozen=True)
class ComposeEdit:
    """The new text of a Compose file and what changed in the service."""

    new_text: str
    new_command: tuple[str, ...] | None
    new_env_args: str | None


def rewrite_service(
    found: ComposeService,
    changes: Mapping[str, ConfigValue],
    running_command: Sequence[str],
) -> ComposeEdit:
    """``found``'s file with ``changes`` written into the service: settings the
    command declares (or, when the file declares no command, a new command
    from ``running_command`` with the changes) go on the command line; those
    only ``GUNICORN_CMD_ARGS`` declares stay there.

    Raises :class:`ComposeRefused` when the rewrite cannot be exact.
    """
    if found.problems:
        raise ComposeRefused("; ".join(found.problems))
    env_declared = set(found.env_settings())
    command_declared = set(found.command_settings())
    to_env = {k: v for k, v in changes.items() if k in env_declared and k not in command_declared}
    to_command = {k: v for k, v in changes.items() if k not in to_env}
    new_command: tuple[str, ...] | None = None
    new_env: str | None = None
    if to_command:
        base = found.command if found.command is not None else tuple(running_command)
        location = locate_arguments(found.entrypoint, base)
        if location is None:
            raise ComposeRefused(
                f"service {found.service}: Gunicorn's arguments were not found in its command"
            )
        arguments = rewrite_arguments(location.arguments, to_command)
        combined = [*found.entrypoint, *base]
        words = combined[: location.start] + list(arguments) + combined[location.end :]
        new_command = tuple(words[len(found.entrypoint) :])
    if to_env:
        assert found.env_args is not None
        new_env = rewrite_env_arguments(found.env_args, to_env)

    yaml = _yaml()
    mapping, sequence, offset = _guess_indent(found.text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    document = yaml.load(found.text)
    spec = document["services"][found.service]
    if new_command is not None:
        _set_command(spec, new_command, found.command_is_text)
    if new_env is not None:
        _set_env(spec["environment"], new_env)
    out = io.StringIO()
    yaml.dump(document, out)
    new_text = out.getvalue()
    _check_only_service_lines_changed(found.text, new_text, found.service)
    return ComposeEdit(new_text, new_command, new_env)


def _guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indents under which ``text`` dumps back
    unchanged; the common ones are tried (ruamel's own guess reads the
    sequence indent as the mapping one)."""
    candidates = [
        (mapping, mapping + offset, offset) for mapping in (2, 4, 3) for offset in (0, 2, 4, 1)
    ] + [(mapping, mapping, 0) for mapping in (2, 4)]
    for mapping, sequence, offset in candidates:
        if sequence < offset + 2:
            continue
        yaml = _yaml()
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        out = io.StringIO()
        try:
            yaml.dump(yaml.load(text), out)
        except Exception:
            continue
        if out.getvalue() == text:
            return mapping, sequence, offset
    return 2, 2, 0


def _set_command(spec: Any, words: Sequence[str], as_text: bool) -> None:
    from ruamel.yaml.comments import CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    old = spec.get("command")
    if as_text:
        text = shlex.join(words)
        spec["command"] = type(old)(text) if isinstance(old, str) and type(old) is not str else text
        return
    if isinstance(old, CommentedSeq):
        quoted = bool(old) and all(isinstance(w, DoubleQuotedScalarString) for w in old)
        old[:] = [DoubleQuotedScalarString(w) if quoted else w for w in words]
        return
    seq = CommentedSeq([DoubleQuotedScalarString(w) for w in words])
    seq.fa.set_flow_style()
    spec["command"] = seq


def _set_env(environment: Any, value: str) -> None:
    if isinstance(environment, Mapping):
        old = environment.get(ENV_CMD_ARGS)
        environment[ENV_CMD_ARGS] = (  # type: ignore[index]
            type(old)(value) if isinstance(old, str) and type(old) is not str else value
        )
        return
    for index, item in enumerate(environment):
        if str(item).partition("=")[0] == ENV_CMD_ARGS:
            old = environment[index]
            new = f"{ENV_CMD_ARGS}={value}"
            environment[index] = type(old)(new) if type(old) is not str else new
            return


def _value_spans(text: str, service: str, keys: Sequence[str]) -> list[tuple[int, int]]:
    """0-based line ranges [first, last] of ``keys`` (and their values) under
    ``services.SERVICE``: the key's line and the lines below it indented
    deeper (blank lines and comments inside count)."""
    document = _yaml().load(text)
    spec = document["services"][service]
    lines = text.splitlines()
    spans: list[tuple[int, int]] = []
    for key in keys:
        if key not in spec:
            continue
        line, column = spec.lc.key(key)
        last = line
        for index in range(line + 1, len(lines)):
            stripped = lines[index].strip()
            indent = len(lines[index]) - len(lines[index].lstrip())
            if stripped and not stripped.startswith("#") and indent <= column:
                break
            if stripped:
                last = index
        spans.append((line, last))
    return spans


def _check_only_service_lines_changed(old: str, new: str, service: str) -> None:
    """Refuse a dump that changed anything but the service's ``command`` and
    ``environment`` (ruamel keeps almost everything; what it would not, a
    human must do)."""
    import difflib

    spans = _value_spans(old, service, ("command", "environment"))
    new_spans = _value_spans(new, service, ("command", "environment"))
    old_lines, new_lines = old.splitlines(), new.splitlines()

    def inside(first: int, last: int, allowed: list[tuple[int, int]]) -> bool:
        return any(a <= first and last <= b for a, b in allowed)

    changed = False
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_lines, new_lines).get_opcodes():
        if tag == "equal":
            continue
        changed = True
        old_ok = i1 == i2 or inside(i1, i2 - 1, spans)
        new_ok = j1 == j2 or inside(j1, j2 - 1, new_spans)
        if not (old_ok and new_ok):
            sample = (old_lines[i1:i2] or new_lines[j1:j2] or [""])[0].strip()
            raise ComposeRefused(
                "the YAML library would change more than the service's command and "
                f"environment (e.g. {sample[:60]!r})"
            )
    if not changed:
        raise ComposeRefused("the rewrite changed nothing")
