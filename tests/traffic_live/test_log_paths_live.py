"""Log paths that are not plain files, on real servers.

``--access-logfile /dev/stdout`` (the most common container setting after
``-``), ``/dev/stderr``, ``/proc/self/fd/1`` and a FIFO whose reader forwards
to stdout: gtui reads the container's log stream and counts every request
exactly, in the headless monitor, ``gtui watch``, ``gtui snapshot`` and the
dashboard. On the host, ``/dev/stdout`` means the master's own stdout (here
a file, followed), and a FIFO is never read: its reader still gets every
line and sampling goes on.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container

from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.ui.widgets.endpoint_table import EndpointTable
from tests.core.monitor_waits import run_gtui
from tests.harness.containers import ContainerFactory
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.harness.loopback import free_port
from tests.images import tags
from tests.traffic_live.test_cli_traffic import _gtui, _Lines
from tests.traffic_live.traffic_waits import (
    PID_AND_DURATION_FORMAT,
    get_many,
    settle,
    traffic_monitor,
    traffic_until,
)

pytestmark = pytest.mark.docker

REQUESTS = 60
FIFO = "/tmp/access.fifo"
STREAM = "container log stream"


def _start(
    factory: ContainerFactory, access_log: str, setup: str | None = None, *, to_output: bool = True
) -> tuple[Container, int, int]:
    """A 2-worker server logging its access log to ``access_log``, after the
    shell commands ``setup`` when given. Returns the container, its port and
    its master's host pid."""
    port = free_port()
    gunicorn = [
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--access-logfile",
        access_log,
        "--access-logformat",
        PID_AND_DURATION_FORMAT,
        "app:app",
    ]
    if access_log == FIFO:
        # A reader that forwards to stdout, as images that cannot log to
        # stdout have. Read-write, so it never sees an end when Gunicorn
        # reopens its log (nor Gunicorn a FIFO without a reader, which
        # blocks it).
        setup = f"mkfifo {FIFO} && (cat <>{FIFO} &)"
    if setup is not None:
        script = f"{setup} && exec " + " ".join(f"'{word}'" for word in gunicorn)
        container = factory.start(tags.GUNICORN_LATEST, ["-c", script], entrypoint="sh")
    else:
        container = factory.start(tags.GUNICORN_LATEST, gunicorn)
    factory.wait_http(container, port)
    # Gunicorn logs the readiness check's request just after answering it:
    # once that line is in the container's output (``to_output``: the access
    # log goes there), a stream followed from now on cannot count it (CI once
    # counted 61 of 60).
    deadline = time.monotonic() + 15
    while to_output and b"/health" not in container.logs(stdout=True, stderr=True):
        assert time.monotonic() < deadline, "the readiness check was never logged"
        time.sleep(0.05)
    container.reload()
    return container, port, int(container.attrs["State"]["Pid"])


def _master_of(container: Container) -> int:
    """The Gunicorn master's host pid (PID 1's, or its child's under sh)."""
    top = container.top(ps_args="-o pid,ppid,args")
    titled = [row for row in top["Processes"] if "gunicorn" in row[-1] and "master" in row[-1]]
    # A worker just forked still carries its master's title for a moment.
    rows = [row for row in titled if row[1] not in {other[0] for other in titled}]
    assert len(rows) == 1, top
    return int(rows[0][0])


PATHS = ["/dev/stdout", "/dev/stderr", "/proc/self/fd/1", FIFO]


