"""Real Gunicorn servers, and a deliberately broken one, for the load tests.

Every server listens on 127.0.0.1 (or a Unix socket) and is stopped by the
fixture that started it (see conftest.py).
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
DEMO_DIR = REPO / "gunicorn_tui" / "demo"
# Apps made for the tests (bodies the sample app does not make).
TEST_APPS_DIR = Path(__file__).resolve().parent / "apps"
# The remote port tells connections apart in the access log: fewer ports
# than requests means connections were reused.
ACCESS_FORMAT = "%(m)s %(U)s %(q)s %(s)s %({remote_port}e)s"
BOOT_TIMEOUT_S = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LoadGunicorn:
    """A running Gunicorn serving the sample app."""

    process: subprocess.Popen[bytes]
    url: str
    access_log: Path
    error_log: Path
    bind: str

    def access_entries(self, marker: str) -> list[tuple[str, str, str, int, str]]:
        """Access-log entries whose query string contains ``marker``:
        (method, path, query, status, remote port)."""
        entries = []
        for line in self.access_log.read_text(errors="replace").splitlines():
            parts = line.split(" ")
            if len(parts) == 5 and marker in parts[2]:
                method, path, query, status, port = parts
                entries.append((method, path, query, int(status), port))
        return entries

    def wait_for_entries(self, marker: str, count: int, timeout_s: float = 5.0) -> int:
        """Wait until ``count`` entries for ``marker`` are logged (gunicorn
        writes the line after the response); return how many there are."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = len(self.access_entries(marker))
            if found >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_load_gunicorn(
    workdir: Path,
    *,
    worker_class: str = "gthread",
    workers: int = 2,
    threads: int = 4,
    bind: str | None = None,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    extra_args: tuple[str, ...] = (),
    app: str = "sample_app:app",
    app_dir: Path = DEMO_DIR,
    ready_path: str = "/health",
) -> LoadGunicorn:
    """Start ``python -m gunicorn`` with ``app`` (the sample app unless told)
    and wait until ``ready_path`` answers 200."""
    workdir.mkdir(parents=True, exist_ok=True)
    bind = bind or f"127.0.0.1:{free_port()}"
    access_log = workdir / "access.log"
    error_log = workdir / "error.log"
    access_log.touch()
    command = [
        sys.executable, "-m", "gunicorn",
        "--chdir", str(app_dir),
        "--bind", bind,
        "--workers", str(workers),
        "--worker-class", worker_class,
        "--threads", str(threads),
        "--access-logfile", str(access_log),
        "--access-logformat", ACCESS_FORMAT,
        "--error-logfile", str(error_log),
        "--no-control-socket",
        *extra_args,
    ]  # fmt: skip
    tls = certfile is not None and keyfile is not None
    if tls:
        command += ["--certfile", str(certfile), "--keyfile", str(keyfile)]
    command.append(app)
    env = {k: v for k, v in os.environ.items() if k not in ("GUNICORN_CMD_ARGS", "WEB_CONCURRENCY")}
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    scheme = "https" if tls else "http"
    unix_path = bind.removeprefix("unix:") if bind.startswith("unix:") else None
    url = "http://localhost" if unix_path else f"{scheme}://{bind}"
    server = LoadGunicorn(process, url, access_log, error_log, bind)
    transport = httpx.HTTPTransport(uds=unix_path, verify=False)
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    with httpx.Client(transport=transport, trust_env=False) as client:
        while True:
            if process.poll() is not None:
                log = error_log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log}")
            try:
                if client.get(f"{url}{ready_path}", timeout=1.0).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"gunicorn did not serve {url} within {BOOT_TIMEOUT_S} s")
            time.sleep(0.1)


@dataclass
class ClosingServer:
    """A TCP server that accepts connections and closes them, optionally
    after reading the request and writing ``reply`` (a truncated response)."""

    reply: bytes = b""
    port: int = 0
    accepted: int = 0
    _listener: socket.socket | None = None
    _thread: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> ClosingServer:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.settimeout(0.1)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            with conn:
                if self.reply:
                    conn.settimeout(1.0)
                    try:
                        conn.recv(65536)
                        conn.sendall(self.reply)
                    except OSError:
                        pass

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()


@dataclass(frozen=True)
class Reply:
    """What a :class:`ScriptedServer` does with one request on a connection.

    ``data`` is written in ``pieces`` writes, ``pause_s`` apart; then the
    connection is kept (``then="keep"``), closed (``"close"``), reset with
    an RST (``"reset"``), or kept for ``idle_s`` seconds and closed
    (``"close_later"``, a server's keep-alive timeout). ``unasked``, when set,
    is written just before a ``close_later`` close (a server's 408).
    """

    data: bytes
    then: str = "keep"
    pieces: int = 1
    pause_s: float = 0.0
    idle_s: float = 0.0
    unasked: bytes = b""


@dataclass
class ScriptedServer:
    """A raw HTTP/1.1 server on 127.0.0.1 for peers that misbehave on cue.

    On every connection it reads requests (headers, then a Content-Length
    body) and answers the n-th with ``replies[n]``; a request beyond the
    script is read and then the connection is closed unanswered. It records
    every request it read, per connection.
    """

    replies: tuple[Reply, ...]
    port: int = 0
    requests: list[list[bytes]] = field(default_factory=list)
    _listener: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> ScriptedServer:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            seen: list[bytes] = []
            self.requests.append(seen)
            thread = threading.Thread(target=self._serve, args=(conn, seen), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket, seen: list[bytes]) -> None:
        conn.settimeout(5.0)
        buffer = b""
        try:
            for index in range(len(self.replies) + 1):
                request, buffer = _read_request(conn, buffer)
                if request is None:
                    return
                seen.append(request)
                if index == len(self.replies):
                    return  # beyond the script: hang up unanswered
                if not self._answer(conn, self.replies[index]):
                    return
        except OSError:
            pass
        finally:
            conn.close()

    def _answer(self, conn: socket.socket, reply: Reply) -> bool:
        """Send one reply; False when the connection is finished."""
        size = max(1, -(-len(reply.data) // reply.pieces))
        for offset in range(0, len(reply.data), size):
            if offset and reply.pause_s:
                time.sleep(reply.pause_s)
            conn.sendall(reply.data[offset : offset + size])
        if reply.then == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if reply.then == "close":
            return False
        if reply.then == "close_later":
            time.sleep(reply.idle_s)
            if reply.unasked:
                conn.sendall(reply.unasked)
            return False
        return True

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)


def _read_request(conn: socket.socket, buffer: bytes) -> tuple[bytes | None, bytes]:
    """One request (head and Content-Length body) from ``conn``, and what
    was read beyond it; None at EOF."""
    while b"\r\n\r\n" not in buffer:
        data = conn.recv(65536)
        if not data:
            return None, buffer
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        data = conn.recv(65536)
        if not data:
            return None, rest
        rest += data
    return head + b"\r\n\r\n" + rest[:length], rest[length:]
