"""Hand-made samples and facts for the pure planner tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.control.planning.facts import ConfigFileFacts, ContainerFacts, RetuneFacts
from gunicorn_tui.control.planning.requests import RETUNABLE_SETTINGS
from gunicorn_tui.model.instances import (
    ConfigSetting,
    ConfigSource,
    ConfigValue,
    ContainerRef,
    GunicornConfig,
    InstanceSample,
    ProcessSample,
    ResourceTotals,
    SamplingMode,
    Source,
    WorkerSample,
    WorkerState,
)
from gunicorn_tui.sampling.local_instance import LaunchRecord

CONTAINER_ID = "c" * 64
DEFAULTS: dict[str, ConfigValue] = {
    "workers": 2,
    "worker_class": "sync",
    "threads": 1,
    "worker_connections": 1000,
    "timeout": 30,
    "graceful_timeout": 30,
    "max_requests": 0,
    "max_requests_jitter": 0,
    "keepalive": 2,
    "preload_app": False,
    "bind": "127.0.0.1:8000",
}


def config(
    layers: Mapping[str, ConfigSource] | None = None, **values: ConfigValue
) -> GunicornConfig:
    """A config with DEFAULTS, overridden ``values``, declared per ``layers``."""
    settings = {}
    for name, default in DEFAULTS.items():
        layer = (layers or {}).get(name, ConfigSource.DEFAULT)
        value = values.get(name, default)
        settings[name] = ConfigSetting(value, layer, layer)
    return GunicornConfig(settings)


def process(pid: int, ns_pid: int | None = None) -> ProcessSample:
    return ProcessSample(pid, ns_pid if ns_pid is not None else pid, 0.0, 1, 1, 10.0)


def sample(
    *,
    container: bool = True,
    workers: int = 2,
    workers_target: int | None = 2,
    control_socket: str | None = "/root/.gunicorn/gunicorn.ctl",
    cfg: GunicornConfig | None = None,
    master_pid: int = 4000,
) -> InstanceSample:
    worker_samples = tuple(
        WorkerSample(process(master_pid + 1 + i, 7 + i), 0.1, 0, WorkerState.IDLE)
        for i in range(workers)
    )
    ref = ContainerRef(CONTAINER_ID, "web", "gtui-test/gunicorn:latest") if container else None
    return InstanceSample(
        key="docker:cccccccccccc:1" if container else f"local:{master_pid}",
        source=Source.DOCKER if container else Source.LOCAL,
        container=ref,
        name="app:app",
        master=process(master_pid, 1 if container else master_pid),
        config=cfg or config(),
        workers=worker_samples,
        totals=ResourceTotals(None, None, None, None, False),
        gunicorn_version="27.0.1",
        workers_target=workers_target,
        mode=SamplingMode.PROCFS,
        taken_at=0.0,
        control_socket=control_socket,
    )


def inspect(
    cmd: list[str] | None = None,
    entrypoint: list[str] | None = None,
    env: list[str] | None = None,
    network_mode: str = "host",
) -> dict[str, Any]:
    return {
        "Id": CONTAINER_ID,
        "Name": "/web",
        "Image": "sha256:" + "1" * 64,
        "Path": (entrypoint or cmd or ["gunicorn"])[0],
        "Args": [],
        "State": {"Running": True, "Pid": 4000},
        "Config": {
            "Image": "gtui-test/gunicorn:latest",
            "Hostname": CONTAINER_ID[:12],
            "Cmd": cmd
            if cmd is not None
            else ["gunicorn", "-w", "2", "-b", "127.0.0.1:8000", "app:app"],
            "Entrypoint": entrypoint,
            "Env": env if env is not None else ["PATH=/usr/bin", "PYTHONPATH=/opt/gtui/site"],
            "WorkingDir": "/app",
            "Labels": {"com.docker.compose.project": "shop"},
        },
        "HostConfig": {"NetworkMode": network_mode, "RestartPolicy": {"Name": "no"}},
        "NetworkSettings": {"Networks": {network_mode: {"Aliases": None}}},
        "Mounts": [],
    }


def facts(
    *,
    container: bool = True,
    layers: Mapping[str, ConfigSource] | None = None,
    static: Mapping[str, ConfigValue] | None = None,
    env_declares: Mapping[str, str] | None = None,
    file: ConfigFileFacts | None = None,
    arguments: tuple[str, ...] | None = ("-w", "2", "-b", "127.0.0.1:8000", "app:app"),
    modules: Mapping[str, bool] | None = None,
    module_errors: Mapping[str, str] | None = None,
    socket: bool = True,
    names_taken: Mapping[str, str] | None = None,
    container_inspect: dict[str, Any] | None = None,
    launch: LaunchRecord | None = None,
    argv: tuple[str, ...] | None = None,
) -> RetuneFacts:
    declared = {name: ConfigSource.DEFAULT for name in RETUNABLE_SETTINGS}
    declared.update(layers or {})
    values = {name: DEFAULTS[name] for name in RETUNABLE_SETTINGS}
    values.update(static or {})
    cfile = file or ConfigFileFacts(
        path="/app/gunicorn.conf.py",
        explicit=False,
        exists=False,
        content=None,
        managed=False,
        writable=True,
    )
    container_facts = None
    if container:
        container_facts = ContainerFacts(
            inspect=container_inspect or inspect(),
            image_ref="gtui-test/gunicorn:latest",
            host_network=True,
            auto_remove=False,
            names_taken=dict(names_taken or {}),
            api_version="1.41",
        )
    return RetuneFacts(
        taken_at=0.0,
        access=AccessKind.LOCAL_CONTAINER if container else AccessKind.HOST,
        master_pid=4000,
        master_ns_pid=1 if container else 4000,
        master_is_container_init=container,
        interpreter="/usr/bin/python3.11",
        arguments=arguments,
        arguments_verified=True,
        argv=argv,
        environment={"PATH": "/usr/bin"},
        start_cwd="/app",
        start_cwd_note=None,
        config_file=cfile,
        declared_in=declared,
        static_values=values,
        env_declares=dict(env_declares or {}),
        control_socket_path="/root/.gunicorn/gunicorn.ctl" if socket else None,
        uid=0,
        gid=0,
        modules=dict(modules or {}),
        module_errors=dict(module_errors or {}),
        probe_error=None,
        gunicorn_version="27.0.1",
        container=container_facts,
        launch=launch,
    )


def with_file(base: RetuneFacts, **changes: Any) -> RetuneFacts:
    """``base`` with its config-file facts changed."""
    return replace(base, config_file=replace(base.config_file, **changes))