@pytest.mark.parametrize("access_log", PATHS)
def test_monitor_watch_and_snapshot_count_a_stdio_or_fifo_access_log_exactly(
    container_factory: ContainerFactory, access_log: str
) -> None:
    container, port, _ = _start(container_factory, access_log)
    master_pid = _master_of(container)
    name = str(container.name)

    # The headless monitor: exact per worker (the app names its worker).
    with traffic_monitor(name, use_docker=True) as monitor:
        traffic_until(
            monitor,
            master_pid,
            lambda s, v: len(s.workers) == 2 and STREAM in v.sources,
            timeout_s=20,
            what="2 workers and the container log stream",
        )
        truth = get_many(f"http://127.0.0.1:{port}", "/fast", REQUESTS)
        _, view, _ = settle(monitor, master_pid)
    assert view.snapshot.requests_total == REQUESTS, view.notes
    assert view.request_source == "access log"
    assert {w.logged_pid: w.requests_total for w in view.snapshot.workers} == dict(truth)
    assert not any(source.startswith("file ") for source in view.sources), view.sources
    if access_log == FIFO:
        assert any("FIFO: not read" in note for note in view.notes), view.notes
    else:
        assert view.notes == (), view.notes

    # gtui watch: every request sent after its first record, exactly.
    process = _gtui("watch", name, "--jsonl", "--interval", "0.5", "--statsd", "off")
    try:
        lines = _Lines(process)
        first = lines.next(timeout_s=20)
        assert first is not None, process.stderr.read() if process.stderr else ""
        get_many(f"http://127.0.0.1:{port}", "/fast", REQUESTS)
        record: dict[str, Any] = json.loads(first)
        deadline = time.monotonic() + 15
        while (record["traffic"] or {}).get("requests_total", 0) < REQUESTS:
            assert time.monotonic() < deadline, record["traffic"]
            line = lines.next(timeout_s=5)
            assert line is not None
            record = json.loads(line)
        time.sleep(1.5)  # nothing more may come
        process.terminate()
        process.wait(timeout=10)
        while (line := lines.next(timeout_s=5)) is not None:
            record = json.loads(line)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert process.stderr is not None and process.stderr.read() == ""
    assert record["traffic"]["requests_total"] == REQUESTS
    assert STREAM in record["traffic"]["sources"]

    # gtui snapshot: the frame that crashed with io.UnsupportedOperation.
    result = run_gtui("snapshot", name, "--json", "--interval", "1", "--statsd", "off")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (instance,) = json.loads(result.stdout)["instances"]
    assert STREAM in instance["traffic"]["sources"]


async def test_dashboard_counts_a_dev_stdout_access_log_exactly(
    container_factory: ContainerFactory,
) -> None:
    container, port, _ = _start(container_factory, "/dev/stdout")
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(str(container.name)),),
            use_docker=True,
            statsd_address=None,
            probe_versions=False,
        )
    )
    monitor.open()
    app = GtuiApp(monitor, refresh_s=0.5)
    async with app.run_test(size=(120, 40)) as pilot:

        async def until(check: Any, what: str, timeout_s: float = 20) -> None:
            deadline = time.monotonic() + timeout_s
            while not check():
                assert time.monotonic() < deadline, f"{what} not shown within {timeout_s} s"
                await pilot.pause(0.1)

        def view() -> Any:
            return app.traffic_of(app.selected_sample())

        await until(lambda: (v := view()) is not None and STREAM in v.sources, "the log stream")
        await asyncio.to_thread(get_many, f"http://127.0.0.1:{port}", "/fast", REQUESTS)
        await until(
            lambda: (v := view()) is not None and v.snapshot.requests_total == REQUESTS,
            f"{REQUESTS} requests",
        )
        await pilot.press("3")
        await pilot.pause(0.3)
        endpoints = app.query_one(EndpointTable)
        assert endpoints.row_keys == ["GET /fast"]
        assert f" {REQUESTS} " in endpoints.row_text("GET /fast")
        await asyncio.sleep(1.0)
        assert view().snapshot.requests_total == REQUESTS


# -- host masters ------------------------------------------------------------------


def test_host_dev_stdout_is_the_masters_stdout_followed_as_its_file(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path
) -> None:
    # The harness opens the server's stdout without O_APPEND: an error log
    # written there too would overwrite the access lines appended after it.
    server = local_gunicorn.start(
        "--workers", "2", "--access-logfile", "/dev/stdout",
        "--access-logformat", PID_AND_DURATION_FORMAT,
        "--error-logfile", str(tmp_path / "error.log"),
    )  # fmt: skip
    # The harness's readiness request is logged after its answer: wait for its
    # line, or a follower that starts at the end of the file counts it.
    _wait_for_line(server.log_path, '"GET /health ')
    with traffic_monitor(f"pid:{server.pid}") as monitor:
        _, view, _ = traffic_until(
            monitor,
            server.pid,
            lambda s, v: f"file {server.log_path}" in v.sources,
            timeout_s=20,
            what="the master's stdout file among the sources",
        )
        truth = get_many(server.base_url, "/fast", REQUESTS)
        _, view, _ = settle(monitor, server.pid)
    assert view.snapshot.requests_total == REQUESTS, (view.lines, view.sources)
    assert {w.host_pid: w.requests_total for w in view.snapshot.workers} == dict(truth)
    assert not any("not read" in note or "cannot" in note for note in view.notes), view.notes


