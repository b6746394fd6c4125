"""Instance samples built from data, for the epoch tracker's pure tests."""

from __future__ import annotations

from gunicorn_tui.model.instances import (
    ConfigSetting,
    ConfigSource,
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


def sample_at(
    taken_at: float,
    *,
    workers: int = 2,
    worker_class: str = "sync",
    timeout: int = 30,
    master_pid: int = 100,
    first_worker_pid: int = 101,
    container_id: str | None = None,
    container_name: str = "web",
    cpu_percent: float = 50.0,
    memory_bytes: int = 100_000_000,
    reloads: int | None = None,
    busy: int = 1,
) -> InstanceSample:
    """One sample of a Gunicorn master with ``workers`` workers."""
    settings = {
        "workers": ConfigSetting(workers, ConfigSource.COMMAND_LINE, ConfigSource.COMMAND_LINE),
        "worker_class": ConfigSetting(worker_class, ConfigSource.DEFAULT, ConfigSource.DEFAULT),
        "timeout": ConfigSetting(timeout, ConfigSource.DEFAULT, ConfigSource.DEFAULT),
        "bind": ConfigSetting("127.0.0.1:8000", ConfigSource.COMMAND_LINE,
                              ConfigSource.COMMAND_LINE),
    }  # fmt: skip
    worker_samples = tuple(
        WorkerSample(
            process=ProcessSample(
                pid=first_worker_pid + index,
                ns_pid=None,
                cpu_percent=cpu_percent / workers,
                rss_bytes=40_000_000,
                uss_bytes=20_000_000,
                age_s=10.0,
            ),
            heartbeat_age_s=0.5,
            client_connections=0,
            state=WorkerState.BUSY if index < busy else WorkerState.IDLE,
        )
        for index in range(workers)
    )
    container = (
        ContainerRef(container_id, container_name, "image") if container_id is not None else None
    )
    key = f"docker:{container_id[:12]}:1" if container_id else f"local:{master_pid}"
    return InstanceSample(
        key=key,
        source=Source.DOCKER if container_id else Source.LOCAL,
        container=container,
        name="app",
        master=ProcessSample(master_pid, None, 0.1, 30_000_000, 10_000_000, 100.0),
        config=GunicornConfig(settings),
        workers=worker_samples,
        totals=ResourceTotals(cpu_percent, memory_bytes, None, None, False),
        gunicorn_version="27.0.1",
        workers_target=None,
        mode=SamplingMode.PROCFS,
        taken_at=taken_at,
        reloads=reloads,
    )
