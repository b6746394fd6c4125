"""The open-loop schedule and closed-loop start times."""

from __future__ import annotations

import math

import pytest

from gunicorn_tui.load.schedule import (
    closed_loop_start_at_s,
    open_loop_due_at_s,
    open_loop_due_count,
    open_loop_planned_requests,
    open_loop_rate_at,
    open_loop_sends_due,
)


def test_constant_rate_without_ramp() -> None:
    assert [open_loop_due_at_s(i, 4.0, 0.0) for i in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert [open_loop_sends_due(s, s + 1, 50.0, 0.0) for s in range(3)] == [50, 50, 50]
    assert open_loop_planned_requests(3.0, 50.0, 0.0, None) == 150
    assert open_loop_planned_requests(3.0, 50.0, 0.0, 100) == 100
    assert open_loop_planned_requests(None, 50.0, 0.0, 70) == 70


def test_linear_ramp_counts() -> None:
    # Rate 100/s reached after 4 s: 200 requests during the ramp (the area
    # of the triangle), then 100 per second.
    rate, ramp = 100.0, 4.0
    per_second = [open_loop_sends_due(s, s + 1, rate, ramp) for s in range(6)]
    assert per_second == [13, 37, 63, 87, 100, 100]  # ceil of 12.5 t², differenced
    assert sum(per_second[:4]) == 200
    assert open_loop_due_count(4.0, rate, ramp) == pytest.approx(200.0)
    assert open_loop_rate_at(1.0, rate, ramp) == 25.0
    assert open_loop_rate_at(9.0, rate, ramp) == 100.0
    assert open_loop_rate_at(-1.0, rate, ramp) == 0.0


@pytest.mark.parametrize(("rate", "ramp"), [(100.0, 4.0), (7.5, 0.0), (3000.0, 1.5), (1.0, 10.0)])
def test_due_time_inverts_the_due_count(rate: float, ramp: float) -> None:
    times = [open_loop_due_at_s(i, rate, ramp) for i in range(2000)]
    assert times == sorted(times)
    for index, due in enumerate(times):
        assert open_loop_due_count(due, rate, ramp) == pytest.approx(index, abs=1e-6)


@pytest.mark.parametrize(("rate", "ramp", "duration"), [(100.0, 4.0, 10.0), (33.3, 0.0, 2.0)])
def test_seconds_add_up_to_the_plan(rate: float, ramp: float, duration: float) -> None:
    planned = open_loop_planned_requests(duration, rate, ramp, None)
    seconds = [open_loop_sends_due(s, s + 1, rate, ramp) for s in range(math.ceil(duration))]
    assert sum(seconds) == planned
    # The planned requests are exactly those due before the end.
    assert planned is not None
    assert open_loop_due_at_s(planned - 1, rate, ramp) < duration
    assert open_loop_due_at_s(planned, rate, ramp) >= duration - 1e-9


def test_the_count_cap_applies_per_second() -> None:
    assert [open_loop_sends_due(s, s + 1, 10.0, 0.0, 25) for s in range(4)] == [10, 10, 5, 0]


def test_closed_loop_clients_spread_over_the_ramp() -> None:
    assert [closed_loop_start_at_s(c, 4, 2.0) for c in range(4)] == [0.0, 0.5, 1.0, 1.5]
    assert closed_loop_start_at_s(3, 4, 0.0) == 0.0
