"""Bounded time series per instance, for graphs.

At one sample a second, ``DEFAULT_POINTS`` covers ten minutes; memory per
instance is fixed whatever the session length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from gunicorn_tui.model.instances import InstanceSample

DEFAULT_POINTS = 600


@dataclass(frozen=True)
class Point:
    """One value at one time; value None when it was not measured."""

    taken_at: float
    value: float | None


class Series:
    """A bounded series of points."""

    def __init__(self, max_points: int = DEFAULT_POINTS) -> None:
        self._points: deque[Point] = deque(maxlen=max_points)

    def append(self, taken_at: float, value: float | None) -> None:
        self._points.append(Point(taken_at, value))

    def points(self) -> list[Point]:
        return list(self._points)

    def values(self) -> list[float]:
        """Measured values only, oldest first."""
        return [p.value for p in self._points if p.value is not None]

    def latest(self) -> float | None:
        return self._points[-1].value if self._points else None

    def __len__(self) -> int:
        return len(self._points)


class InstanceHistory:
    """The series kept for one instance."""

    def __init__(self, max_points: int = DEFAULT_POINTS) -> None:
        self.cpu_percent = Series(max_points)
        self.memory_bytes = Series(max_points)
        self.workers = Series(max_points)

    def record(self, sample: InstanceSample) -> None:
        self.cpu_percent.append(sample.taken_at, sample.totals.cpu_percent)
        memory = sample.totals.memory_bytes
        self.memory_bytes.append(sample.taken_at, float(memory) if memory is not None else None)
        self.workers.append(sample.taken_at, float(len(sample.workers)))


class HistoryStore:
    """Histories by instance key; instances gone for good are dropped."""

    def __init__(self, max_points: int = DEFAULT_POINTS, max_instances: int = 200) -> None:
        self._max_points = max_points
        self._max_instances = max_instances
        self._histories: dict[str, InstanceHistory] = {}

    def record(self, samples: Iterable[InstanceSample]) -> None:
        for sample in samples:
            history = self._histories.get(sample.key)
            if history is None:
                if len(self._histories) >= self._max_instances:
                    # Forget the instance not updated for the longest time.
                    oldest = min(
                        self._histories,
                        key=lambda key: (
                            self._histories[key].cpu_percent.points()[-1].taken_at
                            if len(self._histories[key].cpu_percent)
                            else 0.0
                        ),
                    )
                    del self._histories[oldest]
                history = InstanceHistory(self._max_points)
                self._histories[sample.key] = history
            history.record(sample)

    def get(self, key: str) -> InstanceHistory | None:
        return self._histories.get(key)
