"""Log paths: names of stdout and stderr (through links too), and a follower
that opens regular files only, never blocking on a FIFO or opening a device.

The FIFO and device cases run the follower on a thread with a deadline: on
a follower that opens paths as they come, ``open()`` of a FIFO without a
writer blocks forever.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from gunicorn_tui.model.instances import ConfigSetting, ConfigSource, GunicornConfig
from gunicorn_tui.traffic.hub import TrafficHub
from gunicorn_tui.traffic.log_follow import FileFollower
from gunicorn_tui.traffic.log_paths import (
    LogFileRef,
    NotARegularFile,
    open_regular,
    readlink_in_root,
    stdio_descriptor,
)
from tests.control.data import sample


def _links(table: dict[str, str]) -> Callable[[str], str | None]:
    return table.get


@pytest.mark.parametrize(
    ("path", "fd"),
    [
        ("/dev/stdout", 1),
        ("/dev/stderr", 2),
        ("/proc/self/fd/1", 1),
        ("/proc/self/fd/2", 2),
        ("/dev/fd/1", 1),
        ("//dev/./stdout", 1),
        ("/proc/self/fd/3", None),
        ("/var/log/access.log", None),
        ("/dev/stdout.log", None),
    ],
)
def test_names_of_stdout_and_stderr(path: str, fd: int | None) -> None:
    assert stdio_descriptor(path, _links({})) == fd


def test_links_to_stdout_are_followed_relative_and_absolute() -> None:
    links = {
        "/var/log/app/access.log": "../current.log",
        "/var/log/current.log": "/dev/stdout",
        "/var/log/app/error.log": "/dev/stderr",
        "/loop/a": "b",
        "/loop/b": "a",
    }
    assert stdio_descriptor("/var/log/app/access.log", _links(links)) == 1
    assert stdio_descriptor("/var/log/app/error.log", _links(links)) == 2
    assert stdio_descriptor("/loop/a", _links(links)) is None  # a loop ends


def test_host_readlink_reads_real_links(tmp_path: Path) -> None:
    os.symlink("/dev/stderr", tmp_path / "err.log")
    (tmp_path / "plain.log").write_text("")
    readlink = readlink_in_root(None)
    assert stdio_descriptor(str(tmp_path / "err.log"), readlink) == 2
    assert stdio_descriptor(str(tmp_path / "plain.log"), readlink) is None


def _in_thread(work: Callable[[], object], timeout_s: float = 5.0) -> object:
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as error:  # reported below
            box["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout_s)
    assert not thread.is_alive(), "blocked"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


def test_a_fifo_without_writer_is_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "access.fifo"
    os.mkfifo(fifo)
    follower = _in_thread(lambda: FileFollower(fifo))
    assert isinstance(follower, FileFollower)
    assert follower.problem == f"{fifo} is a FIFO: not read (that would take lines from its reader)"
    assert _in_thread(follower.poll) == []
    with pytest.raises(NotARegularFile) as raised:
        open_regular(LogFileRef(str(fifo)))
    assert raised.value.kind == "FIFO"


def test_a_fifo_with_a_writer_keeps_all_its_lines_for_its_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "access.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(fifo, os.O_WRONLY)
    try:
        follower = _in_thread(lambda: FileFollower(fifo))
        assert isinstance(follower, FileFollower)
        os.write(writer, b"one\ntwo\n")
        assert _in_thread(follower.poll) == []
        assert os.read(reader, 100) == b"one\ntwo\n"
    finally:
        os.close(writer)
        os.close(reader)


def test_a_device_is_not_opened_and_a_file_replacing_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    os.symlink("/dev/zero", path)  # reading it would never end
    follower = FileFollower(path)
    assert follower.problem == f"{path} is a character device: not read"
    assert follower.poll() == []
    path.unlink()
    path.write_text("first\nsecond\n")
    assert follower.poll() == ["first", "second"]
    assert follower.problem is None


def test_an_unreadable_path_is_a_problem_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "not-a-dir" / "access.log"
    (tmp_path / "not-a-dir").write_text("")
    follower = FileFollower(path)
    assert follower.problem is not None and "Not a directory" in follower.problem
    assert follower.poll() == []


def test_the_hub_plans_a_fifo_without_blocking_and_says_so(tmp_path: Path) -> None:
    fifo = tmp_path / "access.fifo"
    os.mkfifo(fifo)
    error_log = tmp_path / "error.log"
    given = ConfigSource.COMMAND_LINE
    settings = {
        "accesslog": ConfigSetting(str(fifo), given, given),
        "errorlog": ConfigSetting(str(error_log), given, given),
    }
    # This test's own process stands in for the master: only its pid is used.
    instance = replace(
        sample(container=False, master_pid=os.getpid()), config=GunicornConfig(settings)
    )
    hub = TrafficHub()
    try:
        views = _in_thread(lambda: hub.update([instance]))
        assert isinstance(views, dict)
        view = views[instance.key]
        assert view.sources == (f"file {error_log}",)
        assert view.notes == (f"access log {fifo} is a FIFO: not read; log to a regular file",)
        error_log.write_text("[2026-01-01 00:00:00 +0000] [1] [INFO] Booting worker with pid: 2\n")
        deadline = time.monotonic() + 5
        while hub.update([instance])[instance.key].lines.error_events == 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        hub.close()


def test_a_source_that_fails_to_plan_is_a_note_and_the_frame_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No real path makes plan_sources raise (it turns every OSError into a
    # note); a bug there must still not fail the frame, so one is injected.
    import gunicorn_tui.traffic.hub as hub_module

    def broken(_sample: object) -> None:
        raise RuntimeError("planning bug")

    monkeypatch.setattr(hub_module, "plan_sources", broken)
    instance = sample(container=False, master_pid=os.getpid())
    hub = TrafficHub()
    try:
        view = hub.update([instance])[instance.key]
        assert view.notes == ("log sources: planning bug",)
        assert view.sources == ()
    finally:
        hub.close()
