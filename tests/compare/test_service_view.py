"""A Compose service as one instance: its replicas' samples and traffic
combined (pure functions, samples built from data)."""

from __future__ import annotations

import dataclasses

from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.compare.service_view import (
    combined_history,
    combined_sample,
    is_service_key,
    replicas_of,
    service_key,
)
from gunicorn_tui.control.planning.running_config import running_config
from gunicorn_tui.model.instances import ComposeMembership, ContainerRef, InstanceSample
from gunicorn_tui.traffic.metrics import TrafficPoint
from tests.compare.samples import sample_at


def _replica(
    number: int, *, workers: int = 2, project: str = "shop", taken_at: float = 1000.0
) -> InstanceSample:
    sample = sample_at(
        taken_at,
        workers=workers,
        master_pid=100 * number,
        first_worker_pid=100 * number + 1,
        container_id=f"{number:064x}",
        cpu_percent=10.0 * number,
        memory_bytes=100_000_000 * number,
        reloads=number,
    )
    container = ContainerRef(
        f"{number:064x}",
        f"{project}_web_{number}",
        "image",
        compose=ComposeMembership(project, "web", number),
    )
    return dataclasses.replace(sample, container=container)


def test_replicas_are_found_by_compose_labels_in_replica_order() -> None:
    instances = [_replica(2), _replica(1, project="other"), _replica(3), _replica(1)]
    found = replicas_of(instances, "shop", "web")
    assert [s.container.name for s in found if s.container] == [
        "shop_web_1",
        "shop_web_2",
        "shop_web_3",
    ]
    assert replicas_of(instances, "shop", "web", host="elsewhere") == []


def test_combined_sample_sums_resources_and_keeps_the_per_replica_config() -> None:
    key = service_key("local", "shop", "web")
    assert is_service_key(key) and not is_service_key("docker:abc:1")
    replicas = [_replica(1), _replica(2), _replica(3)]
    combined = combined_sample(key, "shop/web", replicas)
    assert combined.key == key and combined.name == "shop/web" and combined.container is None
    assert len(combined.workers) == 6  # the service's total
    assert combined.workers_target == 2  # what each replica runs
    assert running_config(combined).value("workers") == 2
    assert combined.totals.cpu_percent == 60.0
    assert combined.totals.memory_bytes == 600_000_000
    assert combined.reloads == 6
    # Replicas that disagree on their worker count: no per-replica count.
    mixed = combined_sample(key, "shop/web", [_replica(1), _replica(2, workers=3)])
    assert mixed.workers_target is None and len(mixed.workers) == 5


def _point(second: int, requests: int, p50: float | None) -> TrafficPoint:
    return TrafficPoint(second, requests, 0.0 if requests else None, p50, p50, p50, p50)


def test_combined_history_adds_requests_and_weights_latency_by_requests() -> None:
    first = [_point(10, 30, 100.0), _point(11, 10, 100.0), _point(12, 10, 100.0)]
    second = [_point(10, 10, 200.0), _point(11, 30, 200.0)]
    combined = combined_history([first, second])
    # Second 12 is closed by one replica only: held back until both have it.
    assert [p.second for p in combined] == [10, 11]
    assert [p.requests for p in combined] == [40, 40]
    assert [p.p50_ms for p in combined] == [125.0, 175.0]
    assert [p.max_ms for p in combined] == [200.0, 200.0]
    # A replica with no history yet (no request seen) holds nothing back.
    assert [p.second for p in combined_history([first, []])] == [10, 11, 12]
    assert combined_history([[], []]) == ()
    idle = combined_history([[_point(10, 0, None)], [_point(10, 0, None)]])
    assert idle[0].requests == 0 and idle[0].p50_ms is None


def test_an_epoch_tracker_follows_the_service_through_a_rolled_scale() -> None:
    # Both replicas go from 2 to 3 workers, one after the other: the tracker
    # sees the service's total go 4 -> 5 -> 6 and, once it stays, one change.
    key = service_key("local", "shop", "web")
    tracker = EpochTracker(key, warmup_s=0.0, stable_readings=2)
    counts = [(2, 2)] * 3 + [(3, 2)] + [(3, 3)] * 4
    changes = []
    for index, (one, two) in enumerate(counts):
        at = 1000.0 + index
        replicas = [_replica(1, workers=one, taken_at=at), _replica(2, workers=two, taken_at=at)]
        sample = combined_sample(key, "shop/web", replicas)
        change = tracker.observe(sample)
        if change is not None:
            changes.append(change.detail)
    assert changes == ["workers 4 -> 6"]
    current = tracker.current()
    assert current is not None and current.config is not None
    assert current.config.workers == 6 and current.config.settings["workers"] == 3
