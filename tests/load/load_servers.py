"""Real Gunicorn servers, and a deliberately broken one, for the load tests.

Every server listens on 127.0.0.1 (or a Unix socket) and is stopped by the
fixture that started it (see conftest.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
DEMO_DIR = REPO / "gunicorn_tui" / "demo"
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
) -> LoadGunicorn:
    """Start ``python -m gunicorn`` with the sample app and wait until it serves."""
    workdir.mkdir(parents=True, exist_ok=True)
    bind = bind or f"127.0.0.1:{free_port()}"
    access_log = workdir / "access.log"
    error_log = workdir / "error.log"
    access_log.touch()
    command = [
        sys.executable, "-m", "gunicorn",
        "--chdir", str(DEMO_DIR),
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
    command.append("sample_app:app")
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
                if client.get(f"{url}/health", timeout=1.0).status_code == 200:
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
