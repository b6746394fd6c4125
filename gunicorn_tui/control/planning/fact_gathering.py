"""Gather :class:`RetuneFacts` for one sampled instance, through the access layer.

Reads the master's command line, environment, working directory and user
(host pids: /proc, while the master is pinned), its config file as the
master sees it (never following a link out of its root), inspects its
container (and what a re-create would lose or break), and reads the
server's installation (its files, never its code) for the modules a
worker class needs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from gunicorn_tui.access.containers import ApiContainer
from gunicorn_tui.access.control_socket import ControlSocketError
from gunicorn_tui.access.docker_engine import DockerEngine
from gunicorn_tui.access.errors import AccessError
from gunicorn_tui.access.files import FileKind
from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.access.proc_target import MasterProcess, ProcTarget
from gunicorn_tui.access.processes import ProcessRef, start_ticks_of
from gunicorn_tui.access.resolve import AccessResolver
from gunicorn_tui.access.target import TargetAccess
from gunicorn_tui.control.planning.command_args import locate_arguments
from gunicorn_tui.control.planning.container_spec import aside_name, temporary_name
from gunicorn_tui.control.planning.facts import (
    ENV_CMD_ARGS,
    ENV_WEB_CONCURRENCY,
    ConfigFileFacts,
    ContainerFacts,
    MountFacts,
    RetuneFacts,
)
from gunicorn_tui.control.planning.managed_config import (
    DEFAULT_CONFIG_NAME,
    candidate_path,
    is_managed,
)
from gunicorn_tui.control.planning.recreate_preflight import (
    dependents,
    layer_losses,
    mount_points,
    orchestrator_of,
)
from gunicorn_tui.control.planning.requests import RETUNABLE_SETTINGS
from gunicorn_tui.host.process_tree import parse_title
from gunicorn_tui.interpreter.runtime_facts import ProbeFailed
from gunicorn_tui.model.instances import ConfigSource, ConfigValue, InstanceSample, SamplingMode
from gunicorn_tui.sampling.local_instance import LaunchRecord
from gunicorn_tui.settings.command_line import ParsedArguments, parse_arguments, parse_env_arguments
from gunicorn_tui.settings.command_recovery import args_from_command
from gunicorn_tui.settings.config_file import parse_config_source
from gunicorn_tui.settings.master_inputs import recover_arguments, wrapper_chain
from gunicorn_tui.settings.resolve import ConfigInputs, resolve_config


class FactsUnavailable(Exception):
    """The instance could not be examined (gone, or Docker unreachable)."""


def _container_command(inspect: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(w) for w in [inspect.get("Path", ""), *(inspect.get("Args") or [])] if str(w))


def _join(base: str, path: str) -> str:
    return os.path.normpath(path if path.startswith("/") else os.path.join(base, path))


def mount_of(path: str, inspect: Mapping[str, Any] | None) -> MountFacts | None:
    """The innermost mount of the container ``path`` lives on, or None (its layer)."""
    if inspect is None:
        return None
    best: MountFacts | None = None
    for mount in inspect.get("Mounts") or []:
        destination = str(mount.get("Destination") or "")
        if not destination:
            continue
        inside = path == destination or path.startswith(destination.rstrip("/") + "/")
        if inside and (best is None or len(destination) > len(best.destination)):
            best = MountFacts(
                kind=str(mount.get("Type") or "volume"),
                destination=destination,
                source=str(mount.get("Source") or mount.get("Name") or ""),
            )
    return best


def _chdir_declared(
    command_line: ParsedArguments, env_args: ParsedArguments, file_text: str | None
) -> bool:
    if "chdir" in command_line.settings or "chdir" in env_args.settings:
        return True
    return file_text is not None and "chdir" in parse_config_source(file_text).settings


def access_for(
    sample: InstanceSample, resolver: AccessResolver
) -> tuple[TargetAccess, Mapping[str, Any] | None]:
    """The access to ``sample``'s master, and its container's fresh inspect."""
    pid = sample.master.pid
    if pid is None:
        raise FactsUnavailable(f"{sample.label}: master pid unknown")
    if sample.container is None:
        ticks = start_ticks_of(pid)
        if ticks is None:
            raise FactsUnavailable(f"{sample.label}: master {pid} is gone")
        return resolver.host(ProcessRef(pid, ticks)), None
    try:
        engine = resolver.engine()
        inspect = engine.inspect(sample.container.id)
    except AccessError as error:
        raise FactsUnavailable(f"{sample.container.name}: {error}") from error
    if inspect is None:
        raise FactsUnavailable(f"container {sample.container.name} no longer exists")
    state = inspect.get("State") or {}
    local = sample.mode is SamplingMode.PROCFS and not resolver.api_only
    if local:
        ticks = start_ticks_of(pid)
        if ticks is None:
            raise FactsUnavailable(f"{sample.label}: master {pid} is gone")
        access: TargetAccess = resolver.container(
            sample.container.id,
            kind=AccessKind.LOCAL_CONTAINER,
            master=ProcessRef(pid, ticks),
            master_ns_pid=sample.master.ns_pid,
        )
    else:
        is_init = int(state.get("Pid") or 0) == pid
        access = resolver.container(
            sample.container.id,
            kind=AccessKind.API_CONTAINER,
            master_ns_pid=1 if is_init else sample.master.ns_pid,
            master_is_init=is_init,
        )
    return access, inspect


def gather_facts(
    sample: InstanceSample,
    resolver: AccessResolver,
    launch: LaunchRecord | None = None,
    modules: Sequence[str] = (),
    preflight: bool = False,
) -> tuple[RetuneFacts, TargetAccess]:
    """Examine ``sample``'s master (and container) for planning; the facts and the access.

    ``preflight`` also looks for what a re-create would break: the containers
    that depend on this one (every container of the engine is inspected, so
    only plans that may re-create ask for it).
    """
    access, inspect = access_for(sample, resolver)
    try:
        facts = _gather(sample, access, inspect, launch, modules, preflight)
    except AccessError as error:
        raise FactsUnavailable(f"{sample.label}: {error}") from error
    return facts, access


def _gather(
    sample: InstanceSample,
    access: TargetAccess,
    inspect: Mapping[str, Any] | None,
    launch: LaunchRecord | None,
    modules: Sequence[str],
    preflight: bool,
) -> RetuneFacts:
    assert sample.master.pid is not None
    pid = sample.master.pid
    source = _fact_source(access, sample)
    container_facts = (
        _container_facts(access.engine, inspect, sample.label, preflight)
        if inspect is not None and access.engine is not None
        else None
    )
    is_init = (
        sample.container is not None
        and int(((inspect or {}).get("State") or {}).get("Pid") or 0) == pid
    )
    own_launch = launch if launch is not None and launch.pid == pid else None
    command = _with_inferred_arguments(source.command(inspect, own_launch), inspect)
    env = dict(command.environment or {})
    command_line = parse_arguments(command.arguments or ())
    env_args = parse_env_arguments(env.get(ENV_CMD_ARGS, ""))
    working_dir = str(((inspect or {}).get("Config") or {}).get("WorkingDir") or "/")
    start = _start_and_config_file(
        access, inspect, command, own_launch, is_init, working_dir, command_line, env_args
    )
    layers = _static_layers(command, start.config_file, command_line, env_args, env)
    socket_path = _control_socket(sample, source, inspect, env)
    runtime = _runtime(sample, access, source, command, modules, start.cwd or working_dir)
    master = access.master
    return RetuneFacts(
        taken_at=time.time(),
        access=access.kind,
        master_pid=pid,
        master_ns_pid=1 if is_init else sample.master.ns_pid,
        master_is_container_init=is_init,
        interpreter=runtime.interpreter,
        arguments=command.arguments,
        arguments_verified=command.arguments_verified,
        argv=command.argv,
        environment=command.environment,
        start_cwd=start.cwd,
        start_cwd_note=start.note,
        config_file=start.config_file,
        declared_in=layers.declared_in,
        static_values=layers.static_values,
        env_declares=layers.env_declares,
        control_socket_path=socket_path,
        uid=command.uid,
        gid=command.gid,
        modules=runtime.modules,
        module_errors=runtime.module_errors,
        probe_error=runtime.probe_error,
        gunicorn_version=runtime.gunicorn_version,
        container=container_facts,
        launch=own_launch,
        notes=command.notes,
        master_start_ticks=master.start_ticks if master is not None else None,
        operator_uid=os.geteuid(),
        worker_start_ticks=source.worker_start_ticks(),
    )


# -- where facts come from: this host's /proc, or only the Docker API -----------------


@dataclass(frozen=True)
class _MasterCommand:
    """What the master runs: its command line, Gunicorn's arguments, environment, user."""

    argv: tuple[str, ...] | None = None
    arguments: tuple[str, ...] | None = None
    arguments_verified: bool = False
    environment: Mapping[str, str] | None = None
    interpreter: str | None = None
    uid: int | None = None
    gid: int | None = None
    cwd: str | None = None  # the master's working directory now, when readable
    notes: tuple[str, ...] = ()


