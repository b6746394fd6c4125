"""One instance's traffic from lines and StatsD metrics, with data: format
detection on a quiet stream, unparsed lines counted and shown, one request
source at a time."""

from __future__ import annotations

from gunicorn_tui.traffic.instance_traffic import DETECT_AFTER_S, InstanceTraffic
from gunicorn_tui.traffic.statsd import StatsdMetric, parse_metric
from tests.harness.rendered_log_lines import render_lines

FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(p)s %(D)s'
AT = 1_790_000_000.0


def test_a_few_lines_of_an_unknown_format_are_read_after_a_quiet_second() -> None:
    lines = render_lines(FORMAT, 5, seed=3)
    traffic = InstanceTraffic(None)
    traffic.add_lines(lines, AT)
    # Detection waits for more lines, but not for ever.
    assert traffic.view(AT + 0.5).lines.access_records == 0
    view = traffic.view(AT + DETECT_AFTER_S)
    assert view.lines.access_records == 5
    assert view.lines.access_log_format == FORMAT
    assert view.lines.unparsed == 0


def test_unparsed_lines_are_counted_and_the_failed_ones_shown() -> None:
    good = render_lines(FORMAT, 80, seed=4)
    oversized = "x" * 70_000
    traffic = InstanceTraffic(FORMAT)
    traffic.add_lines([*good[:40], "garbage one", oversized, *good[40:], "garbage two"], AT)
    view = traffic.view(AT + 1)
    assert view.lines.access_records == 80
    assert view.lines.unparsed == 3
    assert view.lines.recent_unparsed == ("garbage one", "x" * 300, "garbage two")


def test_lines_nothing_reads_while_detecting_are_shown() -> None:
    traffic = InstanceTraffic(None)
    traffic.add_lines(["hello", "world"], AT)
    view = traffic.view(AT + DETECT_AFTER_S)
    assert view.lines.unparsed == 2
    assert view.lines.recent_unparsed == ("hello", "world")


def _statsd(*lines: str) -> list[StatsdMetric]:
    metrics = [metric for metric in map(parse_metric, lines) if metric is not None]
    assert len(metrics) == len(lines)
    return metrics


def test_statsd_counts_only_while_no_access_line_does() -> None:
    traffic = InstanceTraffic(FORMAT)
    packets = ["gunicorn.requests:1|c|@1.0", "gunicorn.request.status.200:1|c|@1.0"]
    for _ in range(4):
        traffic.add_statsd(_statsd(*packets), AT)
    view = traffic.view(AT + 1)
    assert (view.request_source, view.snapshot.requests_total) == ("statsd", 4)
    # The access log appears: it is the source from now on, StatsD's
    # requests are not added to it.
    traffic.add_lines(render_lines(FORMAT, 3, seed=5), AT + 1)
    traffic.add_statsd(_statsd(*packets), AT + 1)
    view = traffic.view(AT + 2)
    assert (view.request_source, view.snapshot.requests_total) == ("access log", 3)
    assert view.statsd_packets == 5


def test_an_expected_access_log_is_the_source_before_any_line() -> None:
    traffic = InstanceTraffic(FORMAT)
    traffic.access_log_expected = True
    traffic.add_statsd(_statsd("gunicorn.requests:1|c|@1.0"), AT)
    view = traffic.view(AT + 1)
    assert (view.request_source, view.snapshot.requests_total) == ("access log", 0)
