"""Gunicorn's error log as events: worker boots, exits, timeouts, kills,
and the master's start, signals, reloads and shutdown.

Lines look like ``[2026-11-27 22:48:36 +0000] [7] [INFO] Booting worker with
pid: 7`` (``Logger.error_fmt`` and ``datefmt`` in ``gunicorn/glogging.py``);
the bracketed pid is the process that logged, which is the worker itself
for "Booting worker", "Worker exiting" and "Autorestarting". Messages read
(``gunicorn/arbiter.py`` and ``workers/``, 20.1 and 27.x; data files in
``tests/traffic/data`` hold both versions' real output):

* ``Starting gunicorn 27.0.1``, ``Listening at: URL (PID)``,
  ``Using worker: sync``
* ``Booting worker with pid: N``, ``Worker exiting (pid: N)``
* ``WORKER TIMEOUT (pid:N)``
* 27.x: ``Worker (pid:N) was sent SIGKILL! Perhaps out of memory?``,
  ``Worker (pid:N) was sent SIGTERM!`` (any signal name),
  ``Worker (pid:N) exited with code 3.``
* 20.1: ``Worker with pid N was terminated due to signal 9``
* ``Autorestarting worker after current request.`` (max_requests)
* ``Handling signal: hup``, ``Hang up: Master``,
  ``Shutting down: Master``, ``Reason: Worker failed to boot.``,
  ``Master has been promoted.``, ``graceful stop of workers``
* ``Exception in worker process``, ``Error handling request ...``

Any other line in that shape is an ``OTHER`` event (kept, with its level);
lines not in that shape (traceback lines, an app's own prints) are counted
as ``unrecognized`` and skipped.
"""

from __future__ import annotations

import calendar
import re
import signal
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Final

_LINE_RE: Final = re.compile(
    r"\[(?P<time>[^\]]{1,64})\] \[(?P<pid>\d{1,10})\] \[(?P<level>[A-Z]{1,10})\] (?P<message>.*)",
    re.ASCII,
)
_TIME_RE: Final = re.compile(
    r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:,\d+)? ([+-])(\d\d)(\d\d)", re.ASCII
)


class ErrorLogEventKind(StrEnum):
    """What an error-log line tells."""

    MASTER_STARTING = "master_starting"
    LISTENING = "listening"
    USING_WORKER = "using_worker"
    WORKER_BOOTING = "worker_booting"
    WORKER_EXITING = "worker_exiting"
    WORKER_TIMEOUT = "worker_timeout"
    WORKER_KILLED = "worker_killed"  # ended by a signal; see ``signal_name``
    WORKER_EXIT_CODE = "worker_exit_code"  # ended with a non-zero exit code
    WORKER_MAX_REQUESTS = "worker_max_requests"
    WORKER_EXCEPTION = "worker_exception"
    REQUEST_ERROR = "request_error"
    SIGNAL = "signal"  # the master handling a signal
    RELOAD = "reload"  # "Hang up": config reload
    MASTER_SHUTDOWN = "master_shutdown"
    SHUTDOWN_REASON = "shutdown_reason"
    MASTER_PROMOTED = "master_promoted"
    GRACEFUL_STOP = "graceful_stop"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ErrorLogEvent:
    """One error-log line, read.

    ``worker_pid`` is the worker the line is about, ``logged_by_pid`` the
    process that wrote it (both in the server's pid namespace).
    ``oom_suspected`` is set for SIGKILL, Gunicorn's own hint: the kernel's
    OOM killer sends SIGKILL, but so can an operator.
    """

    kind: ErrorLogEventKind
    logged_at: float | None
    level: str
    logged_by_pid: int
    message: str
    worker_pid: int | None = None
    signal_name: str | None = None  # "SIGKILL", "SIGHUP", ...
    exit_code: int | None = None
    oom_suspected: bool = False
    detail: str | None = None  # version, listen address, worker class, reason


@lru_cache(maxsize=64)
def parse_error_log_time(text: str) -> float | None:
    """Epoch seconds of ``2026-11-27 22:48:36 +0000``, or None."""
    match = _TIME_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second <= 60):
        return None
    offset_s = (int(match.group(8)) * 60 + int(match.group(9))) * 60
    epoch = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    return float(epoch - offset_s if match.group(7) == "+" else epoch + offset_s)


def _signal_name(number_or_name: str) -> str:
    text = number_or_name.strip().upper()
    if text.isdigit():
        try:
            return signal.Signals(int(text)).name
        except ValueError:
            return f"signal {text}"
    return text if text.startswith("SIG") else "SIG" + text


