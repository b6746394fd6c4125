"""Real Gunicorn servers on the host, serving the bundled sample app on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

import gunicorn_tui.demo.sample_app as sample_app
from tests.harness.loopback import LOOPBACK, free_port, wait_http

SAMPLE_APP_DIR = Path(sample_app.__file__).resolve().parent
SAMPLE_APP = "sample_app:app"


@dataclass(frozen=True)
class LocalGunicorn:
    """One Gunicorn master started by the harness, and where its files are."""

    process: subprocess.Popen[bytes]
    port: int
    # Working directory and XDG_RUNTIME_DIR of the server: Gunicorn >= 25.1
    # puts its control socket, gunicorn.ctl, here.
    runtime_dir: Path
    # stdout and stderr of the server (the error log, and the access log if
    # the test asks for it on stdout).
    log_path: Path

    @property
    def pid(self) -> int:
        """The master's pid."""
        return self.process.pid

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def control_socket_path(self) -> Path:
        """Where Gunicorn >= 25.1 puts its control socket for this server."""
        return self.runtime_dir / "gunicorn.ctl"

    def log_text(self) -> str:
        """What the server has written so far."""
        return self.log_path.read_text(errors="replace")


class LocalGunicornFactory:
    """Starts ``python -m gunicorn`` servers and stops them, workers included."""

    def __init__(self) -> None:
        self._servers: list[LocalGunicorn] = []

    def start(
        self,
        *args: str,
        app: str = SAMPLE_APP,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float = 20.0,
    ) -> LocalGunicorn:
        """Start Gunicorn with extra ``args`` and wait until it serves /health.

        It binds 127.0.0.1 on ``port`` (a free one by default) and runs in a
        fresh temporary directory that is also its XDG_RUNTIME_DIR, so its
        control socket cannot collide with another server's. ``app`` is
        imported from the sample app's directory (``--pythonpath``).
        """
        port = free_port() if port is None else port
        # Short path under /tmp: a unix socket path must fit in 108 bytes.
        runtime_dir = Path(tempfile.mkdtemp(prefix="gtui-gunicorn-"))
        log_path = runtime_dir / "gunicorn.log"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--pythonpath",
            str(SAMPLE_APP_DIR),
            "--chdir",
            str(runtime_dir),
            "--bind",
            f"{LOOPBACK}:{port}",
            *args,
            app,
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=runtime_dir,
                env={**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir), **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group, so teardown can reach orphaned workers.
                start_new_session=True,
            )
        server = LocalGunicorn(process, port, runtime_dir, log_path)
        self._servers.append(server)

        def still_running() -> None:
            if process.poll() is not None:
                raise AssertionError(
                    f"gunicorn exited (code {process.returncode}) before serving:\n"
                    f"{server.log_text()[-3000:]}"
                )

        try:
            wait_http(port, "/health", timeout_s, check=still_running)
        except BaseException:
            self.stop(server)
            raise
        return server

    def stop(self, server: LocalGunicorn, grace_s: float = 10.0) -> None:
        """TERM the master, wait up to ``grace_s``, then kill whatever is left.

        Also removes the server's runtime directory, log included.
        """
        tree: list[psutil.Process] = []
        # Only while the master is unreaped is its pid surely still its own.
        if server.process.poll() is None:
            try:
                tree = [psutil.Process(server.pid)]
                tree += tree[0].children(recursive=True)
            except psutil.NoSuchProcess:
                tree = []
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
            try:
                server.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                # The master still runs, so its pid is still its process group.
                os.killpg(server.pid, signal.SIGKILL)
                server.process.wait(timeout=5)
        for process in tree:
            try:
                if process.is_running():
                    process.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(tree, timeout=5)
        shutil.rmtree(server.runtime_dir, ignore_errors=True)
        if server in self._servers:
            self._servers.remove(server)

    def close(self) -> None:
        """Stop every server this factory started."""
        for server in list(self._servers):
            self.stop(server)
