"""StatsD: parsing Gunicorn's metrics, and the UDP listener under a real
Gunicorn started with ``--statsd-host``."""

from __future__ import annotations

import queue
import socket
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gunicorn_tui.traffic.statsd import (
    GunicornMetric,
    StatsdListener,
    StatsdMetric,
    StatsdParser,
    StatsdType,
    parse_metric,
)
from tests.traffic.live_gunicorn import free_udp_port, run_gunicorn


def _collect(received: queue.Queue[StatsdMetric], until: float, want: int) -> list[StatsdMetric]:
    metrics: list[StatsdMetric] = []
    while time.monotonic() < until and len(metrics) < want:
        try:
            metrics.append(received.get(timeout=0.1))
        except queue.Empty:
            continue
    return metrics


def test_listener_reads_a_real_gunicorn(tmp_path: Path) -> None:
    received: queue.Queue[StatsdMetric] = queue.Queue()

    def on_metrics(metrics: list[StatsdMetric], received_at: float) -> None:
        for metric in metrics:
            received.put(metric)

    port = free_udp_port()
    paths = ["/fast"] * 6 + ["/status/404"] * 3 + ["/status/503"] * 2 + ["/io?ms=50"]
    with StatsdListener(on_metrics, "127.0.0.1", port) as listener:
        args = [
            "--statsd-host",
            f"127.0.0.1:{port}",
            "--statsd-prefix",
            "shop.web",
            "--dogstatsd-tags",
            "env:test,canary",
        ]
        with run_gunicorn(tmp_path, args, workers=2) as server:
            statuses = [server.get(path)[0] for path in paths]
            # requests, duration and status per request, plus the workers gauge
            metrics = _collect(received, time.monotonic() + 10, 3 * len(paths) + 1)
        assert listener.parser.malformed == 0
        assert listener.kernel_drops() == 0
    assert statuses == [200] * 6 + [404] * 3 + [503] * 2 + [200]

    by_kind: dict[GunicornMetric, list[StatsdMetric]] = {}
    for metric in metrics:
        by_kind.setdefault(metric.kind, []).append(metric)
    requests = by_kind[GunicornMetric.REQUESTS]
    assert sum(metric.estimated_count for metric in requests) == len(paths)
    assert all(metric.prefix == "shop.web." for metric in metrics)
    assert all(metric.tags == (("env", "test"), ("canary", None)) for metric in metrics)
    durations = [metric.duration_ms for metric in by_kind[GunicornMetric.REQUEST_DURATION]]
    assert len(durations) == len(paths)
    assert max(d for d in durations if d is not None) >= 50.0  # the /io?ms=50 request
    status_counts: dict[int | None, float] = {}
    for metric in by_kind[GunicornMetric.REQUEST_STATUS]:
        status_counts[metric.status_code] = status_counts.get(metric.status_code, 0) + metric.value
    assert status_counts == {200: 7, 404: 3, 503: 2}
    workers = by_kind[GunicornMetric.WORKERS]
    assert workers[-1].metric_type is StatsdType.GAUGE and workers[-1].value == 2


def test_listener_survives_garbage_and_a_failing_callback() -> None:
    calls: list[list[StatsdMetric]] = []

    def on_metrics(metrics: list[StatsdMetric], received_at: float) -> None:
        calls.append(metrics)
        if len(calls) == 1:
            raise RuntimeError("consumer bug")

    with StatsdListener(on_metrics, "127.0.0.1", 0) as listener:
        host, port = listener.address
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for packet in (
                b"\xff\xfe\x00garbage",
                b"gunicorn.requests:1|c",  # raises in the callback
                b"",
                b"no-colon|c",
                b"gunicorn.requests:1|c\nbad:line\ngunicorn.workers:3|g",
            ):
                sender.sendto(packet, (host, port))
            deadline = time.monotonic() + 5
            while len(calls) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        time.sleep(0.1)
        counts = listener.parser.counts()
    assert listener.callback_errors == 1
    assert "consumer bug" in (listener.last_callback_error or "")
    assert [[metric.kind for metric in call] for call in calls] == [
        [GunicornMetric.REQUESTS],
        [GunicornMetric.REQUESTS, GunicornMetric.WORKERS],
    ]
    assert counts.packets == 5
    assert counts.malformed == 3  # garbage, no-colon, bad:line


