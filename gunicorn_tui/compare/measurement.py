"""Measure an epoch: sample the instance once a second, optionally under a
load run, and feed both to an :class:`~gunicorn_tui.compare.epochs.EpochTracker`.

The measurement window is the load run (or ``duration_s`` without one),
less ``load_warmup_s`` at its start (the load's ramp-up, and the seconds
the server takes to reach a steady state under it). Always bounded: the
load run is, and sampling stops ``duration_s`` plus a grace after it began.
A change noticed mid-measurement splits the epoch; the result says so and
keeps the part after the last change.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gunicorn_tui.compare.epochs import Epoch, EpochChange, EpochTracker
from gunicorn_tui.load.profile import LoadProfile
from gunicorn_tui.load.summary import RunSummary
from gunicorn_tui.load.target import LoadTarget
from gunicorn_tui.monitor.monitor import MonitorFrame

if TYPE_CHECKING:
    from gunicorn_tui.load.driver import LoadRun

FrameSource = Callable[[], MonitorFrame]
# After the load ends, sampling goes on this long so the traffic history's
# last seconds are complete (a second is closed once the next one began).
_FLUSH_S = 1.5
# Beyond its nominal end a run may still drain; never wait longer than this.
_GRACE_S = 15.0
# The driver's process start and warm-up (at most 2 s) on a busy machine.
_START_WAIT_S = 15.0


@dataclass(frozen=True)
class MeasurementProgress:
    """Posted once a sample: how far the measurement is."""

    elapsed_s: float
    total_s: float
    in_warmup: bool
    changes: tuple[EpochChange, ...]
    client_requests: int


@dataclass(frozen=True)
class Measurement:
    """What one measurement saw.

    ``epoch`` is the last epoch of the window, cut to the window (records
    before ``started_at + load_warmup_s`` count as warm-up). ``changes``
    lists changes noticed during it; when there are any, ``split`` is True
    and ``epoch`` holds only what came after the last one.
    """

    epoch: Epoch
    started_at: float
    ended_at: float
    load_warmup_s: float
    run: RunSummary | None
    changes: tuple[EpochChange, ...]
    stopped: bool
    load_error: str | None = None

    @property
    def split(self) -> bool:
        """True when the configuration changed during the measurement."""
        return bool(self.changes)

    @property
    def profile_label(self) -> str | None:
        """The load profile that ran, if any."""
        return self.run.profile_source if self.run is not None else None


class MeasurementError(RuntimeError):
    """Nothing could be measured (the instance is not in the frames)."""


def profile_for(profile: LoadProfile, duration_s: float) -> LoadProfile:
    """``profile`` bounded by ``duration_s`` (its count bound still holds)."""
    return dataclasses.replace(profile, duration_s=duration_s)


def profile_label(profile: LoadProfile) -> str:
    """A short description of a profile's shape, for reports."""
    if profile.rate_rps is not None:
        shape = f"open loop {profile.rate_rps:g} req/s"
    else:
        shape = f"closed loop {profile.concurrency} clients"
    return f"{profile.source} ({shape})"


def _measured_enough(
    tracker: EpochTracker, load_warm_at: float, now: float, measured_s: float
) -> bool:
    current = tracker.current()
    if current is None:
        return False
    return now - max(current.measured_from, load_warm_at) >= measured_s