class _FactSource(Protocol):
    """What differs between a master whose pids are this host's and one seen
    only through the Docker API (a remote daemon): decided once per gather."""

    def command(
        self, inspect: Mapping[str, Any] | None, launch: LaunchRecord | None
    ) -> _MasterCommand: ...

    def socket_through_exec(
        self, inspect: Mapping[str, Any], env: Mapping[str, str]
    ) -> str | None: ...

    def worker_start_ticks(self) -> dict[int, int]: ...

    @property
    def scans_interpreter(self) -> bool:
        """Whether the runtime scan also names the interpreter to run for
        --check-config (with host pids: a venv's python, where /proc/PID/exe is
        the base one)."""
        ...


def _fact_source(access: TargetAccess, sample: InstanceSample) -> _FactSource:
    if isinstance(access, ProcTarget):
        return _HostPidFacts(access, sample)
    if isinstance(access, ApiContainer):
        return _DaemonFacts(access, sample)
    raise FactsUnavailable(f"{sample.label}: cannot be examined through {access.kind.value}")


@dataclass(frozen=True)
class _HostPidFacts:
    """The master's pids are this host's: /proc, read while the master is pinned."""

    access: ProcTarget
    sample: InstanceSample
    scans_interpreter: bool = True

    def command(
        self, inspect: Mapping[str, Any] | None, launch: LaunchRecord | None
    ) -> _MasterCommand:
        sample = self.sample
        try:
            process: MasterProcess = self.access.process()
        except AccessError as error:
            raise FactsUnavailable(f"{sample.label}: master gone ({error})") from error
        own = _MasterCommand(
            interpreter=process.executable, uid=process.uid, gid=process.gid, cwd=process.cwd
        )
        if launch is not None:
            argv = tuple(launch.argv)
            arguments, _ = recover_arguments(argv, False, [])
            return replace(
                own, argv=argv, arguments=arguments, environment=dict(launch.environment)
            )
        assert sample.master.pid is not None
        notes: list[str] = []
        own_argv = process.argv or ()
        titled = parse_title(own_argv) is not None
        wrappers = wrapper_chain(sample.master.pid)
        if inspect is not None:
            wrappers.append(_container_command(inspect))
        arguments, note = recover_arguments(own_argv, titled, wrappers)
        if note:
            notes.append(note)
        environment = process.environment
        if environment is None:
            if inspect is not None:
                environment = _env_from_inspect(inspect)
                notes.append("master environment hidden by setproctitle; using its container's")
            elif sample.container is None:
                # A host master's hidden environment is never guessed: a
                # restart or check must run with exactly the master's.
                notes.append("the master's environment is hidden (setproctitle)")
        return replace(
            own,
            argv=None if titled or process.argv is None else process.argv,
            arguments=arguments,
            environment=environment,
            notes=tuple(notes),
        )

    def socket_through_exec(self, inspect: Mapping[str, Any], env: Mapping[str, str]) -> None:
        return None  # /proc shows the master's socket: the sample has it

    def worker_start_ticks(self) -> dict[int, int]:
        worker_ticks: dict[int, int] = {}
        for worker in self.sample.workers:
            ticks = start_ticks_of(worker.pid) if worker.pid is not None else None
            if worker.pid is not None and ticks is not None:
                worker_ticks[worker.pid] = ticks
        return worker_ticks


