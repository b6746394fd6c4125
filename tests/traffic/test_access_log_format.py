"""The access-log format compiler, against lines Gunicorn itself wrote.

Three kinds of input: lines from a live Gunicorn serving real requests on
127.0.0.1 (several formats), lines rendered by Gunicorn's own glogging code
for values a live server rarely sees (quotes, backslashes, spaces, unicode),
and garbage (never raises, always counted).
"""

from __future__ import annotations

import datetime
import json
import time
import urllib.request
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gunicorn_tui.traffic.access_log_format import (
    DEFAULT_ACCESS_LOG_FORMAT,
    AccessLogFormatError,
    AccessLogParser,
    format_capabilities,
    parse_clf_time,
)
from tests.harness.rendered_log_lines import FakeExchange, render_line
from tests.traffic.live_gunicorn import run_gunicorn

PID_DURATION_FORMAT = DEFAULT_ACCESS_LOG_FORMAT + " %(p)s %(D)s"
LIVE_FORMATS = {
    "default": DEFAULT_ACCESS_LOG_FORMAT,
    "pid+D": PID_DURATION_FORMAT,
    "combined+L": DEFAULT_ACCESS_LOG_FORMAT + " %(L)s",
    "pid first, M": '%(p)s %(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)s "%(a)s"',
    "headers+environ": (
        '%({x-forwarded-for}i)s %(t)s "%(m)s %(U)s?%(q)s %(H)s" %(s)s %(B)s '
        '"%({Content-Type}o)s" "%({x-request-id}i)s" %({server_name}e)s %(T)s %(D)s'
    ),
}


def _request(base_url: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(base_url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


@pytest.mark.parametrize("name", list(LIVE_FORMATS))
def test_live_gunicorn_lines_parse_to_what_was_sent(tmp_path: Path, name: str) -> None:
    access_log_format = LIVE_FORMATS[name]
    sent = [
        ("/fast", {"User-Agent": 'agent "quoted" \\ with spaces', "Referer": "http://r/x"}),
        ("/items/12345?color=red&size=2", {"User-Agent": "curl/8.5", "X-Request-Id": "r-1"}),
        ("/status/503", {"X-Forwarded-For": "10.1.2.3, 10.0.0.1"}),
        ("/status/404", {}),
        ("/io?ms=30", {"User-Agent": "ünïcode ©"}),
    ]
    started = time.time()
    with run_gunicorn(tmp_path, access_log_format=access_log_format, workers=2) as server:
        answers = [_request(server.base_url, path, headers) for path, headers in sent]
        lines = server.wait_for_stdout_lines(len(sent))
    finished = time.time()
    assert len(lines) == len(sent), lines

    parser = AccessLogParser(access_log_format)
    records = [parser.parse(line) for line in lines]
    assert parser.counts().skipped == 0, list(parser.recent_failures)
    assert parser.lenient == 0
    by_path = {}
    for record in records:
        assert record is not None
        by_path[record.path] = record
    fast = by_path["/fast"]
    layout = parser.layout
    if layout.has_worker_pid:
        assert fast.worker_pid == json.loads(answers[0][1])["pid"]
        io = by_path["/io"]
        assert io.worker_pid == json.loads(answers[4][1])["pid"]
    if layout.has_time:
        logged_at = fast.logged_at
        assert logged_at is not None and started - 1 <= logged_at <= finished + 1
    statuses = {path: record.status for path, record in by_path.items()}
    assert statuses == {
        "/fast": 200,
        "/items/12345": 200,
        "/status/503": 503,
        "/status/404": 404,
        "/io": 200,
    }
    assert by_path["/items/12345"].query == "color=red&size=2"
    assert fast.method == "GET"
    assert fast.protocol == "HTTP/1.1"
    if "%(a)s" in access_log_format:
        assert fast.user_agent == 'agent "quoted" \\ with spaces'
        assert by_path["/io"].user_agent == "ünïcode ©"
    if "%(f)s" in access_log_format:
        assert fast.referer == "http://r/x"
        assert by_path["/status/404"].referer is None
    if "x-request-id" in access_log_format:
        assert by_path["/items/12345"].request_headers == {"x-request-id": "r-1"}
        assert by_path["/status/503"].remote_addr is None  # the format has no %(h)s
        assert fast.response_headers == {"content-type": "application/json"}
        assert fast.environ == {"server_name": "127.0.0.1"}
    if layout.has_duration:
        io_us = by_path["/io"].duration_us
        resolution = by_path["/io"].duration_resolution_us
        assert io_us is not None and resolution is not None
        if resolution < 1_000_000:
            # The app sleeps 30 ms; the server's own figure includes a bit more.
            assert io_us + resolution >= 30_000 and io_us < 2_000_000
    if "%(b)s" in access_log_format:
        assert fast.response_bytes == len(answers[0][1])


def _exchange_strategy() -> st.SearchStrategy[FakeExchange]:
    # Values Gunicorn passes through unescaped except for '"'.
    text = st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\n\r"),
        max_size=40,
    )
    token = st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters='"'),
        min_size=1,
        max_size=20,
    )
    return st.builds(
        FakeExchange,
        method=st.sampled_from(["GET", "POST", "PURGE", "OPTIONS"]),
        raw_uri=token.map(lambda t: "/" + t),
        # PATH_INFO may hold any text, but the "headers+environ" format puts a
        # literal '?' right after %(U)s: a '?' in the path would make that
        # format ambiguous for any reader, so the values here leave it out.
        path_info=text.map(lambda t: "/" + t.replace("?", "")),
        query_string=token,
        status=st.sampled_from(["200 OK", "404 Not Found", "503 Service Unavailable", "299 X"]),
        sent=st.one_of(st.none(), st.integers(0, 10**9)),
        request_headers=st.tuples(text, text).map(
            lambda pair: [("User-Agent", pair[0]), ("Referer", pair[1])]
        ),
        duration=st.integers(0, 10**8).map(lambda us: datetime.timedelta(microseconds=us)),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exchange=_exchange_strategy(), which=st.sampled_from(sorted(LIVE_FORMATS)))
