"""What ``gtui persist`` would change, and where: the source of each setting.

- A Compose container: the Compose file its labels name
  (``com.docker.compose.project.config_files`` under ``.working_dir``),
  the service's ``command`` or ``GUNICORN_CMD_ARGS``.
- A host master: the ``gunicorn.conf.py`` it reads (a top-level assignment
  rewritten or added), when the command line does not pin the setting.
- A plain ``docker run``: nothing gtui can edit; the equivalent flags and
  command are printed.
"""

from __future__ import annotations

import ast
import difflib
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from gunicorn_tui.control.planning.command_args import (
    OPTION_FLAGS,
    format_value,
    locate_arguments,
    rewrite_arguments,
)
from gunicorn_tui.control.planning.facts import RetuneFacts
from gunicorn_tui.model.instances import ConfigValue, InstanceSample
from gunicorn_tui.persist.compose_file import (
    ComposeRefused,
    ComposeService,
    read_service,
    rewrite_service,
)
from gunicorn_tui.persist.drift import (
    SettingDrift,
    drift,
    image_file_settings,
    running_settings,
)
from gunicorn_tui.persist.safe_write import FileRefused, read_text
from gunicorn_tui.settings.command_line import parse_arguments, parse_env_arguments
from gunicorn_tui.settings.config_file import Computed, parse_config_source

ENV_CMD_ARGS = "GUNICORN_CMD_ARGS"


class PersistKind(StrEnum):
    IN_SYNC = "in sync"
    COMPOSE_FILE = "compose file"
    CONFIG_FILE = "gunicorn.conf.py"
    DOCKER_RUN = "docker run"
    COMMAND_LINE = "command line"


@dataclass(frozen=True)
class PersistPlan:
    """The drift and the change that keeps it (a file edit, or lines to print)."""

    target: str
    kind: PersistKind
    drift: tuple[SettingDrift, ...]
    path: str | None = None
    old_text: str | None = None
    new_text: str | None = None
    refusal: str | None = None
    manual: tuple[str, ...] = ()

    @property
    def writable(self) -> bool:
        return self.refusal is None and self.path is not None and self.new_text is not None

    def diff(self) -> str:
        if self.old_text is None or self.new_text is None or self.path is None:
            return ""
        return "".join(
            difflib.unified_diff(
                self.old_text.splitlines(keepends=True),
                self.new_text.splitlines(keepends=True),
                fromfile=f"{self.path} (now)",
                tofile=f"{self.path} (kept config)",
            )
        )

    def drift_lines(self) -> list[str]:
        return [f"  {d.name}: source {d.source!r}, running {d.running!r}" for d in self.drift]

    def as_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "kind": self.kind.value,
            "drift": [
                {"setting": d.name, "source": d.source, "running": d.running} for d in self.drift
            ],
            "path": self.path,
            "diff": self.diff() or None,
            "refusal": self.refusal,
            "manual": list(self.manual),
        }


def _inspect_config(facts: RetuneFacts) -> Mapping[str, object]:
    if facts.container is None:
        return {}
    config = facts.container.inspect.get("Config") or {}
    return config if isinstance(config, Mapping) else {}


def _words(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(word) for word in value)
    return ()


def _flags(changes: Mapping[str, ConfigValue]) -> list[str]:
    words: list[str] = []
    for name, value in changes.items():
        flag = OPTION_FLAGS[name][-1]
        if isinstance(value, bool):
            if value:
                words.append(flag)
        else:
            words += [flag, format_value(value)]
    return words


def _rewritten(
    entrypoint: Sequence[str], cmd: Sequence[str], changes: Mapping[str, ConfigValue]
) -> tuple[str, ...] | None:
    location = locate_arguments(entrypoint, cmd)
    if location is None:
        return None
    combined = [*entrypoint, *cmd]
    arguments = rewrite_arguments(location.arguments, changes)
    words = combined[: location.start] + list(arguments) + combined[location.end :]
    return tuple(words[len(entrypoint) :])


def plan_persist(
    sample: InstanceSample,
    facts: RetuneFacts,
    target: str,
    wanted: Mapping[str, ConfigValue] | None = None,
) -> PersistPlan:
    """The persist plan for one instance (see the module docstring); ``wanted``
    replaces running values (a sweep's winner, restored after the sweep)."""
    container = sample.container
    running = {**running_settings(sample), **(wanted or {})}
    image_file = image_file_settings(
        facts.declared_in, facts.static_values, facts.config_file.managed
    )
    if container is not None and container.compose is not None:
        return _compose_plan(sample, facts, target, running, image_file)
    if container is not None:
        return _docker_run_plan(facts, target, running, image_file)
    return _host_plan(facts, target, running)