@dataclass(frozen=True)
class _DaemonFacts:
    """Only the Docker API sees the master: its container's inspect and exec."""

    access: ApiContainer
    sample: InstanceSample
    scans_interpreter: bool = False

    def command(
        self, inspect: Mapping[str, Any] | None, launch: LaunchRecord | None
    ) -> _MasterCommand:
        return _MasterCommand(
            arguments=args_from_command(_container_command(inspect or {})),
            environment=_env_from_inspect(inspect),
        )

    def socket_through_exec(self, inspect: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
        return _socket_through_exec(self.access, self.sample, inspect, env)

    def worker_start_ticks(self) -> dict[int, int]:
        return {}  # the pids are not this host's


# -- the sections of a gather ----------------------------------------------------------


def _with_inferred_arguments(
    command: _MasterCommand, inspect: Mapping[str, Any] | None
) -> _MasterCommand:
    """Gunicorn's arguments from the container's Entrypoint/Cmd when the
    master's own command line did not give them."""
    verified = replace(command, arguments_verified=command.arguments is not None)
    if inspect is None:
        return verified
    config = inspect.get("Config") or {}
    location = locate_arguments(
        config.get("Entrypoint") or [], config.get("Cmd") or [], command.arguments
    )
    if command.arguments is not None or location is None:
        return verified
    return replace(
        command,
        arguments=location.arguments,
        arguments_verified=location.verified,
        notes=(
            *command.notes,
            "Gunicorn arguments inferred from the container's Cmd "
            f"({location.place.value}); the master's own command line is hidden",
        ),
    )


@dataclass(frozen=True)
class _StartFacts:
    """Where the master started, and the config file it reads from there."""

    cwd: str | None
    note: str | None
    config_file: ConfigFileFacts


def _start_and_config_file(
    access: TargetAccess,
    inspect: Mapping[str, Any] | None,
    command: _MasterCommand,
    launch: LaunchRecord | None,
    is_init: bool,
    working_dir: str,
    command_line: ParsedArguments,
    env_args: ParsedArguments,
) -> _StartFacts:
    explicit = command_line.config_path or env_args.config_path
    start_cwd, start_note = _start_cwd(command.cwd, launch, is_init, working_dir, access.kind)
    file_facts = _config_file_facts(access, inspect, start_cwd, explicit)
    # With chdir set, the master's cwd now is not where it started, and the
    # start directory is where Gunicorn looks for ./gunicorn.conf.py on HUP.
    if launch is None and _chdir_declared(command_line, env_args, file_facts.content):
        if is_init:
            start_cwd, start_note = working_dir, None
        else:
            start_cwd = None
            start_note = (
                "chdir is set, so the directory the master started in (where Gunicorn "
                "looks for ./gunicorn.conf.py on reload) is not known"
            )
        file_facts = _config_file_facts(access, inspect, start_cwd, explicit)
    return _StartFacts(start_cwd, start_note, file_facts)


@dataclass(frozen=True)
class _StaticLayers:
    """Where each retunable setting is declared, and its value there."""

    declared_in: dict[str, ConfigSource]
    static_values: dict[str, ConfigValue]
    env_declares: dict[str, str]  # setting -> the variable that sets it


def _static_layers(
    command: _MasterCommand,
    file_facts: ConfigFileFacts,
    command_line: ParsedArguments,
    env_args: ParsedArguments,
    env: Mapping[str, str],
) -> _StaticLayers:
    file_settings = parse_config_source(file_facts.content) if file_facts.content else None
    inputs = ConfigInputs(
        command_line=command_line,
        environment=dict(env),
        config_file_path=file_facts.path if file_facts.exists else None,
        config_file=file_settings,
        command_line_known=command.arguments is not None,
    )
    static = resolve_config(inputs)
    declared_in = {name: static.get(name).declared_in for name in RETUNABLE_SETTINGS}
    static_values: dict[str, ConfigValue] = {
        name: static.get(name).value for name in RETUNABLE_SETTINGS
    }
    if file_facts.exists and file_facts.content is None:
        # A config file gtui cannot read may set anything: where each setting
        # comes from is then unknown.
        declared_in = {
            name: ConfigSource.UNKNOWN if layer is ConfigSource.DEFAULT else layer
            for name, layer in declared_in.items()
        }
    env_declares: dict[str, str] = {}
    for name in RETUNABLE_SETTINGS:
        if declared_in[name] is ConfigSource.ENV:
            if name in env_args.settings:
                env_declares[name] = ENV_CMD_ARGS
            elif name == "workers" and env.get(ENV_WEB_CONCURRENCY):
                env_declares[name] = ENV_WEB_CONCURRENCY
    return _StaticLayers(declared_in, static_values, env_declares)


def _control_socket(
    sample: InstanceSample,
    source: _FactSource,
    inspect: Mapping[str, Any] | None,
    env: Mapping[str, str],
) -> str | None:
    socket_path = sample.control_socket
    if socket_path is None and sample.workers_target is not None:
        configured = sample.config.value("control_socket")
        socket_path = configured if isinstance(configured, str) else None
    if socket_path is None:
        socket_path = source.socket_through_exec(inspect or {}, env)
    return socket_path


@dataclass(frozen=True)
class _Runtime:
    """What the server's installation holds, read from its files (never by running it)."""

    interpreter: str | None
    modules: dict[str, bool]
    module_errors: dict[str, str]
    probe_error: str | None
    gunicorn_version: str | None


def _runtime(
    sample: InstanceSample,
    access: TargetAccess,
    source: _FactSource,
    command: _MasterCommand,
    modules: Sequence[str],
    cwd: str,
) -> _Runtime:
    interpreter = command.interpreter
    version = sample.gunicorn_version
    if not (modules or source.scans_interpreter):
        return _Runtime(interpreter, {}, {}, None, version)
    try:
        found = access.runtime_facts(
            modules,
            argv=command.argv,
            environment=command.environment,
            cwd=cwd,
            interpreters=[interpreter] if interpreter else [],
        )
    except (ProbeFailed, AccessError) as error:
        return _Runtime(interpreter, {}, {}, str(error), version)
    return _Runtime(
        (found.interpreter or interpreter) if source.scans_interpreter else interpreter,
        dict(found.modules),
        {k: v for k, v in found.errors.items() if k in modules},
        None,
        version or found.gunicorn_version,
    )


def _env_from_inspect(inspect: Mapping[str, Any] | None) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in ((inspect or {}).get("Config") or {}).get("Env") or []:
        key, sep, value = str(entry).partition("=")
        if sep:
            env[key] = value
    return env


def _start_cwd(
    own_cwd: str | None,
    launch: LaunchRecord | None,
    is_init: bool,
    working_dir: str,
    kind: AccessKind,
) -> tuple[str | None, str | None]:
    if launch is not None:
        return launch.cwd, None
    if own_cwd is not None:
        return own_cwd, None
    if is_init:
        return working_dir, None
    if not kind.has_local_pids:
        return None, "the master's working directory is not visible through the Docker API"
    return None, "the master's working directory is not readable"


def _config_file_facts(
    access: TargetAccess,
    inspect: Mapping[str, Any] | None,
    start_cwd: str | None,
    explicit: str | None,
) -> ConfigFileFacts:
    if explicit is not None and explicit.startswith("python:"):
        return ConfigFileFacts(
            None, True, True, None, False, False, f"config is a Python module ({explicit})"
        )
    name = explicit.removeprefix("file:") if explicit else DEFAULT_CONFIG_NAME
    if not name.startswith("/") and start_cwd is None:
        return ConfigFileFacts(
            None,
            bool(explicit),
            False,
            None,
            False,
            False,
            "the directory the master started in is not known",
        )
    path = _join(start_cwd or "/", name)
    found = access.file_state(path)
    directory = access.directory_state(os.path.dirname(path))
    candidate = access.file_state(candidate_path(path))
    why_not: str | None = directory.reason
    writable = directory.writable
    if writable and candidate.exists:
        writable = False
        why_not = (
            f"{candidate_path(path)} already exists ({candidate.describe()}); gtui never "
            "overwrites it: remove it if an interrupted retune left it"
        )
    content = found.text if found.kind is FileKind.REGULAR else None
    mount = mount_of(path, inspect)
    return ConfigFileFacts(
        path=path,
        explicit=bool(explicit),
        exists=found.exists,
        content=content,
        managed=found.kind is FileKind.REGULAR and is_managed(content),
        writable=writable,
        in_container_layer=inspect is not None and mount is None,
        kind=found.kind,
        what=found.describe(),
        mount=mount,
        why_not_writable=why_not,
    )


def _container_facts(
    engine: DockerEngine, inspect: Mapping[str, Any], label: str, preflight: bool
) -> ContainerFacts:
    config = inspect.get("Config") or {}
    host_config = inspect.get("HostConfig") or {}
    image_id = str(inspect.get("Image", ""))
    tag = str(config.get("Image") or "")
    image_ref = image_id
    if tag:
        try:
            image = engine.inspect_image(tag)
        except AccessError:
            image = None
        if image is not None and image.get("Id") == image_id:
            image_ref = tag
    name = str(inspect.get("Name", "")).lstrip("/")
    taken: dict[str, str] = {}
    for candidate in (temporary_name(name), aside_name(name)):
        found = engine.inspect(candidate)
        if found is not None:
            taken[candidate] = str(found.get("Id", ""))
    container_id = str(inspect.get("Id", ""))
    return ContainerFacts(
        inspect=inspect,
        image_ref=image_ref,
        host_network=str(host_config.get("NetworkMode")) == "host",
        auto_remove=bool(host_config.get("AutoRemove")),
        names_taken=taken,
        api_version=engine.api_version,
        layer_changes=layer_losses(engine.diff(container_id), mount_points(inspect)),
        dependents=dependents(engine, inspect) if preflight else (),
        orchestrator=orchestrator_of(dict(config.get("Labels") or {}), name or label),
        engine_id=engine.identity().engine_id or None,
    )


def _socket_through_exec(
    access: ApiContainer, sample: InstanceSample, inspect: Mapping[str, Any], env: Mapping[str, str]
) -> str | None:
    """A control socket that answers inside the container (remote daemons,
    where /proc cannot show it): the configured path, then the defaults."""
    if sample.config.value("control_socket_disable") is True or sample.container is None:
        return None
    candidates: list[str] = []
    configured = sample.config.value("control_socket")
    if isinstance(configured, str) and configured:
        candidates.append(configured)
    user = str((inspect.get("Config") or {}).get("User") or "")
    home = env.get("HOME") or ("/root" if user in ("", "root", "0", "0:0") else None)
    if env.get("XDG_RUNTIME_DIR"):
        candidates.append(f"{env['XDG_RUNTIME_DIR'].rstrip('/')}/gunicorn.ctl")
    if home:
        candidates.append(f"{home.rstrip('/')}/.gunicorn/gunicorn.ctl")
    candidates.append("gunicorn.ctl")  # 25.1.0: the working directory
    for path in dict.fromkeys(candidates):
        try:
            (reply,) = access.control(path, ["show stats"])
        except (ControlSocketError, ValueError, AccessError):
            continue
        if reply.ok:
            return path
    return None