def test_gunicorn_rendered_lines_round_trip(exchange: FakeExchange, which: str) -> None:
    access_log_format = LIVE_FORMATS[which]
    line = render_line(access_log_format, exchange)
    parser = AccessLogParser(access_log_format)
    record = parser.parse(line)
    agent = dict(exchange.request_headers).get("User-Agent", "")
    referer = dict(exchange.request_headers).get("Referer", "")
    ambiguous = any(value.endswith("\\") for value in (agent, referer, exchange.path_info))
    if record is None:
        # Only a value ending in a backslash can make a line unreadable.
        assert ambiguous, line
        assert parser.failed == 1
        return
    assert record.status == int(exchange.status.split()[0])
    assert record.method == exchange.method
    us = exchange.duration // datetime.timedelta(microseconds=1)
    resolution = record.duration_resolution_us
    if resolution is not None:
        assert record.duration_us == us - us % resolution
    if "%(a)s" in access_log_format:
        # An empty header is logged empty; only '-' reads as "absent".
        assert record.user_agent == (None if agent == "-" else agent)
    if "%(f)s" in access_log_format:
        assert record.referer == (None if referer == "-" else referer)
    if "%(U)s" in access_log_format:
        assert record.path == exchange.path_info
        assert record.query == exchange.query_string
    else:
        path, question_mark, query = exchange.raw_uri.partition("?")
        assert record.path == path
        assert record.query == (query if question_mark else None)
    if "%(b)s" in access_log_format:
        assert record.response_bytes == exchange.sent
    if "%(B)s" in access_log_format:
        assert record.response_bytes == exchange.sent


def test_duration_atoms_keep_their_units() -> None:
    exchange = FakeExchange(duration=datetime.timedelta(seconds=2, microseconds=345_678))
    expected = {
        "%(D)s": (2_345_678, 1),
        "%(L)s": (2_345_678, 1),
        "%(M)s": (2_345_000, 1000),
        "%(T)s": (2_000_000, 1_000_000),
        "%(T)s %(M)s": (2_345_000, 1000),  # the finest atom wins
        "%(M)s %(D)s %(T)s": (2_345_678, 1),
    }
    for suffix, (duration_us, resolution_us) in expected.items():
        access_log_format = '%(h)s "%(r)s" %(s)s ' + suffix
        record = AccessLogParser(access_log_format).parse(render_line(access_log_format, exchange))
        assert record is not None, suffix
        assert (record.duration_us, record.duration_resolution_us) == (duration_us, resolution_us)


