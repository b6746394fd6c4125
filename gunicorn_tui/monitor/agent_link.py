"""The local end of ``gtui agent``: full figures of a host reached over SSH.

For an ``ssh://`` engine, :class:`AgentLink` runs ``gtui agent`` on the host
over the engine's SSH connection (a channel of the same master) and keeps
the last frame it streamed. While it streams, the monitor shows that host's
instances from it (per-worker CPU, USS, heartbeats, connections) instead of
sampling them through the Docker API. When there is no gtui there, or one
of another schema version, or it stops, the link says why in one line and
the monitor samples through the API; it tries again now and then.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum

from gunicorn_tui.access.ssh_transport import SshFailed, SshSession, ssh_reason, stop_child
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.model.snapshot_reader import SnapshotFormatError, instance_from_json
from gunicorn_tui.output.agent_stream import (
    AgentFrame,
    AgentStreamError,
    FrameDecoder,
    check_hello,
)
from gunicorn_tui.output.snapshot_json import SCHEMA

# How gtui is started on the remote host (a command line, split as a shell
# would): another path or a venv's python is set here.
REMOTE_COMMAND_ENV = "GTUI_REMOTE_GTUI"
DEFAULT_REMOTE_COMMAND = "gtui"
HELLO_TIMEOUT_S = 15.0
# A stream silent for this long counts as stalled (frames come every interval).
STALL_S = 10.0
RETRY_S = (2.0, 5.0, 15.0, 30.0)
HINT = "install gtui on {host} (same version) for per-worker CPU, USS, heartbeats and connections"


class AgentState(StrEnum):
    STARTING = "starting"
    STREAMING = "streaming"
    UNAVAILABLE = "unavailable"


def remote_command() -> list[str]:
    return shlex.split(os.environ.get(REMOTE_COMMAND_ENV) or DEFAULT_REMOTE_COMMAND)


class AgentLink:
    """One ``gtui agent`` on one host, restarted when it stops."""

    def __init__(
        self,
        host: str,
        session: SshSession,
        *,
        interval_s: float,
        targets: Sequence[str] = (),
        docker_url: str | None = None,
    ) -> None:
        self.host = host
        self._session = session
        self._interval_s = interval_s
        self._targets = tuple(targets)
        self._docker_url = docker_url
        self._lock = threading.Lock()
        self._state = AgentState.STARTING
        self._reason = "starting"
        self._frame: AgentFrame | None = None
        self._noticed: AgentFrame | None = None
        self._frame_at = 0.0
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self.bytes_received = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"gtui-agent-{host}", daemon=True)
        self._thread.start()

    # -- public, thread-safe ---------------------------------------------------------

    @property
    def session(self) -> SshSession:
        """The SSH connection the agent runs over (actions there use it too)."""
        return self._session

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the first frame came, or the link gave up (True: streaming)."""
        self._ready.wait(timeout_s)
        return self.state is AgentState.STREAMING

    @property
    def state(self) -> AgentState:
        with self._lock:
            return self._state

    @property
    def reason(self) -> str:
        """Why there is no stream (one line), or "streaming"."""
        with self._lock:
            return self._reason

    def instances(self) -> tuple[tuple[InstanceSample, ...], tuple[str, ...]] | None:
        """The last frame's instances (host set) and notices; None when not streaming."""
        with self._lock:
            if self._state is not AgentState.STREAMING or self._frame is None:
                return None
            frame = self._frame
        samples = []
        for key, record in frame.records.items():
            try:
                sample = instance_from_json(record)
            except SnapshotFormatError:
                continue
            samples.append(replace(sample, key=f"{self.host}:{key}", host=self.host))
        # A frame's notices are said once, however often it is read.
        notices: tuple[str, ...] = ()
        if frame is not self._noticed:
            self._noticed = frame
            notices = tuple(f"{self.host}: {notice}" for notice in frame.notices)
        return tuple(samples), notices

    def close(self) -> None:
        self._stop.set()
        self._end()
        self._thread.join(timeout=5)

    # -- the thread ------------------------------------------------------------------

    def _set(self, state: AgentState, reason: str) -> None:
        with self._lock:
            self._state, self._reason = state, reason
        if state is not AgentState.STARTING:
            self._ready.set()

    def _argv(self) -> list[str]:
        remote = [*remote_command(), "agent", "--interval", f"{self._interval_s:g}"]
        if self._docker_url:
            remote += ["-H", self._docker_url]
        remote += ["--", *self._targets] if self._targets else []
        # ssh sends one command line: quote each word for the remote shell.
        return self._session.command([shlex.join(remote)])

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._session.ensure()
                self._stream()
                reason = "agent stream ended"
            except (SshFailed, AgentStreamError, OSError) as error:
                reason = str(error)
            if self._stop.is_set():
                return
            self._set(AgentState.UNAVAILABLE, reason)
            self._stop.wait(RETRY_S[min(failures, len(RETRY_S) - 1)])
            failures += 1

    def _stream(self) -> None:
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
        try:
            proc = subprocess.Popen(
                self._argv(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
            self._proc = proc
            assert proc.stdout is not None
            fd = proc.stdout.fileno()
            decoder = FrameDecoder()
            line, rest = self._read_hello(fd, proc, stderr)
            check_hello(line, SCHEMA)
            self._take(decoder, rest)
            while not self._stop.is_set():
                ready, _, _ = select.select([fd], [], [], STALL_S)
                if not ready:
                    raise AgentStreamError(f"agent on {self.host}: no frame in {STALL_S:.0f} s")
                data = os.read(fd, 65536)
                if not data:
                    return
                self.bytes_received += len(data)
                self._take(decoder, data)
        finally:
            self._end()
            stderr.close()

    def _take(self, decoder: FrameDecoder, data: bytes) -> None:
        for frame in decoder.feed(data):
            with self._lock:
                self._frame, self._frame_at = frame, time.monotonic()
                self._state, self._reason = AgentState.STREAMING, "streaming"
            self._ready.set()

    def _read_hello(
        self, fd: int, proc: subprocess.Popen[bytes], stderr: object
    ) -> tuple[bytes, bytes]:
        buffer = b""
        deadline = time.monotonic() + HELLO_TIMEOUT_S
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AgentStreamError(f"gtui agent on {self.host}: no answer")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            data = os.read(fd, 4096)
            if not data:
                code = proc.wait(timeout=5)
                text = ""
                if hasattr(stderr, "seek") and hasattr(stderr, "read"):
                    stderr.seek(0)
                    text = stderr.read().decode("utf-8", "replace")
                if code == 127 or "not found" in text:
                    raise AgentStreamError(f"no gtui on {self.host}")
                raise AgentStreamError(f"gtui agent on {self.host}: {ssh_reason(text, code)}")
            self.bytes_received += len(data)
            buffer += data
            if len(buffer) > 65536 and b"\n" not in buffer:
                raise AgentStreamError(f"gtui agent on {self.host}: not a gtui agent")
        line, rest = buffer.split(b"\n", 1)
        return line, rest

    def _end(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if proc.stdin is not None:
                proc.stdin.close()
        stop_child(proc, 3.0)
        if proc.stdout is not None:
            with contextlib.suppress(OSError):
                proc.stdout.close()
