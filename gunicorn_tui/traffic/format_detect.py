"""Pick the access-log format from sample lines, and follow a change.

When an instance's ``access_log_format`` cannot be read from its
configuration, :func:`detect_format` tries the known candidates (the
default, Common Log Format, an ``X-Forwarded-For`` variant, each with the
pid and duration atoms people add, in either order and before or after) on
sample lines and keeps the one that reads the most.

Lines cannot tell ``%(D)s`` (µs), ``%(M)s`` (ms) and ``%(T)s`` (s) apart:
all are integers. The tie goes to ``%(D)s``, the one usually added for
latency, unless the values are implausible as microseconds (a median under
50: Gunicorn does not answer in under 50 µs), then to ``%(M)s``. The
configured format, when known, always beats a guess. Likewise the
``X-Forwarded-For`` variant reads like the default unless a forwarded value
holds a space (a proxy chain, ``"a, b"``); the tie goes to the default,
which then reports the forwarded address as the remote one. And because
that variant starts with free text, it also reads lines with extra fields
in front: a sample that mixes two formats can go to it.

:class:`AdaptiveAccessLogParser` wraps a parser for a stream: it detects
the format when none is given, and when failures spike (a reload with a new
``--access-logformat``) it re-detects from the failing lines and re-reads
them with the new format, so they are not lost. Lines that are no access
lines at all (an app's prints on stdout) fail under every candidate and
never cause a switch; they stay counted as failures.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from gunicorn_tui.traffic.access_log_format import (
    DEFAULT_ACCESS_LOG_FORMAT,
    AccessLogParser,
    AccessRecord,
    ParseCounts,
)

COMMON_LOG_FORMAT: Final = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s'
FORWARDED_FORMAT: Final = (
    '%({x-forwarded-for}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
)
# Integer durations first in the order a tie should go.
_EXTRAS: Final = (
    "%(D)s", "%(M)s", "%(T)s", "%(L)s", "%(p)s",
    "%(p)s %(D)s", "%(D)s %(p)s", "%(p)s %(M)s", "%(M)s %(p)s",
    "%(p)s %(L)s", "%(L)s %(p)s", "%(p)s %(T)s", "%(T)s %(p)s",
)  # fmt: skip


@dataclass(frozen=True)
class NamedFormat:
    """A candidate format and a short name for it."""

    name: str
    access_log_format: str


def _candidates() -> tuple[NamedFormat, ...]:
    formats: list[NamedFormat] = []
    for base_name, base in (
        ("default", DEFAULT_ACCESS_LOG_FORMAT),
        ("common", COMMON_LOG_FORMAT),
        ("forwarded", FORWARDED_FORMAT),
    ):
        formats.append(NamedFormat(base_name, base))
        for extra in _EXTRAS:
            formats.append(NamedFormat(f"{base_name} + {extra}", f"{base} {extra}"))
            formats.append(NamedFormat(f"{extra} + {base_name}", f"{extra} {base}"))
    return tuple(formats)


KNOWN_FORMATS: Final = _candidates()


@dataclass(frozen=True)
class FormatGuess:
    """The best candidate for some sample lines (None if none fits)."""

    access_log_format: str | None
    name: str | None
    matched: int
    sampled: int

    @property
    def share(self) -> float:
        """Matched lines over sampled lines (0 when nothing was sampled)."""
        return self.matched / self.sampled if self.sampled else 0.0


def detect_format(
    lines: Sequence[str],
    candidates: Sequence[NamedFormat] = KNOWN_FORMATS,
    *,
    min_share: float = 0.8,
) -> FormatGuess:
    """The candidate that reads the most of ``lines``, if it reads at least
    ``min_share`` of them; else a guess with ``access_log_format`` None."""
    sample = [line for line in lines if line.strip()]
    if not sample:
        return FormatGuess(None, None, 0, 0)
    parsers = [
        (candidate, AccessLogParser(candidate.access_log_format)) for candidate in candidates
    ]
    # Strict reads first: Gunicorn's own lines nearly always read strictly,
    # and the lenient fallback is slow on lines that do not fit. It also
    # lets free text swallow extra fields, so a shorter format could read a
    # longer one's lines: strict reads decide between candidates.
    best, best_matched = _best(
        [(c, p, sum(1 for line in sample if p.matches_strictly(line))) for c, p in parsers]
    )
    if best_matched < min_share * len(sample):
        best, best_matched = _best(
            [(c, p, sum(1 for line in sample if p.matches(line))) for c, p in parsers]
        )
    if not best or best_matched < min_share * len(sample):
        return FormatGuess(None, None, best_matched, len(sample))
    chosen = _break_tie(best, sample)
    return FormatGuess(chosen.access_log_format, chosen.name, best_matched, len(sample))


def _best(
    scored: list[tuple[NamedFormat, AccessLogParser, int]],
) -> tuple[list[tuple[NamedFormat, AccessLogParser]], int]:
    top = max((score for _, _, score in scored), default=0)
    if top == 0:
        return [], 0
    return [(candidate, parser) for candidate, parser, score in scored if score == top], top


def _break_tie(
    tied: list[tuple[NamedFormat, AccessLogParser]], sample: Sequence[str]
) -> NamedFormat:
    first, parser = tied[0]
    if parser.layout.duration_unit_us != 1 or len(tied) == 1:
        return first
    durations = [
        record.duration_us
        for record in map(parser.parse, sample)
        if record is not None and record.duration_us is not None
    ]
    if durations and statistics.median(durations) < 50:
        for candidate, other in tied:
            if other.layout.duration_unit_us == 1000:
                return candidate
    return first


@dataclass(frozen=True)
class FormatChange:
    """The stream's format changed (or was first detected) at a line."""

    at_line: int  # lines seen before the change was made
    old_format: str | None
    new_format: str
    new_name: str | None
    recovered_lines: int  # failed lines re-read with the new format