def _wait_for_line(path: Path, text: str, timeout_s: float = 10.0) -> None:
    """Wait until the file at ``path`` holds ``text``."""
    deadline = time.monotonic() + timeout_s
    while text not in path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in {path} after {timeout_s} s")
        time.sleep(0.05)


_STOP = "gtui-test: stop reading"


@pytest.fixture
def fifo_reader(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A FIFO and a thread reading its lines, as a log shipper would. It
    holds the FIFO open for writing too, so Gunicorn reopening its log never
    finds it without a reader and the reader never sees an end."""
    path = tmp_path / "access.fifo"
    os.mkfifo(path)
    received: list[str] = []
    fd = os.open(path, os.O_RDWR)

    def read() -> None:
        with open(fd, encoding="utf-8", errors="replace", closefd=False) as fifo:
            for line in fifo:
                if line.rstrip("\n") == _STOP:
                    return
                received.append(line.rstrip("\n"))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        yield path, received
    finally:
        os.write(fd, f"{_STOP}\n".encode())
        thread.join(timeout=10)
        os.close(fd)


def test_host_fifo_is_never_read_and_sampling_goes_on(
    local_gunicorn: LocalGunicornFactory, fifo_reader: tuple[Path, list[str]]
) -> None:
    path, received = fifo_reader
    server = local_gunicorn.start(
        "--workers", "2", "--access-logfile", str(path),
        "--access-logformat", PID_AND_DURATION_FORMAT,
    )  # fmt: skip
    with traffic_monitor(f"pid:{server.pid}") as monitor:
        _, view, _ = traffic_until(
            monitor,
            server.pid,
            lambda s, v: len(s.workers) == 2,
            timeout_s=20,
            what="2 workers",
        )
        assert any(f"{path} is a FIFO: not read" in note for note in view.notes), view.notes
        assert not any(str(path) in source for source in view.sources), view.sources
        get_many(server.base_url, "/fast", REQUESTS)
        deadline = time.monotonic() + 10
        while sum('"GET /fast' in line for line in received) < REQUESTS:
            assert time.monotonic() < deadline, received[-3:]
            time.sleep(0.1)
        # Sampling is not held up by the FIFO: frames keep coming, quickly.
        started = time.monotonic()
        for _ in range(3):
            frame = monitor.sample()
        assert time.monotonic() - started < 5
        view = next(iter(frame.traffic.values()))
    local_gunicorn.stop(server)
    # The shipper got every line: gtui took none of them.
    assert sum('"GET /fast' in line for line in received) == REQUESTS
    assert view.snapshot.requests_total == 0


# -- links inside a container ------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "access_log", "source"),
    [
        # An absolute link: /logs means the container's /etc, never the host's.
        ("ln -s /etc /logs", "/logs/gtui-access.log", "file /logs/gtui-access.log"),
        # The nginx image's habit: a log file that is a link to stdout.
        ("ln -sf /dev/stdout /var/log/gtui-access.log", "/var/log/gtui-access.log", STREAM),
    ],
    ids=["absolute-link", "link-to-stdout"],
)
def test_links_are_resolved_inside_the_container(
    container_factory: ContainerFactory, setup: str, access_log: str, source: str
) -> None:
    assert not os.path.exists("/etc/gtui-access.log")
    container, port, _ = _start(container_factory, access_log, setup, to_output=source == STREAM)
    master_pid = _master_of(container)
    with traffic_monitor(str(container.name), use_docker=True) as monitor:
        traffic_until(
            monitor,
            master_pid,
            lambda s, v: len(s.workers) == 2 and source in v.sources,
            timeout_s=20,
            what=f"2 workers and {source!r} among the sources",
        )
        truth = get_many(f"http://127.0.0.1:{port}", "/fast", REQUESTS)
        _, view, _ = settle(monitor, master_pid)
    assert view.snapshot.requests_total == REQUESTS, (view.sources, view.notes)
    assert {w.logged_pid: w.requests_total for w in view.snapshot.workers} == dict(truth)
    assert view.notes == ()
    assert not os.path.exists("/etc/gtui-access.log")
