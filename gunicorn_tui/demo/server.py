"""Run the bundled sample app under a real, local Gunicorn for ``gtui demo``.

The server gets its own runtime directory (so its control socket cannot
collide with another Gunicorn's default path), binds only 127.0.0.1, and is
stopped with its whole process group when the demo ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

DEMO_DIR = Path(__file__).resolve().parent
DEMO_APP = "sample_app:app"
DEMO_NAME = "gtui-demo"
# Default access-log format plus the worker pid and the duration in µs, so
# per-worker request counts and latency can be read from the log.
DEMO_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(p)s %(D)s'
BOOT_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if gtui dies, even by SIGKILL,
    so a demo never leaves a server behind."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class DemoFailed(Exception):
    """The demo server could not be started."""


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A free TCP (or UDP) port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DemoServer:
    """A running demo Gunicorn."""

    process: subprocess.Popen[bytes]
    port: int
    runtime_dir: Path
    log_path: Path
    argv: tuple[str, ...]
    environment: dict[str, str]
    cwd: str

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """TERM the master (graceful), KILL the group if it lingers, remove the
        runtime directory."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT_S)
        # Workers orphaned by a killed master share the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        # The runtime directory (its log holds the demo's requests, its
        # control socket is dead now) goes with the server.
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


def start_demo_server(
    workers: int = 3,
    port: int = 0,
    extra_args: tuple[str, ...] = (),
    statsd_port: int | None = None,
) -> DemoServer:
    """Start Gunicorn on the sample app and wait until it answers."""
    if workers < 1 or workers > 64:
        raise DemoFailed("--workers must be between 1 and 64")
    chosen = port or free_port()
    runtime_dir = Path(tempfile.mkdtemp(prefix="gtui-demo-"))
    log_path = runtime_dir / "gunicorn.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{chosen}",
        "--workers",
        str(workers),
        "--name",
        DEMO_NAME,
        "--chdir",
        str(DEMO_DIR),
        "--access-logfile",
        "-",
        "--access-logformat",
        DEMO_ACCESS_LOG_FORMAT,
        "--error-logfile",
        "-",
        "--timeout",
        "30",
        *(("--statsd-host", f"127.0.0.1:{statsd_port}") if statsd_port else ()),
        *extra_args,
        DEMO_APP,
    ]
    environment = dict(os.environ, XDG_RUNTIME_DIR=str(runtime_dir), PYTHONUNBUFFERED="1")
    environment.pop("GUNICORN_CMD_ARGS", None)
    environment.pop("WEB_CONCURRENCY", None)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=environment,
            cwd=runtime_dir,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    server = DemoServer(
        process, chosen, runtime_dir, log_path, tuple(command), environment, str(runtime_dir)
    )
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = server.log_tail()
            server.stop()
            raise DemoFailed(f"Gunicorn exited during start-up: {tail.splitlines()[-1:] or '?'}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise DemoFailed(f"Gunicorn did not answer on 127.0.0.1:{chosen} within {BOOT_TIMEOUT_S:g}s")
