"""Interleaved rounds: alternate configurations under one load run, look
after every round, stop when the answer is known.

One load run covers the whole comparison. The service is switched between
configurations by a :class:`Switcher` (scaling or a HUP reload: both
measured at 0 failed requests), and every configuration is measured once
per round, in an order that changes from round to round (two sides: A B,
B A, A B, ...: a steady trend then favours neither; more sides: a shuffled
order each round). A segment is the time one configuration runs within a
round: the switch, a short settle left out, then ``segment_s`` measured.
Two sides in the order A B | B A need no switch between the rounds: the
second segment of a round runs on without a settle.

A segment's figures come from the records of every epoch the tracker keeps
that lie wholly inside its measured window (server seconds, resource
readings, the driver's seconds), so a change the tracker confirms late
does not split them. Once a round's segments are closed (the access
log's last second arrives a moment late), the round is looked at
(:mod:`gunicorn_tui.compare.verdict`); the run stops when every primary
metric is conclusive, at the cap, on a cancel, or on something that makes
the rounds meaningless, saying why: a switch that fails, a change of the
target from outside (a re-create, a new master, a reload or a worker count
gtui did not make), a load run that ends or fails. A round whose server
stalled (no responses in a segment) is left out and counted.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from gunicorn_tui.compare.epochs import (
    ChangeKind,
    ClientSecond,
    Epoch,
    EpochChange,
    EpochTracker,
    ResourceReading,
)
from gunicorn_tui.compare.measurement import FrameSource, profile_for, profile_label
from gunicorn_tui.compare.metrics import Metric, metric_units
from gunicorn_tui.compare.verdict import MIN_ROUNDS, Look, LookPlan, look_at
from gunicorn_tui.load.latency_histogram import LatencyHistogram, bucket_bounds
from gunicorn_tui.load.profile import LoadProfile
from gunicorn_tui.load.summary import RunSummary
from gunicorn_tui.load.target import LoadTarget

if TYPE_CHECKING:
    from gunicorn_tui.load.driver import LoadRun

# A segment's records are complete this long after its end (a server second
# closes when the next one begins, and the monitor reads it a frame later).
CLOSE_AFTER_S = 1.6
_START_WAIT_S = 15.0
_CONCLUSIVE = "conclusive"
# A worker count other than the one gtui set, for this long: someone else
# changed the target (a worker restart or a HUP shows one for a moment).
OUTSIDE_AFTER_S = 3.0
_GRACE_S = 15.0
# A segment with a larger share of failed requests (HTTP errors and
# transport failures) lost its load: its round is left out.
ERROR_SHARE_LIMIT = 0.10
# This many rounds in a row lost to errors (or more than half of the closed
# rounds, at least this many): the server is failing, the run stops.
ERRORS_STOP_ROUNDS = 3
_ROUND_NOTES = 5
# Shortest cap that can hold the first look.
MIN_CAP_S = 10.0
MAX_CAP_S = 3600.0


class SwitchFailed(RuntimeError):
    """A switch between configurations did not happen (the message says why
    and what the service runs now). ``unchanged``: the service is known to
    run the side it ran before the switch (nothing ran, or it was undone)."""

    def __init__(self, message: str, *, unchanged: bool = False) -> None:
        super().__init__(message)
        self.unchanged = unchanged


class Switcher(Protocol):
    """Puts the service on one of the sides being compared."""

    @property
    def names(self) -> tuple[str, ...]:
        """A label per side; side 0 is what the service runs at the start."""
        ...

    def switch(self, side: int) -> str:
        """Put the service on ``side``; returns a one-line summary of what was
        done. Raises :class:`SwitchFailed`."""
        ...

    def expected_workers(self, side: int) -> int | None:
        """The worker count ``side`` runs (None: not known or not checked)."""
        ...


class InterleaveStatus(StrEnum):
    """How an interleaved run ended."""

    CONCLUSIVE = "conclusive"
    CAP_REACHED = "cap reached"  # the last look still inconclusive on a primary metric
    STOPPED = "stopped"  # something made the rounds meaningless: see the reason
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class InterleaveSettings:
    """The shape of a run.

    ``cap_s``: the run ends at this many seconds (from the load's warm-up's
    end) if not conclusive before; looks spend alpha by the share of it
    used. ``segment_s``: measured seconds per configuration per round;
    ``settle_s``: left out after each switch.
    """

    # From benchmarks/verdict_power.py (the figures: benchmarks/README.md):
    # a round's noise barely depends on the segment (log-ratio sd 0.41 with
    # 1 s, 0.39 with 2 s, 10 recorded same-config runs), so short rounds
    # give more rounds, more degrees of freedom, sooner. The settle is 0.5 s:
    # the switch waits for the workers itself, and the window starts on the
    # next whole second (0.5 to 1.5 s after the switch in all), so a round
    # is 1 + 1 + 1 s and the looks come about 12.5, 15.5, 18.5 s in (with 2 s
    # segments and a 1 s settle, 7 s rounds: first look 24.5 s). Simulated
    # from that noise (4000 runs a row), Pocock spending, 60 s cap: a 2x
    # change conclusive by 20 s in 37 % of runs (2 s segments: 20 %; the old
    # shape: 0 %), by 60 s in 94 % (83 %; 84 %); a 20 % change by 60 s in
    # 42 % (24 %; 26 %). A 60 s cap gave more by 20 and 60 s than 120 s (the
    # spending runs over the cap).
    cap_s: float = 60.0
    segment_s: float = 1.0
    settle_s: float = 0.5
    load_warmup_s: float = 2.0
    family_alpha: float = 0.05
    interval_s: float = 1.0
    stop_when_conclusive: bool = True
    seed: int | None = None


@dataclass(frozen=True)
class Segment:
    """One configuration's turn in one round."""

    round: int
    side: int
    started_at: float
    measured_from: float
    ended_at: float
    switch: str | None  # what the switch did (None: no switch needed)
    epoch: Epoch | None = None  # the measured window's records, once closed

    def value(self, metric: Metric) -> float | None:
        """``metric`` over the segment; the driver's latency percentiles are
        those of every request in it (pooled histograms), not a mean of
        per-second percentiles."""
        if self.epoch is None:
            return None
        fraction = _CLIENT_PERCENTILES.get(metric)
        if fraction is not None:
            pooled = pooled_latency_ms(self.epoch.client, fraction)
            if pooled is not None:
                return pooled
        return metric_units(self.epoch, metric).value


