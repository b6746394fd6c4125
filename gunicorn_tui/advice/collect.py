"""Observe one instance for a while and run the rules on what was seen.

The only impure part of the advice engine: it samples the monitor, reads
the listen queue next to each sample, gathers capacity facts at the end,
and asks the server's Python which async worker classes it can import.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gunicorn_tui.advice.items import AdviceItem
from gunicorn_tui.advice.observation import (
    LoadObservation,
    ObservedSample,
    parse_schedstat,
    summarize_window,
)
from gunicorn_tui.advice.rules import AdviceInput, advise
from gunicorn_tui.capacity.facts import CapacityFacts
from gunicorn_tui.capacity.gather import gather_capacity
from gunicorn_tui.capacity.listen_queue import read_listen_backlog
from gunicorn_tui.control.planning.worker_classes import BUILTIN_CLASSES
from gunicorn_tui.host.procfs import PROC
from gunicorn_tui.model.instances import InstanceSample, SamplingMode
from gunicorn_tui.monitor.monitor import MonitorFrame

# Classes worth probing for: the ones the I/O rule may suggest.
PROBED_CLASSES = ("gevent",)

ClassProbe = Callable[[InstanceSample, tuple[str, ...]], Mapping[str, bool]]


@dataclass(frozen=True)
class AdviceReport:
    """The advice for one instance and what it was made from."""

    sample: InstanceSample
    capacity: CapacityFacts
    observation: LoadObservation
    classes_available: Mapping[str, bool | None]
    items: tuple[AdviceItem, ...]


def _schedstat(sample: InstanceSample) -> dict[int, tuple[int, int]]:
    found: dict[int, tuple[int, int]] = {}
    if sample.mode is not SamplingMode.PROCFS:
        return found
    for worker in sample.workers:
        if worker.pid is None:
            continue
        try:
            with open(f"{PROC}/{worker.pid}/schedstat", encoding="ascii") as handle:
                reading = parse_schedstat(handle.read())
        except OSError:
            continue  # gone, or no schedstats in this kernel
        if reading is not None:
            found[worker.pid] = reading
    return found


def _backlog(sample: InstanceSample) -> int | None:
    if sample.mode is not SamplingMode.PROCFS or sample.master.pid is None:
        return None
    return read_listen_backlog(sample.master.pid).queued_connections


def observe_and_advise(
    frames: Callable[[], MonitorFrame],
    select: Callable[[MonitorFrame], InstanceSample | None],
    *,
    duration_s: float,
    interval_s: float = 1.0,
    probe_classes: ClassProbe | None = None,
    stop: threading.Event | None = None,
) -> AdviceReport | None:
    """Sample for ``duration_s``, then advise (None when the instance was never seen).

    ``probe_classes(sample, modules)`` returns which modules import in the
    server's Python (the control engine's facts do that); without it the
    class availability is unknown and the I/O advice says so.
    """
    observed: list[ObservedSample] = []
    deadline = time.monotonic() + duration_s
    stop = stop or threading.Event()
    while True:
        frame = frames()
        sample = select(frame)
        if sample is not None:
            observed.append(observe_sample(frame, sample))
        if time.monotonic() >= deadline or stop.is_set():
            break
        stop.wait(min(interval_s, max(0.0, deadline - time.monotonic())))
    if not observed:
        return None
    return advise_observed(observed, probe_classes)


def observe_sample(frame: MonitorFrame, sample: InstanceSample) -> ObservedSample:
    """One sample of a frame with what the rules read next to it (the
    listen queue and the workers' run-queue wait, read now from /proc)."""
    return ObservedSample(
        sample, frame.traffic.get(sample.key), _backlog(sample), _schedstat(sample)
    )


def advise_observed(
    observed: Sequence[ObservedSample], probe_classes: ClassProbe | None = None
) -> AdviceReport:
    """Run the rules on a window of samples of one instance (oldest first,
    at least one); capacity is gathered and classes probed now."""
    last = observed[-1]
    capacity = gather_capacity(last.sample, last.traffic)
    available: dict[str, bool | None] = {name: None for name in PROBED_CLASSES}
    if probe_classes is not None:
        modules = tuple(BUILTIN_CLASSES[name][0] for name in PROBED_CLASSES)
        try:
            found = probe_classes(last.sample, modules)
        except Exception:  # a failed probe leaves availability unknown, never the advice
            found = {}
        for name in PROBED_CLASSES:
            available[name] = found.get(BUILTIN_CLASSES[name][0])
    observation = summarize_window(observed)
    items = advise(AdviceInput(last.sample.config, capacity, observation, available))
    return AdviceReport(last.sample, capacity, observation, available, items)
