"""Advice from a dashboard's frames: the dashboard already samples, so the
window is made of the frames it draws, each taken once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gunicorn_tui.advice.collect import AdviceReport, ClassProbe, advise_observed, observe_sample
from gunicorn_tui.advice.observation import ObservedSample
from gunicorn_tui.monitor.monitor import MonitorFrame

LatestFrame = Callable[[], MonitorFrame | None]


def advise_from_latest(
    latest: LatestFrame,
    key: str,
    *,
    duration_s: float,
    poll_s: float = 0.2,
    probe_classes: ClassProbe | None = None,
    stop: threading.Event | None = None,
) -> AdviceReport | None:
    """Watch ``latest()`` for ``duration_s`` and advise on instance ``key``.

    A frame counts once however often it is polled (the same object is the
    same sample); None when the instance was in no frame, or when stopped
    before any.
    """
    stop = stop or threading.Event()
    observed: list[ObservedSample] = []
    seen: MonitorFrame | None = None
    deadline = time.monotonic() + duration_s
    while not stop.is_set():
        frame = latest()
        if frame is not None and frame is not seen:
            seen = frame
            sample = next((s for s in frame.instances if s.key == key), None)
            if sample is not None:
                observed.append(observe_sample(frame, sample))
        if time.monotonic() >= deadline:
            break
        stop.wait(poll_s)
    if not observed or stop.is_set():
        return None
    return advise_observed(observed, probe_classes)
