"""Follow Gunicorn's logs: a host file, or a container's log stream.

* :class:`LineSplitter` turns byte chunks into text lines (chunks are not
  lines: a line can span chunks, a chunk can hold many lines).
* :class:`FileFollower` reads a log file from "now", through rotation
  (rename + new file: the rest of the old file is read first) and
  truncation (``copytruncate``: reading starts over at 0). Poll it.
* :class:`DockerLogDemuxer` splits Docker's multiplexed log stream (8-byte
  frame headers ``>BxxxL``: stream 1 stdout, 2 stderr; frames are not
  lines) into stdout and stderr lines; a TTY container's stream is raw
  bytes, all of it "stdout" (the terminal merged the two).
* :class:`DockerLogFollower` follows a container's log stream from now on a
  thread and reconnects when the container restarts.

Why not ``container.logs(stream=True)``: docker-py 7.1 strips the frame
headers there (``_multiplexed_response_stream_helper``), so stdout and
stderr can no longer be told apart, and ``attach_socket`` + ``frames_iter``
attaches to the live process, where a slow reader can hold up the
container's writes. The follower asks the same ``/containers/{id}/logs``
endpoint through the client's own session and demultiplexes the frames
itself; the log driver buffers, so a slow reader never blocks the
container.

Bad input never raises: an over-long line is cut at ``max_line_bytes``
(counted in ``oversized``), undecodable bytes become U+FFFD, a corrupt
frame header is counted and the buffer dropped.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, BinaryIO, Final

from gunicorn_tui.traffic.log_paths import LogFileRef, NotARegularFile, file_status, open_regular

DEFAULT_MAX_LINE_BYTES: Final = 1 << 20
_HEADER: Final = struct.Struct(">BxxxL")


class LogStream(StrEnum):
    """Which output of the process a line came from."""

    STDOUT = "stdout"
    STDERR = "stderr"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a process's output, without its line ending."""

    stream: LogStream
    text: str


class LineSplitter:
    """Bytes in, complete lines out; the partial last line waits for more.

    A line longer than ``max_line_bytes`` is emitted cut to that length and
    counted in ``oversized``; the rest of it, up to its newline, is dropped.
    """

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        self._buffer = bytearray()
        self._discarding = False
        self.oversized = 0

    def feed(self, chunk: bytes) -> list[str]:
        """The lines completed by ``chunk``."""
        lines: list[str] = []
        buffer = self._buffer
        buffer += chunk
        start = 0
        while True:
            newline = buffer.find(b"\n", start)
            if newline < 0:
                break
            if self._discarding:
                self._discarding = False
            else:
                lines.append(_decode(buffer[start:newline]))
            start = newline + 1
        del buffer[:start]
        if len(buffer) > self.max_line_bytes:
            if not self._discarding:
                lines.append(_decode(buffer[: self.max_line_bytes]))
                self.oversized += 1
                self._discarding = True
            buffer.clear()
        return lines

    def flush(self) -> list[str]:
        """The partial last line, if any (at the end of a stream)."""
        if not self._buffer or self._discarding:
            self._buffer.clear()
            self._discarding = False
            return []
        line = _decode(self._buffer)
        self._buffer.clear()
        return [line]


def _decode(raw: bytes | bytearray) -> str:
    text = raw.decode("utf-8", errors="replace")
    return text[:-1] if text.endswith("\r") else text


