"""Combine the places a Gunicorn setting can come from, in Gunicorn's order.

Precedence, later wins (../shared/notes/gunicorn.md): default (where
``WEB_CONCURRENCY`` and ``PORT`` feed the defaults of workers and bind),
config file, ``GUNICORN_CMD_ARGS``, command line. When the server has a
control socket, its ``show config`` is what the server really runs with and
is shown as such, while ``declared_in`` still names the static layer, which
is what a retune has to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gunicorn_tui.model.instances import ConfigSetting, ConfigSource, ConfigValue, GunicornConfig
from gunicorn_tui.settings.command_line import (
    ParsedArguments,
    default_value,
    normalise_value,
    parse_env_arguments,
)
from gunicorn_tui.settings.config_file import Computed, ConfigFileSettings

# The settings gtui shows, compares and retunes.
TRACKED_SETTINGS: tuple[str, ...] = (
    "workers",
    "worker_class",
    "threads",
    "worker_connections",
    "timeout",
    "graceful_timeout",
    "keepalive",
    "max_requests",
    "max_requests_jitter",
    "preload_app",
    "bind",
    "backlog",
    "accesslog",
    "access_log_format",
    "errorlog",
    "statsd_host",
    "statsd_prefix",
    "dogstatsd_tags",
    "proc_name",
    "worker_tmp_dir",
    "control_socket",
    "control_socket_disable",
)

DEFAULT_CONFIG_FILE = "gunicorn.conf.py"

# Gunicorn's defaults when neither WEB_CONCURRENCY nor PORT is set.
DEFAULT_WORKERS = 1
DEFAULT_BIND = "127.0.0.1:8000"


@dataclass(frozen=True)
class ConfigInputs:
    """Everything read about one master before resolution."""

    command_line: ParsedArguments
    environment: Mapping[str, str]
    config_file_path: str | None
    config_file: ConfigFileSettings | None
    control_socket_config: Mapping[str, object] | None = None
    # False when the master's arguments could not be read (setproctitle hid
    # them and no wrapper showed them): a default is then only a guess.
    command_line_known: bool = True


def config_file_to_read(command_line: ParsedArguments, environment: Mapping[str, str]) -> str:
    """The config file Gunicorn loads: ``-c`` on the command line, else in
    ``GUNICORN_CMD_ARGS``, else ``./gunicorn.conf.py`` (only if it exists)."""
    if command_line.config_path:
        return command_line.config_path
    env_args = environment.get("GUNICORN_CMD_ARGS")
    if env_args:
        parsed = parse_env_arguments(env_args)
        if parsed.config_path:
            return parsed.config_path
    return DEFAULT_CONFIG_FILE


def resolve_config(inputs: ConfigInputs) -> GunicornConfig:
    """The effective value and origin of every tracked setting."""
    env_args = parse_env_arguments(inputs.environment.get("GUNICORN_CMD_ARGS", ""))
    warnings: list[str] = list(inputs.command_line.warnings) + list(env_args.warnings)
    if inputs.config_file is not None:
        warnings.extend(inputs.config_file.warnings)

    settings: dict[str, ConfigSetting] = {}
    for name in TRACKED_SETTINGS:
        value, layer = _default(name, inputs.environment)
        if inputs.config_file is not None and name in inputs.config_file.settings:
            file_value = inputs.config_file.settings[name]
            if isinstance(file_value, Computed):
                warnings.append(f"{name} is computed in the config file: {file_value.expression}")
                value = None
            else:
                value = file_value
            layer = ConfigSource.CONFIG_FILE
        if name in env_args.settings:
            value, layer = env_args.settings[name], ConfigSource.ENV
        if name in inputs.command_line.settings:
            value, layer = inputs.command_line.settings[name], ConfigSource.COMMAND_LINE
        if not inputs.command_line_known:
            # The hidden command line may override any other layer (and name
            # another config file), so none of them is known to hold.
            value, layer = None, ConfigSource.UNKNOWN
        source = layer
        control = inputs.control_socket_config
        if control is not None and name in control:
            value, source = normalise_value(name, control[name]), ConfigSource.CONTROL_SOCKET
            if name == "worker_class" and isinstance(value, str):
                value = worker_class_from_repr(value)
        settings[name] = ConfigSetting(value, source, layer)

    settings["worker_class"] = _effective_worker_class(settings)
    return GunicornConfig(
        settings=settings,
        config_file=inputs.config_file_path if inputs.config_file is not None else None,
        warnings=tuple(warnings),
    )


def _default(name: str, environment: Mapping[str, str]) -> tuple[ConfigValue, ConfigSource]:
    # Gunicorn evaluates these defaults in the master's own environment, when
    # gunicorn.config is imported: the installed Gunicorn's own defaults for
    # them were computed from gtui's environment, so they are spelled out.
    if name == "workers":
        if environment.get("WEB_CONCURRENCY"):
            try:
                return int(environment["WEB_CONCURRENCY"]), ConfigSource.ENV
            except ValueError:
                pass
        return DEFAULT_WORKERS, ConfigSource.DEFAULT
    if name == "bind":
        if environment.get("PORT"):
            return f"0.0.0.0:{environment['PORT']}", ConfigSource.ENV
        return DEFAULT_BIND, ConfigSource.DEFAULT
    if name == "control_socket":
        # The default path depends on the master's environment, not ours.
        return default_control_socket_path(environment), ConfigSource.DEFAULT
    return default_value(name), ConfigSource.DEFAULT


def default_control_socket_path(environment: Mapping[str, str]) -> str | None:
    """Where Gunicorn >= 25.1 puts its control socket by default."""
    runtime_dir = environment.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        return f"{runtime_dir.rstrip('/')}/gunicorn.ctl"
    home = environment.get("HOME")
    if home:
        return f"{home.rstrip('/')}/.gunicorn/gunicorn.ctl"
    return None


def _effective_worker_class(settings: Mapping[str, ConfigSetting]) -> ConfigSetting:
    # Gunicorn runs "sync" with threads > 1 as gthread.
    worker_class = settings["worker_class"]
    threads = settings["threads"].value
    if (
        isinstance(worker_class.value, str)
        and short_worker_class(worker_class.value) == "sync"
        and isinstance(threads, int)
        and threads > 1
    ):
        return ConfigSetting("gthread", worker_class.source, worker_class.declared_in)
    return worker_class


_CLASS_ALIASES = {
    "gunicorn.workers.sync.SyncWorker": "sync",
    "gunicorn.workers.gthread.ThreadWorker": "gthread",
    "gunicorn.workers.ggevent.GeventWorker": "gevent",
    "gunicorn.workers.ggevent.GeventPyWSGIWorker": "gevent_pywsgi",
    "gunicorn.workers.gtornado.TornadoWorker": "tornado",
    "gunicorn.workers.geventlet.EventletWorker": "eventlet",
    "gunicorn.workers.gasgi.ASGIWorker": "asgi",
}


def worker_class_from_repr(value: str) -> str:
    """``sync`` from the control socket's ``<class 'gunicorn.workers.sync.SyncWorker'>``."""
    if value.startswith("<class '") and value.endswith("'>"):
        value = value[len("<class '") : -2]
    return short_worker_class(value)


def short_worker_class(value: str) -> str:
    """``sync`` for ``sync``, ``egg:gunicorn#sync`` and the dotted class path."""
    if value.startswith("egg:gunicorn#"):
        return value.split("#", 1)[1]
    return _CLASS_ALIASES.get(value, value)
