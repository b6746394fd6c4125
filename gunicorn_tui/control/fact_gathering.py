"""Gather :class:`RetuneFacts` for one sampled instance.

Reads the master's /proc entries (command, environment, working directory,
uid), its config file through ``/proc/<pid>/root`` (or the Docker archive
API on a remote daemon), inspects its container, and reads the server's
installation (its files, never its code) for the modules a worker class needs.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

import psutil

from gunicorn_tui.control.command_args import locate_arguments
from gunicorn_tui.control.container_spec import aside_name, temporary_name
from gunicorn_tui.control.facts import (
    ENV_CMD_ARGS,
    ENV_WEB_CONCURRENCY,
    ConfigFileFacts,
    ContainerFacts,
    RetuneFacts,
)
from gunicorn_tui.control.managed_config import DEFAULT_CONFIG_NAME, is_managed
from gunicorn_tui.control.requests import RETUNABLE_SETTINGS
from gunicorn_tui.discovery.process_tree import parse_title
from gunicorn_tui.interpreter.runtime_facts import (
    ProbeFailed,
    container_exec_runtime_facts,
    local_runtime_facts,
)
from gunicorn_tui.model.instances import ConfigSource, ConfigValue, InstanceSample, SamplingMode
from gunicorn_tui.sampling.control_socket import ControlSocketError, DockerExecTransport
from gunicorn_tui.sampling.local_instance import LaunchRecord
from gunicorn_tui.sampling.procfs import PROC, ProcessGone, read_argv, read_environ, read_ppid
from gunicorn_tui.settings.command_line import ParsedArguments, parse_arguments, parse_env_arguments
from gunicorn_tui.settings.command_recovery import args_from_command
from gunicorn_tui.settings.config_file import parse_config_source
from gunicorn_tui.settings.master_inputs import (
    read_master_environment,
    recover_arguments,
    wrapper_chain,
)
from gunicorn_tui.settings.resolve import ConfigInputs, resolve_config

MAX_CONFIG_BYTES = 1024 * 1024


class FactsUnavailable(Exception):
    """The instance could not be examined (gone, or Docker unreachable)."""


def _container_command(inspect: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(w) for w in [inspect.get("Path", ""), *(inspect.get("Args") or [])] if str(w))


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path).removesuffix(" (deleted)")
    except OSError:
        return None


def _join(base: str, path: str) -> str:
    return os.path.normpath(path if path.startswith("/") else os.path.join(base, path))


def _under_mount(path: str, inspect: Mapping[str, Any] | None) -> str | None:
    if inspect is None:
        return None
    for mount in inspect.get("Mounts") or []:
        destination = str(mount.get("Destination") or "")
        if destination and (path == destination or path.startswith(destination.rstrip("/") + "/")):
            return destination
    return None


def _read_host_file(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_CONFIG_BYTES).decode("utf-8", "replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def read_container_file(client: Any, container_id: str, path: str) -> str | None:
    """A file's text through the Docker archive API (remote daemons)."""
    try:
        stream, _ = client.api.get_archive(container_id, path)
        data = b"".join(stream)
    except Exception:
        return None
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.next()
        if member is None or not member.isfile():
            return None
        handle = archive.extractfile(member)
        return handle.read(MAX_CONFIG_BYTES).decode("utf-8", "replace") if handle else None


def _chdir_declared(
    command_line: ParsedArguments, env_args: ParsedArguments, file_text: str | None
) -> bool:
    if "chdir" in command_line.settings or "chdir" in env_args.settings:
        return True
    return file_text is not None and "chdir" in parse_config_source(file_text).settings


