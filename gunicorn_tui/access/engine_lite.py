"""Reading a local engine's container list without docker-py.

The watcher needs four read-only calls of the Engine API to know what runs
(``/version``, ``/info``, ``/containers/json``, ``/containers/ID/json``) and
one stream to stay current (``/events``). On this machine's unix socket they
are plain HTTP/1.1, which the standard library speaks: importing docker-py
(requests, urllib3, their TLS stack: about a third of a second of CPU here)
would be the largest part of the dashboard's first frame. docker-py is still
what every other call uses (logs, exec, archives, actions); it is loaded when
first asked for (see :class:`gunicorn_tui.discovery.docker_engine.ContainerWatcher`).

Only ``unix://`` endpoints are read this way: TLS, contexts over the network
and SSH stay with docker-py and our SSH transport.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

# The newest API version docker-py (the rest of gtui) speaks; the server's own
# is used when it is older, as docker-py does, so both read the same fields.
MAX_API_VERSION = (1, 45)
# A hostile container can carry large labels and environments; an answer this
# big is not a container list we want to hold.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
_MAX_EVENT_LINE_BYTES = 1024 * 1024


class LiteEngineError(Exception):
    """The socket did not answer as a Docker engine; the message says why."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _version_tuple(text: str) -> tuple[int, int] | None:
    major, _, minor = text.partition(".")
    if major.isdigit() and minor.isdigit():
        return int(major), int(minor)
    return None


class EventStream:
    """Decoded events of one ``/events`` answer; :meth:`close` ends it from
    another thread."""

    def __init__(self, connection: _UnixConnection, answer: http.client.HTTPResponse) -> None:
        self._connection = connection
        self._answer = answer
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        decoder = json.JSONDecoder()
        while not self._closed.is_set():
            try:
                line = self._answer.readline(_MAX_EVENT_LINE_BYTES)
            except Exception:
                # close() from another thread leaves http.client mid-chunk
                # (ValueError, AttributeError on its closed file): the end.
                if self._closed.is_set():
                    return
                raise
            if not line:
                return
            text = line.decode("utf-8", "replace").strip()
            while text:
                event, end = decoder.raw_decode(text)
                if isinstance(event, dict):
                    yield event
                text = text[end:].lstrip()

    def close(self) -> None:
        self._closed.set()
        sock = self._connection.sock
        if sock is not None:
            # shutdown wakes a readline blocked in another thread; close alone may not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._connection.close()


class LiteEngineApi:
    """The watcher's read-only calls on a local Engine API socket, with the
    answers docker-py's low-level client gives for the same calls."""

    def __init__(self, socket_path: str, timeout_s: float) -> None:
        self._path = socket_path
        self._timeout_s = timeout_s
        self._prefix = ""

    def check(self) -> None:
        """Ask ``/version``; raise :class:`LiteEngineError` unless a Docker
        engine answers, and speak its API version from here on."""
        version = self._get("/version")
        server = _version_tuple(str(version.get("ApiVersion") or ""))
        if server is None:
            raise LiteEngineError("answers, but is not a Docker engine (no ApiVersion)")
        major, minor = min(server, MAX_API_VERSION)
        self._prefix = f"/v{major}.{minor}"

    def info(self) -> Mapping[str, Any]:
        return self._get(f"{self._prefix}/info")

    def containers(self, filters: Mapping[str, str] | None = None) -> list[Mapping[str, Any]]:
        query = f"?{urlencode({'filters': _filters(filters)})}" if filters else ""
        answer = self._get_any(f"{self._prefix}/containers/json{query}")
        if not isinstance(answer, list):
            raise LiteEngineError("container list is not a list")
        return [c for c in answer if isinstance(c, dict)]

    def inspect_container(self, container: str) -> Mapping[str, Any]:
        return self._get(f"{self._prefix}/containers/{quote(container, safe='')}/json")

    def events(self, since: int, filters: Mapping[str, str]) -> EventStream:
        """The engine's events from ``since`` on, as they happen (no timeout)."""
        query = urlencode({"since": str(since), "filters": _filters(filters)})
        connection = _UnixConnection(self._path, self._timeout_s)
        try:
            connection.request("GET", f"{self._prefix}/events?{query}")
            answer = connection.getresponse()
            if answer.status != 200:
                raise LiteEngineError(f"/events answered HTTP {answer.status}")
            if connection.sock is not None:
                connection.sock.settimeout(None)  # quiet engines send nothing for hours
        except BaseException:
            connection.close()
            raise
        return EventStream(connection, answer)

    def _get(self, path: str) -> Mapping[str, Any]:
        answer = self._get_any(path)
        if not isinstance(answer, dict):
            raise LiteEngineError(f"{path.split('?')[0]}: answer is not a JSON object")
        return answer

    def _get_any(self, path: str) -> Any:
        connection = _UnixConnection(self._path, self._timeout_s)
        try:
            connection.request("GET", path)
            answer = connection.getresponse()
            body = answer.read(MAX_ANSWER_BYTES + 1)
        finally:
            connection.close()
        if len(body) > MAX_ANSWER_BYTES:
            raise LiteEngineError(f"{path.split('?')[0]}: answer larger than 64 MiB")
        if answer.status == 404 and "/containers/" in path:
            raise LookupError(path)
        if answer.status != 200:
            raise LiteEngineError(f"{path.split('?')[0]}: HTTP {answer.status}")
        try:
            return json.loads(body)
        except ValueError as error:
            raise LiteEngineError("answers, but is not a Docker engine (not JSON)") from error


def _filters(filters: Mapping[str, str] | None) -> str:
    # The API takes each filter as a list of values (docker-py converts the same way).
    return json.dumps({key: [value] for key, value in (filters or {}).items()})


def socket_path(url: str) -> str | None:
    """The socket file of a ``unix://`` URL, else None."""
    if not url.startswith("unix://"):
        return None
    path = url[len("unix://") :]
    return path if path.startswith("/") else None
