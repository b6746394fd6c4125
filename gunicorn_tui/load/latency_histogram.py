"""A log-linear latency histogram: every sample kept, bounded memory.

Why this and not the alternatives:

- Keeping every latency is exact, but a run may hold ten million requests
  (the profile cap): 80 MB of floats per series, and we keep three.
- A bounded random sample (reservoir) keeps memory flat but loses the tail:
  p99 out of 10k samples is noisy, and the true maximum is usually dropped.
- A log-linear histogram (the idea behind HDR Histogram) counts every sample
  in a bucket whose width is a fixed fraction of its value. With 512 linear
  sub-buckets per power of two, a percentile read at the bucket's midpoint
  is within 0.1% of the exact nearest-rank value, whatever the spread; the
  minimum and maximum are tracked exactly. Latencies from 1 µs to 300 s span
  about 28 powers of two, so a histogram has at most ~15k buckets; it is
  stored sparsely (a dict of the buckets that were hit), so a one-second
  window at a few thousand requests holds a few hundred entries. Windows
  merge by adding counts, which is how per-second histograms roll up into
  the run total without recording each sample twice.

Values are integer nanoseconds; percentiles are returned in milliseconds.
The bucket scheme is the one in :mod:`gunicorn_tui.stats.log_linear_histogram`
(which traffic metrics use at a coarser 7 bits); this histogram adds what a
load run needs on top: the exact minimum and sum, and no clamp at an hour.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from gunicorn_tui.stats import log_linear_histogram

# 2**(LATENCY_BITS - 1) = 512 linear buckets per power of two: the relative
# half-width of a bucket is at most 2**-LATENCY_BITS, about 0.1%.
LATENCY_BITS = 10
RELATIVE_ERROR = 2.0**-LATENCY_BITS
_EXACT_BELOW = 1 << LATENCY_BITS
_MANTISSA_BITS = LATENCY_BITS - 1


def bucket_index(value_ns: int) -> int:
    """The bucket of a non-negative value; values below 1024 ns are exact."""
    return log_linear_histogram.bucket_index(value_ns, LATENCY_BITS)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The values ``[low, high)`` that fall into bucket ``index``."""
    return log_linear_histogram.bucket_bounds(index, LATENCY_BITS)


class LatencyHistogram:
    """Counts of latencies in log-linear buckets, with exact min, max and sum.

    Not thread-safe: one histogram belongs to one event loop.
    """

    __slots__ = ("buckets", "count", "max_ns", "min_ns", "sum_ns")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.sum_ns = 0
        self.min_ns = 0
        self.max_ns = 0

    def record(self, value_ns: int) -> None:
        """Add one latency (negative values, from a clock that stepped, count as 0)."""
        if value_ns < 0:
            value_ns = 0
        if value_ns < _EXACT_BELOW:
            index = value_ns
        else:  # bucket_index(), inlined: this runs once per request
            shift = value_ns.bit_length() - LATENCY_BITS
            index = (shift << _MANTISSA_BITS) + (value_ns >> shift)
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + 1
        if self.count == 0:
            self.min_ns = self.max_ns = value_ns
        elif value_ns > self.max_ns:
            self.max_ns = value_ns
        elif value_ns < self.min_ns:
            self.min_ns = value_ns
        self.count += 1
        self.sum_ns += value_ns

    def record_many(self, values_ns: Iterable[int]) -> None:
        """Add several latencies."""
        for value in values_ns:
            self.record(value)

    def merge(self, other: LatencyHistogram) -> None:
        """Add every sample of ``other`` to this histogram."""
        if other.count == 0:
            return
        buckets = self.buckets
        for index, count in other.buckets.items():
            buckets[index] = buckets.get(index, 0) + count
        if self.count == 0:
            self.min_ns, self.max_ns = other.min_ns, other.max_ns
        else:
            self.min_ns = min(self.min_ns, other.min_ns)
            self.max_ns = max(self.max_ns, other.max_ns)
        self.count += other.count
        self.sum_ns += other.sum_ns

    def percentiles_ns(self, fractions: Iterable[float]) -> list[int | None]:
        """Nearest-rank percentiles (``fractions`` in [0, 1]), each within
        :data:`RELATIVE_ERROR` of the exact value; None when empty.

        The smallest value whose rank is at least ``ceil(fraction * count)``,
        read at its bucket's midpoint and clamped to the exact min and max.
        """
        wanted = list(fractions)
        if self.count == 0:
            return [None] * len(wanted)
        ranks = [max(1, math.ceil(f * self.count - 1e-9)) for f in wanted]
        order = sorted(range(len(wanted)), key=lambda i: ranks[i])
        results: list[int | None] = [None] * len(wanted)
        seen = 0
        position = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            while position < len(order) and ranks[order[position]] <= seen:
                low, high = bucket_bounds(index)
                middle = (low + high - 1) // 2
                results[order[position]] = min(max(middle, self.min_ns), self.max_ns)
                position += 1
            if position == len(order):
                break
        return results

    @property
    def mean_ns(self) -> float | None:
        """The exact mean, or None when empty."""
        return self.sum_ns / self.count if self.count else None

    @property
    def bucket_count(self) -> int:
        """How many buckets hold samples (the memory this histogram uses)."""
        return len(self.buckets)
