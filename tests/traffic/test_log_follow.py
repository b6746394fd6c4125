"""Log followers: line splitting, Docker frame demultiplexing, a host file
through rotation and truncation (written by a real Gunicorn), and a real
container's log stream across a restart."""

from __future__ import annotations

import os
import signal
import struct
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gunicorn_tui.traffic.access_log_format import DEFAULT_ACCESS_LOG_FORMAT, AccessLogParser
from gunicorn_tui.traffic.log_follow import (
    DockerLogDemuxer,
    DockerLogFollower,
    FileFollower,
    LineSplitter,
    LogLine,
    LogStream,
)
from tests.traffic.live_gunicorn import free_port, run_gunicorn

PID_D = DEFAULT_ACCESS_LOG_FORMAT + " %(p)s %(D)s"


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    chunks, start = [], 0
    for point in [*points, len(data)]:
        chunks.append(data[start:point])
        start = point
    return chunks


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    tail=st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
    cuts=st.lists(st.integers(0, 2000), max_size=20),
)
def test_line_splitter_is_independent_of_chunking(
    lines: list[bytes], tail: bytes, cuts: list[int]
) -> None:
    data = b"".join(line + b"\n" for line in lines) + tail
    splitter = LineSplitter()
    got: list[str] = []
    for chunk in _cut(data, cuts):
        got += splitter.feed(chunk)
    expected = [line.decode("utf-8", "replace").removesuffix("\r") for line in lines]
    assert got == expected
    assert splitter.flush() == (
        [tail.decode("utf-8", "replace").removesuffix("\r")] if tail else []
    )


def test_line_splitter_cuts_over_long_lines_and_goes_on() -> None:
    splitter = LineSplitter(max_line_bytes=10)
    got = splitter.feed(b"short\n" + b"x" * 25)
    got += splitter.feed(b"y" * (2 << 20) + b"\nafter\n")  # over 1 MB more of the same line
    assert got == ["short", "x" * 10, "after"]
    assert splitter.oversized == 1


def _frame(stream_id: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream_id, len(payload)) + payload


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=50)), max_size=30),
    cuts=st.lists(st.integers(0, 3000), max_size=25),
)
def test_demuxer_reassembles_each_stream(frames: list[tuple[int, bytes]], cuts: list[int]) -> None:
    data = b"".join(_frame(stream_id, payload) for stream_id, payload in frames)
    demuxer = DockerLogDemuxer(tty=False)
    got: list[LogLine] = []
    for chunk in _cut(data, cuts):
        got += demuxer.feed(chunk)
    got += demuxer.flush()
    for stream, stream_id in ((LogStream.STDOUT, 1), (LogStream.STDERR, 2)):
        joined = b"".join(payload for sid, payload in frames if sid == stream_id)
        expected = [p.decode("utf-8", "replace").removesuffix("\r") for p in joined.split(b"\n")]
        if expected and expected[-1] == "":
            expected.pop()
        assert [line.text for line in got if line.stream is stream] == expected
    assert demuxer.malformed_frames == 0


def test_demuxer_tty_and_corrupt_streams() -> None:
    tty = DockerLogDemuxer(tty=True)
    assert tty.feed(b"[2026] boot\r\nGET /") + tty.feed(b" 200\n") == [
        LogLine(LogStream.STDOUT, "[2026] boot"),
        LogLine(LogStream.STDOUT, "GET / 200"),
    ]
    corrupt = DockerLogDemuxer(tty=False)
    assert corrupt.feed(_frame(1, b"ok\n") + b"\x07garbage-garbage") == [
        LogLine(LogStream.STDOUT, "ok")
    ]
    assert corrupt.malformed_frames == 1
    assert corrupt.feed(_frame(2, b"again\n")) == [LogLine(LogStream.STDERR, "again")]


def test_file_follower_plain_rotation_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text("old line, before the follower\n")
    follower = FileFollower(path)
    assert follower.poll() == []
    with path.open("a") as log:
        log.write("one\ntw")
        log.flush()
        assert follower.poll() == ["one"]
        log.write("o\n")
    assert follower.poll() == ["two"]
    # logrotate's default: rename, the writer goes on in the old file for a
    # moment, then a new file appears.
    rotated = tmp_path / "access.log.1"
    path.rename(rotated)
    with rotated.open("a") as log:
        log.write("late in the old file\n")
    assert follower.poll() == ["late in the old file"]
    path.write_text("first of the new file\n")
    assert follower.poll() == ["first of the new file"]
    assert follower.rotations == 1
    # copytruncate: copy, then truncate in place; writes go on at 0.
    with path.open("r+") as log:
        log.truncate(0)
    with path.open("a") as log:
        log.write("after truncation\n")
    assert follower.poll() == ["after truncation"]
    assert follower.truncations == 1
    follower.close()


def test_file_follower_waits_for_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    follower = FileFollower(path)
    assert follower.poll() == []
    path.write_text("a\nb\n")
    assert follower.poll() == ["a", "b"]


def _wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


