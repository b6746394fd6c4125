"""Rolling traffic metrics, fed with explicit times (deterministic)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gunicorn_tui.stats.log_linear_histogram import LogLinearHistogram, bucket_bounds, bucket_index
from gunicorn_tui.traffic.access_log_format import DEFAULT_ACCESS_LOG_FORMAT, AccessLogParser
from gunicorn_tui.traffic.endpoint_patterns import EndpointPatternCache, endpoint_pattern
from gunicorn_tui.traffic.metrics import OTHER_ENDPOINT, TrafficMetrics
from gunicorn_tui.traffic.statsd import StatsdParser

T0 = 1_800_000_000.0


def _nearest_rank(values: list[int], quantile: float) -> int:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * int(quantile * 1000) // 1000))
    return ordered[rank - 1]


def test_histogram_buckets_tile_the_line_and_percentiles_are_close() -> None:
    for bits in (2, 5, 7):
        previous_high = 0
        for index in range(4000):
            low, high = bucket_bounds(index, bits)
            assert low == previous_high
            assert bucket_index(low, bits) == index and bucket_index(high - 1, bits) == index
            if low >= 1 << bits:
                assert (high - low) / low <= 2 ** -(bits - 1)
            previous_high = high
    rng = random.Random(7)
    values = [int(rng.lognormvariate(9, 1.2)) for _ in range(50_000)]
    histogram = LogLinearHistogram()
    for value in values:
        histogram.record(value)
    for quantile, got in zip(
        (0.5, 0.9, 0.99), histogram.percentiles([0.5, 0.9, 0.99]), strict=True
    ):
        exact = _nearest_rank(values, quantile)
        assert got is not None and abs(got - exact) <= exact * 0.008 + 1, (quantile, got, exact)
    assert histogram.percentiles([1.0]) == [max(values)]
    assert LogLinearHistogram().percentiles([0.5]) == [None]


def test_windows_rates_statuses_and_latency() -> None:
    metrics = TrafficMetrics()
    rng = random.Random(3)
    durations_last_10s: list[int] = []
    for offset in range(60):
        for index in range(100):  # 100 req/s for 60 s
            now = T0 + offset + index / 100
            status = 500 if index < 5 else (404 if index < 15 else 200)
            duration_us = rng.randrange(1_000, 200_000)
            if offset >= 50:
                durations_last_10s.append(duration_us)
            metrics.observe_request(now, status=status, duration_us=duration_us)
    snapshot = metrics.snapshot(T0 + 60.2)
    ten = snapshot.window(10)
    assert ten.requests == 1000 and ten.requests_per_s == 100.0
    assert ten.status_counts["5xx"] == 50 and ten.status_counts["4xx"] == 100
    assert ten.error_rate == 0.05 and ten.client_error_rate == 0.10
    assert snapshot.window(1).requests == 100
    assert snapshot.window(60).requests == 6000
    latency = ten.latency
    for quantile, got in ((0.5, latency.p50_ms), (0.9, latency.p90_ms), (0.99, latency.p99_ms)):
        exact_ms = _nearest_rank(durations_last_10s, quantile) / 1000
        assert got is not None and abs(got - exact_ms) <= exact_ms * 0.008 + 0.001
    assert latency.max_ms == max(durations_last_10s) / 1000
    assert snapshot.requests_total == 6000
    # The second in progress is left out of the windows.
    metrics.observe_request(T0 + 60.5, status=200)
    assert metrics.snapshot(T0 + 60.9).window(1).requests == 100


def test_history_is_one_point_per_second_bounded_with_gaps_as_zeros() -> None:
    metrics = TrafficMetrics(history_s=600)
    metrics.observe_request(T0, status=200, duration_us=5000)
    metrics.observe_request(T0 + 0.5, status=503, duration_us=7000)
    metrics.observe_request(T0 + 3.1, status=200)
    history = metrics.history(T0 + 4.0)
    assert [point.second for point in history] == [int(T0) + i for i in range(4)]
    assert [point.requests for point in history] == [2, 0, 0, 1]
    assert history[0].error_rate == 0.5 and history[1].error_rate is None
    assert history[0].max_ms == 7.0
    long = metrics.history(T0 + 3600)
    assert len(long) == 600 and long[-1].second == int(T0) + 3599


def test_skewed_records_are_counted_on_arrival_and_the_delay_reported() -> None:
    parser = AccessLogParser(DEFAULT_ACCESS_LOG_FORMAT)
    metrics = TrafficMetrics()
    # The container's clock is an hour ahead of ours.
    line = '10.0.0.1 - - [15/Jan/2027:09:00:00 +0000] "GET /items/42 HTTP/1.1" 200 5 "-" "x"'
    record = parser.parse(line)
    assert record is not None and record.logged_at is not None
    arrival = record.logged_at - 3600 + 0.3
    for index in range(10):
        metrics.observe_record(record, arrival + index * 0.01)
    snapshot = metrics.snapshot(arrival + 1)
    assert snapshot.window(1).requests == 10
    assert snapshot.log_delay_s is not None and -3600 < snapshot.log_delay_s < -3599
    assert snapshot.endpoints[0].path_pattern == "/items/:id"


def test_late_feed_after_a_snapshot_is_still_counted() -> None:
    metrics = TrafficMetrics()
    metrics.observe_request(T0, status=200)
    metrics.snapshot(T0 + 5)
    metrics.observe_request(T0 + 1, status=200)  # arrived "before" the snapshot's now
    metrics.observe_request(T0 - 100, status=200)  # a clock stepping back
    snapshot = metrics.snapshot(T0 + 7)
    assert snapshot.requests_total == 3
    assert sum(point.requests for point in metrics.history(T0 + 7)) == 3
    seconds = [point.second for point in metrics.history(T0 + 7)]
    assert seconds == sorted(set(seconds))


def test_workers_counts_rates_busy_share_and_pid_mapping() -> None:
    metrics = TrafficMetrics()
    for offset in range(10):
        for index in range(30):
            pid = (101, 102, 103)[index % 3]
            metrics.observe_request(
                T0 + offset + index / 30, status=200, duration_us=20_000, worker_pid=pid
            )
    metrics.set_pid_mapping({101: 5101, 102: 5102})
    snapshot = metrics.snapshot(T0 + 10)
    workers = {worker.logged_pid: worker for worker in snapshot.workers}
    assert sorted(workers) == [101, 102, 103]
    assert all(worker.requests_total == 100 for worker in workers.values())
    assert workers[101].host_pid == 5101 and workers[103].host_pid is None
    assert workers[102].requests_per_s_10s == 10.0
    # 10 requests/s of 20 ms each: busy 20 % of the time.
    assert workers[102].busy_share_10s is not None
    assert abs(workers[102].busy_share_10s - 0.2) < 1e-9


def test_workers_are_bounded_and_expire() -> None:
    metrics = TrafficMetrics(max_workers=4, worker_expiry_s=60)
    for pid in range(10):
        metrics.observe_request(T0 + pid, worker_pid=pid)
    assert len(metrics.worker_pids()) == 4
    assert sorted(metrics.worker_pids()) == [6, 7, 8, 9]
    snapshot = metrics.snapshot(T0 + 100)
    assert snapshot.workers == () and snapshot.forgotten_workers == 10


def test_endpoints_are_grouped_and_bounded() -> None:
    assert endpoint_pattern("/items/123") == "/items/:id"
    assert endpoint_pattern("/users/6f1c2a7e-1b2c-4d5e-8f90-123456789abc/orders") == (
        "/users/:id/orders"
    )
    assert endpoint_pattern("/blobs/deadbeefcafe0042") == "/blobs/:id"
    assert endpoint_pattern("/feed/cafe/deadbeef") == "/feed/cafe/deadbeef"  # words stay
    assert endpoint_pattern("/v2/a1/2024") == "/v2/a1/:id"
    cache = EndpointPatternCache(max_entries=3)
    for number in range(10):
        assert cache.pattern(f"/x/{number}") == "/x/:id"
    metrics = TrafficMetrics(max_endpoints=3, top_endpoints=10)
    for index in range(1000):
        metrics.observe_request(
            T0, method="GET", path=f"/items/{index}", status=200, duration_us=1000
        )
        metrics.observe_request(T0, method="GET", path=f"/word{index}", status=503)
    endpoints = metrics.snapshot(T0 + 1).endpoints
    assert len(endpoints) == 3
    by_key = {(e.method, e.path_pattern): e for e in endpoints}
    assert by_key[("GET", "/items/:id")].requests_total == 1000
    assert by_key[("GET", "/word0")].requests_total == 1
    assert by_key[OTHER_ENDPOINT].requests_total == 999
    assert by_key[OTHER_ENDPOINT].server_errors == 999
    assert by_key[("GET", "/items/:id")].latency.p50_ms == 1.0


def test_statsd_feed() -> None:
    parser = StatsdParser()
    metrics = TrafficMetrics()
    packets = [
        b"app.gunicorn.requests:1|c|@1.0",
        b"app.gunicorn.request.duration:12.5|ms",
        b"app.gunicorn.request.status.503:1|c|@0.5",
        b"app.gunicorn.workers:4|g",
        b"app.gunicorn.workers:+1|g",
        b"app.gunicorn.log.critical:1|c|@1.0",
        b"app.gunicorn.backlog:3|h",
    ]
    for packet in packets:
        for metric in parser.parse_packet(packet):
            metrics.observe_statsd(metric, T0 + 0.1)
    snapshot = metrics.snapshot(T0 + 1)
    one = snapshot.window(1)
    assert one.requests == 1 and one.status_counts["5xx"] == 2  # sampled at 0.5
    assert one.latency.p50_ms is not None and abs(one.latency.p50_ms - 12.5) < 0.1
    assert snapshot.workers_gauge == 5 and snapshot.backlog == 3.0
    assert snapshot.log_messages == {"critical": 1}


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.floats(-5, 30),  # time step, backwards included
            st.one_of(st.none(), st.integers(-5, 1000)),  # status, silly ones included
            st.one_of(st.none(), st.integers(-10, 10**13)),  # duration, silly ones included
            st.one_of(st.none(), st.integers(0, 5)),
            st.one_of(st.none(), st.text(max_size=30)),
        ),
        max_size=200,
    )
)
def test_any_feed_keeps_counts_consistent(
    events: list[tuple[float, int | None, int | None, int | None, str | None]],
) -> None:
    metrics = TrafficMetrics(history_s=10_000)
    now = T0
    for step, status, duration_us, pid, path in events:
        now += step
        metrics.observe_request(
            now, status=status, duration_us=duration_us, worker_pid=pid, method="GET", path=path
        )
    snapshot = metrics.snapshot(now + 1)
    assert snapshot.requests_total == len(events)
    assert sum(worker.requests_total for worker in snapshot.workers) == sum(
        1 for event in events if event[3] is not None
    )
    end = now + 1_000
    assert sum(point.requests for point in metrics.history(end)) == len(events)
    assert metrics.snapshot(end).workers == ()  # idle past worker_expiry_s
