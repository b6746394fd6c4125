"""The session file: JSON lines, gzip-compressed when the name ends in ``.gz``.

The first line is the header (``{"schema": "gtui.recording/1", ...}``); then,
in the order they happened: ``{"frame": ...}`` (a monitor frame, exactly),
``{"mark": ...}`` (a change gtui marked on an instance's epochs: the start
and end of a retune, with their times) and ``{"action": ...}`` (an action's
outcome, for the reader). Every line is flushed as written, so a session
that ends badly keeps what it saw; a last line cut short is skipped.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gunicorn_tui import __version__
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.recording.codec import CodecError, from_json, to_json

SCHEMA = "gtui.recording/1"
_SCHEMA_PREFIX = "gtui.recording/"


class RecordingError(Exception):
    """A recording that cannot be written or read: one line for the user."""


@dataclass(frozen=True)
class RecordingHeader:
    """What the first line says."""

    schema: str
    gtui_version: str
    started_at: float
    refresh_s: float
    warmup_s: float


@dataclass(frozen=True)
class RecordedMark:
    """A change gtui marked on one instance's epochs (see EpochTracker)."""

    key: str | None
    call: str  # "mark_change", "begin_change" or "end_change"
    at: float
    reason: str | None = None
    note: str | None = None
    warmup_s: float | None = None


@dataclass(frozen=True)
class RecordedAction:
    """An action's outcome, as the dashboard reported it."""

    at: float
    summary: str


RecordedEvent = MonitorFrame | RecordedMark | RecordedAction


@dataclass(frozen=True)
class Recording:
    """A whole session: its header and its events in order."""

    path: Path
    header: RecordingHeader
    events: tuple[RecordedEvent, ...]
    skipped_lines: int = 0

    @property
    def frames(self) -> tuple[MonitorFrame, ...]:
        """The frames alone."""
        return tuple(e for e in self.events if isinstance(e, MonitorFrame))


def _open_for_writing(path: Path) -> IO[str]:
    # A new file only: an earlier session is never overwritten, and a link
    # planted at the path is not followed.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(path, flags, 0o600)
    if path.suffix == ".gz":
        raw = os.fdopen(descriptor, "wb")
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw, mode="wb"), encoding="utf-8")
    return os.fdopen(descriptor, "w", encoding="utf-8")


class SessionRecorder:
    """Writes a session as it happens (any thread)."""

    def __init__(self, path: Path, *, refresh_s: float, warmup_s: float) -> None:
        """Opens ``path`` now: a file that cannot be written is said before
        the dashboard starts (RecordingError)."""
        self.path = path
        try:
            self._file = _open_for_writing(path)
        except FileExistsError:
            raise RecordingError(
                f"--record {path}: exists, and a recording is never overwritten: name another file"
            ) from None
        except OSError as error:
            raise RecordingError(f"--record {path}: {error.strerror or error}") from None
        self._lock = threading.Lock()
        self._closed = False
        self.failed: str | None = None
        header = RecordingHeader(SCHEMA, __version__, time.time(), refresh_s, warmup_s)
        self._write(to_json(header))

    def frame(self, frame: MonitorFrame) -> None:
        """Keep one frame."""
        self._write({"frame": to_json(frame)})

    def mark(self, key: str | None, call: str, arguments: dict[str, object]) -> None:
        """Keep one change mark (an EpochTracker's mark listener)."""
        at = arguments.get("at")
        mark = RecordedMark(
            key,
            call,
            float(at) if isinstance(at, int | float) else time.time(),
            reason=_text_or_none(arguments.get("reason")),
            note=_text_or_none(arguments.get("note")),
            warmup_s=_float_or_none(arguments.get("warmup_s")),
        )
        self._write({"mark": to_json(mark)})

    def action(self, summary: str) -> None:
        """Keep an action's outcome."""
        self._write({"action": to_json(RecordedAction(time.time(), summary))})

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            if self._closed or self.failed:
                return
            try:
                self._file.write(line)
                self._file.flush()
            except OSError as error:  # a full disk: the dashboard goes on, and says so
                self.failed = f"recording stopped: {error.strerror or error}"

    def close(self) -> None:
        """Finish the file."""
        with self._lock:
            if not self._closed:
                self._closed = True
                with contextlib.suppress(OSError):
                    self._file.close()


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _lines(path: Path) -> Iterator[str]:
    try:
        with path.open("rb") as raw:
            magic = raw.read(2)
        if magic == b"\x1f\x8b":
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as text:
                yield from text
        else:
            with path.open(encoding="utf-8", errors="replace") as text:
                yield from text
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except (OSError, EOFError) as error:
        raise RecordingError(
            f"{path}: cannot read: {getattr(error, 'strerror', None) or error}"
        ) from None


def read_recording(path: Path) -> Recording:
    """Read a session file; RecordingError for one gtui cannot play."""
    lines = _lines(path)
    first = next(lines, "")
    try:
        header_data = json.loads(first)
    except json.JSONDecodeError:
        raise RecordingError(f"{path}: not a gtui recording (its first line is not JSON)") from None
    schema = header_data.get("schema") if isinstance(header_data, dict) else None
    if not isinstance(schema, str) or not schema.startswith(_SCHEMA_PREFIX):
        raise RecordingError(f"{path}: not a gtui recording (no {SCHEMA} header)")
    if schema != SCHEMA:
        made_by = header_data.get("gtui_version", "another version")
        raise RecordingError(
            f"{path}: recorded as {schema} by gtui {made_by}; this gtui {__version__} "
            f"plays {SCHEMA} only"
        )
    try:
        header = from_json(RecordingHeader, header_data)
    except CodecError as error:
        raise RecordingError(f"{path}: header: {error}") from None
    events: list[RecordedEvent] = []
    pending: tuple[int, str] | None = None
    for number, line in enumerate(lines, start=2):
        if pending is not None:  # a bad line that was not the last one
            raise RecordingError(f"{path}: line {pending[0]}: {pending[1]}")
        if not line.strip():
            continue
        try:
            events.append(_event(json.loads(line)))
        except (json.JSONDecodeError, CodecError, KeyError, TypeError) as error:
            pending = (number, str(error)[:200])
    # A last line cut short (the session was killed mid-write) is skipped.
    return Recording(path, header, tuple(events), skipped_lines=1 if pending else 0)


def _event(record: dict[str, Any]) -> RecordedEvent:
    if "frame" in record:
        frame: MonitorFrame = from_json(MonitorFrame, record["frame"], "frame")
        return frame
    if "mark" in record:
        mark: RecordedMark = from_json(RecordedMark, record["mark"], "mark")
        return mark
    if "action" in record:
        action: RecordedAction = from_json(RecordedAction, record["action"], "action")
        return action
    raise KeyError("neither a frame, a mark nor an action")
