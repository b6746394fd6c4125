"""The watcher's standard-library reader of the local engine socket, against
the real engine (and, for what is not an engine, a real unix socket server).

The watcher's behaviour over events (containers that come and go, a daemon
that goes away) is tested in test_docker_events.py, which now runs on this
reader for the local socket.
"""

from __future__ import annotations

import json
import os
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import docker
import pytest

from gunicorn_tui.access.engine_connect import lite_api
from gunicorn_tui.access.engine_lite import LiteEngineApi, LiteEngineError
from gunicorn_tui.discovery.docker_engine import ContainerWatcher, DaemonState
from tests.harness.containers import NAME_PREFIX, ContainerFactory
from tests.images import tags

SOCKET_URL = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _lite() -> LiteEngineApi:
    make = lite_api(SOCKET_URL)
    assert make is not None, f"not a unix socket: {SOCKET_URL}"
    api = make()
    api.check()
    return api


def _sleeper(container_factory: ContainerFactory, label: str) -> Any:
    name = f"{NAME_PREFIX}lite-{label}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    return container_factory.start(tags.PLAIN, ["sleep", "120"], name=name)


def test_the_reader_answers_what_docker_py_answers(
    container_factory: ContainerFactory, docker_client: docker.DockerClient
) -> None:
    container = _sleeper(container_factory, "same")
    api = _lite()
    assert api.info()["ID"] == docker_client.api.info()["ID"]
    assert api.info()["DockerRootDir"] == docker_client.api.info()["DockerRootDir"]

    ours = {c["Id"] for c in api.containers(filters={"status": "running"})}
    theirs = {c["Id"] for c in docker_client.api.containers(filters={"status": "running"})}
    assert container.id in ours
    # Other checkouts start and stop containers on this engine meanwhile.
    assert container.id in theirs

    mine = api.inspect_container(container.name)
    reference = docker_client.api.inspect_container(container.id)
    assert mine.keys() == reference.keys()
    for key in ("Id", "Name", "Path", "Args", "Config", "HostConfig"):
        assert mine[key] == reference[key], key
    assert mine["State"]["Pid"] == reference["State"]["Pid"] > 0

    with pytest.raises(LookupError):
        api.inspect_container(f"{NAME_PREFIX}no-such-{uuid.uuid4().hex}")


def test_events_arrive_and_the_stream_closes_from_another_thread(
    container_factory: ContainerFactory,
) -> None:
    api = _lite()
    stream = api.events(int(time.time()) - 1, {"type": "container"})
    seen: list[Mapping[str, Any]] = []
    ended = threading.Event()

    def follow() -> None:
        for event in stream:
            seen.append(event)
        ended.set()

    threading.Thread(target=follow, daemon=True).start()
    container = _sleeper(container_factory, "events")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        e.get("Action") == "start" and (e.get("Actor") or {}).get("ID") == container.id
        for e in seen
    ):
        time.sleep(0.1)
    assert any(
        e.get("Action") == "start" and (e.get("Actor") or {}).get("ID") == container.id
        for e in seen
    ), seen[-5:]
    stream.close()
    assert ended.wait(10), "the events stream did not end after close()"


class _NotDocker(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"hello": "I am not an engine"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _UnixHttpServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[Any, Any]:
        request, _ = super().get_request()
        return request, ("local", 0)  # BaseHTTPRequestHandler wants a (host, port)


@pytest.fixture
def not_docker_socket(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "not-docker.sock"
    server = _UnixHttpServer(str(path), _NotDocker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"unix://{path}"
    finally:
        server.shutdown()
        server.server_close()


def _watch(url: str) -> ContainerWatcher:
    watcher = ContainerWatcher(lite=lite_api(url, 5.0), address=url, name="t")
    watcher.start(wait_s=10)
    return watcher


def test_a_socket_that_is_not_an_engine_and_a_missing_one_say_so_in_one_line(
    not_docker_socket: str, tmp_path: Path
) -> None:
    make = lite_api(not_docker_socket)
    assert make is not None
    with pytest.raises(LiteEngineError, match="not a Docker engine"):
        make().check()

    watcher = _watch(not_docker_socket)
    try:
        status = watcher.status()
        assert status.state is DaemonState.UNREACHABLE
        assert (
            status.message
            == f"{not_docker_socket}: answers, but is not a Docker engine (no ApiVersion)"
        )
        assert watcher.client is None
    finally:
        watcher.stop()

    missing = f"unix://{tmp_path / 'absent.sock'}"
    watcher = _watch(missing)
    try:
        assert watcher.status().message == f"Docker daemon not reachable at {missing}"
    finally:
        watcher.stop()


_CHILD = """
import json, sys, time
from gunicorn_tui.access.engine_connect import EngineConnector, lite_api
from gunicorn_tui.access.endpoints import EngineEndpoint
from gunicorn_tui.discovery.docker_engine import ContainerWatcher

url, name = sys.argv[1], sys.argv[2]
watcher = ContainerWatcher(
    connector=EngineConnector(EngineEndpoint("local", url, "test", None)),
    lite=lite_api(url),
    address=url,
)
watcher.start(wait_s=20)
state = watcher.status().state.value
found = watcher.find(name)
before = "docker" in sys.modules
client = watcher.client
after = "docker" in sys.modules
version = client.api.version()["ApiVersion"] if client is not None else None
watcher.stop()
print(json.dumps({
    "state": state,
    "found": found.ref.id if found else None,
    "pid": found.main_pid if found else None,
    "docker_before_client": before,
    "docker_after_client": after,
    "api_version": version,
}))
"""


def test_the_local_socket_is_watched_without_docker_py_until_a_client_is_asked_for(
    container_factory: ContainerFactory,
) -> None:
    container = _sleeper(container_factory, "nodockerpy")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, SOCKET_URL, container.name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    container.reload()
    assert report["state"] == "connected"
    assert report["found"] == container.id
    assert report["pid"] == container.attrs["State"]["Pid"]
    assert report["docker_before_client"] is False
    assert report["docker_after_client"] is True
    assert report["api_version"]
