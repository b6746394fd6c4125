"""Docker's API over the system ``ssh``, as ``docker -H ssh://HOST`` does it.

Each HTTP connection is ``ssh HOST docker system dial-stdio``: the system
``ssh`` binary, so ``~/.ssh/config``, agents, ProxyJump and known_hosts work
as they do for the Docker CLI. All of them share one SSH connection: an
:class:`SshSession` keeps a master (``ssh -M -N``) whose control socket sits
in a private directory, and every channel (the events stream, API calls, a
remote ``gtui agent``) is multiplexed over it. docker-py's own
``use_ssh_client`` shells out the same way but imports paramiko at load time
and starts one full SSH connection per pooled HTTP connection, without
BatchMode or timeouts.

Never a prompt, never a hang: ``BatchMode=yes`` (a password or passphrase
prompt or an unknown host key fails, with ssh's reason), ``ConnectTimeout``,
``ServerAlive*`` (a dead peer is noticed in seconds), and reads that time out.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import IO, Any

import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool

CONNECT_TIMEOUT_S = 5
_ALIVE_INTERVAL_S = 3
_ALIVE_COUNT = 2
_MASTER_WAIT_S = CONNECT_TIMEOUT_S + 3.0
# ssh's lines that say why it failed, best first.
_REASONS = (
    "REMOTE HOST IDENTIFICATION HAS CHANGED",
    "Host key verification failed",
    "Permission denied",
    "Could not resolve hostname",
    "Connection refused",
    "Connection timed out",
    "No route to host",
    "command not found",
    "not found",
)


def stop_child(proc: subprocess.Popen[Any], timeout_s: float) -> None:
    """Stop a child of ours: SIGTERM, then SIGKILL if it is still there
    after ``timeout_s``; reaped either way."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)


class SshFailed(ConnectionError):
    """ssh could not reach the host or run the command; the message is ssh's reason."""


def ssh_reason(stderr_text: str, exit_code: int | None) -> str:
    """The line of ssh's stderr that says why it failed (one line)."""
    lines = [line.strip().removeprefix("ssh: ") for line in stderr_text.splitlines()]
    lines = [line for line in lines if line]
    for marker in _REASONS:
        for line in lines:
            if marker in line:
                if marker == "REMOTE HOST IDENTIFICATION HAS CHANGED":
                    return "host key mismatch: REMOTE HOST IDENTIFICATION HAS CHANGED"
                if marker == "Permission denied":
                    return f"{line} (BatchMode: no password or passphrase prompt)"
                return line[:200]
    if lines:
        return lines[-1][:200]
    return f"ssh exited with status {exit_code}" if exit_code is not None else "ssh failed"


class SshSession:
    """One SSH connection to a host, shared by every channel to it."""

    def __init__(
        self, user: str | None, host: str, port: int | None, *, ssh_binary: str = "ssh"
    ) -> None:
        self.user, self.host, self.port = user, host, port
        self._ssh = ssh_binary
        self._dir = tempfile.mkdtemp(prefix="gtui-ssh-")  # 0700
        self.control_path = os.path.join(self._dir, "master")
        self._master: subprocess.Popen[bytes] | None = None
        self._master_log: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _base(self) -> list[str]:
        argv = [
            self._ssh,
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}",
            "-o", f"ServerAliveInterval={_ALIVE_INTERVAL_S}",
            "-o", f"ServerAliveCountMax={_ALIVE_COUNT}",
            "-o", f"ControlPath={self.control_path}",
        ]  # fmt: skip
        if self.user:
            argv += ["-l", self.user]
        if self.port:
            argv += ["-p", str(self.port)]
        return argv

    def command(self, remote: Sequence[str], *, tty: bool = False) -> list[str]:
        """argv of ``ssh HOST REMOTE...`` over the shared connection (a direct
        one when the master is down)."""
        return [*self._base(), "-o", "ControlMaster=no", "-T", "--", self.host, *remote]

    def ensure(self) -> None:
        """Start the master connection if it does not run; SshFailed with ssh's
        reason when the host cannot be reached (never a prompt)."""
        with self._lock:
            if self._closed:
                raise SshFailed("ssh session closed")
            master = self._master
            if master is not None and master.poll() is None and os.path.exists(self.control_path):
                return
            self._stop_master()
            log = tempfile.TemporaryFile(dir=self._dir)  # noqa: SIM115 (kept while ssh runs)
            # Compression: the Docker API's JSON (a stats document per
            # container per second) shrinks several times over a slow link.
            argv = [*self._base(), "-M", "-N", "-o", "ControlPersist=no", "-o", "Compression=yes",
                    "--", self.host]  # fmt: skip
            master = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # no terminal to prompt on, no Ctrl-C of ours
            )
            self._master, self._master_log = master, log
            deadline = time.monotonic() + _MASTER_WAIT_S
            while time.monotonic() < deadline:
                if os.path.exists(self.control_path):
                    return
                if master.poll() is not None:
                    break
                time.sleep(0.02)
            code = master.poll()
            log.seek(0)
            text = log.read().decode("utf-8", "replace")
            self._stop_master()
            if code is None:
                raise SshFailed(f"ssh {self.host}: no answer in {_MASTER_WAIT_S:.0f} s")
            raise SshFailed(f"ssh {self.host}: {ssh_reason(text, code)}")

    def _stop_master(self) -> None:
        master, self._master = self._master, None
        if master is not None:
            stop_child(master, 2.0)
        if self._master_log is not None:
            self._master_log.close()
            self._master_log = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.control_path)

    @property
    def master_pid(self) -> int | None:
        master = self._master
        return master.pid if master is not None and master.poll() is None else None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._stop_master()
        shutil.rmtree(self._dir, ignore_errors=True)


