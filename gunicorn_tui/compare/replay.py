"""Replay a ``gtui watch --jsonl`` recording into an epoch tracker.

Each record is one instance at one sample; its traffic block's ``1s``
window is the last complete second before the sample, which becomes that
second's :class:`~gunicorn_tui.compare.epochs.ServerSecond` (a second seen
twice is kept once; seconds between samples further apart are missing).
Lines that are not instance records (notices) are skipped; lines that are
not JSON or not gtui records are counted as malformed, never fatal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gunicorn_tui.compare.epochs import EpochTracker, ServerSecond
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.model.snapshot_reader import SnapshotFormatError, instance_from_json


@dataclass(frozen=True)
class ReplayCounts:
    """What a replay read."""

    lines: int
    records: int  # instance records of the followed instance
    other_instances: int
    notices: int
    malformed: int
    first_malformed: str | None


def _matches(sample: InstanceSample, target: str) -> bool:
    if target.startswith("pid:"):
        pid = target.removeprefix("pid:")
        return pid.isdigit() and (
            sample.master.pid == int(pid) or any(w.pid == int(pid) for w in sample.workers)
        )
    container = sample.container
    if container is None:
        return sample.key == target
    return (
        target in (container.name, container.id)
        or (len(target) >= 3 and container.id.startswith(target))
        or sample.key == target
    )


def _server_second(record: dict[str, Any], taken_at: float) -> ServerSecond | None:
    traffic = record.get("traffic")
    if not isinstance(traffic, dict) or not traffic.get("request_source"):
        return None
    window = (traffic.get("windows") or {}).get("1s")
    if not isinstance(window, dict):
        return None
    latency = window.get("latency") or {}
    requests = window.get("requests")
    if not isinstance(requests, int):
        return None
    return ServerSecond(
        second=int(taken_at) - 1,
        requests=requests,
        error_rate=window.get("error_rate"),
        p50_ms=latency.get("p50_ms"),
        p90_ms=latency.get("p90_ms"),
        p99_ms=latency.get("p99_ms"),
    )


def replay_watch_lines(lines: Iterable[str], target: str, tracker: EpochTracker) -> ReplayCounts:
    """Feed the records of ``target`` (a container name or id, ``pid:N``,
    or an instance key) to ``tracker``; the instance is followed through a
    re-created container or a restarted master as the tracker does live."""
    counts = {"lines": 0, "records": 0, "other": 0, "notices": 0, "malformed": 0}
    first_malformed: str | None = None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        counts["lines"] += 1
        try:
            record = json.loads(text)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            if "notice" in record:
                counts["notices"] += 1
                continue
            sample = instance_from_json(record)
            frame_at = record.get("frame_taken_at")
            taken_at = datetime.fromisoformat(frame_at).timestamp() if frame_at else sample.taken_at
        except (ValueError, SnapshotFormatError, TypeError) as error:
            counts["malformed"] += 1
            if first_malformed is None:
                first_malformed = f"line {number}: {error}"
            continue
        followed = tracker.key is not None and tracker.select_sample(sample)
        if not followed and not (tracker.key is None and _matches(sample, target)):
            counts["other"] += 1
            continue
        counts["records"] += 1
        tracker.observe(sample)
        second = _server_second(record, taken_at)
        if second is not None:
            tracker.add_server_seconds((second,))
    return ReplayCounts(
        lines=counts["lines"],
        records=counts["records"],
        other_instances=counts["other"],
        notices=counts["notices"],
        malformed=counts["malformed"],
        first_malformed=first_malformed,
    )
