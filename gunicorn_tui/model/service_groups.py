"""Instances grouped by Compose service: a service with replicas is one
group with its replicas beneath and totals over them.

Plain data for every face (the dashboard's instance table, ``gtui ls``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gunicorn_tui.model.instances import InstanceSample

SERVICE_KEY_PREFIX = "service:"


@dataclass(frozen=True)
class ServiceTotals:
    """Sums over a service's replicas; a figure is None when a replica lacks it."""

    replicas: int
    workers: int
    cpu_percent: float | None
    memory_bytes: int | None


@dataclass(frozen=True)
class InstanceGroup:
    """One row of the listing: a lone instance (``service`` None), or a
    Compose service with two replicas or more."""

    service: str | None
    members: tuple[InstanceSample, ...]

    @property
    def key(self) -> str:
        return f"{SERVICE_KEY_PREFIX}{self.service}" if self.service else self.members[0].key

    def totals(self) -> ServiceTotals:
        cpu = [m.totals.cpu_percent for m in self.members]
        memory = [m.totals.memory_bytes for m in self.members]
        return ServiceTotals(
            replicas=len(self.members),
            workers=sum(len(m.workers) for m in self.members),
            cpu_percent=None if any(v is None for v in cpu) else sum(v or 0.0 for v in cpu),
            memory_bytes=None if any(v is None for v in memory) else sum(v or 0 for v in memory),
        )


def service_of(sample: InstanceSample) -> str | None:
    """``PROJECT/SERVICE`` of the instance's container, if it is in a Compose service."""
    container = sample.container
    if container is None or container.compose is None:
        return None
    return container.compose.service_name


def group_instances(samples: Sequence[InstanceSample]) -> list[InstanceGroup]:
    """``samples`` in their order, the replicas of each service gathered at
    the place of the first one (by replica number)."""
    by_service: dict[str, list[InstanceSample]] = {}
    for sample in samples:
        service = service_of(sample)
        if service is not None:
            by_service.setdefault(service, []).append(sample)
    groups: list[InstanceGroup] = []
    placed: set[str] = set()
    for sample in samples:
        service = service_of(sample)
        if service is None or len(by_service[service]) < 2:
            groups.append(InstanceGroup(None, (sample,)))
            continue
        if service in placed:
            continue
        placed.add(service)
        members = sorted(by_service[service], key=_replica_order)
        groups.append(InstanceGroup(service, tuple(members)))
    return groups


def _replica_order(sample: InstanceSample) -> tuple[int, str]:
    container = sample.container
    compose = container.compose if container is not None else None
    return (compose.number or 0) if compose is not None else 0, sample.key
