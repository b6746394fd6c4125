"""The log-linear latency histogram against exact percentiles of known data."""

from __future__ import annotations

import math
import random

import pytest

from gunicorn_tui.load.latency_histogram import (
    LATENCY_BITS,
    RELATIVE_ERROR,
    LatencyHistogram,
    bucket_bounds,
    bucket_index,
)
from gunicorn_tui.stats.log_linear_histogram import bucket_index as shared_bucket_index

FRACTIONS = (0.0, 0.5, 0.9, 0.99, 0.999, 1.0)


def _nearest_rank(values: list[int], fraction: float) -> int:
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered) - 1e-9))
    return ordered[rank - 1]


def _datasets() -> dict[str, list[int]]:
    rng = random.Random(7)
    return {
        "lognormal": [int(rng.lognormvariate(math.log(2e6), 0.6)) for _ in range(20_000)],
        "bimodal": [
            int(rng.gauss(1e6, 5e4)) if rng.random() < 0.9 else int(rng.gauss(2e8, 1e7))
            for _ in range(20_000)
        ],
        "uniform_small": [rng.randrange(0, 3000) for _ in range(5000)],
        "heavy_tail": [int(1e5 * rng.paretovariate(1.2)) for _ in range(20_000)],
        "constant": [12_345_678] * 100,
        "one": [42],
    }


@pytest.mark.parametrize("name", list(_datasets()))
def test_percentiles_within_the_stated_error(name: str) -> None:
    values = _datasets()[name]
    histogram = LatencyHistogram()
    histogram.record_many(values)
    estimates = histogram.percentiles_ns(FRACTIONS)
    for fraction, estimate in zip(FRACTIONS, estimates, strict=True):
        exact = _nearest_rank(values, fraction)
        assert estimate is not None
        assert abs(estimate - exact) <= max(1, exact * RELATIVE_ERROR), (fraction, estimate, exact)
    assert histogram.min_ns == min(values)
    assert histogram.max_ns == max(values)
    assert histogram.count == len(values)
    assert histogram.mean_ns == pytest.approx(sum(values) / len(values))


def test_merge_equals_recording_everything() -> None:
    values = _datasets()["bimodal"]
    whole = LatencyHistogram()
    whole.record_many(values)
    merged = LatencyHistogram()
    for start in range(0, len(values), 3000):
        part = LatencyHistogram()
        part.record_many(values[start : start + 3000])
        merged.merge(part)
    merged.merge(LatencyHistogram())
    assert merged.buckets == whole.buckets
    assert (merged.count, merged.min_ns, merged.max_ns, merged.sum_ns) == (
        whole.count,
        whole.min_ns,
        whole.max_ns,
        whole.sum_ns,
    )


def test_empty_histogram() -> None:
    histogram = LatencyHistogram()
    assert histogram.percentiles_ns((0.5, 0.99)) == [None, None]
    assert histogram.mean_ns is None


def test_negative_values_count_as_zero() -> None:
    histogram = LatencyHistogram()
    histogram.record(-5)
    assert (histogram.min_ns, histogram.max_ns, histogram.count) == (0, 0, 1)


def test_memory_is_bounded_over_the_whole_latency_range() -> None:
    # Every value from 1 µs to 300 s on a fine log grid: the bucket count
    # stays near 512 per power of two, not the number of distinct values.
    histogram = LatencyHistogram()
    value = 1000.0
    while value < 300e9:
        histogram.record(int(value))
        value *= 1.0002
    octaves = math.log2(300e9 / 1000)
    assert histogram.count > 60_000
    assert histogram.bucket_count <= 512 * math.ceil(octaves) + 1024


@pytest.mark.parametrize("value", [0, 1, 1023, 1024, 1025, 2047, 2048, 10**6, 10**9 + 7, 2**40])
def test_buckets_contain_their_values(value: int) -> None:
    low, high = bucket_bounds(bucket_index(value))
    assert low <= value < high
    assert high - low <= max(1, low * 2 * RELATIVE_ERROR)


def _former_load_index(value_ns: int) -> int:
    # The load histogram's own scheme before it stood on stats' (9 bits of
    # sub-bucket, exact below 1024 ns), kept here to show the move changed
    # no bucket.
    if value_ns < 1024:
        return value_ns
    shift = value_ns.bit_length() - 10
    return (shift << 9) + (value_ns >> shift)


def test_recorded_buckets_are_the_shared_scheme_and_the_former_one() -> None:
    rng = random.Random(15)
    values = [0, 1, 1023, 1024, 2**40] + [int(rng.lognormvariate(14, 3)) for _ in range(5000)]
    histogram = LatencyHistogram()
    histogram.record_many(values)
    expected: dict[int, int] = {}
    for value in values:
        index = bucket_index(value)
        assert index == _former_load_index(value) == shared_bucket_index(value, LATENCY_BITS)
        expected[index] = expected.get(index, 0) + 1
    assert histogram.buckets == expected
