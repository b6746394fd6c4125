"""When each request of a run is due: the arithmetic of rate and ramp-up.

Open loop: the rate rises linearly from zero to ``rate_rps`` over
``ramp_up_s``, then stays there. The number of requests due by time ``t`` is
the integral of that rate, ``N(t)``; request ``i`` (counting from 0) is due at
the time ``N(t) = i``. Latency in an open loop is measured from that due time,
so a client that falls behind still charges the wait to the server's account
instead of silently sending less (coordinated omission).

Closed loop: ``clients`` clients start one after another, evenly spread over
the ramp-up, and each sends its next request as soon as the last one ends.
"""

from __future__ import annotations

import math


def open_loop_due_count(elapsed_s: float, rate_rps: float, ramp_up_s: float) -> float:
    """``N(t)``: how many requests are due by ``elapsed_s`` (not rounded)."""
    if elapsed_s <= 0:
        return 0.0
    if ramp_up_s <= 0 or elapsed_s >= ramp_up_s:
        ramp_count = rate_rps * max(ramp_up_s, 0.0) / 2
        return ramp_count + rate_rps * (elapsed_s - max(ramp_up_s, 0.0))
    return rate_rps * elapsed_s * elapsed_s / (2 * ramp_up_s)


def open_loop_due_at_s(index: int, rate_rps: float, ramp_up_s: float) -> float:
    """Seconds after the start at which request ``index`` (from 0) is due."""
    if index <= 0:
        return 0.0
    if ramp_up_s <= 0:
        return index / rate_rps
    ramp_count = rate_rps * ramp_up_s / 2
    if index <= ramp_count:
        return math.sqrt(2 * ramp_up_s * index / rate_rps)
    return ramp_up_s + (index - ramp_count) / rate_rps


def open_loop_sends_due(
    start_s: float,
    end_s: float,
    rate_rps: float,
    ramp_up_s: float,
    max_requests: int | None = None,
) -> int:
    """How many requests are due in ``[start_s, end_s)``: the target a second
    of the run is compared with."""

    def due_before(t: float) -> int:
        if t <= 0:
            return 0
        # Request i is due before t when i < N(t); round first so that a
        # value like 199.99999999997 from float arithmetic counts as 200.
        count = math.ceil(round(open_loop_due_count(t, rate_rps, ramp_up_s), 9))
        return count if max_requests is None else min(count, max_requests)

    return max(0, due_before(end_s) - due_before(start_s))


def open_loop_planned_requests(
    duration_s: float | None,
    rate_rps: float,
    ramp_up_s: float,
    max_requests: int | None,
) -> int | None:
    """How many requests an open-loop run sends when nothing stops it early,
    or None when only the time cap bounds it (it never is: a profile has a
    duration or a count)."""
    if duration_s is None:
        return max_requests
    return open_loop_sends_due(0.0, duration_s, rate_rps, ramp_up_s, max_requests)


def open_loop_rate_at(elapsed_s: float, rate_rps: float, ramp_up_s: float) -> float:
    """The target rate at ``elapsed_s``, in requests per second."""
    if elapsed_s < 0:
        return 0.0
    if ramp_up_s <= 0 or elapsed_s >= ramp_up_s:
        return rate_rps
    return rate_rps * elapsed_s / ramp_up_s


def closed_loop_start_at_s(client: int, clients: int, ramp_up_s: float) -> float:
    """When closed-loop client ``client`` (from 0) of ``clients`` starts."""
    if ramp_up_s <= 0 or clients <= 0:
        return 0.0
    return ramp_up_s * client / clients
