"""Interleaved A/B against a real Gunicorn: 1 -> 2 sync workers under a
closed loop on a sleep is conclusive (default settings but for the cap), and a
same-config interleaved run reports no difference."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import psutil
import pytest

from gunicorn_tui.compare.engine_switcher import EngineSwitcher, sides_of
from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.compare.interleave import (
    LATENCY_P50,
    THROUGHPUT,
    InterleaveSettings,
    InterleaveStatus,
    RoundProgress,
    pairwise_judge,
    run_interleaved,
)
from gunicorn_tui.compare.verdict import LookPlan, Verdict
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.load.profile import parse_profile_text
from gunicorn_tui.load.target import LoadTarget
from gunicorn_tui.monitor.monitor import Monitor
from tests.harness.local_gunicorn import LocalGunicorn

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

# How fast the defaults answer is the benchmark's question
# (benchmarks/verdict_truth.py); on a shared 2-core CI box, with other jobs
# taking cores, 1 -> 2 workers stayed inconclusive at the 60 s default cap
# ([-4%, +82%]). These tests check the method end to end with room to
# answer: a cap of 120 s (the run still stops as soon as it is conclusive).
TEST_CAP_S = 120.0
# The known effect the verdict must find: 1 -> 2 sync workers doubles a
# closed loop of 4 clients on a 50 ms sleep (20 -> 40 req/s) however busy
# the machine's cores are. A CPU-bound loop's effect is whatever CPU a
# shared 2-core box leaves (CI saw +15% to +98% between runs) and belongs
# to the benchmark (benchmarks/verdict_truth.py), not to a pass/fail test.
WAIT_PROFILE = (
    '[run]\nmode = "closed"\nconcurrency = 4\nduration_s = 1\nconnections = 4\n'
    '[[request]]\npath = "/io?ms=50"\n'
)
CPU_PROFILE = (
    '[run]\nmode = "closed"\nconcurrency = 4\nduration_s = 1\nconnections = 4\n'
    '[[request]]\npath = "/cpu?ms=20"\n'
)


def test_one_to_two_workers_is_conclusive(
    logged_gunicorn: Callable[..., LocalGunicorn],
    monitor_of: Callable[[LocalGunicorn], Monitor],
    tmp_path: Path,
) -> None:
    server = logged_gunicorn("-w", "1")
    monitor = monitor_of(server)
    tracker = EpochTracker(warmup_s=0)
    sample = tracker.select(monitor.sample())
    assert sample is not None
    engine = ControlEngine(state_directory=tmp_path / "state")
    switcher = EngineSwitcher(
        engine, monitor.sample, tracker, sides_of(sample, RetuneRequest(workers=2))
    )
    settings = InterleaveSettings(cap_s=TEST_CAP_S)
    plan = LookPlan(cap_s=settings.cap_s, primary=2)
    progress: list[RoundProgress] = []
    result = run_interleaved(
        monitor.sample,
        tracker,
        switcher,
        parse_profile_text(WAIT_PROFILE, source="sleep"),
        LoadTarget(server.base_url),
        pairwise_judge(0, 1, (THROUGHPUT, LATENCY_P50), plan),
        settings=settings,
        on_progress=progress.append,
    )
    final = result.final
    assert final is not None, (result.reason, result.notes)
    lines = [f"{e.metric}: {e.text()} {e.verdict}" for e in final.effects]
    assert result.status is InterleaveStatus.CONCLUSIVE, (result.reason, lines)
    throughput = next(e for e in final.effects if e.primary and "requests_per_s" in e.metric)
    assert throughput.verdict is Verdict.SIGNIFICANT and (throughput.low or 0) > 0, lines
    assert result.conclusive_after_s is not None
    assert switcher.switches >= 2  # really interleaved: there and back at least
    assert any(p.look is not None for p in progress)


def test_cli_ab_interleaves_and_reports_the_effect_with_its_interval(
    logged_gunicorn: Callable[..., LocalGunicorn], tmp_path: Path
) -> None:
    server = logged_gunicorn("-w", "1")
    profile = tmp_path / "cpu.toml"
    profile.write_text(WAIT_PROFILE)
    done = gtui("ab", f"pid:{server.pid}", "--no-docker", "--profile", str(profile),
                "--workers", "2", "--cap", str(int(TEST_CAP_S)), "--yes", "--json",
                env={"GTUI_STATE_DIR": str(tmp_path)}, timeout_s=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == "gtui.verdict/1" and report["ab"]["interleaved"] is True
    assert report["status"] == "conclusive", (report["reason"], report["effects"])
    throughput = next(e for e in report["effects"] if e["primary"] and "requests" in e["metric"])
    assert throughput["verdict"] == "significant" and throughput["low"] > 0
    assert "p_value" in throughput and "[" in throughput["text"]
    # Item 6: the after side shows the values after the change.
    sides = {side["name"]: side["config"] for side in report["sides"]}
    assert sides["workers=2"]["settings"]["workers"] == 2
    assert sides["workers=1"]["settings"]["workers"] == 1
    assert "round" in done.stderr and "conclusive" in done.stderr
    assert report["ab"]["config_now"] == "changed: workers=2"


def gtui(
    *args: str, env: Mapping[str, str] | None = None, timeout_s: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gunicorn_tui", *args],
        capture_output=True, text=True, timeout=timeout_s, cwd=REPO,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


# The same-config run's false-alarm rate is bounded by the family alpha by
# design, so at the default 5 % one CI run in twenty would fail for no fault.
# The test asks for 1 % (Bonferroni over the primary metrics, spent over the
# looks): a false alarm then fails one run in a hundred at most, and the
# test still checks what matters: the rounds were judged, and no primary
# metric is called different when nothing differs.
SAME_CONFIG_ALPHA = 0.01


def test_a_same_config_interleaved_run_reports_no_difference(
    logged_gunicorn: Callable[..., LocalGunicorn],
    monitor_of: Callable[[LocalGunicorn], Monitor],
    tmp_path: Path,
) -> None:
    server = logged_gunicorn("-w", "1")
    monitor = monitor_of(server)
    tracker = EpochTracker(warmup_s=0)
    engine = ControlEngine(state_directory=tmp_path / "state")
    # Both sides are 1 worker: each "switch" finds it already running.
    switcher = EngineSwitcher(
        engine, monitor.sample, tracker, ({"workers": 1}, {"workers": 1}), ("A", "A again")
    )
    settings = InterleaveSettings(cap_s=40.0)
    plan = LookPlan(cap_s=settings.cap_s, family_alpha=SAME_CONFIG_ALPHA, primary=2)
    result = run_interleaved(
        monitor.sample,
        tracker,
        switcher,
        parse_profile_text(CPU_PROFILE, source="cpu"),
        LoadTarget(server.base_url),
        pairwise_judge(0, 1, (THROUGHPUT, LATENCY_P50), plan),
        settings=settings,
    )
    assert result.status is not InterleaveStatus.STOPPED, result.reason
    final = result.final
    assert final is not None and final.rounds >= 3, (result.reason, result.notes)
    primaries = [e for e in final.effects if e.primary]
    assert len(primaries) == 2
    for effect in primaries:
        assert effect.low is not None and effect.high is not None
        assert effect.verdict is not Verdict.SIGNIFICANT, effect.text()
        assert effect.low <= 0.0 <= effect.high or effect.verdict is Verdict.NEGLIGIBLE
    assert any(s.switch == "already running" for s in result.segments)


def test_a_stall_is_left_out_and_a_change_from_outside_stops_the_run(
    logged_gunicorn: Callable[..., LocalGunicorn],
    monitor_of: Callable[[LocalGunicorn], Monitor],
    tmp_path: Path,
) -> None:
    server = logged_gunicorn("-w", "1")
    monitor = monitor_of(server)
    tracker = EpochTracker(warmup_s=0)
    sample = tracker.select(monitor.sample())
    assert sample is not None
    switcher = EngineSwitcher(
        ControlEngine(state_directory=tmp_path / "state"),
        monitor.sample,
        tracker,
        sides_of(sample, RetuneRequest(workers=2)),
    )
    stalled = threading.Event()

    def signal_all(pids: list[int], number: signal.Signals) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)

    def interfere(progress: RoundProgress) -> None:
        # The workers stop answering for a few seconds (a stall), from
        # within round 2's second segment (the one after its switch: a
        # switch waits for the workers, so a stall started before it would
        # pass while it waits), covering round 3's first segment.
        if (
            progress.round == 1
            and progress.side == 0
            and progress.detail == "measuring"
            and not stalled.is_set()
        ):
            stalled.set()
            workers = [child.pid for child in psutil.Process(server.pid).children()]
            signal_all(workers, signal.SIGSTOP)
            threading.Timer(4.0, signal_all, (workers, signal.SIGCONT)).start()
        # Round 5: someone else adds two workers (TTIN twice, from outside),
        # in its second segment: the next one runs on without a switch, so the
        # workers show before gtui's next switch.
        if (
            progress.round == 4
            and progress.side == 1
            and progress.detail == "measuring"
            and not outside.is_set()
        ):
            outside.set()
            os.kill(server.pid, signal.SIGTTIN)
            os.kill(server.pid, signal.SIGTTIN)

    outside = threading.Event()
    result = run_interleaved(
        monitor.sample,
        tracker,
        switcher,
        parse_profile_text(CPU_PROFILE, source="cpu"),
        LoadTarget(server.base_url),
        pairwise_judge(0, 1, (THROUGHPUT, LATENCY_P50), LookPlan(cap_s=90.0, primary=2)),
        settings=InterleaveSettings(cap_s=90.0, stop_when_conclusive=False),
        on_progress=interfere,
    )
    assert stalled.is_set() and outside.is_set()
    assert any("stall" in note for note in result.notes), result.notes
    assert result.status is InterleaveStatus.STOPPED, (result.status, result.reason)
    assert result.reason and "changed from outside" in result.reason
