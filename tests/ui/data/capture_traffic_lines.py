"""Record the log lines a real Gunicorn writes under a mixed load, with the
moment each was read, for the dashboard's snapshot tests.

Run from the repository root: ``python tests/ui/data/capture_traffic_lines.py``.
It writes ``traffic_lines.json``: the capture's start time and, per line, its
arrival offset in seconds. The server logs access lines (pid and duration in
the format) and error lines to one stream, as a container's stdout and
stderr do, read from the server's start (its boot lines come first); then
about 11 s of traffic at a varying rate, a mix of endpoints and statuses,
and one worker killed with SIGKILL half way.

The worker and master pids in the lines are renamed to those of the first
instance of ``two_containers.json`` (master 1, workers 8, 9, 10; the killed
worker 7), so the replayed frames and lines agree. Nothing else is changed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import psutil

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from gunicorn_tui.traffic.log_follow import FileFollower
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.traffic_live.traffic_waits import PID_AND_DURATION_FORMAT

OUT = Path(__file__).resolve().parent / "traffic_lines.json"
SECONDS = 11
KILL_AT_S = 6  # the load step at which a worker is killed


def _paths(second: int) -> list[str]:
    rate = (20, 35, 50, 60, 45, 30, 25, 40, 55, 35, 20)[second % 11]
    paths = []
    for index in range(rate):
        if index % 9 == 0:
            paths.append(f"/items/{uuid.uuid4()}")
        elif index % 4 == 0:
            paths.append(f"/items/{1000 + index}")
        elif index % 13 == 0:
            paths.append("/status/503")
        elif index % 11 == 0:
            paths.append("/status/404")
        elif index % 7 == 0:
            paths.append("/io?ms=30")
        elif index % 10 == 0:
            paths.append("/cpu?ms=8")
        else:
            paths.append("/fast")
    return paths


def main() -> None:
    factory = LocalGunicornFactory()
    server = factory.start(
        "--workers", "3", "--access-logfile", "-", "--access-logformat", PID_AND_DURATION_FORMAT
    )
    # From the start: the master's and the workers' boot lines are wanted.
    follower = FileFollower(server.log_path, from_start=True)
    started = time.time()
    captured: list[tuple[float, str]] = []
    done = threading.Event()

    def follow() -> None:
        while not done.wait(0.1):
            now = time.time()
            captured.extend((round(now - started, 3), line) for line in follower.poll())

    thread = threading.Thread(target=follow)
    thread.start()
    workers = [child.pid for child in psutil.Process(server.pid).children()]
    killed = min(workers)
    try:
        with httpx.Client(base_url=server.base_url, timeout=5, trust_env=False) as client:
            for second in range(SECONDS):
                if second == KILL_AT_S:
                    os.kill(killed, signal.SIGKILL)
                paths = _paths(second)
                pause = 1.0 / len(paths)
                for path in paths:
                    client.get(path)
                    time.sleep(pause * 0.5)
        time.sleep(0.5)
    finally:
        done.set()
        thread.join()
        final = [child.pid for child in psutil.Process(server.pid).children()]
        factory.close()
    renamed = {server.pid: 1, killed: 7}
    for new_pid, pid in zip((8, 9, 10), sorted(final), strict=True):
        renamed[pid] = new_pid

    def rename(match: re.Match[str]) -> str:
        pid = int(match.group(2))
        return f"{match.group(1)}{renamed.get(pid, pid)}{match.group(3)}"

    lines = []
    for offset, line in captured:
        line = re.sub(r"(<)(\d+)(>)", rename, line)
        line = re.sub(r"(^\[[^\]]+\] \[)(\d+)(\])", rename, line)
        line = re.sub(r"(pid: ?|pid:)(\d+)(\)?)", rename, line)
        line = re.sub(r"(Listening at: \S+ \()(\d+)(\))", rename, line)
        lines.append({"t": offset, "line": line})
    OUT.write_text(json.dumps({"started_at": started, "lines": lines}, indent=0) + "\n")
    print(f"{len(lines)} lines written to {OUT}")


if __name__ == "__main__":
    main()
