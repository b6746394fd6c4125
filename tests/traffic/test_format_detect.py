"""Format detection from sample lines, and format changes mid-stream."""

from __future__ import annotations

import contextlib
import random
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gunicorn_tui.traffic.access_log_format import DEFAULT_ACCESS_LOG_FORMAT
from gunicorn_tui.traffic.format_detect import (
    COMMON_LOG_FORMAT,
    FORWARDED_FORMAT,
    KNOWN_FORMATS,
    AdaptiveAccessLogParser,
    detect_format,
)
from tests.harness.rendered_log_lines import random_exchange, render_line, render_lines
from tests.traffic.live_gunicorn import run_gunicorn

PID_D = DEFAULT_ACCESS_LOG_FORMAT + " %(p)s %(D)s"


@pytest.mark.parametrize(
    "access_log_format",
    [
        DEFAULT_ACCESS_LOG_FORMAT,
        PID_D,
        DEFAULT_ACCESS_LOG_FORMAT + " %(M)s",
        "%(p)s " + COMMON_LOG_FORMAT,
        FORWARDED_FORMAT + " %(L)s %(p)s",
    ],
)
def test_detects_the_format_of_a_live_gunicorn(tmp_path: Path, access_log_format: str) -> None:
    with run_gunicorn(tmp_path, access_log_format=access_log_format, workers=1) as server:
        for path in ("/fast", "/items/7", "/status/404", "/io?ms=5", "/fast?x=1"):
            # A proxy chain: with a single address (or none, logged '-') the
            # forwarded format reads exactly like the default one.
            request = urllib.request.Request(
                server.base_url + path, headers={"X-Forwarded-For": "10.1.2.3, 10.0.0.1"}
            )
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(request, timeout=5).close()
        lines = server.wait_for_stdout_lines(5)
    guess = detect_format(lines)
    assert guess.access_log_format == access_log_format, guess
    assert guess.matched == guess.sampled == 5


def test_integer_durations_go_to_d_unless_implausible() -> None:
    rng = random.Random(5)
    d_lines = render_lines(PID_D, 40, seed=3)
    assert detect_format(d_lines).access_log_format == PID_D
    m_format = DEFAULT_ACCESS_LOG_FORMAT + " %(M)s"
    exchanges = [random_exchange(rng) for _ in range(40)]
    for exchange in exchanges:
        exchange.duration = exchange.duration // 1000  # a few ms: M values under 50
    m_lines = [render_line(m_format, exchange) for exchange in exchanges]
    assert detect_format(m_lines).access_log_format == m_format


def test_nothing_fits_a_custom_format() -> None:
    custom = "%(t)s|%(s)s|%(r)s"
    lines = render_lines(custom, 20)
    guess = detect_format(lines)
    assert guess.access_log_format is None and guess.matched == 0 and guess.sampled == 20
    adaptive = AdaptiveAccessLogParser(window=8)
    # Nothing fits at 8 or 16 lines: they are kept (a format change inside a
    # window would otherwise lose them) until 32, then counted as failed.
    assert adaptive.feed(lines) == [] and adaptive.failed == 0
    assert adaptive.feed(render_lines(custom, 20)) == [] and adaptive.failed == 32
    assert adaptive.flush() == [] and adaptive.failed == 40
    # With the configured format, it reads them.
    configured = AdaptiveAccessLogParser(custom)
    assert len(configured.feed(lines)) == 20


def test_candidates_are_distinct_and_compile() -> None:
    formats = [candidate.access_log_format for candidate in KNOWN_FORMATS]
    assert len(formats) == len(set(formats)) > 60


@settings(max_examples=30, deadline=None)
# Found by hypothesis: the first window (22 + 29 lines of two formats and 13
# prints) had no majority format, and its 64 lines were all lost.
@example(
    first=DEFAULT_ACCESS_LOG_FORMAT,
    second=DEFAULT_ACCESS_LOG_FORMAT + " %(L)s",
    before=22,
    after=40,
    noise_every=5,
    configured=False,
    seed=0,
)
@given(
    first=st.sampled_from([DEFAULT_ACCESS_LOG_FORMAT, COMMON_LOG_FORMAT, PID_D]),
    second=st.sampled_from(
        [
            DEFAULT_ACCESS_LOG_FORMAT + " %(L)s",
            COMMON_LOG_FORMAT + " %(p)s %(D)s",
            "%(p)s " + DEFAULT_ACCESS_LOG_FORMAT,
        ]
    ),
    before=st.integers(0, 300),
    after=st.integers(40, 300),
    noise_every=st.sampled_from([0, 5, 11]),
    configured=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_a_format_change_mid_stream_loses_no_access_line(
    first: str,
    second: str,
    before: int,
    after: int,
    noise_every: int,
    configured: bool,
    seed: int,
) -> None:
    stream: list[str] = []
    access_lines = 0
    for index, line in enumerate(
        render_lines(first, before, seed) + render_lines(second, after, seed + 1)
    ):
        stream.append(line)
        access_lines += 1
        if noise_every and index % noise_every == 0:
            stream.append(f"app print {index}: not an access line")
    noise = len(stream) - access_lines
    adaptive = AdaptiveAccessLogParser(first if configured else None)
    records = []
    for start in range(0, len(stream), 50):  # chunks, as a follower delivers them
        records.extend(adaptive.feed(stream[start : start + 50]))
    records.extend(adaptive.flush())
    counts = adaptive.counts()
    assert counts.parsed == len(records)
    assert counts.parsed + counts.failed == len(stream)
    if configured or before >= 64 or before == 0:
        # Every access line is read, only the app's prints are not.
        assert adaptive.access_log_format == second
        assert adaptive.changes[-1].new_format == second
        assert len(records) == access_lines and counts.failed == noise
    else:
        # The first window mixed two formats: detection took the best reader
        # of the mix (the forwarded format's leading free-text atom can read
        # both) and what it could not read is counted, not lost silently.
        assert len(records) >= min(after, 64) - noise
