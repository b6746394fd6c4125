"""Gunicorn's StatsD metrics: a packet parser and a UDP listener.

What Gunicorn sends (``gunicorn/instrument/statsd.py``, the same in 20.x and
27.x), each name after the ``--statsd-prefix`` (Gunicorn adds the dot):

============================  =====  ====================================
``gunicorn.requests``         ``c``  +1 per request (``|@1.0`` appended)
``gunicorn.request.duration`` ``ms`` per request, float milliseconds
``gunicorn.request.status.N`` ``c``  +1 per request with status N
``gunicorn.workers``          ``g``  worker count, on change
``gunicorn.log.<level>``      ``c``  critical, error, warning, exception
``gunicorn.backlog``          ``h``  listen backlog (Linux, when enabled)
============================  =====  ====================================

``--dogstatsd-tags`` appends ``|#tag1:v,tag2`` to every packet. Gunicorn sends
one metric per datagram, but other clients (and relays) pack several,
newline-separated; both are read. A malformed metric is counted and skipped,
never fatal, and the rest of its packet is still read.

Why a thread for the listener, not an asyncio protocol: Gunicorn sends UDP
and never retries, so whatever the kernel buffer cannot hold while we are
not reading is lost. A dedicated thread blocked in ``recv`` drains the socket
however busy the consumer's event loop is (a Textual app rendering, a CLI
writing JSON), works the same from synchronous code, and costs one mostly
sleeping thread. The datagrams the kernel still dropped are read from
``/proc/net/udp`` (:meth:`StatsdListener.kernel_drops`), so a loss is shown,
not hidden.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

DEFAULT_STATSD_HOST: Final = "127.0.0.1"
DEFAULT_STATSD_PORT: Final = 8125


class StatsdType(StrEnum):
    """The StatsD metric type after the ``|``."""

    COUNTER = "c"
    GAUGE = "g"
    TIMER = "ms"
    HISTOGRAM = "h"
    SET = "s"
    DISTRIBUTION = "d"


class GunicornMetric(StrEnum):
    """Which Gunicorn metric a StatsD name is, whatever its prefix."""

    REQUESTS = "requests"
    REQUEST_DURATION = "request.duration"
    REQUEST_STATUS = "request.status"
    WORKERS = "workers"
    LOG_CRITICAL = "log.critical"
    LOG_ERROR = "log.error"
    LOG_WARNING = "log.warning"
    LOG_EXCEPTION = "log.exception"
    BACKLOG = "backlog"
    OTHER = "other"


# The prefix is matched lazily so "gunicorn.gunicorn.requests" (prefix
# "gunicorn") still finds the metric after the last possible "gunicorn.".
_GUNICORN_NAME_RE: Final = re.compile(
    r"(?P<prefix>.*?)gunicorn\."
    r"(?P<metric>requests|request\.duration|request\.status\.(?P<status>\d{3})|workers"
    r"|log\.(?:critical|error|warning|exception)|backlog)"
)
_NAME_RE: Final = re.compile(r"[^\s:|@#]+")


@dataclass(frozen=True, slots=True)
class StatsdMetric:
    """One metric from a packet.

    ``value`` is as sent (milliseconds for timers); for a counter sent with a
    sample rate, :attr:`estimated_count` is what it stands for.
    ``gauge_delta`` is True for ``+N``/``-N`` gauges (a change, not a level).
    """

    name: str
    value: float
    metric_type: StatsdType
    sample_rate: float
    tags: tuple[tuple[str, str | None], ...]
    kind: GunicornMetric
    prefix: str
    status_code: int | None
    gauge_delta: bool = False

    @property
    def estimated_count(self) -> float:
        """For counters: value / sample rate (the number it stands for)."""
        return self.value / self.sample_rate

    @property
    def duration_ms(self) -> float | None:
        """The duration a timer reports, in milliseconds."""
        return self.value if self.metric_type is StatsdType.TIMER else None


@dataclass(frozen=True)
class StatsdCounts:
    """What a parser has read: packets, metrics, and what it skipped."""

    packets: int
    metrics: int
    malformed: int


class StatsdParser:
    """Parses StatsD datagrams; keeps counts and a few malformed samples."""

    def __init__(self, malformed_samples: int = 8) -> None:
        self.packets = 0
        self.metrics = 0
        self.malformed = 0
        self.recent_malformed: deque[str] = deque(maxlen=malformed_samples)

    def parse_packet(self, data: bytes) -> list[StatsdMetric]:
        """Every well-formed metric in ``data`` (newline-separated)."""
        self.packets += 1
        text = data.decode("utf-8", errors="replace")
        metrics: list[StatsdMetric] = []
        for line in text.split("\n"):
            line = line.rstrip("\r")
            if not line:
                continue
            metric = parse_metric(line)
            if metric is None:
                self.malformed += 1
                self.recent_malformed.append(line[:200])
            else:
                metrics.append(metric)
        self.metrics += len(metrics)
        return metrics

    def counts(self) -> StatsdCounts:
        """A snapshot of the counters."""
        return StatsdCounts(self.packets, self.metrics, self.malformed)


def parse_metric(line: str) -> StatsdMetric | None:
    """One ``name:value|type[|@rate][|#tags]`` line, or None if malformed."""
    name, colon, rest = line.partition(":")
    if not colon or not _NAME_RE.fullmatch(name):
        return None
    fields = rest.split("|")
    if len(fields) < 2:
        return None
    raw_value, raw_type = fields[0], fields[1]
    try:
        metric_type = StatsdType(raw_type)
    except ValueError:
        return None
    try:
        value = float(raw_value)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    sample_rate = 1.0
    tags: tuple[tuple[str, str | None], ...] = ()
    for extra in fields[2:]:
        if extra.startswith("@"):
            try:
                sample_rate = float(extra[1:])
            except ValueError:
                return None
            if not 0.0 < sample_rate <= 1.0:
                return None
        elif extra.startswith("#"):
            tags = _parse_tags(extra[1:])
        elif extra.startswith(("c:", "T", "e:", "card:")):
            continue  # DogStatsD container id, timestamp, origin: not needed here
        else:
            return None
    kind, prefix, status = _classify(name)
    return StatsdMetric(
        name=name,
        value=value,
        metric_type=metric_type,
        sample_rate=sample_rate,
        tags=tags,
        kind=kind,
        prefix=prefix,
        status_code=status,
        gauge_delta=metric_type is StatsdType.GAUGE and raw_value[:1] in ("+", "-"),
    )


def _parse_tags(text: str) -> tuple[tuple[str, str | None], ...]:
    tags: list[tuple[str, str | None]] = []
    for tag in text.split(","):
        if not tag:
            continue
        key, colon, value = tag.partition(":")
        tags.append((key, value if colon else None))
    return tuple(tags)


def _classify(name: str) -> tuple[GunicornMetric, str, int | None]:
    match = _GUNICORN_NAME_RE.fullmatch(name)
    if match is None:
        return GunicornMetric.OTHER, "", None
    metric = match.group("metric")
    status = match.group("status")
    if status is not None:
        return GunicornMetric.REQUEST_STATUS, match.group("prefix"), int(status)
    return GunicornMetric(metric), match.group("prefix"), None


MetricsCallback = Callable[[list[StatsdMetric], float], None]


class StatsdListener:
    """A UDP socket on ``host:port`` read by a daemon thread.

    Each datagram is parsed and, when it holds any metric, handed to
    ``on_metrics(metrics, received_at)`` on the listener's thread
    (``received_at`` from ``clock``, ``time.time`` by default). Pass
    ``queue.put``-like callables to move them to another thread. A callback
    that raises is counted in ``callback_errors`` and the listener goes on.

    ``port=0`` binds an ephemeral port (see :attr:`address`).

    :attr:`sender` is the (host, port) the datagram being delivered came
    from: read it inside ``on_metrics``, which runs on the listener's thread
    (servers sharing one listener are told apart by their socket's port).
    """

    def __init__(
        self,
        on_metrics: MetricsCallback,
        host: str = DEFAULT_STATSD_HOST,
        port: int = DEFAULT_STATSD_PORT,
        *,
        receive_buffer_bytes: int = 1 << 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._on_metrics = on_metrics
        self._host = host
        self._port = port
        self._receive_buffer_bytes = receive_buffer_bytes
        self._clock = clock
        self.parser = StatsdParser()
        self.callback_errors = 0
        self.last_callback_error: str | None = None
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.sender: tuple[str, int] | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); raises if not started."""
        if self._socket is None:
            raise RuntimeError("the listener is not started")
        sockname = self._socket.getsockname()
        return str(sockname[0]), int(sockname[1])

    def start(self) -> None:
        """Bind and start reading. Raises ``OSError`` with the address in the
        message when it cannot bind (port in use, bad host)."""
        if self._thread is not None:
            raise RuntimeError("the listener is already started")
        try:
            infos = socket.getaddrinfo(self._host, self._port, type=socket.SOCK_DGRAM)
            family, _, _, _, sockaddr = infos[0]
            sock = socket.socket(family, socket.SOCK_DGRAM)
        except OSError as error:
            raise OSError(
                f"cannot listen for StatsD on {self._host}:{self._port}: {error}"
            ) from error
        try:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._receive_buffer_bytes)
            sock.bind(sockaddr)
            # Wake up now and then to notice stop() without closing under recv.
            sock.settimeout(0.2)
        except OSError as error:
            sock.close()
            raise OSError(
                f"cannot listen for StatsD on {self._host}:{self._port}: {error}"
            ) from error
        self._socket = sock
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="gtui-statsd", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sock = self._socket
        assert sock is not None
        while not self._stopping.is_set():
            try:
                data, sender = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            received_at = self._clock()
            metrics = self.parser.parse_packet(data)
            if not metrics:
                continue
            self.sender = (str(sender[0]), int(sender[1]))
            try:
                self._on_metrics(metrics, received_at)
            except Exception as error:  # a consumer bug must not stop the listener
                self.callback_errors += 1
                self.last_callback_error = f"{type(error).__name__}: {error}"

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop reading and close the socket (idempotent)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> StatsdListener:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def kernel_drops(self) -> int | None:
        """Datagrams the kernel dropped for this socket (buffer full), from
        /proc/net/udp; None where that cannot be read (not Linux)."""
        if self._socket is None:
            return None
        inode = os.fstat(self._socket.fileno()).st_ino
        for table in ("/proc/net/udp", "/proc/net/udp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                columns = line.split()
                # ... uid timeout inode ref pointer drops
                if len(columns) >= 13 and columns[9] == str(inode):
                    return int(columns[12])
        return None