def gather_facts(
    sample: InstanceSample,
    client: Any = None,
    launch: LaunchRecord | None = None,
    modules: Sequence[str] = (),
) -> RetuneFacts:
    """Examine ``sample``'s master (and container) for planning.

    ``client`` is a DockerClient (needed for container instances); ``modules``
    are imported by the runtime probe (the worker class a retune asks for).
    """
    pid = sample.master.pid
    if pid is None:
        raise FactsUnavailable(f"{sample.label}: master pid unknown")
    daemon_local = sample.mode is SamplingMode.PROCFS and os.path.exists(f"{PROC}/{pid}")
    notes: list[str] = []
    inspect: Mapping[str, Any] | None = None
    container_facts: ContainerFacts | None = None
    if sample.container is not None:
        if client is None:
            raise FactsUnavailable(f"{sample.label}: Docker unreachable")
        try:
            inspect = client.api.inspect_container(sample.container.id)
        except Exception as error:
            raise FactsUnavailable(f"{sample.container.name}: {_first_line(error)}") from error
        container_facts = _container_facts(client, inspect)

    state = (inspect or {}).get("State") or {}
    if daemon_local:
        ns_pid = sample.master.ns_pid
        is_init = sample.container is not None and ns_pid == 1
    else:
        ns_pid = sample.master.ns_pid
        is_init = sample.container is not None and int(state.get("Pid") or 0) == pid
        if is_init:
            ns_pid = 1

    # -- command line and environment ------------------------------------------
    container_env = _env_from_inspect(inspect)
    argv: tuple[str, ...] | None = None
    arguments: tuple[str, ...] | None = None
    environment: Mapping[str, str] | None = None
    interpreter: str | None = None
    uid = gid = None
    if launch is not None and launch.pid == pid:
        argv, environment = tuple(launch.argv), dict(launch.environment)
        arguments, _ = recover_arguments(argv, False, [])
    elif daemon_local:
        try:
            own_argv = read_argv(pid)
        except (ProcessGone, PermissionError) as error:
            raise FactsUnavailable(f"{sample.label}: master gone ({error})") from error
        titled = parse_title(own_argv) is not None
        wrappers = wrapper_chain(pid)
        if inspect is not None:
            wrappers.append(_container_command(inspect))
        arguments, note = recover_arguments(own_argv, titled, wrappers)
        if note:
            notes.append(note)
        argv = None if titled else own_argv
        environment = read_master_environment(pid)
        if environment is None:
            environment = container_env if inspect is not None else _parent_environment(pid)
            notes.append("master environment hidden by setproctitle; using its container's")
    else:
        arguments = args_from_command(_container_command(inspect or {}))
        environment = container_env
    if daemon_local:
        interpreter = _readlink(f"{PROC}/{pid}/exe")
        try:
            uids, gids = psutil.Process(pid).uids(), psutil.Process(pid).gids()
            uid, gid = uids.real, gids.real
        except psutil.Error:
            pass

    arguments_verified = arguments is not None
    if inspect is not None:
        config = inspect.get("Config") or {}
        location = locate_arguments(
            config.get("Entrypoint") or [], config.get("Cmd") or [], arguments
        )
        if arguments is None and location is not None:
            arguments = location.arguments
            arguments_verified = location.verified
            notes.append(
                "Gunicorn arguments inferred from the container's Cmd "
                f"({location.place.value}); the master's own command line is hidden"
            )

    env = dict(environment or {})
    command_line = parse_arguments(arguments or ())
    env_args = parse_env_arguments(env.get(ENV_CMD_ARGS, ""))

    # -- where the master started and which config file it reads -----------------
    own_cwd = _readlink(f"{PROC}/{pid}/cwd") if daemon_local else None
    working_dir = str(((inspect or {}).get("Config") or {}).get("WorkingDir") or "/")
    explicit = command_line.config_path or env_args.config_path
    own_launch = launch if launch is not None and launch.pid == pid else None
    start_cwd, start_note = _start_cwd(own_cwd, own_launch, is_init, working_dir, daemon_local)
    file_facts = _config_file_facts(sample, client, inspect, pid, daemon_local, start_cwd, explicit)
    # With chdir set, the master's cwd now is not where it started, and the
    # start directory is where Gunicorn looks for ./gunicorn.conf.py on HUP.
    if own_launch is None and _chdir_declared(command_line, env_args, file_facts.content):
        if is_init:
            start_cwd, start_note = working_dir, None
        else:
            start_cwd = None
            start_note = (
                "chdir is set, so the directory the master started in (where Gunicorn "
                "looks for ./gunicorn.conf.py on reload) is not known"
            )
        file_facts = _config_file_facts(
            sample, client, inspect, pid, daemon_local, start_cwd, explicit
        )
    # -- static layers -----------------------------------------------------------
    file_settings = parse_config_source(file_facts.content) if file_facts.content else None
    inputs = ConfigInputs(
        command_line=command_line,
        environment=env,
        config_file_path=file_facts.path if file_facts.exists else None,
        config_file=file_settings,
        command_line_known=arguments is not None,
    )
    static = resolve_config(inputs)
    declared_in = {name: static.get(name).declared_in for name in RETUNABLE_SETTINGS}
    static_values: dict[str, ConfigValue] = {
        name: static.get(name).value for name in RETUNABLE_SETTINGS
    }
    env_declares: dict[str, str] = {}
    for name in RETUNABLE_SETTINGS:
        if declared_in[name] is ConfigSource.ENV:
            if name in env_args.settings:
                env_declares[name] = ENV_CMD_ARGS
            elif name == "workers" and env.get(ENV_WEB_CONCURRENCY):
                env_declares[name] = ENV_WEB_CONCURRENCY

    # -- control socket ----------------------------------------------------------
    socket_path = sample.control_socket
    if socket_path is None and sample.workers_target is not None:
        configured = sample.config.value("control_socket")
        socket_path = configured if isinstance(configured, str) else None
    if socket_path is None and not daemon_local and sample.container is not None:
        socket_path = _socket_through_exec(client, sample, inspect or {}, env)
    socket_host = None
    if socket_path is not None and daemon_local:
        base = f"{PROC}/{pid}/root" if socket_path.startswith("/") else f"{PROC}/{pid}/cwd"
        socket_host = os.path.join(base, socket_path.lstrip("/"))

    # -- runtime facts: read from the server's files, never by running it --------
    modules_found: dict[str, bool] = {}
    module_errors: dict[str, str] = {}
    probe_error: str | None = None
    version = sample.gunicorn_version
    # On a local daemon the scan also names the interpreter to run for
    # --check-config: a venv's python, where /proc/PID/exe is the base one.
    if modules or daemon_local:
        try:
            if daemon_local:
                facts = local_runtime_facts(pid, modules, argv=argv, environment=environment)
                interpreter = facts.interpreter or interpreter
            elif sample.container is not None:
                container = client.containers.get(sample.container.id)
                facts = container_exec_runtime_facts(
                    container,
                    [p for p in (interpreter, "python3", "python") if p],
                    ns_pid,
                    modules,
                    argv=argv,
                    environment=environment,
                    cwd=start_cwd or working_dir,
                )
            else:
                raise ProbeFailed("the master's files are not readable from here")
            modules_found = dict(facts.modules)
            module_errors = {k: v for k, v in facts.errors.items() if k in modules}
            version = version or facts.gunicorn_version
        except ProbeFailed as error:
            probe_error = str(error)
        except Exception as error:  # docker errors while getting the container
            probe_error = _first_line(error)

    return RetuneFacts(
        taken_at=time.time(),
        daemon_local=daemon_local,
        master_pid=pid,
        master_ns_pid=ns_pid,
        master_is_container_init=is_init,
        interpreter=interpreter,
        arguments=arguments,
        arguments_verified=arguments_verified,
        argv=argv,
        environment=environment,
        start_cwd=start_cwd,
        start_cwd_note=start_note,
        config_file=file_facts,
        declared_in=declared_in,
        static_values=static_values,
        env_declares=env_declares,
        control_socket_path=socket_path,
        control_socket_host_path=socket_host,
        uid=uid,
        gid=gid,
        modules=modules_found,
        module_errors=module_errors,
        probe_error=probe_error,
        gunicorn_version=version,
        container=container_facts,
        launch=launch if launch is not None and launch.pid == pid else None,
        notes=tuple(notes),
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def _env_from_inspect(inspect: Mapping[str, Any] | None) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in ((inspect or {}).get("Config") or {}).get("Env") or []:
        key, sep, value = str(entry).partition("=")
        if sep:
            env[key] = value
    return env


def _parent_environment(pid: int) -> dict[str, str]:
    try:
        return read_environ(read_ppid(pid))
    except (ProcessGone, PermissionError, ValueError):
        return {}


def _start_cwd(
    own_cwd: str | None,
    launch: LaunchRecord | None,
    is_init: bool,
    working_dir: str,
    daemon_local: bool,
) -> tuple[str | None, str | None]:
    if launch is not None:
        return launch.cwd, None
    if own_cwd is not None:
        return own_cwd, None
    if is_init:
        return working_dir, None
    if not daemon_local:
        return None, "the master's working directory is not visible through the Docker API"
    return None, "the master's working directory is not readable"


def _config_file_facts(
    sample: InstanceSample,
    client: Any,
    inspect: Mapping[str, Any] | None,
    pid: int,
    daemon_local: bool,
    start_cwd: str | None,
    explicit: str | None,
) -> ConfigFileFacts:
    if explicit is not None and explicit.startswith("python:"):
        return ConfigFileFacts(
            None, True, True, None, False, None, False, f"config is a Python module ({explicit})"
        )
    name = explicit.removeprefix("file:") if explicit else DEFAULT_CONFIG_NAME
    if not name.startswith("/") and start_cwd is None:
        return ConfigFileFacts(
            None,
            bool(explicit),
            False,
            None,
            False,
            None,
            False,
            "the directory the master started in is not known",
        )
    path = _join(start_cwd or "/", name)
    host_path: str | None = None
    if daemon_local:
        host_path = f"{PROC}/{pid}/root{path}"
        content = _read_host_file(host_path)
        directory = os.path.dirname(host_path)
        writable = os.path.isdir(directory) and os.access(directory, os.W_OK)
    else:
        content = (
            read_container_file(client, sample.container.id, path)
            if sample.container is not None and client is not None
            else None
        )
        read_only = bool(((inspect or {}).get("HostConfig") or {}).get("ReadonlyRootfs"))
        writable = sample.container is not None and not read_only
    mount = _under_mount(path, inspect)
    return ConfigFileFacts(
        path=path,
        explicit=bool(explicit),
        exists=content is not None,
        content=content,
        managed=is_managed(content),
        host_path=host_path,
        writable=writable,
        in_container_layer=inspect is not None and mount is None,
    )


def _container_facts(client: Any, inspect: Mapping[str, Any]) -> ContainerFacts:
    config = inspect.get("Config") or {}
    host_config = inspect.get("HostConfig") or {}
    image_id = str(inspect.get("Image", ""))
    tag = str(config.get("Image") or "")
    image_ref = image_id
    if tag:
        try:
            if client.api.inspect_image(tag).get("Id") == image_id:
                image_ref = tag
        except Exception:
            image_ref = image_id
    name = str(inspect.get("Name", "")).lstrip("/")
    taken: dict[str, str] = {}
    for candidate in (temporary_name(name), aside_name(name)):
        try:
            taken[candidate] = str(client.api.inspect_container(candidate).get("Id", ""))
        except Exception:
            continue
    return ContainerFacts(
        inspect=inspect,
        image_ref=image_ref,
        host_network=str(host_config.get("NetworkMode")) == "host",
        auto_remove=bool(host_config.get("AutoRemove")),
        names_taken=taken,
        api_version=str(getattr(client.api, "api_version", "")),
    )


def _socket_through_exec(
    client: Any, sample: InstanceSample, inspect: Mapping[str, Any], env: Mapping[str, str]
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
    try:
        container = client.containers.get(sample.container.id)
    except Exception:
        return None
    for path in dict.fromkeys(candidates):
        try:
            (reply,) = DockerExecTransport(container, path).request(["show stats"])
        except (ControlSocketError, ValueError):
            continue
        if reply.ok:
            return path
    return None