def test_file_follower_with_a_real_gunicorn_through_rotation(tmp_path: Path) -> None:
    access_log = tmp_path / "gunicorn-access.log"
    args = ["--access-logfile", str(access_log)]
    got: list[str] = []

    def collect(count: int) -> None:
        deadline = time.monotonic() + 10
        while len(got) < count and time.monotonic() < deadline:
            got.extend(follower.poll())
            time.sleep(0.05)

    with run_gunicorn(tmp_path, args, access_log=False, access_log_format=PID_D) as server:
        follower = FileFollower(access_log)
        for index in range(5):
            server.get(f"/items/{index}")
        collect(5)
        # Rotate by rename, then ask Gunicorn to reopen its logs (USR1).
        access_log.rename(tmp_path / "gunicorn-access.log.1")
        server.get("/items/100")  # still written to the renamed file
        server.process.send_signal(signal.SIGUSR1)
        _wait_for(access_log.exists)
        for index in range(101, 104):
            server.get(f"/items/{index}")
        collect(9)
        # copytruncate: Gunicorn appends (O_APPEND), so it writes at 0 after.
        os.truncate(access_log, 0)
        for index in range(200, 202):
            server.get(f"/items/{index}")
        collect(11)
    parser = AccessLogParser(PID_D)
    paths = [record.path for record in map(parser.parse, got) if record is not None]
    assert paths == [f"/items/{index}" for index in (0, 1, 2, 3, 4, 100, 101, 102, 103, 200, 201)]
    assert follower.rotations == 1 and follower.truncations == 1


# --- a real container -----------------------------------------------------

IMAGE = "gtui-test/gunicorn:latest"


def _docker_client() -> object:
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env()
        client.ping()
        client.images.get(IMAGE)
    except Exception as error:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"needs a Docker engine and {IMAGE} (tests/images/build.py): {error}")
    return client


def _http_get(port: int, path: str) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        response.read()


@pytest.mark.docker
@pytest.mark.parametrize("tty", [False, True])
def test_docker_follower_across_a_restart(tty: bool) -> None:
    client = _docker_client()
    port = free_port()
    name = f"gtui-traffic-test-{uuid.uuid4().hex[:8]}"
    command = [
        "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--no-control-socket",
        "--graceful-timeout", "1",
        "--access-logfile", "-", "--access-logformat", PID_D, "app:app",
    ]  # fmt: skip
    container = client.containers.run(  # type: ignore[attr-defined]
        IMAGE, command, name=name, detach=True, network_mode="host", tty=tty
    )
    received: list[LogLine] = []
    try:
        _wait_for(lambda: container.logs().count(b"Booting worker") >= 2)
        # Lines from before the follower starts are not delivered.
        follower = DockerLogFollower(client, container.id, lambda lines, at: received.extend(lines))
        follower.start()
        time.sleep(0.5)
        for index in range(6):
            _http_get(port, f"/items/{index}")
        _wait_for(lambda: sum("/items/" in line.text for line in received) >= 6)
        container.restart(timeout=5)
        _wait_for(lambda: sum("Booting worker" in line.text for line in received) >= 2)
        _wait_for(lambda: _port_open(port))
        for index in range(6, 10):
            _http_get(port, f"/items/{index}")
        _wait_for(lambda: sum("/items/" in line.text for line in received) >= 10)
        time.sleep(0.3)
        follower.stop()
    finally:
        container.remove(force=True)
    assert not follower.running
    assert follower.connections >= 2
    parser = AccessLogParser(PID_D)
    access = [line for line in received if parser.parse(line.text) is not None]
    paths = [
        record.path
        for record in (parser.parse(line.text) for line in access)
        if record is not None and record.path is not None
    ]
    # Each once. Not in request order: with two workers, a line is written
    # after its response, so the next request's line can come first.
    assert sorted(paths) == sorted(f"/items/{index}" for index in range(10))
    boots = [line for line in received if "Booting worker" in line.text]
    assert len(boots) == 2  # only the restart's: the first boot was before "now"
    if tty:
        assert {line.stream for line in received} == {LogStream.STDOUT}
    else:
        assert {line.stream for line in access} == {LogStream.STDOUT}
        assert {line.stream for line in boots} == {LogStream.STDERR}
    assert follower.malformed_frames == 0


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.docker
def test_docker_follower_keeps_one_stream_through_quiet_time() -> None:
    # A client timeout of 1 s: before, each quiet second ended the stream
    # (read timeout) and the follower reconnected, once per timeout.
    docker = pytest.importorskip("docker")
    _docker_client()
    client = docker.from_env(timeout=1)
    port = free_port()
    name = f"gtui-traffic-test-{uuid.uuid4().hex[:8]}"
    command = [
        "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket",
        "--access-logfile", "-", "--access-logformat", PID_D, "app:app",
    ]  # fmt: skip
    container = client.containers.run(IMAGE, command, name=name, detach=True, network_mode="host")
    received: list[LogLine] = []
    try:
        _wait_for(lambda: b"Booting worker" in container.logs())
        _wait_for(lambda: _port_open(port))
        follower = DockerLogFollower(client, container.id, lambda lines, at: received.extend(lines))
        follower.start()
        time.sleep(3.5)  # nothing logged: three and a half read timeouts
        _http_get(port, "/items/1")
        _wait_for(lambda: any("/items/1" in line.text for line in received))
        assert follower.connections == 1
        assert follower.last_error is None
        # stop() must wake the read that has no timeout, at once.
        started = time.monotonic()
        follower.stop(timeout_s=5.0)
        assert time.monotonic() - started < 1.0
        assert not follower.running
    finally:
        container.remove(force=True)