def test_sent_none_and_missing_atoms() -> None:
    # resp.sent None renders as '-' for b and 'None' for B; unknown atoms as '-'.
    access_log_format = '%(h)s %(b)s %(B)s %(nosuch)s %({x-absent}i)s "%(r)s" %(s)s'
    line = render_line(access_log_format, FakeExchange(sent=None))
    assert " - None - - " in line
    record = AccessLogParser(access_log_format).parse(line)
    assert record is not None
    assert record.response_bytes is None
    assert record.request_headers == {}


def test_literal_percent_and_crlf() -> None:
    access_log_format = '100%% %(s)s "%(r)s"'
    parser = AccessLogParser(access_log_format)
    record = parser.parse('100% 201 "PUT /x HTTP/1.0"\r\n')
    assert record is not None and record.status == 201 and record.protocol == "HTTP/1.0"


@pytest.mark.parametrize(
    ("bad_format", "message"),
    [
        ("%(h)10s", "width"),
        ("%(h)x", "only %s and %d"),
        ("%(h)s 100%", "stray '%'"),
        ("%(a)d", "numeric"),
    ],
)
def test_bad_formats_get_a_clear_error(bad_format: str, message: str) -> None:
    with pytest.raises(AccessLogFormatError, match=message):
        AccessLogParser(bad_format)


def test_clf_time() -> None:
    expected = datetime.datetime(2026, 11, 27, 23, 9, 4, tzinfo=datetime.UTC).timestamp()
    assert parse_clf_time("[27/Nov/2026:23:09:04 +0000]") == expected
    assert parse_clf_time("27/Nov/2026:23:09:04 +0130") == expected - 5400
    assert parse_clf_time("27/Nov/2026:23:09:04 -0500") == expected + 18000
    assert parse_clf_time("27/Noe/2026:23:09:04 +0000") is None
    assert parse_clf_time("99/Nov/2026:23:09:04 +0000") is None
    assert parse_clf_time("garbage") is None


def test_capabilities_name_the_missing_atoms() -> None:
    default = format_capabilities(DEFAULT_ACCESS_LOG_FORMAT)
    assert not default.worker_pid and not default.duration
    assert default.missing == ("%(p)s", "%(D)s")
    full = format_capabilities(PID_DURATION_FORMAT)
    assert full.worker_pid and full.duration and full.duration_resolution_us == 1
    assert full.missing == ()
    coarse = format_capabilities(DEFAULT_ACCESS_LOG_FORMAT + " %(T)s")
    assert coarse.duration_resolution_us == 1_000_000 and "%(D)s" in coarse.missing


@settings(max_examples=300, deadline=None)
@given(
    line=st.one_of(
        st.text(max_size=3000),
        st.binary(max_size=3000).map(lambda raw: raw.decode("utf-8", errors="replace")),
    )
)
def test_garbage_never_raises_and_is_counted(line: str) -> None:
    for access_log_format in LIVE_FORMATS.values():
        parser = AccessLogParser(access_log_format)
        record = parser.parse(line)
        counts = parser.counts()
        assert counts.seen == 1
        if record is not None:
            record.as_dict()  # every field converts without raising


def test_pathological_lines_stay_fast() -> None:
    parser = AccessLogParser(PID_DURATION_FORMAT)
    near_miss = '127.0.0.1 - - [27/Nov/2026:23:09:04 +0000] "GET / HTTP/1.1" 200 5 "'
    lines = [
        "x" * 2_000_000,  # over 1 MB
        near_miss + '\\" "' * 1000 + "x",  # many places a quoted value could end
        near_miss + '\\" "' * 10 + "x",
        near_miss + " " * 60_000,
        "\x00\xff" * 30_000,
    ]
    started = time.perf_counter()
    for line in lines:
        assert parser.parse(line) is None
    elapsed = time.perf_counter() - started
    counts = parser.counts()
    assert (counts.oversized, counts.failed) == (1, 4)
    # A generous bound: without the guards the second line takes minutes.
    assert elapsed < 2.0, elapsed
