"""A followed access-log file that goes wrong: garbage lines in it, then
rotation by rename (logrotate's default, with Gunicorn told to reopen its
logs by USR1) and rotation by ``copytruncate``. Every request Gunicorn logged
is counted once, and every line that is not an access line is counted as
unparsed and shown, never fatal."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

from gunicorn_tui.monitor.monitor import Monitor
from gunicorn_tui.output.traffic_json import traffic_json
from gunicorn_tui.traffic.hub import RESCAN_HIDDEN_S
from gunicorn_tui.traffic.instance_traffic import TrafficView
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.traffic_live.traffic_waits import (
    PID_AND_DURATION_FORMAT,
    get_many,
    settle,
    traffic_monitor,
    traffic_until,
)

BINARY_LINE = b"\x00\xff\xfe\x80 not text at all \x9b\n"
OVERSIZED_LINE = b'127.0.0.1 - - "GET /' + b"x" * ((1 << 20) + 4096) + b'" 200\n'
# Common Log Format: no referer, agent, pid or duration.
OTHER_FORMAT_LINE = b'10.0.0.9 - - [28/Nov/2026:01:02:03 +0000] "GET /elsewhere HTTP/1.1" 200 12\n'


def _counted(monitor: Monitor, pid: int, total: int, what: str) -> TrafficView:
    traffic_until(
        monitor,
        pid,
        lambda s, v: v.snapshot.requests_total >= total,
        timeout_s=15,
        what=what,
    )
    _, view, _ = settle(monitor, pid)
    assert view.snapshot.requests_total == total, what
    return view


def test_garbage_rotation_and_truncation(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path
) -> None:
    access_log = tmp_path / "access.log"
    server = local_gunicorn.start(
        "--workers",
        "2",
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        PID_AND_DURATION_FORMAT,
    )
    with traffic_monitor(f"pid:{server.pid}") as monitor:
        traffic_until(
            monitor,
            server.pid,
            lambda s, v: any(str(access_log) in x for x in v.sources),
            timeout_s=15,
            what="the access-log file among the sources",
        )
        truth = get_many(server.base_url, "/fast", 50)
        _counted(monitor, server.pid, 50, "the first 50 requests")

        with access_log.open("ab") as log:
            for garbage in (BINARY_LINE, OVERSIZED_LINE, OTHER_FORMAT_LINE):
                log.write(garbage)
                log.flush()
        truth += get_many(server.base_url, "/fast", 30)
        view = _counted(monitor, server.pid, 80, "30 good lines after the garbage")
        assert view.lines.unparsed == 3, view.lines.recent_unparsed
        shown = traffic_json(view)["lines"]
        assert shown["unparsed"] == 3
        recent = shown["recent_unparsed"]
        assert len(recent) == 3
        assert recent[0].startswith("\x00\ufffd") and "not text at all" in recent[0]
        assert recent[1].startswith('127.0.0.1 - - "GET /xxxx') and len(recent[1]) <= 300
        assert recent[2] == OTHER_FORMAT_LINE.decode().rstrip("\n")
        assert view.lines.access_log_format == PID_AND_DURATION_FORMAT

        # logrotate's default: rename, (requests still go to the old file),
        # then USR1 makes Gunicorn reopen its log under the old name.
        access_log.rename(tmp_path / "access.log.1")
        truth += get_many(server.base_url, "/fast", 20)
        # Stay renamed past gtui's next look at the master's open files
        # (which now name access.log.1): it must not follow that path twice.
        _counted(monitor, server.pid, 100, "requests logged to the renamed file")
        deadline = time.monotonic() + RESCAN_HIDDEN_S + 1
        while time.monotonic() < deadline:
            monitor.sample()
            time.sleep(0.25)
        os.kill(server.pid, signal.SIGUSR1)
        traffic_until(
            monitor,
            server.pid,
            lambda s, v: access_log.exists(),
            timeout_s=10,
            what="Gunicorn reopening its access log",
        )
        truth += get_many(server.base_url, "/fast", 40)
        _counted(monitor, server.pid, 140, "requests across a rename rotation")

        # copytruncate: copy, then truncate in place; Gunicorn appends on.
        shutil.copyfile(access_log, tmp_path / "access.log.2")
        with access_log.open("r+b") as log:
            log.truncate(0)
        truth += get_many(server.base_url, "/fast", 30)
        view = _counted(monitor, server.pid, 170, "requests after copytruncate")

    assert view.lines.unparsed == 3
    assert {w.host_pid: w.requests_total for w in view.snapshot.workers} == dict(truth)
