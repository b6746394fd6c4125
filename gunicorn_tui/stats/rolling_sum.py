"""Per-second sums over the last N seconds, in a fixed ring.

The caller passes whole seconds (``int(now)``), so tests are deterministic
and the clock is the caller's choice. Memory is two lists of ``capacity_s``
entries whatever the rate.
"""

from __future__ import annotations


class RollingSum:
    """Sums of values added in each of the last ``capacity_s`` seconds."""

    __slots__ = ("_seconds", "_values", "capacity_s", "latest_second")

    def __init__(self, capacity_s: int) -> None:
        if capacity_s < 1:
            raise ValueError("capacity_s must be at least 1")
        self.capacity_s = capacity_s
        self._values = [0] * capacity_s
        # The second each slot holds; a slot whose second is stale counts 0.
        self._seconds = [-1] * capacity_s
        self.latest_second = -1

    def add(self, second: int, value: int = 1) -> None:
        """Add ``value`` to ``second``. A second older than the ring is
        dropped (it can no longer be in any window)."""
        if second > self.latest_second:
            self.latest_second = second
        elif second <= self.latest_second - self.capacity_s:
            return
        slot = second % self.capacity_s
        if self._seconds[slot] != second:
            self._seconds[slot] = second
            self._values[slot] = value
        else:
            self._values[slot] += value

    def total(self, now_second: int, window_s: int, *, include_current: bool = True) -> int:
        """Sum over the ``window_s`` seconds ending at ``now_second``
        (inclusive), or ending just before it when ``include_current`` is
        False (a complete window for steady rates)."""
        window_s = min(window_s, self.capacity_s)
        last = now_second if include_current else now_second - 1
        first = last - window_s + 1
        total = 0
        seconds, values = self._seconds, self._values
        for slot in range(self.capacity_s):
            second = seconds[slot]
            if first <= second <= last:
                total += values[slot]
        return total

    def value_at(self, second: int) -> int:
        """The sum for exactly ``second`` (0 if unknown or expired)."""
        slot = second % self.capacity_s
        return self._values[slot] if self._seconds[slot] == second else 0
