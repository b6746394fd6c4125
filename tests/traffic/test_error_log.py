"""Error-log events, from the real output of Gunicorn 20.1 and 27.x.

The data files were captured with ``tests/traffic/data/capture_error_logs.py``
(the same scenario the live test runs on the installed Gunicorn): boots,
TTIN, TTOU, a SIGKILLed worker, a WORKER TIMEOUT, max-requests recycling,
HUP, TERM, and a server whose app cannot be imported.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import gunicorn
from hypothesis import given, settings
from hypothesis import strategies as st

from gunicorn_tui.traffic.error_log import (
    ErrorLogEvent,
    ErrorLogEventKind,
    ErrorLogParser,
    WorkerEventTimeline,
    parse_error_log_time,
)
from tests.traffic.error_log_scenario import ScenarioPids, run_boot_failure, run_life_scenario

DATA = Path(__file__).resolve().parent / "data"
Kind = ErrorLogEventKind


def _parse(lines: list[str]) -> tuple[list[ErrorLogEvent], ErrorLogParser]:
    parser = ErrorLogParser()
    events = [event for event in map(parser.parse, lines) if event is not None]
    return events, parser


def _check_life_scenario(
    events: list[ErrorLogEvent], pids: ScenarioPids, version: str, boot_failure_exit_code: int
) -> None:
    kinds = [event.kind for event in events]
    timeline = WorkerEventTimeline()
    for event in events:
        timeline.add(event)
    starting = [event for event in events if event.kind is Kind.MASTER_STARTING]
    assert [event.detail for event in starting] == [version, version]
    assert starting[0].logged_by_pid == pids.master
    listening = next(event for event in events if event.kind is Kind.LISTENING)
    assert listening.detail is not None and listening.detail.startswith("http://127.0.0.1:")
    assert next(e for e in events if e.kind is Kind.USING_WORKER).detail == "sync"

    killed = [event for event in events if event.kind is Kind.WORKER_KILLED]
    sigkill = [event for event in killed if event.worker_pid == pids.killed_worker]
    assert len(sigkill) == 1 and sigkill[0].signal_name == "SIGKILL" and sigkill[0].oom_suspected
    timeout = [event for event in events if event.kind is Kind.WORKER_TIMEOUT]
    assert [event.worker_pid for event in timeout] == [pids.timed_out_worker]
    assert timeout[0].level == "CRITICAL"
    exiting = {event.worker_pid for event in events if event.kind is Kind.WORKER_EXITING}
    assert pids.stopped_by_ttou in exiting
    assert kinds.count(Kind.WORKER_MAX_REQUESTS) >= 1
    signals = [event.signal_name for event in events if event.kind is Kind.SIGNAL]
    assert signals == ["SIGTTIN", "SIGTTOU", "SIGHUP", "SIGTERM"]
    assert kinds.count(Kind.RELOAD) == 1
    shutdowns = [event for event in events if event.kind is Kind.MASTER_SHUTDOWN]
    assert [event.detail for event in shutdowns] == ["Master", "Master"]
    reasons = [event.detail for event in events if event.kind is Kind.SHUTDOWN_REASON]
    assert reasons == ["Worker failed to boot."]
    assert kinds.count(Kind.WORKER_EXCEPTION) == 1
    assert boot_failure_exit_code == 3
    if version.startswith("27."):
        exit_codes = [event.exit_code for event in events if event.kind is Kind.WORKER_EXIT_CODE]
        assert exit_codes == [3]
    # Every booted worker has a boot time; the SIGKILLed one is marked.
    counts = timeline.counts()
    assert counts.boots == kinds.count(Kind.WORKER_BOOTING) >= 9
    assert counts.timeouts == 1 and counts.oom_suspected == 1 and counts.reloads == 1
    lives = {life.pid: life for life in timeline.workers()}
    assert lives[pids.killed_worker].oom_suspected
    assert lives[pids.killed_worker].end is Kind.WORKER_KILLED
    assert lives[pids.timed_out_worker].end is Kind.WORKER_TIMEOUT
    assert lives[pids.timed_out_worker].timeouts == 1
    assert all(event.logged_at is not None for event in events)


def _check_data_file(version: str) -> None:
    lines = (DATA / f"error_log_gunicorn-{version}.log").read_text().splitlines()
    recorded = json.loads((DATA / f"error_log_gunicorn-{version}.pids.json").read_text())
    exit_code = recorded.pop("boot_failure_exit_code")
    events, parser = _parse(lines)
    # Only the traceback lines are not log lines.
    tracebacks = sum(1 for line in lines if not line.startswith("["))
    assert parser.counts().unrecognized == tracebacks > 0
    _check_life_scenario(events, ScenarioPids(**recorded), version, exit_code)


def test_gunicorn_20_1_error_log() -> None:
    events, _ = _parse((DATA / "error_log_gunicorn-20.1.0.log").read_text().splitlines())
    # 20.1 words a signal death differently: "terminated due to signal 9".
    assert any("terminated due to signal 9" in event.message for event in events)
    _check_data_file("20.1.0")


def test_gunicorn_27_error_log() -> None:
    _check_data_file("27.0.1")


def test_live_installed_gunicorn(tmp_path: Path) -> None:
    life_log, failure_log = tmp_path / "life.log", tmp_path / "failure.log"
    pids = run_life_scenario(life_log, extra_args=["--no-control-socket"])
    exit_code = run_boot_failure(failure_log)
    lines = life_log.read_text().splitlines() + failure_log.read_text().splitlines()
    events, _ = _parse(lines)
    _check_life_scenario(events, pids, gunicorn.__version__, exit_code)


def test_time_and_odd_lines() -> None:
    expected = datetime.datetime(2026, 11, 27, 22, 48, 36, tzinfo=datetime.UTC).timestamp()
    assert parse_error_log_time("2026-11-27 22:48:36 +0000") == expected
    assert parse_error_log_time("2026-11-27 22:48:36 +0100") == expected - 3600
    assert parse_error_log_time("2026-13-27 22:48:36 +0000") is None
    parser = ErrorLogParser()
    event = parser.parse("[2026-11-27 22:48:36 +0000] [7] [WARNING] something new\n")
    assert event is not None and event.kind is Kind.OTHER and event.level == "WARNING"
    assert parser.parse('  File "x.py", line 1') is None
    assert parser.parse("[not a time] [7] [INFO] Booting worker with pid: 8") is not None
    assert parser.counts().unrecognized == 1 and parser.counts().other == 1
    timeline = WorkerEventTimeline(max_events=2, max_workers=2)
    for pid in (1, 2, 3):
        booted = parser.parse(
            f"[2026-11-27 22:48:36 +0000] [{pid}] [INFO] Booting worker with pid: {pid}"
        )
        assert booted is not None
        timeline.add(booted)
    assert len(timeline.events) == 2 and [life.pid for life in timeline.workers()] == [2, 3]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=500),
        st.builds(
            lambda a, b: f"[2026-11-27 22:48:36 +0000] [{a}] [ERROR] {b}",
            st.integers(0, 10**12),
            st.text(max_size=200),
        ),
        st.sampled_from(
            [
                "[",
                "[] [] []",
                "[x] [1] [INFO] ",
                "[2026-11-27 22:48:36 +0000] [1] [INFO] Worker (pid:1) was sent SIG99!",
                "\x00" * 70000,
            ]
        ),
    )
)
def test_any_line_is_read_or_counted(line: str) -> None:
    parser = ErrorLogParser()
    event = parser.parse(line)
    counts = parser.counts()
    assert (event is None) == (counts.unrecognized == 1)
    if event is not None:
        WorkerEventTimeline().add(event)