# (kind, regex on the message); the first that matches wins.
_MESSAGES: Final[tuple[tuple[ErrorLogEventKind, re.Pattern[str]], ...]] = tuple(
    (kind, re.compile(pattern, re.ASCII))
    for kind, pattern in (
        (ErrorLogEventKind.WORKER_BOOTING, r"Booting worker with pid: (?P<pid>\d+)"),
        (ErrorLogEventKind.WORKER_EXITING, r"Worker exiting \(pid: (?P<pid>\d+)\)"),
        (ErrorLogEventKind.WORKER_TIMEOUT, r"WORKER TIMEOUT \(pid:(?P<pid>\d+)\)"),
        (
            ErrorLogEventKind.WORKER_KILLED,
            r"Worker \(pid:(?P<pid>\d+)\) was sent (?P<signal>[A-Za-z0-9 ]+)!"
            r"(?P<oom> Perhaps out of memory\?)?",
        ),
        (
            ErrorLogEventKind.WORKER_KILLED,
            r"Worker with pid (?P<pid>\d+) was terminated due to signal (?P<signal>\d+)",
        ),
        (
            ErrorLogEventKind.WORKER_EXIT_CODE,
            r"Worker \(pid:(?P<pid>\d+)\) exited with code (?P<code>-?\d+)\.?",
        ),
        (ErrorLogEventKind.WORKER_MAX_REQUESTS, r"Autorestarting worker after current request\."),
        (ErrorLogEventKind.WORKER_EXCEPTION, r"Exception in worker process"),
        (ErrorLogEventKind.REQUEST_ERROR, r"Error handling request(?: (?P<detail>.*))?"),
        (ErrorLogEventKind.SIGNAL, r"Handling signal: (?P<signal>\w+)"),
        (ErrorLogEventKind.RELOAD, r"Hang up: (?P<detail>.*)"),
        (ErrorLogEventKind.MASTER_SHUTDOWN, r"Shutting down: (?P<detail>.*)"),
        (ErrorLogEventKind.SHUTDOWN_REASON, r"Reason: (?P<detail>.*)"),
        (ErrorLogEventKind.MASTER_STARTING, r"Starting gunicorn (?P<detail>\S+)"),
        (ErrorLogEventKind.LISTENING, r"Listening at: (?P<detail>.*?)(?: \((?P<pid>\d+)\))?"),
        (ErrorLogEventKind.USING_WORKER, r"Using worker: (?P<detail>.*)"),
        (ErrorLogEventKind.MASTER_PROMOTED, r"Master has been promoted\."),
        (ErrorLogEventKind.GRACEFUL_STOP, r"graceful stop of workers"),
    )
)

# Messages after which the logging process is the worker itself.
_LOGGED_BY_WORKER: Final = frozenset(
    {
        ErrorLogEventKind.WORKER_MAX_REQUESTS,
        ErrorLogEventKind.WORKER_EXCEPTION,
        ErrorLogEventKind.REQUEST_ERROR,
    }
)


@dataclass(frozen=True)
class ErrorLogCounts:
    """Lines read: events (``other`` of them unclassified Gunicorn lines)
    and lines that were not Gunicorn log lines at all."""

    events: int
    other: int
    unrecognized: int


class ErrorLogParser:
    """Turns error-log lines into :class:`ErrorLogEvent`; never raises."""

    def __init__(self, max_line_chars: int = 65536) -> None:
        self.max_line_chars = max_line_chars
        self.events = 0
        self.other = 0
        self.unrecognized = 0

    def parse(self, line: str) -> ErrorLogEvent | None:
        """The event for ``line``, or None (counted) if it is not a Gunicorn
        error-log line (a traceback line, an app's print, garbage)."""
        if len(line) > self.max_line_chars:
            self.unrecognized += 1
            return None
        match = _LINE_RE.match(line.rstrip("\r\n"))
        if match is None:
            self.unrecognized += 1
            return None
        self.events += 1
        message = match.group("message")
        logged_by = int(match.group("pid"))
        logged_at = parse_error_log_time(match.group("time"))
        level = match.group("level")
        for kind, pattern in _MESSAGES:
            found = pattern.fullmatch(message)
            if found is None:
                continue
            fields = found.groupdict()
            worker_pid = int(fields["pid"]) if fields.get("pid") else None
            if kind in _LOGGED_BY_WORKER:
                worker_pid = logged_by
            if kind is ErrorLogEventKind.LISTENING:
                worker_pid = None  # that pid is the master's
            signal_name = _signal_name(fields["signal"]) if fields.get("signal") else None
            return ErrorLogEvent(
                kind=kind,
                logged_at=logged_at,
                level=level,
                logged_by_pid=logged_by,
                message=message,
                worker_pid=worker_pid,
                signal_name=signal_name,
                exit_code=int(fields["code"]) if fields.get("code") else None,
                oom_suspected=signal_name == "SIGKILL" and kind is ErrorLogEventKind.WORKER_KILLED,
                detail=fields.get("detail"),
            )
        self.other += 1
        return ErrorLogEvent(ErrorLogEventKind.OTHER, logged_at, level, logged_by, message)

    def counts(self) -> ErrorLogCounts:
        """A snapshot of the counters."""
        return ErrorLogCounts(self.events, self.other, self.unrecognized)


