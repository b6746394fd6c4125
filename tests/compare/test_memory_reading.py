"""Memory per worker in an epoch's per-second readings: only USS figures read
in that second count (a kept figure repeated each second is not a new
measurement), RSS stands in where USS cannot be read at all."""

from __future__ import annotations

import dataclasses

from gunicorn_tui.compare.epochs import resource_reading
from gunicorn_tui.model.instances import InstanceSample
from tests.compare.samples import sample_at


def _with_uss(sample: InstanceSample, uss: list[tuple[int | None, float | None]]) -> InstanceSample:
    workers = tuple(
        dataclasses.replace(
            worker, process=dataclasses.replace(worker.process, uss_bytes=value, uss_age_s=age)
        )
        for worker, (value, age) in zip(sample.workers, uss, strict=True)
    )
    return dataclasses.replace(sample, workers=workers)


def test_only_uss_read_this_second_counts() -> None:
    sample = _with_uss(sample_at(0.0), [(20_000_000, 0.01), (30_000_000, 6.0)])
    assert resource_reading(sample, 1.0, 0).memory_bytes_per_worker == 20_000_000


def test_no_fresh_uss_means_no_memory_reading_this_second() -> None:
    sample = _with_uss(sample_at(0.0), [(20_000_000, 3.0), (30_000_000, 6.0)])
    assert resource_reading(sample, 1.0, 0).memory_bytes_per_worker is None


def test_rss_stands_in_when_uss_is_unreadable() -> None:
    sample = _with_uss(sample_at(0.0), [(None, None), (None, None)])
    assert resource_reading(sample, 1.0, 0).memory_bytes_per_worker == 40_000_000