class FileFollower:
    """Reads lines appended to a log file after the follower was created.

    Call :meth:`poll` every so often (250 ms is plenty); it never blocks.
    If the file does not exist yet, the first file that appears is read
    from its start. Handles rotation by rename (finishes the old file, then
    reads the new one from its start) and truncation in place.

    Only a regular file is ever opened (non-blocking, see
    :mod:`gunicorn_tui.traffic.log_paths`): a FIFO, device or socket at the
    path is never read, and ``problem`` says why nothing comes, as does an
    error reaching the file. ``path`` is a host path or a
    :class:`~gunicorn_tui.traffic.log_paths.LogFileRef` (a container's file,
    resolved in its root).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | LogFileRef,
        *,
        from_start: bool = False,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_read_bytes: int = 8 << 20,
    ) -> None:
        self.source = path if isinstance(path, LogFileRef) else LogFileRef(os.fspath(path))
        self.max_read_bytes = max_read_bytes
        self._splitter = LineSplitter(max_line_bytes)
        self._file: BinaryIO | None = None
        self._inode: tuple[int, int] | None = None
        self.rotations = 0
        self.truncations = 0
        # Why nothing is read from the path right now (None: fine, or absent).
        self.problem: str | None = None
        self._open(at_end=not from_start)

    @property
    def path(self) -> str:
        """The path as the server names it."""
        return self.source.display

    @property
    def oversized(self) -> int:
        """Lines cut at ``max_line_bytes`` so far."""
        return self._splitter.oversized

    def _open(self, at_end: bool) -> bool:
        try:
            fd, info = open_regular(self.source)
        except FileNotFoundError:
            self.problem = None  # waited for, as a log that is not written yet
            return False
        except NotARegularFile as error:
            self.problem = f"{self.path} is a {error.kind}: not read" + (
                " (that would take lines from its reader)" if error.kind == "FIFO" else ""
            )
            return False
        except OSError as error:
            self.problem = f"{self.path}: {error.strerror or error}"
            return False
        handle = os.fdopen(fd, "rb")
        if at_end:
            handle.seek(info.st_size)
        self.problem = None
        self._file = handle
        self._inode = (info.st_dev, info.st_ino)
        return True

    def poll(self) -> list[str]:
        """Lines appended since the last poll (at most ``max_read_bytes``
        worth per call, so one huge burst cannot stall the caller)."""
        # A file that appeared after we started is new: read it all.
        if self._file is None and not self._open(at_end=False):
            return []
        assert self._file is not None
        lines = self._read_available()
        try:
            stat = file_status(self.source)
        except OSError:
            return lines  # renamed away and not re-created yet: keep the old one
        if (stat.st_dev, stat.st_ino) != self._inode:
            # Rotated: finish the old file, then start the new one from 0.
            lines += self._read_available(limit=None)
            lines += self._splitter.flush()
            self._file.close()
            self._file = None
            self.rotations += 1
            if self._open(at_end=False):
                lines += self._read_available()
        elif stat.st_size < self._file.tell():
            # Truncated in place (copytruncate): what is there now is new.
            self.truncations += 1
            self._splitter.flush()  # a partial line from before is lost
            self._file.seek(0)
            lines += self._read_available()
        return lines

    def _read_available(self, limit: int | None = -1) -> list[str]:
        budget = self.max_read_bytes if limit == -1 else None
        lines: list[str] = []
        if self._file is None:
            return lines
        while True:
            size = 1 << 16 if budget is None else min(1 << 16, budget)
            if size <= 0:
                break
            chunk = self._file.read(size)
            if not chunk:
                break
            if budget is not None:
                budget -= len(chunk)
            lines += self._splitter.feed(chunk)
        return lines

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None


class DockerLogDemuxer:
    """Docker log-stream bytes in, stdout and stderr lines out.

    ``tty``: the container has a TTY (``Config.Tty``); its stream has no
    frame headers and every line is reported as stdout.
    """

    def __init__(self, tty: bool, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.tty = tty
        self._buffer = bytearray()
        self._splitters = {
            LogStream.STDOUT: LineSplitter(max_line_bytes),
            LogStream.STDERR: LineSplitter(max_line_bytes),
        }
        self.malformed_frames = 0
        self.bytes_read = 0

    @property
    def oversized(self) -> int:
        """Lines cut at ``max_line_bytes`` so far, both streams."""
        return sum(splitter.oversized for splitter in self._splitters.values())

    def feed(self, chunk: bytes) -> list[LogLine]:
        """Lines completed by ``chunk``, in stream order."""
        self.bytes_read += len(chunk)
        if self.tty:
            return [
                LogLine(LogStream.STDOUT, text)
                for text in self._splitters[LogStream.STDOUT].feed(chunk)
            ]
        lines: list[LogLine] = []
        buffer = self._buffer
        buffer += chunk
        position = 0
        while len(buffer) - position >= _HEADER.size:
            stream_id, length = _HEADER.unpack_from(buffer, position)
            if stream_id not in (0, 1, 2):
                # Not a frame header: the stream is corrupt and cannot be
                # resynchronised; drop what we hold and count it.
                self.malformed_frames += 1
                position = len(buffer)
                break
            end = position + _HEADER.size + length
            if end > len(buffer):
                break  # the rest of the frame is in a later chunk
            stream = LogStream.STDERR if stream_id == 2 else LogStream.STDOUT
            payload = bytes(buffer[position + _HEADER.size : end])
            lines.extend(LogLine(stream, text) for text in self._splitters[stream].feed(payload))
            position = end
        del buffer[:position]
        return lines

    def flush(self) -> list[LogLine]:
        """Partial last lines of both streams (at the end of a stream)."""
        self._buffer.clear()
        return [
            LogLine(stream, text)
            for stream, splitter in self._splitters.items()
            for text in splitter.flush()
        ]


LinesCallback = Callable[[list[LogLine], float], None]


class DockerLogFollower:
    """Follows a container's stdout and stderr from now, on a thread.

    ``on_lines(lines, received_at)`` runs on the follower's thread for each
    chunk that completed lines (``received_at`` from ``clock``). When the
    container stops, the follower waits for it to run again (a restart
    keeps its id) and resumes from the moment the old stream ended, so
    lines written in between are not lost. It ends when the container is
    removed, or on :meth:`stop`. Reconnections, errors and the demuxers'
    counts are kept as attributes for display.

    ``client`` is a ``docker.DockerClient``.
    """

    def __init__(
        self,
        client: Any,
        container_id: str,
        on_lines: LinesCallback,
        *,
        since: float | None = None,
        poll_interval_s: float = 0.5,
        clock: Callable[[], float] = time.time,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self._client = client
        self.container_id = container_id
        self._on_lines = on_lines
        self._since = since
        self._poll_interval_s = poll_interval_s
        self._clock = clock
        self._max_line_bytes = max_line_bytes
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: Any = None
        self._lock = threading.Lock()
        self.connections = 0
        self.lines = 0
        self.malformed_frames = 0
        self.oversized = 0
        self.callback_errors = 0
        self.last_error: str | None = None
        self.ended_reason: str | None = None

    def start(self) -> None:
        """Start following; lines from before this call are not read
        (unless ``since`` was given)."""
        if self._thread is not None:
            raise RuntimeError("the follower is already started")
        if self._since is None:
            self._since = self._clock()
        self._thread = threading.Thread(
            target=self._run, name=f"gtui-logs-{self.container_id[:12]}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop following and close the stream (idempotent)."""
        self._stopping.set()
        with self._lock:
            response = self._response
        if response is not None:
            # Closing the response does not wake a thread blocked reading
            # it (seen: a minute until the daemon's keep-alive); shutting
            # the socket down does, at once.
            with contextlib.suppress(Exception):
                raw_socket = self._client.api._get_raw_response_socket(response)
                getattr(raw_socket, "_sock", raw_socket).shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(Exception):
                response.close()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    @property
    def resume_at(self) -> float | None:
        """Where a follower taking over from this one should start: where
        its last stream ended, or now while one is being read."""
        with self._lock:
            live = self._response is not None
        return self._clock() if live else self._since

    @property
    def running(self) -> bool:
        """True while the follower's thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        import docker.errors  # the follower is the only part that needs docker

        while not self._stopping.is_set():
            try:
                container = self._client.containers.get(self.container_id)
            except docker.errors.NotFound:
                self.ended_reason = "container removed"
                return
            except Exception as error:  # the engine's, or a dropped or closed connection's
                self.last_error = f"{type(error).__name__}: {error}"
                self._stopping.wait(self._poll_interval_s)
                continue
            if container.status != "running":
                self._stopping.wait(self._poll_interval_s)
                continue
            tty = bool(container.attrs.get("Config", {}).get("Tty"))
            try:
                self._follow_once(tty)
            except Exception as error:  # a dropped connection or daemon restart
                if not self._stopping.is_set():
                    self.last_error = f"{type(error).__name__}: {error}"
                    self._stopping.wait(self._poll_interval_s)
        self.ended_reason = self.ended_reason or "stopped"

    def _follow_once(self, tty: bool) -> None:
        api = self._client.api
        params = {
            "stdout": 1,
            "stderr": 1,
            "follow": 1,
            "timestamps": 0,
            "since": self._since,
            "tail": "all",
        }
        url = api._url("/containers/{0}/logs", self.container_id)
        # No read timeout: a quiet container sends nothing for minutes, and
        # the client's own timeout (10 s) would end the stream each time it
        # is quiet that long. Every reconnection costs a container inspect,
        # a new request and a new log reader in the daemon, and the new
        # stream resumes at our clock's time of the break, so a line the
        # daemon had not yet sent then is lost (or, with clock skew,
        # repeated). stop() wakes the blocked read by shutting the socket
        # down. Connecting keeps the client's timeout.
        response = api._get(url, params=params, stream=True, timeout=(api.timeout, None))
        api._raise_for_status(response)
        with self._lock:
            self._response = response
        self.connections += 1
        demuxer = DockerLogDemuxer(tty, self._max_line_bytes)
        raw = response.raw
        try:
            while not self._stopping.is_set():
                chunk = raw.read1(1 << 16) if hasattr(raw, "read1") else raw.read(1)
                if not chunk:
                    break  # the container stopped: its stream ended
                self._deliver(demuxer.feed(chunk))
            self._deliver(demuxer.flush())
        finally:
            # Resume from here after a restart: the daemon filters by the
            # lines' own timestamps, so nothing between is skipped.
            self._since = self._clock()
            self.malformed_frames += demuxer.malformed_frames
            self.oversized += demuxer.oversized
            with self._lock:
                self._response = None
            with contextlib.suppress(Exception):
                response.close()

    def _deliver(self, lines: list[LogLine]) -> None:
        if not lines:
            return
        self.lines += len(lines)
        try:
            self._on_lines(lines, self._clock())
        except Exception as error:  # a consumer bug must not stop the follower
            self.callback_errors += 1
            self.last_error = f"callback: {type(error).__name__}: {error}"
