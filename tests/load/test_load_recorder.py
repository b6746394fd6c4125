"""The recorder's counting and windows, fed with timed events as data."""

from __future__ import annotations

import pytest

from gunicorn_tui.load.outcome import ErrorKind
from gunicorn_tui.load.profile import parse_profile_text
from gunicorn_tui.load.recorder import RunRecorder

MS = 1_000_000
PROFILE = """
[run]
rate_rps = 10
duration_s = 2

[[request]]
path = "/fast"

[[request]]
path = "/status/503"
"""


def test_windows_totals_and_endpoints() -> None:
    recorder = RunRecorder(parse_profile_text(PROFILE).requests)
    # Second 0: three requests, one of them sent 30 ms late (due at 100 ms).
    recorder.on_sent(0, 0, 0)
    recorder.on_response(0, 200, 0, 0, 10 * MS)
    recorder.on_sent(0, 100 * MS, 130 * MS)
    recorder.on_response(0, 200, 100 * MS, 130 * MS, 150 * MS)
    recorder.on_sent(1, 200 * MS, 200 * MS)
    recorder.on_response(1, 503, 200 * MS, 200 * MS, 205 * MS)
    recorder.on_sent(0, 900 * MS, 900 * MS)  # still in flight at the boundary
    first = recorder.close_second(0, 1.0, 1000.0, 4)
    assert (first.sent, first.completed, first.in_flight, first.target_sends) == (4, 3, 1, 4)
    assert first.errors.http_5xx == 1
    assert first.errors.total == 1
    assert first.latency.max_ms == pytest.approx(50.0)  # 150 ms - due at 100 ms
    assert first.service.max_ms == pytest.approx(20.0)  # 150 ms - sent at 130 ms
    assert first.latency.p50_ms == pytest.approx(10.0, rel=1e-3)
    assert first.send_lag_max_ms == pytest.approx(30.0)
    assert first.sent_rps == 4.0

    # Second 1: the request from second 0 times out, one is refused, one cut off.
    recorder.on_failure(0, ErrorKind.TIMEOUT)
    recorder.on_sent(0, 1100 * MS, 1100 * MS)
    recorder.on_failure(0, ErrorKind.CONNECT_REFUSED)
    recorder.on_sent(1, 1200 * MS, 1200 * MS)
    recorder.on_unfinished(1)
    second = recorder.close_second(1, 0.5, 1001.0, 2)
    assert (second.sent, second.completed, second.in_flight) == (2, 0, 0)
    assert (second.errors.timeout, second.errors.connect_refused) == (1, 1)
    assert second.latency.count == 0
    assert second.latency.p50_ms is None
    assert second.sent_rps == 4.0  # 2 in a half-second window

    assert (recorder.sent, recorder.completed, recorder.unfinished) == (6, 3, 1)
    errors = recorder.error_counts()
    assert (errors.http_5xx, errors.timeout, errors.connect_refused) == (1, 1, 1)
    assert errors.transport_total == 2
    # sent = completed + transport failures + unfinished
    assert recorder.sent == recorder.completed + errors.transport_total + recorder.unfinished
    assert recorder.status_counts == {200: 2, 503: 1}
    assert recorder.latency.count == 3
    fast, storm = recorder.endpoint_summaries()
    assert (fast.sent, fast.completed, fast.errors.total) == (4, 2, 2)
    assert (storm.sent, storm.completed, storm.errors.http_5xx) == (2, 1, 1)
    assert storm.name == "GET /status/503"
    assert [s.second for s in recorder.seconds] == [0, 1]