@dataclass(frozen=True)
class WorkerLifeCounts:
    """Worker life events of one instance since the timeline began."""

    boots: int
    exits: int
    timeouts: int
    killed: int  # ended by a signal other than a graceful SIGTERM
    oom_suspected: int  # SIGKILL
    nonzero_exits: int
    max_requests_restarts: int
    reloads: int
    exceptions: int


@dataclass(frozen=True)
class WorkerLife:
    """One worker pid as the error log told it."""

    pid: int
    booted_at: float | None
    ended_at: float | None
    end: ErrorLogEventKind | None  # the last ending event seen for it
    timeouts: int
    oom_suspected: bool


class _WorkerRecord:
    __slots__ = ("booted_at", "end", "ended_at", "oom_suspected", "timeouts")

    def __init__(self) -> None:
        self.booted_at: float | None = None
        self.ended_at: float | None = None
        self.end: ErrorLogEventKind | None = None
        self.timeouts = 0
        self.oom_suspected = False


class WorkerEventTimeline:
    """A bounded timeline of error-log events with per-worker summaries.

    Keeps the last ``max_events`` events (for an events pane) and the last
    ``max_workers`` worker pids (boots, endings), plus running counts.
    """

    _ENDINGS: Final = frozenset(
        {
            ErrorLogEventKind.WORKER_EXITING,
            ErrorLogEventKind.WORKER_TIMEOUT,
            ErrorLogEventKind.WORKER_KILLED,
            ErrorLogEventKind.WORKER_EXIT_CODE,
        }
    )

    def __init__(self, max_events: int = 500, max_workers: int = 256) -> None:
        self.events: deque[ErrorLogEvent] = deque(maxlen=max_events)
        self.max_workers = max_workers
        self._workers: dict[int, _WorkerRecord] = {}
        self._counts = dict.fromkeys(WorkerLifeCounts.__dataclass_fields__, 0)

    def add(self, event: ErrorLogEvent) -> None:
        """Record ``event`` (OTHER events are kept in the timeline only if
        they are warnings or worse)."""
        kind = event.kind
        if kind is ErrorLogEventKind.OTHER and event.level in ("INFO", "DEBUG"):
            return
        self.events.append(event)
        counts = self._counts
        if kind is ErrorLogEventKind.WORKER_BOOTING:
            counts["boots"] += 1
        elif kind is ErrorLogEventKind.WORKER_EXITING:
            counts["exits"] += 1
        elif kind is ErrorLogEventKind.WORKER_TIMEOUT:
            counts["timeouts"] += 1
        elif kind is ErrorLogEventKind.WORKER_KILLED:
            if event.signal_name != "SIGTERM":
                counts["killed"] += 1
            if event.oom_suspected:
                counts["oom_suspected"] += 1
        elif kind is ErrorLogEventKind.WORKER_EXIT_CODE:
            counts["nonzero_exits"] += 1
        elif kind is ErrorLogEventKind.WORKER_MAX_REQUESTS:
            counts["max_requests_restarts"] += 1
        elif kind is ErrorLogEventKind.RELOAD:
            counts["reloads"] += 1
        elif kind is ErrorLogEventKind.WORKER_EXCEPTION:
            counts["exceptions"] += 1
        pid = event.worker_pid
        if pid is None:
            return
        worker = self._workers.get(pid)
        if worker is None:
            if len(self._workers) >= self.max_workers:
                del self._workers[next(iter(self._workers))]  # the oldest
            worker = _WorkerRecord()
            self._workers[pid] = worker
        if kind is ErrorLogEventKind.WORKER_BOOTING:
            worker.booted_at = event.logged_at
        elif kind in self._ENDINGS:
            worker.ended_at = event.logged_at
            # A timeout or kill says more than the "Worker exiting" that
            # comes with it: keep the most telling ending.
            if worker.end in (None, ErrorLogEventKind.WORKER_EXITING):
                worker.end = kind
            if kind is ErrorLogEventKind.WORKER_TIMEOUT:
                worker.timeouts += 1
            if event.oom_suspected:
                worker.oom_suspected = True

    def counts(self) -> WorkerLifeCounts:
        """Running totals."""
        return WorkerLifeCounts(**self._counts)

    def workers(self) -> tuple[WorkerLife, ...]:
        """Known worker pids, oldest first."""
        return tuple(
            WorkerLife(
                pid=pid,
                booted_at=worker.booted_at,
                ended_at=worker.ended_at,
                end=worker.end,
                timeouts=worker.timeouts,
                oom_suspected=worker.oom_suspected,
            )
            for pid, worker in self._workers.items()
        )
