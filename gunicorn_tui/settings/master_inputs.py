"""Gather what a master was started with: arguments, environment, config file.

On a local daemon (or the host) everything is read through /proc: the
master's own command line and environment when readable; its config file
through a reader the caller supplies (the access layer's, which resolves
paths inside the master's root and never follows a link out of it). When setproctitle has hidden the
command line and environment, they are recovered from a wrapper process or
the container's command and environment, and the result says so.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from gunicorn_tui.host.process_tree import gunicorn_args, name_from_args
from gunicorn_tui.host.procfs import ProcessGone, read_argv, read_environ, read_ppid
from gunicorn_tui.settings.command_line import ParsedArguments, parse_arguments
from gunicorn_tui.settings.command_recovery import all_args_from_command
from gunicorn_tui.settings.config_file import ConfigFileSettings, parse_config_source
from gunicorn_tui.settings.resolve import ConfigInputs, config_file_to_read

FileReader = Callable[[str], str | None]


@dataclass(frozen=True)
class MasterInputs:
    """Config inputs and how they were obtained."""

    inputs: ConfigInputs
    arguments: tuple[str, ...] | None
    notes: tuple[str, ...]


def recover_arguments(
    master_argv: Sequence[str],
    titled: bool,
    wrapper_commands: Sequence[Sequence[str]],
    name: str | None = None,
    listen_ports: Collection[int] = (),
) -> tuple[tuple[str, ...] | None, str | None]:
    """Gunicorn's arguments and, when they were not read directly, from where.

    A wrapper may start several servers (``sh -c "gunicorn ... & gunicorn
    ...; wait"``): the master's title ``name`` and the ports it listens on
    pick its own command; when they cannot, the arguments stay unknown.
    """
    if not titled:
        direct = gunicorn_args(master_argv)
        if direct is not None:
            return direct, None
    for command in wrapper_commands:
        candidates = list(dict.fromkeys(all_args_from_command(command)))
        if not candidates:
            continue
        where = " ".join(command)[:80]
        chosen = _pick_command(candidates, name, listen_ports)
        if chosen is None:
            return None, (
                "command line hidden by setproctitle; several Gunicorn commands in " + where
            )
        return chosen, "command line hidden by setproctitle; read from " + where
    return None, "command line hidden by setproctitle and not found in a wrapper"


def _pick_command(
    candidates: list[tuple[str, ...]], name: str | None, listen_ports: Collection[int]
) -> tuple[str, ...] | None:
    if len(candidates) == 1:
        return candidates[0]
    if name:
        # The new master of a USR2 re-exec titles itself NAME.2.
        names = {name, name.removesuffix(".2")}
        named = [args for args in candidates if name_from_args(args) in names]
        # A --name set in a config file makes titles differ from every
        # command: then the name tells nothing.
        candidates = named or candidates
    if len(candidates) > 1 and listen_ports:
        candidates = [
            args for args in candidates if _bind_ports(args) <= set(listen_ports)
        ] or candidates
    return candidates[0] if len(candidates) == 1 else None


def _bind_ports(args: Sequence[str]) -> set[int]:
    bind = parse_arguments(args).settings.get("bind")
    ports: set[int] = set()
    for address in str(bind or "").split(","):
        if address.startswith(("unix:", "fd://")):
            continue
        port = address.rsplit(":", 1)[-1]
        if port.isdigit():
            ports.add(int(port))
    return ports


def wrapper_chain(master_pid: int, depth: int = 3) -> list[tuple[str, ...]]:
    """Command lines of the master's ancestors, nearest first, up to ``depth``."""
    chain: list[tuple[str, ...]] = []
    pid = master_pid
    for _ in range(depth):
        try:
            pid = read_ppid(pid)
            if pid <= 1 and chain:
                break
            if pid <= 0:
                break
            chain.append(read_argv(pid))
        except (ProcessGone, PermissionError, ValueError):
            break
    return chain


def gather_inputs(
    argv: Sequence[str],
    titled: bool,
    wrapper_commands: Sequence[Sequence[str]],
    environment: Mapping[str, str] | None,
    fallback_environment: Mapping[str, str],
    read_file: FileReader,
    control_socket_config: Mapping[str, object] | None = None,
    name: str | None = None,
    listen_ports: Collection[int] = (),
) -> MasterInputs:
    """Build ConfigInputs from whatever could be read.

    ``name`` (the master's title) and ``listen_ports`` tell apart servers
    started by one wrapper; see :func:`recover_arguments`.
    """
    notes: list[str] = []
    arguments, note = recover_arguments(argv, titled, wrapper_commands, name, listen_ports)
    if note:
        notes.append(note)
    command_line = (
        parse_arguments(arguments) if arguments is not None else ParsedArguments({}, None, None)
    )
    if environment is None:
        environment = fallback_environment
        notes.append("environment hidden by setproctitle; using the container's or parent's")
    config_path = config_file_to_read(command_line, environment)
    config_file: ConfigFileSettings | None = None
    if config_path.startswith("python:"):
        notes.append(f"config module {config_path} not read (a Python module, not a file)")
    else:
        source = None
        try:
            source = read_file(config_path)
        except PermissionError:
            notes.append(f"config file {config_path}: permission denied")
        if source is not None:
            config_file = parse_config_source(source, config_path)
    return MasterInputs(
        inputs=ConfigInputs(
            command_line=command_line,
            environment=dict(environment),
            config_file_path=config_path if config_file is not None else None,
            config_file=config_file,
            control_socket_config=control_socket_config,
            command_line_known=arguments is not None,
        ),
        arguments=arguments,
        notes=tuple(notes),
    )


def read_master_environment(master_pid: int) -> Mapping[str, str] | None:
    """The master's environment, or None when hidden (setproctitle) or unreadable."""
    try:
        environment = read_environ(master_pid)
    except (ProcessGone, PermissionError):
        return None
    return environment or None
