"""Read instance samples back from the JSON that ``gtui snapshot --json`` and
``gtui watch --jsonl`` write, so a recorded run can be replayed (and the
dashboard tested on frames captured from real servers)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gunicorn_tui.model.instances import (
    ComposeMembership,
    ConfigSetting,
    ConfigSource,
    ContainerNetworking,
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


class SnapshotFormatError(ValueError):
    """The document is not a gtui snapshot."""


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _process(data: Mapping[str, Any]) -> ProcessSample:
    return ProcessSample(
        pid=data.get("pid"),
        ns_pid=data.get("ns_pid"),
        cpu_percent=data.get("cpu_percent"),
        rss_bytes=data.get("rss_bytes"),
        uss_bytes=data.get("uss_bytes"),
        age_s=data.get("age_s"),
        unavailable=dict(data.get("unavailable") or {}),
        uss_age_s=data.get("uss_age_s"),
    )


def _worker(data: Mapping[str, Any]) -> WorkerSample:
    reasons = dict(data.get("unavailable") or {})
    worker_fields = {"heartbeat_age_s", "client_connections"}
    return WorkerSample(
        process=_process(
            {**data, "unavailable": {k: v for k, v in reasons.items() if k not in worker_fields}}
        ),
        heartbeat_age_s=data.get("heartbeat_age_s"),
        client_connections=data.get("client_connections"),
        state=WorkerState(data.get("state", "unknown")),
        unavailable={k: v for k, v in reasons.items() if k in worker_fields},
    )


def _container(data: Mapping[str, Any]) -> ContainerRef:
    """The container object: its network mode (published ports are not in
    the JSON), Compose membership and why it is only watched, as written."""
    mode = data.get("network_mode")
    compose = data.get("compose")
    watch_only = data.get("watch_only")
    return ContainerRef(
        str(data["id"]),
        str(data["name"]),
        str(data["image"]),
        networking=ContainerNetworking(str(mode)) if mode else None,
        compose=ComposeMembership(
            project=str(compose["project"]),
            service=str(compose["service"]),
            number=compose.get("number"),
            config_files=tuple(str(path) for path in compose.get("config_files") or ()),
            working_dir=compose.get("working_dir"),
        )
        if isinstance(compose, Mapping)
        else None,
        watch_only=str(watch_only) if watch_only else None,
    )


def instance_from_json(data: Mapping[str, Any]) -> InstanceSample:
    """One instance object of the snapshot schema."""
    try:
        container = data.get("container")
        settings = {
            name: ConfigSetting(
                value=item.get("value"),
                source=ConfigSource(item.get("source", "unknown")),
                declared_in=ConfigSource(item.get("declared_in", "unknown")),
            )
            for name, item in (data.get("config") or {}).items()
        }
        totals = data.get("totals") or {}
        return InstanceSample(
            key=str(data["key"]),
            source=Source(data["source"]),
            container=_container(container) if container else None,
            name=str(data.get("name", "")),
            master=_process(data["master"]),
            config=GunicornConfig(settings, data.get("config_file")),
            workers=tuple(_worker(worker) for worker in data.get("workers") or []),
            totals=ResourceTotals(
                cpu_percent=totals.get("cpu_percent"),
                memory_bytes=totals.get("memory_bytes"),
                memory_limit_bytes=totals.get("memory_limit_bytes"),
                cpu_limit_cores=totals.get("cpu_limit_cores"),
                from_cgroup=bool(totals.get("from_cgroup")),
                unavailable=dict(totals.get("unavailable") or {}),
            ),
            gunicorn_version=data.get("gunicorn_version"),
            workers_target=data.get("workers_target"),
            mode=SamplingMode(data.get("sampling", "procfs")),
            taken_at=_epoch(data["taken_at"]),
            control_socket=data.get("control_socket"),
            warnings=tuple(data.get("warnings") or ()),
            reloads=data.get("reloads"),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SnapshotFormatError(f"not a gtui instance record: {error}") from error


def instances_from_json(document: Mapping[str, Any]) -> tuple[InstanceSample, ...]:
    """Every instance of a snapshot document."""
    if not isinstance(document.get("instances"), list):
        raise SnapshotFormatError("no 'instances' list")
    return tuple(instance_from_json(item) for item in document["instances"])
