"""Measure the service from outside while an action runs.

A background thread sends one GET (on a fresh connection) to the server's
bind address every ``interval_s`` and records which answered. From that
timeline come the figures the dashboard shows after an action: failed
probes and the longest time without an answer.

The probe speaks just enough HTTP/1.1 over a plain socket (request line,
read the status line): an HTTP client library costs tens of milliseconds
per client and would blur the outage it is meant to measure.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

PROBE_INTERVAL_S = 0.02
PROBE_TIMEOUT_S = 1.0
# A probe that answers slower than this counts as "no service" for its duration.
MAX_PROBES = 200_000


@dataclass(frozen=True)
class Disruption:
    """What the probe saw during an action."""

    url: str
    probes: int
    failed_probes: int
    longest_outage_s: float
    first_error: str | None = None


class ProbeFailed(Exception):
    """No HTTP answer."""


def probe_once(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> int:
    """GET ``url`` (plain http) on a new connection; the status code, or ProbeFailed."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ProbeFailed(f"only http:// URLs are probed: {url}")
    port = parts.port or 80
    path = parts.path or "/"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.hostname}:{port}\r\n"
        "User-Agent: gtui-probe\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s) as sock:
            sock.sendall(request)
            received = b""
            while b"\r\n" not in received and len(received) < 4096:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
    except OSError as error:
        raise ProbeFailed(f"{type(error).__name__}: {error}") from error
    status_line = received.split(b"\r\n", 1)[0].split()
    if (
        len(status_line) < 2
        or not status_line[0].startswith(b"HTTP/")
        or not (status_line[1].isdigit())
    ):
        raise ProbeFailed(f"not an HTTP answer: {received[:40]!r}")
    return int(status_line[1])


def http_answers(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True when ``url`` gives any HTTP response."""
    try:
        probe_once(url, timeout_s)
    except ProbeFailed:
        return False
    return True


class ServiceProbe:
    """Probes one URL in a background thread until stopped (bounded count)."""

    def __init__(self, url: str, interval_s: float = PROBE_INTERVAL_S) -> None:
        self.url = url
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gtui-service-probe", daemon=True)
        self._lock = threading.Lock()
        self._probes = 0
        self._failed = 0
        self._last_ok: float | None = None
        self._outage_started: float | None = None
        self._longest = 0.0
        self._first_error: str | None = None

    def start(self) -> ServiceProbe:
        self._started = time.monotonic()
        self._last_ok = self._started
        self._thread.start()
        return self

    def stop(self) -> Disruption:
        """Stop probing and return the figures."""
        self._stop.set()
        self._thread.join(timeout=PROBE_TIMEOUT_S + 1.0)
        with self._lock:
            longest = self._longest
            if self._outage_started is not None:
                longest = max(longest, time.monotonic() - self._outage_started)
            return Disruption(self.url, self._probes, self._failed, longest, self._first_error)

    def _run(self) -> None:
        while not self._stop.is_set() and self._probes < MAX_PROBES:
            sent = time.monotonic()
            error: str | None = None
            try:
                probe_once(self.url)
            except ProbeFailed as failure:
                error = str(failure)[:200]
            answered = time.monotonic()
            with self._lock:
                self._probes += 1
                if error is None:
                    if self._outage_started is not None:
                        self._longest = max(self._longest, answered - self._outage_started)
                        self._outage_started = None
                    self._last_ok = answered
                else:
                    self._failed += 1
                    self._first_error = self._first_error or error
                    if self._outage_started is None:
                        # The service was last seen answering before this probe went out.
                        self._outage_started = self._last_ok or sent
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - sent)))