def test_port_in_use_is_a_clear_error() -> None:
    with StatsdListener(lambda metrics, at: None, "127.0.0.1", 0) as first:
        _, port = first.address
        second = StatsdListener(lambda metrics, at: None, "127.0.0.1", port)
        with pytest.raises(OSError, match=f"cannot listen for StatsD on 127.0.0.1:{port}"):
            second.start()


@pytest.mark.parametrize(
    ("line", "kind", "prefix", "value", "rate", "status"),
    [
        ("gunicorn.requests:1|c|@1.0", GunicornMetric.REQUESTS, "", 1.0, 1.0, None),
        (
            "app.gunicorn.request.duration:12.5|ms",
            GunicornMetric.REQUEST_DURATION,
            "app.",
            12.5,
            1.0,
            None,
        ),
        (
            "gunicorn.gunicorn.request.status.503:1|c|@0.1",
            GunicornMetric.REQUEST_STATUS,
            "gunicorn.",
            1.0,
            0.1,
            503,
        ),
        ("x.gunicorn.workers:4|g", GunicornMetric.WORKERS, "x.", 4.0, 1.0, None),
        ("gunicorn.log.critical:1|c|@1.0", GunicornMetric.LOG_CRITICAL, "", 1.0, 1.0, None),
        ("gunicorn.backlog:17|h", GunicornMetric.BACKLOG, "", 17.0, 1.0, None),
        ("myapp.custom:3|c", GunicornMetric.OTHER, "", 3.0, 1.0, None),
        ("gunicorn.request.status.abc:1|c", GunicornMetric.OTHER, "", 1.0, 1.0, None),
    ],
)
def test_parse_metric(
    line: str, kind: GunicornMetric, prefix: str, value: float, rate: float, status: int | None
) -> None:
    metric = parse_metric(line)
    assert metric is not None
    assert (metric.kind, metric.prefix, metric.value, metric.sample_rate, metric.status_code) == (
        kind,
        prefix,
        value,
        rate,
        status,
    )


def test_sample_rate_and_gauge_delta() -> None:
    metric = parse_metric("gunicorn.requests:1|c|@0.25|#a:b")
    assert metric is not None and metric.estimated_count == 4.0 and metric.tags == (("a", "b"),)
    delta = parse_metric("gunicorn.workers:-1|g")
    assert delta is not None and delta.gauge_delta and delta.value == -1.0


@pytest.mark.parametrize(
    "line",
    [
        "gunicorn.requests",
        "gunicorn.requests:|c",
        "gunicorn.requests:1",
        "gunicorn.requests:1|x",
        "gunicorn.requests:nan|c",
        "gunicorn.requests:inf|ms",
        "gunicorn.requests:1|c|@0",
        "gunicorn.requests:1|c|@1.5",
        "gunicorn.requests:1|c|@x",
        "gunicorn.requests:1|c|junk",
        ":1|c",
        "bad name:1|c",
    ],
)
def test_malformed_metrics_are_refused(line: str) -> None:
    assert parse_metric(line) is None


def test_packet_keeps_good_metrics_around_bad_ones() -> None:
    parser = StatsdParser()
    metrics = parser.parse_packet(b"a.gunicorn.requests:1|c\r\n\n:bad\na.gunicorn.workers:2|g\n")
    assert [metric.kind for metric in metrics] == [GunicornMetric.REQUESTS, GunicornMetric.WORKERS]
    assert parser.counts().malformed == 1
    assert list(parser.recent_malformed) == [":bad"]


@settings(max_examples=500, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=2048),
        st.lists(
            st.sampled_from(
                [
                    "gunicorn.requests:1|c",
                    "|",
                    ":",
                    "@",
                    "#",
                    "\n",
                    "1.5",
                    "ms",
                    "|@0.5",
                    "|#k:v,",
                    "g",
                    "gunicorn.",
                    "request.status.",
                    "200",
                    "\xff",
                    "-",
                    "e9",
                ]
            ),
            max_size=30,
        ).map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass")),
    )
)
def test_any_packet_is_read_or_counted(data: bytes) -> None:
    parser = StatsdParser()
    metrics = parser.parse_packet(data)
    lines = [line for line in data.decode("utf-8", "replace").split("\n") if line.rstrip("\r")]
    assert len(metrics) + parser.malformed == len(lines)
    for metric in metrics:
        assert (
            metric.sample_rate > 0 and metric.estimated_count == metric.value / metric.sample_rate
        )