@dataclass(frozen=True)
class RoundProgress:
    """Posted once a sample, and after every look."""

    elapsed_s: float
    cap_s: float
    round: int
    side: int
    side_name: str
    look: Look | None  # the latest look (None before the first)
    detail: str


@dataclass(frozen=True)
class InterleaveResult:
    """What an interleaved run measured and concluded."""

    status: InterleaveStatus
    sides: tuple[str, ...]
    segments: tuple[Segment, ...]
    looks: tuple[Look, ...]
    conclusive_after_s: float | None
    reason: str | None
    notes: tuple[str, ...]
    elapsed_s: float
    side_now: int | None  # where the service is at the end (None: unknown)
    profile_label: str
    run: RunSummary | None
    primary: tuple[Metric, ...]
    # The run stopped because a switch failed (``side_now`` says where the
    # service is, when known): the caller does not try that switch again.
    switch_failed: bool = False
    # Rounds left out of the pairs (a stall, or the load lost to errors).
    left_out: tuple[int, ...] = ()

    @property
    def final(self) -> Look | None:
        return self.looks[-1] if self.looks else None

    def rounds(self) -> int:
        return max((s.round for s in self.segments), default=-1) + 1


_CLIENT_PERCENTILES = {
    Metric.CLIENT_LATENCY_P50_MS: 0.50,
    Metric.CLIENT_LATENCY_P90_MS: 0.90,
    Metric.CLIENT_LATENCY_P99_MS: 0.99,
}


def pooled_latency_ms(seconds: Sequence[ClientSecond], fraction: float) -> float | None:
    """The ``fraction`` percentile of every request of ``seconds`` (their
    histograms added up), None when no second carries one."""
    histogram = LatencyHistogram()
    for second in seconds:
        for index, count in second.latency_buckets:
            histogram.buckets[index] = histogram.buckets.get(index, 0) + count
            histogram.count += count
    if histogram.count == 0:
        return None
    indices = sorted(histogram.buckets)
    histogram.min_ns = bucket_bounds(indices[0])[0]
    histogram.max_ns = bucket_bounds(indices[-1])[1] - 1
    (value,) = histogram.percentiles_ns((fraction,))
    return value / 1e6 if value is not None else None


