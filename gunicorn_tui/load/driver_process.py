"""The load driver's own process, and the frames it talks in.

:class:`~gunicorn_tui.load.driver.LoadRun` starts ``python -c`` on
:func:`main` with pipes for stdin and stdout and speaks in frames: a 4-byte
big-endian length, then a pickle. Both ends are this package's code, started
by gtui itself with its own interpreter (nothing from the target is ever
unpickled: the child reads only status codes from the network).

Parent to child, on stdin: one frame, ``(profile, target, stack)``; then a
single byte ``S`` asks the run to stop. End of file (the parent went away)
stops it too.

Child to parent, on stdout: ``("ready", None)`` once the run is set up,
``("started", wall time)`` when its clock starts (after the warm-up), one
``("second", SecondSummary)`` a second, and last ``("done", RunSummary)``
or ``("error", message)``.

The child ignores SIGINT: Ctrl-C in a terminal reaches the whole process
group, and it is the parent that decides to stop the run (and still wants
its summary).
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import threading
import time
from typing import BinaryIO

_HEADER = struct.Struct(">I")
STOP_BYTE = b"S"
# A frame longer than this is not ours: the stream is out of step.
MAX_FRAME_BYTES = 64 * 1024 * 1024


def encode_frame(message: object) -> bytes:
    """``message`` as one frame."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


class FrameBuffer:
    """Collects bytes read from a pipe and yields whole frames."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, object]]:
        """Add ``data``; the ``(kind, payload)`` messages it completed.
        Raises ValueError when the stream is out of step."""
        self._data += data
        messages: list[tuple[str, object]] = []
        while len(self._data) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self._data)
            if length > MAX_FRAME_BYTES:
                raise ValueError(f"a frame of {length} bytes: the stream is out of step")
            end = _HEADER.size + length
            if len(self._data) < end:
                break
            message = pickle.loads(bytes(self._data[_HEADER.size : end]))
            del self._data[:end]
            if not (
                isinstance(message, tuple) and len(message) == 2 and isinstance(message[0], str)
            ):
                raise ValueError(f"not a message: {type(message).__name__}")
            messages.append((message[0], message[1]))
        return messages

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete frame."""
        return len(self._data)


def _read_frame(stream: BinaryIO) -> object:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("no request")
    (length,) = _HEADER.unpack(header)
    payload = stream.read(length)
    if len(payload) < length:
        raise EOFError("a short request")
    return pickle.loads(payload)  # our parent's frame, see above


def _watch_stdin(stdin: BinaryIO, stop: threading.Event) -> None:
    # Any byte, or end of file, means stop.
    try:
        stdin.read(1)
    finally:
        stop.set()


def main() -> None:
    """Run one load run as the parent asked, reporting on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin = sys.stdin.buffer
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    # A stray print must not land in the frames.
    sys.stdout = sys.stderr
    from gunicorn_tui.load.client_stack import ClientStack
    from gunicorn_tui.load.engine import LoadRunError, run_engine
    from gunicorn_tui.load.profile import LoadProfile
    from gunicorn_tui.load.summary import SecondSummary
    from gunicorn_tui.load.target import LoadTarget

    lock = threading.Lock()

    def send(kind: str, payload: object) -> None:
        frame = encode_frame((kind, payload))
        with lock:
            out.write(frame)

    try:
        request = _read_frame(stdin)
    except EOFError:
        return
    if not (isinstance(request, tuple) and len(request) == 3):
        send("error", "the load driver process got a request it does not understand")
        return
    profile, target, stack = request
    if not (
        isinstance(profile, LoadProfile)
        and isinstance(target, LoadTarget)
        and isinstance(stack, ClientStack)
    ):
        send("error", "the load driver process got a request it does not understand")
        return
    stop = threading.Event()
    threading.Thread(target=_watch_stdin, args=(stdin, stop), daemon=True).start()

    def on_second(second: SecondSummary) -> None:
        send("second", second)

    send("ready", None)
    try:
        summary = run_engine(
            profile,
            target,
            stack=stack,
            on_second=on_second,
            stop_event=stop,
            cpu_clock=time.process_time,
            on_start=lambda started_at: send("started", started_at),
        )
    except LoadRunError as exc:
        send("error", str(exc))
    except BaseException as exc:  # reported to the parent, which raises it
        send("error", f"the load driver broke down: {exc!r}")
    else:
        send("done", summary)


__all__ = ["MAX_FRAME_BYTES", "STOP_BYTE", "FrameBuffer", "encode_frame", "main"]