class _StdioSocket:
    """A socket-like face of ``ssh HOST docker system dial-stdio``: what
    http.client and docker-py's stream helpers call."""

    def __init__(self, session: SshSession, remote: Sequence[str], timeout_s: float | None):
        self._timeout = timeout_s
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self._proc = subprocess.Popen(
            session.command(remote),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
        )
        self._host = session.host
        self._got_any = False

    def fileno(self) -> int:
        stdout = self._proc.stdout
        return stdout.fileno() if stdout is not None else -1

    def settimeout(self, timeout_s: float | None) -> None:
        self._timeout = timeout_s

    def gettimeout(self) -> float | None:
        return self._timeout

    def setsockopt(self, *args: object) -> None:
        return None

    def sendall(self, data: bytes) -> None:
        stdin = self._proc.stdin
        if stdin is None or stdin.closed:
            raise SshFailed(f"ssh {self._host}: channel closed")
        try:
            stdin.write(data)
            stdin.flush()
        except (BrokenPipeError, ValueError) as error:
            raise self._failure() from error

    def send(self, data: bytes) -> int:
        self.sendall(data)
        return len(data)

    def recv_into(self, buffer: memoryview) -> int:
        fd = self.fileno()
        if fd < 0:
            return 0
        ready, _, _ = select.select([fd], [], [], self._timeout)
        if not ready:
            raise TimeoutError(f"ssh {self._host}: no answer in {self._timeout} s")
        data = os.read(fd, len(buffer))
        if not data and not self._got_any:
            raise self._failure()
        self._got_any = True
        buffer[: len(data)] = data
        return len(data)

    def recv(self, size: int) -> bytes:
        buffer = bytearray(size)
        count = self.recv_into(memoryview(buffer))
        return bytes(buffer[:count])

    def _failure(self) -> SshFailed:
        try:
            code = self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace")
        return SshFailed(f"ssh {self._host}: {ssh_reason(text, code)}")

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_StdioRaw(self))

    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        self.close()

    def close(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                if proc.stdin is not None:
                    proc.stdin.close()
            stop_child(proc, 2.0)
        for stream in (proc.stdout, proc.stdin):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()
        self._stderr.close()


class _StdioRaw(io.RawIOBase):
    """The raw reader under http.client's buffered file; ``_sock`` and ``sock``
    are what docker-py looks for to disable timeouts and cancel streams."""

    def __init__(self, sock: _StdioSocket) -> None:
        super().__init__()
        self.sock = sock
        self._sock = sock

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        # docker-py polls the hijacked connection of an exec or attach.
        return self.sock.fileno()

    def recv(self, size: int) -> bytes:
        return self.sock.recv(size)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def readinto(self, buffer: Any) -> int:
        return self.sock.recv_into(memoryview(buffer).cast("B"))

    def settimeout(self, timeout_s: float | None) -> None:
        self.sock.settimeout(timeout_s)

    def gettimeout(self) -> float | None:
        return self.sock.gettimeout()


class _SshConnection(urllib3.connection.HTTPConnection):
    def __init__(self, session: SshSession, remote: Sequence[str], timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self._session = session
        self._remote = remote
        self._timeout_s = timeout_s

    def connect(self) -> None:
        self._session.ensure()
        self.sock = _StdioSocket(self._session, self._remote, self._timeout_s)


class _SshPool(urllib3.connectionpool.HTTPConnectionPool):
    def __init__(
        self, session: SshSession, remote: Sequence[str], timeout_s: float, maxsize: int
    ) -> None:
        super().__init__("localhost", timeout=timeout_s, maxsize=maxsize)
        self._session = session
        self._remote = remote
        self._timeout_s = timeout_s

    def _new_conn(self) -> _SshConnection:
        return _SshConnection(self._session, self._remote, self._timeout_s)


class SshAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter whose connections are channels of an SshSession."""

    def __init__(
        self,
        session: SshSession,
        timeout_s: float,
        max_pool_size: int,
        remote: Sequence[str] = ("docker", "system", "dial-stdio"),
    ) -> None:
        self._pool = _SshPool(session, tuple(remote), timeout_s, max_pool_size)
        super().__init__()

    def get_connection(self, url: Any, proxies: Any = None) -> _SshPool:
        return self._pool

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> _SshPool:
        return self._pool

    def request_url(self, request: Any, proxies: Any) -> str:
        return str(request.path_url)

    def close(self) -> None:
        super().close()
        self._pool.close()
