"""``gtui snapshot --json`` and ``gtui watch`` as a user runs them, against a
real host Gunicorn with an access log."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.core.monitor_waits import REPO_ROOT, run_gtui
from tests.harness.local_gunicorn import LocalGunicorn, LocalGunicornFactory
from tests.traffic_live.traffic_waits import PID_AND_DURATION_FORMAT, get_many


def _server(factory: LocalGunicornFactory, tmp_path: Path) -> LocalGunicorn:
    return factory.start(
        "--workers",
        "2",
        "--access-logfile",
        str(tmp_path / "access.log"),
        "--access-logformat",
        PID_AND_DURATION_FORMAT,
    )


def _gtui(*args: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn_tui", *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class _Lines:
    """A process's stdout lines, read on a thread so waits can time out."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout

        def pump() -> None:
            for line in stdout:
                self._queue.put(line)
            self._queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def next(self, timeout_s: float) -> str | None:
        """The next line; None at the end of the output."""
        return self._queue.get(timeout=timeout_s)


def test_snapshot_json_has_the_traffic_block(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path
) -> None:
    server = _server(local_gunicorn, tmp_path)
    process = _gtui("snapshot", f"pid:{server.pid}", "--json", "--interval", "3", "--statsd", "off")
    sent = 0
    deadline = time.monotonic() + 4.0
    with httpx.Client(base_url=server.base_url, timeout=5, trust_env=False) as client:
        while process.poll() is None and time.monotonic() < deadline:
            assert client.get("/fast").status_code == 200
            sent += 1
            time.sleep(0.05)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    document = json.loads(out)
    assert document["schema"] == "gtui.snapshot/2"
    (instance,) = document["instances"]
    traffic = instance["traffic"]
    assert traffic["request_source"] == "access log"
    # Counted from when gtui attached (its first sample) to its last one.
    assert 0 < traffic["requests_total"] <= sent
    assert set(traffic["windows"]) == {"1s", "10s", "60s"}
    assert traffic["lines"]["unparsed"] == 0
    assert traffic["lines"]["access_log_format"] == PID_AND_DURATION_FORMAT
    assert [e["path"] for e in traffic["endpoints"]] == ["/fast"]
    per_worker = [w["traffic"] for w in instance["workers"]]
    assert all(w is not None for w in per_worker), per_worker
    assert sum(w["requests_total"] for w in per_worker) == traffic["requests_total"]


def test_watch_jsonl_count_writes_that_many_records_and_exits(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path
) -> None:
    server = _server(local_gunicorn, tmp_path)
    started = time.monotonic()
    result = run_gtui(
        "watch",
        f"pid:{server.pid}",
        "--jsonl",
        "--count",
        "3",
        "--interval",
        "0.5",
        "--statsd",
        "off",
        timeout_s=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 3
    assert {r["master"]["pid"] for r in records} == {server.pid}
    assert all(r["schema"] == "gtui.snapshot/2" and r["traffic"] is not None for r in records)
    times = [r["frame_taken_at"] for r in records]
    assert times == sorted(times) and len(set(times)) == 3
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_watch_counts_exactly_and_stops_cleanly_on_a_signal(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    server = _server(local_gunicorn, tmp_path)
    process = _gtui("watch", f"pid:{server.pid}", "--jsonl", "--interval", "0.5", "--statsd", "off")
    try:
        lines = _Lines(process)
        first = lines.next(timeout_s=20)
        assert first is not None, process.stderr.read() if process.stderr else ""
        # The first record comes after gtui attached: all of these count.
        truth = get_many(server.base_url, "/fast", 40)
        record: dict[str, Any] = json.loads(first)
        deadline = time.monotonic() + 15
        while record["traffic"]["requests_total"] < 40:
            assert time.monotonic() < deadline, record["traffic"]
            line = lines.next(timeout_s=5)
            assert line is not None
            record = json.loads(line)
        process.send_signal(stop_signal)
        process.wait(timeout=10)
        rest = []
        while (line := lines.next(timeout_s=5)) is not None:
            rest.append(json.loads(line))  # every line written is whole
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert process.stderr is not None and process.stderr.read() == ""
    assert record["traffic"]["requests_total"] == 40
    by_pid = {w["pid"]: w["traffic"]["requests_total"] for w in record["workers"] if w["traffic"]}
    assert by_pid == dict(truth)
    assert all(r["traffic"]["requests_total"] == 40 for r in rest)


@pytest.mark.parametrize("command", [[], ["snapshot", "--json"], ["watch", "--jsonl"]])
def test_a_bad_statsd_address_is_one_line_and_exit_2(command: list[str]) -> None:
    result = run_gtui(*command, "--statsd", "bogus", timeout_s=30)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{' '.join(['gtui', *command[:1]])}: error: --statsd 'bogus': expected HOST:PORT or off"
    ]


def test_a_statsd_port_in_use_is_said_and_watch_goes_on(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path
) -> None:
    import socket

    server = _server(local_gunicorn, tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = run_gtui(
            "watch",
            f"pid:{server.pid}",
            "--jsonl",
            "--count",
            "1",
            "--interval",
            "0.2",
            "--statsd",
            f"127.0.0.1:{port}",
            timeout_s=30,
        )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    notices = [r["notice"] for r in records if "notice" in r]
    assert len(notices) == 1 and f"127.0.0.1:{port}" in notices[0], records
    assert sum(1 for r in records if "schema" in r) == 1