def compose_paths(working_dir: str | None, config_files: Sequence[str]) -> list[str]:
    """The Compose files' absolute paths (v1 labels hold them relative to the working dir)."""
    base = working_dir or "/"
    return [f if os.path.isabs(f) else os.path.join(base, f) for f in config_files]


def _compose_plan(
    sample: InstanceSample,
    facts: RetuneFacts,
    target: str,
    running: Mapping[str, ConfigValue],
    image_file: Mapping[str, ConfigValue],
) -> PersistPlan:
    assert sample.container is not None and sample.container.compose is not None
    compose = sample.container.compose
    config = _inspect_config(facts)
    container_cmd = _words(config.get("Cmd"))
    image_entrypoint = _words(config.get("Entrypoint"))
    paths = compose_paths(compose.working_dir, compose.config_files)
    if not paths:
        return PersistPlan(
            target,
            PersistKind.COMPOSE_FILE,
            (),
            refusal=("the container's Compose labels name no config file"),
        )
    found: ComposeService | None = None
    try:
        for path in paths:
            service = read_service(path, read_text(path), compose.service)
            if service is not None and (
                found is None or service.command is not None or service.env_args is not None
            ):
                found = service
    except (FileRefused, ComposeRefused) as error:
        drifts = _drift_from_container(running, container_cmd, image_entrypoint, config, image_file)
        return _refused(
            target,
            PersistKind.COMPOSE_FILE,
            drifts,
            str(error),
            compose.service,
            container_cmd,
            image_entrypoint,
            paths[-1],
        )
    if found is None:
        return PersistPlan(
            target,
            PersistKind.COMPOSE_FILE,
            (),
            refusal=(f"service {compose.service} is in none of {', '.join(paths)}"),
        )
    if not found.entrypoint and image_entrypoint:
        found = replace(found, entrypoint=image_entrypoint)
    command_settings = (
        found.command_settings()
        if found.command is not None
        else (_settings_of(image_entrypoint, container_cmd))
    )
    drifts = tuple(drift(running, command_settings, found.env_settings(), image_file))
    if not drifts:
        return PersistPlan(target, PersistKind.IN_SYNC, (), path=found.path)
    changes = {d.name: d.running for d in drifts}
    try:
        edit = rewrite_service(found, changes, container_cmd)
    except ComposeRefused as error:
        return _refused(
            target,
            PersistKind.COMPOSE_FILE,
            drifts,
            str(error),
            compose.service,
            found.command or container_cmd,
            found.entrypoint,
            found.path,
        )
    return PersistPlan(
        target, PersistKind.COMPOSE_FILE, drifts, found.path, found.text, edit.new_text
    )


def _settings_of(entrypoint: Sequence[str], cmd: Sequence[str]) -> dict[str, ConfigValue]:
    location = locate_arguments(entrypoint, cmd)
    return dict(parse_arguments(location.arguments).settings) if location else {}


def _env_settings(config: Mapping[str, object]) -> dict[str, ConfigValue]:
    for item in _words(config.get("Env")):
        key, sep, value = item.partition("=")
        if key == ENV_CMD_ARGS and sep:
            return dict(parse_env_arguments(value).settings)
    return {}


def _drift_from_container(
    running: Mapping[str, ConfigValue],
    cmd: Sequence[str],
    entrypoint: Sequence[str],
    config: Mapping[str, object],
    image_file: Mapping[str, ConfigValue],
) -> tuple[SettingDrift, ...]:
    return tuple(drift(running, _settings_of(entrypoint, cmd), _env_settings(config), image_file))


def _refused(
    target: str,
    kind: PersistKind,
    drifts: tuple[SettingDrift, ...],
    reason: str,
    service: str,
    command: Sequence[str],
    entrypoint: Sequence[str],
    path: str,
) -> PersistPlan:
    changes = {d.name: d.running for d in drifts}
    manual = [f"make this change by hand in {path}, under services.{service}:"]
    new_command = _rewritten(entrypoint, command, changes) if changes else None
    if new_command is not None:
        manual.append(f"  command: {json_list(new_command)}")
    elif changes:
        manual.append(f"  add to Gunicorn's arguments: {shlex.join(_flags(changes))}")
    return PersistPlan(target, kind, drifts, path=path, refusal=reason, manual=tuple(manual))


def json_list(words: Sequence[str]) -> str:
    """A command as a YAML/JSON flow list."""
    import json

    return json.dumps(list(words))