def error_share(epoch: Epoch) -> float | None:
    """The share of the load driver's requests in ``epoch`` that failed
    (an error status or no response), None when none ended."""
    ended = sum(c.completed + c.transport_errors for c in epoch.client)
    if ended == 0:
        return None
    return sum(c.errors for c in epoch.client) / ended


def round_order(sides: int, round_index: int, previous_last: int, rng: random.Random) -> list[int]:
    """The order of one round: two sides alternate A B, B A, ...; more sides
    are shuffled, avoiding a switch at the round's start where possible."""
    if sides == 2:
        return [0, 1] if round_index % 2 == 0 else [1, 0]
    order = list(range(sides))
    rng.shuffle(order)
    if previous_last in order and order[0] != previous_last and round_index > 0:
        # Start where the last round ended: one switch fewer, still a random
        # order for the rest.
        order.remove(previous_last)
        order.insert(0, previous_last)
    return order


def _round_values(
    segments: Sequence[Segment], metric: Metric, sides: int
) -> list[list[float | None]]:
    by_round: dict[int, dict[int, Segment]] = {}
    for segment in segments:
        by_round.setdefault(segment.round, {})[segment.side] = segment
    rows = []
    for number in sorted(by_round):
        turn = by_round[number]
        if len(turn) < sides or any(s.epoch is None for s in turn.values()):
            continue
        rows.append([turn[side].value(metric) for side in range(sides)])
    return rows


def _centred_in(record: ClientSecond | ResourceReading, start: float, end: float) -> bool:
    middle = (record.start_at + record.end_at) / 2.0
    return start <= middle < end


def window_epoch(tracker: EpochTracker, start: float, end: float) -> Epoch | None:
    """The records of every kept epoch in [start, end], as one epoch (the
    last one's config), or None when none is kept there.

    The server's seconds are whole seconds, as the window is: those wholly
    inside. The driver's seconds and the resource readings run on their own
    phase: those whose middle lies inside (a 1 s window would hold none
    wholly; contiguous windows share none). Such a record starts at most
    half a second before the window, so after the settle that follows a
    switch it starts once the switch is done; a switch waits for the
    driver's second centred in the window before it to end (the tracker
    drops a record across a switch)."""
    epochs = [e for e in tracker.epochs() if e.ended_at is None or e.ended_at > start]
    epochs = [e for e in epochs if e.started_at < end]
    if not epochs:
        return None
    parts = [dataclasses.replace(e, measured_from=e.started_at).within(start, end) for e in epochs]
    last = parts[-1]
    return dataclasses.replace(
        last,
        started_at=start,
        measured_from=start,
        ended_at=end,
        server=tuple(r for p in parts for r in p.server),
        resources=tuple(r for e in epochs for r in e.resources if _centred_in(r, start, end)),
        client=tuple(r for e in epochs for r in e.client if _centred_in(r, start, end)),
    )


def available_primary(segments: Sequence[Segment], candidates: Sequence[Metric]) -> Metric | None:
    """The first of ``candidates`` measured in any closed segment."""
    for metric in candidates:
        if any(s.value(metric) is not None for s in segments if s.epoch is not None):
            return metric
    return None


Judge = Callable[[Sequence[Segment], int, float], Look]


def pairwise_judge(
    before: int, after: int, primary: Sequence[Sequence[Metric]], plan: LookPlan
) -> Judge:
    """Judge ``after`` against ``before`` (side indices); each entry of
    ``primary`` is a list of alternatives (server-side first, the driver's
    when the server's figure is missing)."""
    previous = [0.0]

    def judge(segments: Sequence[Segment], sides: int, elapsed_s: float) -> Look:
        chosen = [available_primary(segments, options) for options in primary]
        level = plan.level(previous[0], elapsed_s)
        previous[0] = elapsed_s
        values_before: dict[Metric, list[float | None]] = {}
        values_after: dict[Metric, list[float | None]] = {}
        for metric in Metric:
            rows = _round_values(segments, metric, sides)
            values_before[metric] = [row[before] for row in rows]
            values_after[metric] = [row[after] for row in rows]
        effects = look_at(
            values_before, values_after, [m for m in chosen if m is not None], level=level
        )
        rounds = len(_round_values(segments, Metric.CLIENT_REQUESTS_PER_S, sides))
        return Look(rounds, elapsed_s, level, effects, (before, after))

    return judge


