"""Client for Gunicorn's control socket (Gunicorn >= 25.1).

Protocol: a 4-byte big-endian length, then JSON ``{"id", "command", "args"}``;
the reply is ``{"id", "status": "ok", "data"}`` or ``{"status": "error",
"error"}``. The socket has no authentication; it is protected by its file
mode (0600), so gtui reaches it as root or as the server's user.

Two ways in:
- directly, through ``/proc/<master pid>/root/<path>`` when the daemon is on
  this host (microseconds, no Docker events);
- through ``docker exec`` of a few lines of Python inside the container
  (remote daemons), batching all commands in one exec (~50 ms).
"""

from __future__ import annotations

import errno
import json
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_MAX_REPLY_BYTES = 16 * 1024 * 1024
# Unix socket paths longer than this cannot be connected to.
_SUN_PATH_MAX = 107


class ControlSocketError(Exception):
    """The control socket could not be reached or answered with an error."""


@dataclass(frozen=True)
class ControlReply:
    """One command's answer."""

    command: str
    ok: bool
    data: dict[str, Any]
    error: str | None


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 65536))
        if not chunk:
            raise ControlSocketError("control socket closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _reply(command: str, message: Any) -> ControlReply:
    if not isinstance(message, dict):
        return ControlReply(command, False, {}, "malformed reply")
    if message.get("status") == "ok":
        data = message.get("data")
        return ControlReply(command, True, data if isinstance(data, dict) else {}, None)
    return ControlReply(command, False, {}, str(message.get("error", "unknown error")))


class UnixSocketTransport:
    """Talks to a control socket reachable by path from this host."""

    def __init__(self, path: str, timeout_s: float = 1.0, retries: int = 3) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.retries = retries

    def _connect(self) -> socket.socket:
        if len(self.path.encode()) > _SUN_PATH_MAX:
            raise ControlSocketError(f"control socket path too long to connect: {self.path}")
        last_error: OSError | None = None
        for attempt in range(self.retries):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout_s)
            try:
                sock.connect(self.path)
                return sock
            except OSError as error:
                sock.close()
                last_error = error
                # Gunicorn unlinks and re-creates the socket around forks.
                if error.errno in (errno.ENOENT, errno.ECONNREFUSED) and attempt + 1 < self.retries:
                    time.sleep(0.02)
                    continue
                break
        raise ControlSocketError(f"cannot connect to {self.path}: {last_error}")

    def request(self, commands: Sequence[str]) -> list[ControlReply]:
        sock = self._connect()
        replies: list[ControlReply] = []
        try:
            for index, command in enumerate(commands, start=1):
                payload = json.dumps({"id": index, "command": command, "args": []}).encode()
                sock.sendall(struct.pack(">I", len(payload)) + payload)
                (length,) = struct.unpack(">I", _recv_exactly(sock, 4))
                if length > _MAX_REPLY_BYTES:
                    raise ControlSocketError(f"control socket reply too large ({length} bytes)")
                try:
                    message = json.loads(_recv_exactly(sock, length))
                except json.JSONDecodeError as error:
                    raise ControlSocketError(f"malformed control socket reply: {error}") from error
                replies.append(_reply(command, message))
        except OSError as error:
            raise ControlSocketError(f"control socket {self.path}: {error}") from error
        finally:
            sock.close()
        return replies


# Runs inside the container with its own python; prints one JSON list.
_EXEC_CLIENT = r"""
import json, socket, struct, sys
path, commands = sys.argv[1], json.loads(sys.argv[2])
out = []
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(path)
    for i, c in enumerate(commands, 1):
        p = json.dumps({"id": i, "command": c, "args": []}).encode()
        s.sendall(struct.pack(">I", len(p)) + p)
        def rx(n):
            b = b""
            while len(b) < n:
                k = s.recv(n - len(b))
                if not k:
                    raise OSError("closed")
                b += k
            return b
        n = struct.unpack(">I", rx(4))[0]
        out.append(json.loads(rx(n)))
except Exception as e:
    print(json.dumps({"transport_error": str(e)}))
    sys.exit(0)
print(json.dumps(out))
"""


class DockerExecTransport:
    """Talks to a control socket inside a container through ``docker exec``."""

    def __init__(self, container: Any, socket_path: str, python: str = "python3") -> None:
        self.container = container
        self.socket_path = socket_path
        self.python = python

    def request(self, commands: Sequence[str]) -> list[ControlReply]:
        try:
            result = self.container.exec_run(
                # Isolated (-I -S): nothing of the app's directory or environment
                # (a json.py next to it, PYTHONPATH) is imported by this client.
                [
                    self.python,
                    "-I",
                    "-S",
                    "-c",
                    _EXEC_CLIENT,
                    self.socket_path,
                    json.dumps(list(commands)),
                ],
                stdout=True,
                stderr=True,
            )
        except Exception as error:  # docker.errors.* and transport errors alike
            raise ControlSocketError(f"docker exec failed: {error}") from error
        output = result.output.decode("utf-8", "replace").strip() if result.output else ""
        try:
            decoded = json.loads(output.splitlines()[-1]) if output else None
        except json.JSONDecodeError as error:
            raise ControlSocketError(f"control socket via exec: {output[:200]}") from error
        if isinstance(decoded, dict) and "transport_error" in decoded:
            raise ControlSocketError(f"control socket in container: {decoded['transport_error']}")
        if not isinstance(decoded, list):
            raise ControlSocketError(f"control socket via exec: unexpected output {output[:200]}")
        return [
            _reply(command, message) for command, message in zip(commands, decoded, strict=False)
        ]