def _docker_run_plan(
    facts: RetuneFacts,
    target: str,
    running: Mapping[str, ConfigValue],
    image_file: Mapping[str, ConfigValue],
) -> PersistPlan:
    config = _inspect_config(facts)
    cmd = _words(config.get("Cmd"))
    entrypoint = _words(config.get("Entrypoint"))
    drifts = _drift_from_container(running, cmd, entrypoint, config, image_file)
    if not drifts:
        return PersistPlan(target, PersistKind.IN_SYNC, ())
    changes = {d.name: d.running for d in drifts}
    image = str(config.get("Image") or "IMAGE")
    manual = [
        "a plain docker run: its command lives wherever you start it (a script, a unit, CI);",
        f"add these Gunicorn flags there: {shlex.join(_flags(changes))}",
    ]
    new_cmd = _rewritten(entrypoint, cmd, changes)
    if new_cmd is not None:
        manual.append(f"e.g. docker run [your options] {shlex.quote(image)} {shlex.join(new_cmd)}")
    return PersistPlan(target, PersistKind.DOCKER_RUN, drifts, manual=tuple(manual))


def _host_plan(facts: RetuneFacts, target: str, running: Mapping[str, ConfigValue]) -> PersistPlan:
    arguments = facts.arguments or ()
    command_settings = dict(parse_arguments(arguments).settings)
    env_value = (facts.environment or {}).get(ENV_CMD_ARGS)
    env_settings = dict(parse_env_arguments(env_value).settings) if env_value else {}
    path = facts.config_file.path
    old: str | None = None
    reason: str | None = None
    if path is None:
        reason = "the master's config file is not known"
    elif not facts.config_file.exists:
        reason = f"{path} does not exist (gtui rewrites files, never creates them)"
    else:
        try:
            old = read_text(path)
        except FileRefused as error:
            reason = str(error)
    # The file as it is now is the source (what a restart reads).
    file_settings = {
        name: value
        for name, value in parse_config_source(old or "").settings.items()
        if not isinstance(value, Computed)
    }
    drifts = tuple(drift(running, command_settings, env_settings, file_settings))
    if not drifts:
        return PersistPlan(target, PersistKind.IN_SYNC, (), path=path)
    pinned = {
        d.name: d.running for d in drifts if d.name in command_settings or d.name in env_settings
    }
    if pinned:
        where = "the command line" if any(n in command_settings for n in pinned) else ENV_CMD_ARGS
        manual = (
            f"{where} pins these settings; change them where the master is started "
            f"(a unit, a script): {shlex.join(_flags(pinned))}",
        )
        return PersistPlan(
            target, PersistKind.COMMAND_LINE, drifts, refusal=f"set on {where}", manual=manual
        )
    changes = {d.name: d.running for d in drifts}
    lines = tuple(f"{name} = {value!r}" for name, value in changes.items())
    if reason is not None or old is None or path is None:
        intro = (
            f"create {path} with:"
            if path and not facts.config_file.exists
            else (f"put these lines in {path or 'the gunicorn.conf.py it reads'}:")
        )
        return PersistPlan(
            target,
            PersistKind.CONFIG_FILE,
            drifts,
            path=path,
            refusal=reason,
            manual=(intro, *lines),
        )
    try:
        new = rewrite_python_settings(old, changes)
    except ValueError as error:
        return PersistPlan(
            target,
            PersistKind.CONFIG_FILE,
            drifts,
            path=path,
            refusal=str(error),
            manual=(f"put these lines in {path}:", *lines),
        )
    return PersistPlan(target, PersistKind.CONFIG_FILE, drifts, path, old, new)


def rewrite_python_settings(text: str, changes: Mapping[str, ConfigValue]) -> str:
    """``text`` (a gunicorn.conf.py) with each setting's top-level literal
    assignment given the new value, or the assignment added at the end.
    Raises ValueError when a setting is assigned twice or from an expression."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []  # line, col start, col end, new text
    appended: list[str] = []
    for name, value in changes.items():
        found = [
            node
            for node in tree.body
            if isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == name
        ]
        if len(found) > 1:
            raise ValueError(f"{name} is assigned {len(found)} times in the config file")
        if not found:
            appended.append(f"{name} = {value!r}\n")
            continue
        node = found[0].value
        if not isinstance(node, ast.Constant) or node.lineno != node.end_lineno:
            raise ValueError(f"{name} is computed in the config file, not a plain value")
        assert node.end_col_offset is not None
        edits.append((node.lineno - 1, node.col_offset, node.end_col_offset, repr(value)))
    for line, start, end, new in sorted(edits, reverse=True):
        raw = lines[line].encode()
        lines[line] = (raw[:start] + new.encode() + raw[end:]).decode()
    out = "".join(lines)
    if appended:
        if out and not out.endswith("\n"):
            out += "\n"
        out += "".join(appended)
    return out