class AdaptiveAccessLogParser:
    """An access-log parser for a stream whose format may be unknown or
    may change. Not thread-safe; one per stream.

    ``access_log_format``: the configured format if known (used from the
    first line), else None to detect it from the first ``window`` lines.
    ``min_share`` is lower than :func:`detect_format`'s default because a
    stream mixes in lines no format reads (an app's prints): a candidate
    that strictly reads half of the lines no current format reads is a
    strong sign already.
    """

    def __init__(
        self,
        access_log_format: str | None = None,
        *,
        candidates: Sequence[NamedFormat] = KNOWN_FORMATS,
        window: int = 64,
        failure_share: float = 0.5,
        min_share: float = 0.5,
    ) -> None:
        self._candidates = tuple(candidates)
        if access_log_format is not None and all(
            candidate.access_log_format != access_log_format for candidate in self._candidates
        ):
            # A reload may go back to the configured custom format.
            self._candidates = (NamedFormat("configured", access_log_format), *self._candidates)
        self.window = window
        self.failure_share = failure_share
        self.min_share = min_share
        self.parser: AccessLogParser | None = (
            AccessLogParser(access_log_format) if access_log_format is not None else None
        )
        # The last ``window`` lines' outcomes: None when read, the line itself
        # when it failed (kept to re-read after a format change).
        self._recent: deque[str | None] = deque(maxlen=window)
        self._undetected: list[str] = []
        # Initial detection waits for window x this many lines (1, 2, 4).
        self._initial_tries = 1
        self.lines_seen = 0
        self.parsed = 0
        self.failed = 0
        self.recovered = 0
        self.oversized = 0
        # After a re-detection that found nothing (a stream of non-access
        # lines), wait longer before the next one: 1x, 2x, 4x... the window.
        self._redetect_backoff = 1
        self._failures_since_attempt = 0
        self.changes: deque[FormatChange] = deque(maxlen=32)

    @property
    def access_log_format(self) -> str | None:
        """The format in use (None while still detecting)."""
        return self.parser.access_log_format if self.parser is not None else None

    def feed(self, lines: Iterable[str]) -> list[AccessRecord]:
        """Records for ``lines`` plus any earlier lines recovered by a
        format change, in arrival order as far as possible."""
        records: list[AccessRecord] = []
        for line in lines:
            self.lines_seen += 1
            if self.parser is None:
                self._undetected.append(line)
                if len(self._undetected) >= self.window * self._initial_tries:
                    records.extend(self._detect_initial(final=False))
                continue
            record = self.parser.parse(line)
            if record is not None:
                self.parsed += 1
                self._recent.append(None)
                records.append(record)
                continue
            if len(line) > self.parser.max_line_chars:
                self.oversized += 1  # no format would read it: not a sign of change
                continue
            self.failed += 1
            self._recent.append(line)
            if self._failures_spiked():
                records.extend(self._redetect())
        return records

    def flush(self) -> list[AccessRecord]:
        """Try to detect from the lines buffered so far (fewer than
        ``window``), e.g. when a stream is quiet. Returns their records."""
        if self.parser is None and self._undetected:
            return self._detect_initial(final=True)
        return []

    def _detect_initial(self, *, final: bool) -> list[AccessRecord]:
        guess = detect_format(self._undetected, self._candidates, min_share=self.min_share)
        if guess.access_log_format is None and not final and self._initial_tries < 4:
            # No format reads most of the window: a format change inside it
            # (two halves) or a burst of app prints. Keep the lines and try
            # again on a window twice as long before giving up on them.
            self._initial_tries *= 2
            return []
        lines, self._undetected = self._undetected, []
        self._initial_tries = 1
        if guess.access_log_format is None:
            # Nothing fits: these lines are lost to parsing, and counted.
            self.failed += len(lines)
            return []
        self.parser = AccessLogParser(guess.access_log_format)
        records = [record for record in map(self.parser.parse, lines) if record is not None]
        self.parsed += len(records)
        self.failed += len(lines) - len(records)
        self.changes.append(
            FormatChange(self.lines_seen, None, guess.access_log_format, guess.name, len(records))
        )
        return records

    def _failures_spiked(self) -> bool:
        self._failures_since_attempt += 1
        if self._failures_since_attempt < (self.window // 4) * self._redetect_backoff:
            return False
        recent = self._recent
        if len(recent) < self.window // 2:
            return False
        failures = len(recent) - recent.count(None)
        return failures >= self.window // 4 and failures >= self.failure_share * len(recent)

    def _redetect(self) -> list[AccessRecord]:
        failed_lines = [line for line in self._recent if line is not None]
        current = self.access_log_format
        guess = detect_format(failed_lines, self._candidates, min_share=self.min_share)
        # Whatever the outcome, start a new window: no re-detection per line.
        self._recent.clear()
        self._failures_since_attempt = 0
        if guess.access_log_format is None or guess.access_log_format == current:
            self._redetect_backoff = min(self._redetect_backoff * 2, 64)
            return []
        self._redetect_backoff = 1
        self.parser = AccessLogParser(guess.access_log_format)
        records = [record for record in map(self.parser.parse, failed_lines) if record is not None]
        self.recovered += len(records)
        self.parsed += len(records)
        self.failed -= len(records)
        self.changes.append(
            FormatChange(
                self.lines_seen, current, guess.access_log_format, guess.name, len(records)
            )
        )
        return records

    def counts(self) -> ParseCounts:
        """Lines parsed, failed and oversized over the whole stream (recovered
        lines count as parsed; ``lenient`` is the current parser's)."""
        lenient = self.parser.lenient if self.parser is not None else 0
        return ParseCounts(self.parsed, self.failed, self.oversized, lenient)
