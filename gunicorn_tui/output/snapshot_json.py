"""The JSON form of instance samples (``gtui snapshot --json``, ``gtui watch``).

The schema is documented in the README; ``SCHEMA`` names its version. Every
figure that could not be measured is ``null`` and named, with the reason, in
the ``unavailable`` object next to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from gunicorn_tui.capacity.facts import CapacityFacts
from gunicorn_tui.discovery.docker_engine import DaemonStatus
from gunicorn_tui.discovery.reach import reach_of
from gunicorn_tui.model.instances import (
    ComposeMembership,
    ConfigSetting,
    InstanceSample,
    ProcessSample,
    ResourceTotals,
    WorkerSample,
)
from gunicorn_tui.output.capacity_json import capacity_json
from gunicorn_tui.output.traffic_json import traffic_json, workers_traffic_by_host_pid
from gunicorn_tui.traffic.instance_traffic import TrafficView

SCHEMA = "gtui.snapshot/2"

# The settings every instance reports; the rest of the tracked ones follow.
HEADLINE_SETTINGS = ("workers", "worker_class", "threads", "timeout", "bind")


def iso_time(epoch_s: float) -> str:
    """UTC ISO-8601 with milliseconds."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def setting_json(setting: ConfigSetting) -> dict[str, Any]:
    return {
        "value": setting.value,
        "source": setting.source.value,
        "declared_in": setting.declared_in.value,
    }


def process_json(process: ProcessSample) -> dict[str, Any]:
    return {
        "pid": process.pid,
        "ns_pid": process.ns_pid,
        "cpu_percent": _round(process.cpu_percent),
        "rss_bytes": process.rss_bytes,
        "uss_bytes": process.uss_bytes,
        "uss_age_s": _round(process.uss_age_s, 1),
        "age_s": _round(process.age_s, 1),
        "unavailable": dict(process.unavailable),
    }


def worker_json(worker: WorkerSample) -> dict[str, Any]:
    document = process_json(worker.process)
    document.update(
        {
            "heartbeat_age_s": _round(worker.heartbeat_age_s),
            "client_connections": worker.client_connections,
            "state": worker.state.value,
        }
    )
    document["unavailable"] = {**document["unavailable"], **dict(worker.unavailable)}
    return document


def totals_json(totals: ResourceTotals) -> dict[str, Any]:
    return {
        "cpu_percent": _round(totals.cpu_percent),
        "memory_bytes": totals.memory_bytes,
        "memory_limit_bytes": totals.memory_limit_bytes,
        "cpu_limit_cores": totals.cpu_limit_cores,
        "from_cgroup": totals.from_cgroup,
        "unavailable": dict(totals.unavailable),
    }


def compose_json(compose: ComposeMembership) -> dict[str, Any]:
    return {
        "project": compose.project,
        "service": compose.service,
        "number": compose.number,
        "config_files": list(compose.config_files),
        "working_dir": compose.working_dir,
    }


def instance_json(
    sample: InstanceSample,
    traffic: TrafficView | None = None,
    capacity: CapacityFacts | None = None,
) -> dict[str, Any]:
    """One instance as documented in the README (traffic and capacity null
    when not collected)."""
    config = {name: setting_json(sample.config.get(name)) for name in HEADLINE_SETTINGS}
    per_worker = workers_traffic_by_host_pid(traffic) if traffic is not None else {}
    for name, setting in sample.config.settings.items():
        config.setdefault(name, setting_json(setting))
    container = sample.container
    return {
        "key": sample.key,
        "host": sample.host,
        "stale": sample.stale,
        "source": sample.source.value,
        "name": sample.name,
        "container": (
            {
                "id": container.id,
                "name": container.name,
                "image": container.image,
                "network_mode": container.networking.mode if container.networking else None,
                "compose": compose_json(container.compose) if container.compose else None,
                "watch_only": container.watch_only,
            }
            if container is not None
            else None
        ),
        "gunicorn_version": sample.gunicorn_version,
        "sampling": sample.mode.value,
        "taken_at": iso_time(sample.taken_at),
        "master": process_json(sample.master),
        "config": config,
        "config_file": sample.config.config_file,
        "reach": reach_of(sample).as_json(),
        "control_socket": sample.control_socket,
        "workers_current": len(sample.workers),
        "workers_target": sample.workers_target,
        "reloads": sample.reloads,
        "workers": [
            {**worker_json(worker), "traffic": per_worker.get(worker.pid or -1)}
            for worker in sample.workers
        ],
        "traffic": traffic_json(traffic) if traffic is not None else None,
        "totals": totals_json(sample.totals),
        "capacity": capacity_json(capacity) if capacity is not None else None,
        "warnings": list(sample.warnings) + list(sample.config.warnings),
    }


def docker_json(status: DaemonStatus) -> dict[str, Any]:
    return {"state": status.state.value, "message": status.message, "host": status.host}


def engine_json(status: DaemonStatus) -> dict[str, Any]:
    """One engine of the session: its name, address, state and identity."""
    return {
        "name": status.name,
        "address": status.host,
        "state": status.state.value,
        "message": status.message,
        "engine_id": status.engine_id or None,
    }


def snapshot_json(
    instances: tuple[InstanceSample, ...],
    docker: DaemonStatus,
    taken_at: float,
    notices: tuple[str, ...] = (),
    traffic: Mapping[str, TrafficView] | None = None,
    capacity: Mapping[str, CapacityFacts] | None = None,
    engines: Sequence[DaemonStatus] = (),
) -> dict[str, Any]:
    """The whole ``gtui snapshot --json`` document."""
    views = traffic or {}
    facts = capacity or {}
    return {
        "schema": SCHEMA,
        "taken_at": iso_time(taken_at),
        "docker": docker_json(docker),
        "engines": [engine_json(status) for status in engines],
        "instances": [
            instance_json(sample, views.get(sample.key), facts.get(sample.key))
            for sample in instances
        ],
        "notices": list(notices),
    }