def measure_epoch(
    frames: FrameSource,
    tracker: EpochTracker,
    *,
    duration_s: float,
    profile: LoadProfile | None = None,
    target: LoadTarget | None = None,
    load_warmup_s: float | None = None,
    interval_s: float = 1.0,
    stop_event: threading.Event | None = None,
    on_progress: Callable[[MeasurementProgress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    measured_s: float | None = None,
) -> Measurement:
    """Sample every ``interval_s`` for ``duration_s`` (under ``profile``
    against ``target`` when given) and return what the tracker measured.

    With ``measured_s``, stop as soon as the current epoch has that many
    seconds past its warm-up (the tracker's, which a change noticed late
    pushes back, and ``load_warmup_s``); ``duration_s`` stays the bound.

    Raises :class:`MeasurementError` when the followed instance never
    showed up, and lets KeyboardInterrupt through after stopping the load.
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s!r}")
    # The driver (and httpx) load on first measurement, not with the
    # dashboard: most sessions never drive load.
    from gunicorn_tui.load.driver import LoadRun, LoadRunError

    stop = stop_event if stop_event is not None else threading.Event()
    warmup_s = load_warmup_s
    if warmup_s is None:
        warmup_s = (profile.ramp_up_s + 2.0) if profile is not None else 0.0
    run: LoadRun | None = None
    summary: RunSummary | None = None
    load_error: str | None = None
    changes: list[EpochChange] = []
    # Prime the tracker (and CPU counters) before the window opens.
    frame = frames()
    seen_any = tracker.select(frame) is not None
    tracker.observe_frame(frame)
    started_at = time.time()
    deadline = started_at + duration_s
    if profile is not None:
        if target is None:
            raise ValueError("a load profile needs a target")
        bounded = profile_for(profile, duration_s)
        tracker.set_load_profile(profile_label(bounded))
        run = LoadRun(bounded, target, on_second=tracker.add_client_second).start()
        # The driver starts in a process of its own (an interpreter, its
        # imports, a first connection): the window opens when its clock does.
        if run.wait_started(_START_WAIT_S):
            started_at = time.time()
            deadline = started_at + duration_s
        deadline += bounded.drain_s + _GRACE_S
    try:
        while True:
            now = time.time()
            if stop.is_set() and run is not None:
                run.stop()
            run_over = run is None or not run.running
            if run is None and (now - started_at >= duration_s or stop.is_set()):
                break
            if run is not None and run_over:
                break
            if now >= deadline:
                if run is not None:
                    run.stop()
                break
            if measured_s is not None and _measured_enough(
                tracker, started_at + warmup_s, now, measured_s
            ):
                if run is None:
                    break
                run.stop()
            sleep(max(0.0, interval_s - (time.time() - now)))
            frame = frames()
            if tracker.select(frame) is not None:
                seen_any = True
            change = tracker.observe_frame(frame)
            if change is not None:
                changes.append(change)
            if on_progress is not None:
                elapsed = time.time() - started_at
                current = tracker.current()
                on_progress(
                    MeasurementProgress(
                        elapsed_s=elapsed,
                        total_s=duration_s,
                        in_warmup=elapsed < warmup_s
                        or (current is not None and time.time() < current.measured_from),
                        changes=tuple(changes),
                        client_requests=sum(c.completed for c in current.client)
                        if current is not None
                        else 0,
                    )
                )
    except KeyboardInterrupt:
        if run is not None:
            run.stop()
            run.join(_GRACE_S)
        tracker.set_load_profile(None)
        raise
    ended_at = time.time()
    if run is not None:
        try:
            summary = run.join(_GRACE_S)
        except LoadRunError as error:
            load_error = str(error)
        if summary is not None:
            ended_at = summary.started_at + summary.elapsed_s
        tracker.set_load_profile(None)
    # Let the last seconds of traffic close, then read them.
    flush_until = time.time() + _FLUSH_S
    while time.time() < flush_until:
        sleep(min(0.5, max(0.0, flush_until - time.time())))
        change = tracker.observe_frame(frames())
        if change is not None and change.at < ended_at:
            changes.append(change)
    if not seen_any:
        raise MeasurementError("the instance was not seen during the measurement")
    epochs = [e for e in tracker.epochs() if e.started_at < ended_at]
    if not epochs:
        raise MeasurementError("no epoch covers the measurement")
    last = epochs[-1]
    window = last.within(started_at + warmup_s, ended_at)
    return Measurement(
        epoch=window,
        started_at=started_at,
        ended_at=ended_at,
        load_warmup_s=warmup_s,
        run=summary,
        changes=tuple(c for c in changes if c.at >= started_at - 2.0),
        stopped=stop.is_set(),
        load_error=load_error,
    )
