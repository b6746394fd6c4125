"""Light, varied traffic for the demo, so the dashboard has something to show.

A few requests a second: mostly fast ones, some that burn CPU, some that wait
on I/O, a few errors, and every so often a short burst that makes workers
busy. Bounded in time and count, like every load loop here.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

import httpx

MAX_DURATION_S = 4 * 3600.0
MAX_REQUESTS = 500_000

# (weight, path): the sample app's endpoints.
MIX: tuple[tuple[int, str], ...] = (
    (55, "/fast"),
    (15, "/cpu?ms=40"),
    (15, "/io?ms=200"),
    (10, "/items/{n}"),
    (3, "/status/500"),
    (2, "/status/404"),
)


@dataclass(frozen=True)
class TrafficStats:
    """What the demo traffic sent so far."""

    sent: int
    errors: int


class DemoTraffic:
    """Sends demo requests from a background thread until stopped."""

    def __init__(
        self,
        base_url: str,
        rate_per_s: float = 6.0,
        burst_every_s: float = 20.0,
        seed: int | None = None,
    ) -> None:
        self.base_url = base_url
        self.rate_per_s = rate_per_s
        self.burst_every_s = burst_every_s
        self._random = random.Random(seed)
        self._stop = threading.Event()
        self._sent = 0
        self._errors = 0
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(3):
            thread = threading.Thread(
                target=self._run, args=(index,), name=f"gtui-demo-traffic-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=3.0)

    def stats(self) -> TrafficStats:
        return TrafficStats(self._sent, self._errors)

    def _path(self) -> str:
        total = sum(weight for weight, _ in MIX)
        pick = self._random.uniform(0, total)
        for weight, path in MIX:
            pick -= weight
            if pick <= 0:
                return path.replace("{n}", str(self._random.randint(1, 5000)))
        return MIX[0][1]

    def _run(self, index: int) -> None:
        started = time.monotonic()
        next_burst = started + self.burst_every_s * (1 + index / 3)
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            while not self._stop.is_set():
                now = time.monotonic()
                if now - started > MAX_DURATION_S or self._sent >= MAX_REQUESTS:
                    return
                path = self._path()
                if now >= next_burst:
                    # A short burst of slow requests keeps workers busy for a
                    # few seconds, which is what the dashboard is for.
                    path = "/io?ms=2500" if index % 2 else "/cpu?ms=800"
                    next_burst = now + self.burst_every_s
                try:
                    response = client.get(path)
                    if response.status_code >= 500:
                        self._errors += 1
                except httpx.HTTPError:
                    self._errors += 1
                self._sent += 1
                # Three threads share the rate; jitter keeps it lifelike.
                delay = self._random.expovariate(self.rate_per_s / 3)
                self._stop.wait(min(delay, 2.0))