def leader_judge(plan: LookPlan, primary: Sequence[Metric] = ()) -> Judge:
    """Judge the side with the best mean throughput over the rounds against
    the second best (a sweep's winner against its runner-up)."""
    previous = [0.0]
    options = tuple(primary) or THROUGHPUT

    def judge(segments: Sequence[Segment], sides: int, elapsed_s: float) -> Look:
        metric = available_primary(segments, options) or options[-1]
        rows = _round_values(segments, metric, sides)

        def mean(side: int) -> float:
            values = [row[side] for row in rows if row[side] is not None]
            return sum(v for v in values if v is not None) / len(values) if values else -1.0

        ranked = sorted(range(sides), key=lambda side: -mean(side))
        after, before = ranked[0], ranked[1]
        level = plan.level(previous[0], elapsed_s)
        previous[0] = elapsed_s
        values_before: dict[Metric, list[float | None]] = {}
        values_after: dict[Metric, list[float | None]] = {}
        for each in Metric:
            each_rows = _round_values(segments, each, sides)
            values_before[each] = [row[before] for row in each_rows]
            values_after[each] = [row[after] for row in each_rows]
        effects = look_at(values_before, values_after, [metric], level=level)
        return Look(len(rows), elapsed_s, level, effects, (before, after))

    return judge


THROUGHPUT = (Metric.REQUESTS_PER_S, Metric.CLIENT_REQUESTS_PER_S)
LATENCY_P50 = (Metric.LATENCY_P50_MS, Metric.CLIENT_LATENCY_P50_MS)


def _external(change: EpochChange) -> bool:
    return change.kind in (
        ChangeKind.CONTAINER_RECREATED,
        ChangeKind.MASTER_RESTARTED,
        ChangeKind.SETTINGS,
    )


