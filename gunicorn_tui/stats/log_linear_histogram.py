"""A log-linear histogram of non-negative integers (latencies in µs).

Why this and not HDR Histogram (the ``hdrhistogram`` package) or a t-digest:

* It *is* HDR's bucket scheme (powers of two split into ``2**bits`` linear
  sub-buckets, so every bucket is at most ``2**-(bits-1)`` of its value
  wide), in about 100 lines we fully test, with no dependency.
* Sliding windows need many small histograms (one per second) that are
  merged when a window is read, and a per-endpoint one that stays small.
  Sparse dict buckets fit that: a quiet second costs a few entries, where
  ``hdrhistogram`` allocates its whole counts array per histogram (tens of
  KB at 2-3 significant digits) and its record path is Python too, so it
  is not faster.
* Percentiles are exact to the bucket: with the default 7 bits a bucket is
  at most 1/64 (1.6 %) of its value wide and we report its midpoint, so a
  reported value is within 0.8 % of the true one. t-digest is tighter at the tails
  but cannot be subtracted or merged exactly, and needs a C library to be
  fast.

Memory is bounded by the value range: values are clamped to ``max_value``
(1 hour in µs by default), which caps the bucket count at about
``(max_value.bit_length() - bits + 2) * 2**(bits-1)`` (1728 for the defaults).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

DEFAULT_SUB_BUCKET_BITS = 7
DEFAULT_MAX_VALUE = 3_600_000_000  # one hour, in µs


def bucket_index(value: int, bits: int = DEFAULT_SUB_BUCKET_BITS) -> int:
    """The bucket of ``value`` (>= 0): values below ``2**bits`` get a bucket
    each; above that, each power of two gets ``2**(bits-1)`` buckets."""
    if value < (1 << bits):
        return value
    exponent = value.bit_length() - bits
    return (exponent << (bits - 1)) + (value >> exponent)


def bucket_bounds(index: int, bits: int = DEFAULT_SUB_BUCKET_BITS) -> tuple[int, int]:
    """The values ``[low, high)`` that fall in bucket ``index``."""
    if index < (1 << bits):
        return index, index + 1
    # index = exponent * 2**(bits-1) + mantissa, mantissa in [2**(bits-1), 2**bits)
    exponent = (index >> (bits - 1)) - 1
    mantissa = index - (exponent << (bits - 1))
    low = mantissa << exponent
    return low, low + (1 << exponent)


class LogLinearHistogram:
    """Counts of values per log-linear bucket, sparse.

    Not thread-safe. ``record`` is the hot path; everything else is for
    reading windows once a second or so.
    """

    __slots__ = ("bits", "counts", "max_seen", "max_value", "total")

    def __init__(
        self, bits: int = DEFAULT_SUB_BUCKET_BITS, max_value: int = DEFAULT_MAX_VALUE
    ) -> None:
        if not 1 <= bits <= 16:
            raise ValueError(f"bits must be between 1 and 16, not {bits}")
        self.bits = bits
        self.max_value = max_value
        self.counts: dict[int, int] = {}
        self.total = 0
        self.max_seen: int | None = None

    def record(self, value: int, count: int = 1) -> None:
        """Add ``count`` observations of ``value`` (negative values count as
        0, values above ``max_value`` as ``max_value``)."""
        if value < 0:
            value = 0
        elif value > self.max_value:
            value = self.max_value
        bits = self.bits
        if value < (1 << bits):
            index = value
        else:  # bucket_index(), inlined: this runs once per request
            exponent = value.bit_length() - bits
            index = (exponent << (bits - 1)) + (value >> exponent)
        counts = self.counts
        counts[index] = counts.get(index, 0) + count
        self.total += count
        if self.max_seen is None or value > self.max_seen:
            self.max_seen = value

    def merge(self, other: LogLinearHistogram) -> None:
        """Add every count of ``other`` (same ``bits``) into this one."""
        if other.bits != self.bits:
            raise ValueError("cannot merge histograms of different precision")
        counts = self.counts
        for index, count in other.counts.items():
            counts[index] = counts.get(index, 0) + count
        self.total += other.total
        if other.max_seen is not None and (self.max_seen is None or other.max_seen > self.max_seen):
            self.max_seen = other.max_seen

    def percentiles(self, quantiles: Sequence[float]) -> list[int | None]:
        """Values at each quantile (0..1), as bucket midpoints; None if empty.

        The value at quantile q is the smallest bucket whose cumulative count
        reaches ``ceil(q * total)`` (the nearest-rank definition).
        """
        if self.total == 0:
            return [None] * len(quantiles)
        # The 1e-9 keeps 0.99 * 100 (98.99999...) at rank 99.
        ranks = [max(1, math.ceil(q * self.total - 1e-9)) for q in quantiles]
        order = sorted(range(len(quantiles)), key=lambda position: ranks[position])
        results: list[int | None] = [None] * len(quantiles)
        cumulative = 0
        pending = iter(order)
        position = next(pending, None)
        for index in sorted(self.counts):
            cumulative += self.counts[index]
            while position is not None and cumulative >= ranks[position]:
                # The top rank is the maximum, which is known exactly.
                at_top = ranks[position] >= self.total
                results[position] = self.max_seen if at_top else self._representative(index)
                position = next(pending, None)
            if position is None:
                break
        while position is not None:  # rounding left a rank above total
            results[position] = self.max_seen
            position = next(pending, None)
        return results

    def _representative(self, index: int) -> int:
        low, high = bucket_bounds(index, self.bits)
        value = (low + high - 1) // 2
        # Never report more than was seen: the top bucket's midpoint can
        # exceed the true maximum.
        if self.max_seen is not None and value > self.max_seen:
            return self.max_seen
        return value

    def mean(self) -> float | None:
        """Mean of the bucket midpoints (within the bucket error)."""
        if self.total == 0:
            return None
        weighted = 0.0
        for index, count in self.counts.items():
            low, high = bucket_bounds(index, self.bits)
            weighted += ((low + high - 1) / 2) * count
        return weighted / self.total

    @classmethod
    def merged(
        cls,
        histograms: Iterable[LogLinearHistogram],
        bits: int = DEFAULT_SUB_BUCKET_BITS,
        max_value: int = DEFAULT_MAX_VALUE,
    ) -> LogLinearHistogram:
        """A new histogram holding the sum of ``histograms``."""
        result = cls(bits, max_value)
        for histogram in histograms:
            result.merge(histogram)
        return result
