"""A second, private Docker daemon that a test may stop and start at will.

The machine's dockerd is shared with colleagues and must never be stopped.
This one has its own socket, data root, exec root and pidfile under a
temporary directory, its own network namespace, no bridge and no iptables
rules, and runs no
containers: it exists so that a test can watch gtui lose a daemon and find
it again.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


def _own_network_namespace() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RuntimeError("unshare (util-linux) is not installed")
    return [unshare, "--net", "--"]


class ThrowawayDockerd:
    """Starts and stops one private dockerd; ``close()`` removes every trace."""

    def __init__(self) -> None:
        # Short path: a unix socket path must fit in 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="gtui-dockerd-"))
        self.socket_path = self.root / "docker.sock"
        self.log_path = self.root / "dockerd.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """The DOCKER_HOST value that reaches this daemon."""
        return f"unix://{self.socket_path}"

    def start(self) -> None:
        """Start the daemon and wait until its socket answers a ping."""
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise RuntimeError("dockerd is not installed")
        with self.log_path.open("ab") as log:
            # In a network namespace of its own: a dockerd with --bridge none
            # deletes the host's docker0 at start, which breaks every bridge
            # container started on the shared engine after it.
            self._process = subprocess.Popen(
                [
                    *_own_network_namespace(),
                    dockerd,
                    "--host", self.host,
                    "--data-root", str(self.root / "data"),
                    "--exec-root", str(self.root / "exec"),
                    "--pidfile", str(self.root / "docker.pid"),
                    "--bridge", "none",
                    "--iptables=false",
                    "--ip-masq=false",
                    "--ip-forward=false",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dockerd did not start:\n{self.log_text()[-2000:]}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        done = subprocess.run(
            ["docker", "--host", self.host, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return done.returncode == 0

    def stop(self) -> None:
        """TERM the daemon (and so its containerd), KILL what is left after a while."""
        process = self._process
        if process is None:
            return
        self._process = None
        try:
            tree = [psutil.Process(process.pid)]
            tree += tree[0].children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for leftover in tree:
            try:
                if leftover.is_running():
                    leftover.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(tree, timeout=5)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def close(self) -> None:
        """Stop the daemon and remove its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