def run_interleaved(
    frames: FrameSource,
    tracker: EpochTracker,
    switcher: Switcher,
    profile: LoadProfile,
    target: LoadTarget,
    judge: Judge,
    *,
    primary: tuple[Metric, ...] = (),
    settings: InterleaveSettings | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[RoundProgress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> InterleaveResult:
    """Interleave ``switcher``'s sides under ``profile`` (module docstring).

    The service runs side 0 at the start. ``judge`` looks at the closed
    segments after each round. The caller restores or keeps a side after.
    """
    from gunicorn_tui.load.driver import LoadRun, LoadRunError

    shape = settings or InterleaveSettings()
    if not MIN_CAP_S <= shape.cap_s <= MAX_CAP_S:
        raise ValueError(f"the cap must be in [{MIN_CAP_S:g}, {MAX_CAP_S:g}] s")
    if shape.segment_s <= 0 or shape.settle_s < 0:
        raise ValueError("segment_s must be > 0 and settle_s >= 0")
    sides = len(switcher.names)
    if sides < 2:
        raise ValueError("an interleaved run needs at least two sides")
    cancel = cancel if cancel is not None else threading.Event()
    rng = random.Random(shape.seed)
    segments: list[Segment] = []
    looks: list[Look] = []
    notes: list[str] = []
    reason: str | None = None
    status: InterleaveStatus | None = None
    conclusive_after: float | None = None
    side_now: int | None = 0
    switch_failed = False
    stalled_rounds: set[int] = set()
    error_rounds: set[int] = set()

    mismatch_since: list[float | None] = [None]

    def tick(side: int | None = None) -> EpochChange | str | None:
        """Sample once: a change the tracker saw, or (with ``side``) why the
        worker count says someone else changed the target."""
        frame = frames()
        change = tracker.observe_frame(frame)
        if change is not None or side is None:
            return change
        expected = switcher.expected_workers(side)
        sample = tracker.select(frame)
        if expected is None or sample is None or len(sample.workers) == expected:
            mismatch_since[0] = None
            return None
        now = time.time()
        since = mismatch_since[0] = mismatch_since[0] or now
        if now - since >= OUTSIDE_AFTER_S:
            return (
                f"the target changed from outside: {len(sample.workers)} workers where "
                f"{expected} were set"
            )
        return None

    def outside_change(side: int) -> str | None:
        """Before a switch: does the service still run what ``side`` set?"""
        deadline = time.time() + OUTSIDE_AFTER_S + 0.5
        while True:
            found = tick(side)
            if isinstance(found, str):
                return found
            if mismatch_since[0] is None or time.time() >= deadline:
                return None
            sleep(0.5)

    tick()
    bounded = profile_for(profile, shape.cap_s + shape.load_warmup_s + 3 * shape.segment_s + 30.0)
    label = profile_label(bounded)
    tracker.set_load_profile(label)
    run: LoadRun = LoadRun(bounded, target, on_second=tracker.add_client_second).start()
    run.wait_started(_START_WAIT_S)
    started = time.time()
    summary: RunSummary | None = None
    progress_look: Look | None = None

    def post(round_index: int, side: int, detail: str) -> None:
        if on_progress is not None:
            on_progress(
                RoundProgress(
                    time.time() - started,
                    shape.cap_s,
                    round_index,
                    side,
                    switcher.names[side],
                    progress_look,
                    detail,
                )
            )

    def wait_until(until: float, round_index: int, side: int) -> str | None:
        """Sample until ``until``; a reason to stop, if one shows up."""
        while True:
            now = time.time()
            if cancel.is_set():
                return "cancelled"
            if not run.running:
                return "the load run ended before the comparison did"
            if now >= until:
                return None
            # Wake when a segment closes too: its round is looked at then.
            closing = [
                s.ended_at + CLOSE_AFTER_S - now
                for s in segments
                if s.epoch is None and s.ended_at + CLOSE_AFTER_S > now
            ]
            sleep(max(0.0, min(shape.interval_s, until - now, *closing)))
            change = tick(side)
            if isinstance(change, str):
                return change
            if change is not None:
                stop = _judge_change(change, switcher.expected_workers(side))
                if stop is not None:
                    return stop
            close_segments()
            failing = lost_to_errors()
            if failing is not None:
                return failing
            if maybe_look():
                return _CONCLUSIVE
            post(round_index, side, "measuring")

    def close_segments() -> None:
        now = time.time()
        for index, segment in enumerate(segments):
            if segment.epoch is None and now >= segment.ended_at + CLOSE_AFTER_S:
                epoch = window_epoch(tracker, segment.measured_from, segment.ended_at)
                segments[index] = dataclasses.replace(segment, epoch=epoch)
                # No response at all (refused connections are errors, below).
                stalled = epoch is not None and not any(
                    c.completed or c.transport_errors for c in epoch.client
                )
                if stalled and segment.round not in stalled_rounds:
                    stalled_rounds.add(segment.round)
                    notes.append(
                        f"round {segment.round + 1}: no response in "
                        f"{switcher.names[segment.side]}'s segment (a stall): round left out"
                    )
                share = error_share(epoch) if epoch is not None and not stalled else None
                if share is not None and share > ERROR_SHARE_LIMIT:
                    if segment.round not in error_rounds and len(error_rounds) < _ROUND_NOTES:
                        notes.append(
                            f"round {segment.round + 1}: {100 * share:.0f}% of the requests "
                            f"failed in {switcher.names[segment.side]}'s segment (errors): "
                            "round left out"
                        )
                    error_rounds.add(segment.round)

    def lost_to_errors() -> str | None:
        """Why the run stops when the server keeps failing the load."""
        done = closed_rounds()
        recent = set(range(done - ERRORS_STOP_ROUNDS, done))
        lost = len(error_rounds & set(range(done)))
        if done < ERRORS_STOP_ROUNDS or lost < ERRORS_STOP_ROUNDS:
            return None
        if recent <= error_rounds or lost > done / 2:
            return (
                f"{lost} of {done} rounds lost their load to errors (more than "
                f"{100 * ERROR_SHARE_LIMIT:.0f}% of requests failed): the server is failing, "
                "the configurations cannot be compared"
            )
        return None

    def closed_rounds() -> int:
        done = 0
        for number in range(max((s.round for s in segments), default=-1) + 1):
            turn = [s for s in segments if s.round == number]
            if len(turn) == sides and all(s.epoch is not None for s in turn):
                done = number + 1
            else:
                break
        return done

    looked_rounds = 0

    def left_out() -> set[int]:
        return stalled_rounds | error_rounds

    def usable() -> list[Segment]:
        return [s for s in segments if s.round not in left_out()]

    def maybe_look() -> bool:
        """Look at newly closed rounds; True when the run may stop."""
        nonlocal looked_rounds, progress_look, conclusive_after
        done = closed_rounds()
        if done <= looked_rounds:
            return False
        looked_rounds = done
        if done - len(left_out() & set(range(done))) < MIN_ROUNDS:
            return False
        elapsed = time.time() - started
        look = judge(usable(), sides, min(elapsed, shape.cap_s))
        looks.append(look)
        progress_look = look
        post(done - 1, segments[-1].side, "look")
        if look.conclusive and conclusive_after is None:
            conclusive_after = elapsed
            return shape.stop_when_conclusive
        return False

    try:
        # The load's ramp and the server's warm-up under it.
        reason = wait_until(started + shape.load_warmup_s, 0, 0)
        phase = _phase(tracker, run.started_at)
        current = 0
        round_index = 0
        last_side = 0
        while reason is None and status is None:
            order = round_order(sides, round_index, last_side, rng)
            for side in order:
                begun = time.time()
                switch_text: str | None = None
                if side != current:
                    if segments:
                        # The driver's second centred in the last window ends
                        # before the switch (one across it would be dropped).
                        reason = wait_until(
                            _client_second_end(segments[-1].ended_at, run.started_at),
                            round_index,
                            current,
                        )
                        if reason is not None:
                            if reason == _CONCLUSIVE:
                                reason = None
                                status = InterleaveStatus.CONCLUSIVE
                            break
                    outside = outside_change(current)
                    if outside is not None:
                        reason = outside
                        break
                    post(round_index, side, f"switching to {switcher.names[side]}")
                    tracker.begin_change(f"interleave: {switcher.names[side]}")
                    try:
                        switch_text = switcher.switch(side)
                    except SwitchFailed as error:
                        tracker.end_change(note=str(error), warmup_s=shape.settle_s)
                        side_now = current if error.unchanged else None
                        switch_failed = True
                        reason = f"switch to {switcher.names[side]} failed: {error}"
                        status = InterleaveStatus.STOPPED
                        break
                    tracker.end_change(note=switch_text, warmup_s=shape.settle_s)
                    current = side
                    side_now = side
                    settle = shape.settle_s
                    measured_from = _aligned(time.time() + settle, phase)
                elif segments:
                    # The same side runs on (A B | B A): measured from where the
                    # last segment ended (aligned already), no second lost.
                    measured_from = segments[-1].ended_at
                else:
                    measured_from = _aligned(time.time(), phase)
                ended_at = measured_from + shape.segment_s
                segments.append(
                    Segment(round_index, side, begun, measured_from, ended_at, switch_text)
                )
                reason = wait_until(ended_at, round_index, side)
                if reason is not None:
                    segments.pop()  # a partial segment is not a measurement
                    if reason == _CONCLUSIVE:
                        reason = None
                        status = InterleaveStatus.CONCLUSIVE
                    break
                if time.time() - started >= shape.cap_s:
                    break
            else:
                round_index += 1
                last_side = order[-1]
                if time.time() - started < shape.cap_s:
                    continue
            break
        if reason == "cancelled":
            status = InterleaveStatus.CANCELLED
        elif reason is not None and status is None:
            status = InterleaveStatus.STOPPED
        # Let the last segments close, and take the last look.
        if status is None:
            run.stop()
            flush_until = time.time() + CLOSE_AFTER_S + 0.5
            while time.time() < flush_until:
                sleep(0.5)
                tick()
            close_segments()
            if maybe_look() and status is None:
                status = InterleaveStatus.CONCLUSIVE
    except KeyboardInterrupt:
        cancel.set()
        status = InterleaveStatus.CANCELLED
        reason = "interrupted"
    finally:
        run.stop()
        try:
            summary = run.join(_GRACE_S)
        except LoadRunError as error:
            notes.append(f"the load run failed: {error}")
        tracker.set_load_profile(None)
    if status is None:
        final = looks[-1] if looks else None
        status = (
            InterleaveStatus.CONCLUSIVE
            if final is not None and final.conclusive
            else InterleaveStatus.CAP_REACHED
        )
        if not looks:
            reason = reason or (
                f"fewer than {MIN_ROUNDS} complete rounds within the cap of {shape.cap_s:g} s"
            )
    if stalled_rounds:
        notes.append(f"{len(stalled_rounds)} round(s) left out: the server stalled")
    if error_rounds:
        notes.append(
            f"{len(error_rounds)} round(s) left out: more than {100 * ERROR_SHARE_LIMIT:.0f}% "
            "of their requests failed"
        )
    lengths = [s.ended_at - s.measured_from for s in segments]
    if lengths and max(lengths) > 1.5 * min(lengths):
        notes.append("segments of unequal length: each is judged by its rate, not its count")
    return InterleaveResult(
        status=status,
        sides=tuple(switcher.names),
        segments=tuple(segments),
        looks=tuple(looks),
        conclusive_after_s=conclusive_after,
        reason=reason,
        notes=tuple(notes),
        elapsed_s=time.time() - started,
        side_now=side_now,
        profile_label=label,
        run=summary,
        primary=primary,
        switch_failed=switch_failed,
        left_out=tuple(sorted(stalled_rounds | error_rounds)),
    )


def _phase(tracker: EpochTracker, driver_started_at: float | None) -> float:
    """Where measured windows start within a second: on whole seconds when
    the server's seconds are read (the access log's), else on the driver's
    (its seconds start when the run did): a window then holds whole records."""
    current = tracker.current()
    if (current is not None and current.server) or driver_started_at is None:
        return 0.0
    return driver_started_at % 1.0


def _client_second_end(at: float, driver_started_at: float | None) -> float:
    """When the driver's second whose middle lies before ``at`` (and within
    the half second before it) ends: ``at`` itself when that second ended
    by then (the driver's seconds run from ``driver_started_at`` on)."""
    if driver_started_at is None:
        return at
    to_boundary = (driver_started_at - at) % 1.0
    return at + to_boundary if to_boundary < 0.5 else at


def _aligned(at: float, phase: float) -> float:
    """The first time at or after ``at`` on the second's ``phase``."""
    return math.ceil(at - phase) + phase


def _judge_change(change: EpochChange, expected_workers: int | None) -> str | None:
    """A change the tracker noticed mid-run: a reason to stop, or None when
    it is the switch gtui just made (a worker count confirmed late)."""
    if _external(change):
        return f"the target changed from outside: {change.label}"
    if change.kind is ChangeKind.WORKER_COUNT and expected_workers is not None:
        now = change.detail.rsplit("->", 1)[-1].strip()
        if now.isdigit() and int(now) != expected_workers:
            return f"the target changed from outside: {change.label}"
    if change.kind is ChangeKind.RELOAD and expected_workers is None:
        return None
    return None


def side_epoch(result: InterleaveResult, side: int) -> Epoch | None:
    """One side's measured segments as one epoch (records side by side)."""
    epochs = [s.epoch for s in result.segments if s.side == side and s.epoch is not None]
    if not epochs:
        return None
    return dataclasses.replace(
        epochs[-1],
        started_at=epochs[0].started_at,
        measured_from=epochs[0].started_at,
        server=tuple(r for e in epochs for r in e.server),
        resources=tuple(r for e in epochs for r in e.resources),
        client=tuple(r for e in epochs for r in e.client),
    )


def round_seconds(settings: InterleaveSettings, sides: int) -> float:
    """One round's length at least: a settle and a segment per side."""
    return sides * (settings.settle_s + settings.segment_s)


def too_short(settings: InterleaveSettings, sides: int) -> str | None:
    """Why a cap cannot give an answer (None when it can)."""
    needed = settings.load_warmup_s + MIN_ROUNDS * round_seconds(settings, sides)
    if settings.cap_s < needed:
        return (
            f"a cap of {settings.cap_s:g} s cannot answer: {MIN_ROUNDS} rounds of "
            f"{sides} x ({settings.settle_s:g} s settle + {settings.segment_s:g} s measured) "
            f"and the load's warm-up need {math.ceil(needed)} s, and more to narrow the "
            "intervals: the default cap (60 s for two configs: a 2x change is conclusive "
            "by then in 94% of runs simulated from a busy machine's noise, "
            "benchmarks/verdict_power.py) is the shortest advised"
        )
    return None
