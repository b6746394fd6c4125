"""Run a real Gunicorn serving the sample app on 127.0.0.1, for tests.

The server's stdout (access log with ``--access-logfile -``) and stderr
(error log) go to files the test can read while it runs. Everything is
bounded: start-up waits at most ``start_timeout_s``, requests have timeouts,
and the context manager always stops the server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import gunicorn_tui.demo.sample_app as sample_app

SAMPLE_APP_DIR = Path(sample_app.__file__).resolve().parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveGunicorn:
    """A running server: its master process, port and log files."""

    process: subprocess.Popen[bytes]
    port: int
    stdout_path: Path
    stderr_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout_s: float = 5.0) -> tuple[int, bytes]:
        """GET ``path``; returns (status, body), HTTP errors included."""
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout_s) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as error:
            return int(error.code), bytes(error.read())

    def stdout_lines(self) -> list[str]:
        return self.stdout_path.read_text(errors="replace").splitlines()

    def stderr_lines(self) -> list[str]:
        return self.stderr_path.read_text(errors="replace").splitlines()

    def wait_for_stdout_lines(self, count: int, timeout_s: float = 10.0) -> list[str]:
        """Wait until the access log has ``count`` lines (logging is async to
        the response: the line is written after the body is sent)."""
        deadline = time.monotonic() + timeout_s
        lines = self.stdout_lines()
        while len(lines) < count and time.monotonic() < deadline:
            time.sleep(0.05)
            lines = self.stdout_lines()
        return lines


@contextlib.contextmanager
def run_gunicorn(
    tmp_path: Path,
    extra_args: Sequence[str] = (),
    *,
    workers: int = 1,
    access_log_format: str | None = None,
    access_log: bool = True,
    start_timeout_s: float = 20.0,
    python: str = sys.executable,
    pythonpath: Sequence[str] = (),
) -> Iterator[LiveGunicorn]:
    """Start ``gunicorn sample_app:app`` and stop it (TERM, then KILL)."""
    port = free_port()
    stdout_path = tmp_path / f"gunicorn-{port}.out"
    stderr_path = tmp_path / f"gunicorn-{port}.err"
    command = [
        python,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--chdir",
        str(SAMPLE_APP_DIR),
        # Gunicorn >= 25.1 otherwise creates ~/.gunicorn/gunicorn.ctl, shared
        # by every server of this user: tests must not touch other servers'.
        "--no-control-socket",
    ]
    if access_log:
        command += ["--access-logfile", "-"]
    if access_log_format is not None:
        command += ["--access-logformat", access_log_format]
    command += [*extra_args, "sample_app:app"]
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
    server = LiveGunicorn(process, port, stdout_path, stderr_path)
    try:
        _wait_until_serving(server, workers, start_timeout_s)
        yield server
    finally:
        _stop(process)


def _wait_until_serving(server: LiveGunicorn, workers: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {server.process.returncode}:\n"
                + "\n".join(server.stderr_lines()[-20:])
            )
        booted = sum("Booting worker" in line for line in server.stderr_lines())
        if booted >= workers:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", server.port), timeout=0.5),
            ):
                return
        time.sleep(0.05)
    raise RuntimeError(
        "gunicorn did not start serving in time:\n" + "\n".join(server.stderr_lines())
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
