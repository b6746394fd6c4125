"""Interleaved rounds that lose their load to errors, against a real
Gunicorn that answers 500 on demand (tests/harness/failing_app.py: while a
flag file exists, every request gets a 500 after its usual 50 ms sleep).

A round whose segment has more than ERROR_SHARE_LIMIT of failed requests is
left out of the pairs and counted in the notes; when the server keeps
failing (the last rounds all lost), the run stops and says why, and a sweep
still restores the original config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from gunicorn_tui.compare.engine_switcher import EngineSwitcher, sides_of
from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.compare.interleave import (
    ERROR_SHARE_LIMIT,
    LATENCY_P50,
    THROUGHPUT,
    InterleaveSettings,
    InterleaveStatus,
    RoundProgress,
    pairwise_judge,
    run_interleaved,
)
from gunicorn_tui.compare.verdict import LookPlan
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.load.profile import parse_profile_text
from gunicorn_tui.load.target import LoadTarget
from gunicorn_tui.monitor.monitor import Monitor
from gunicorn_tui.sweep.grid import build_grid
from gunicorn_tui.sweep.runner import SweepProgress, SweepSettings, SweepStatus, run_sweep
from tests.compare.conftest import ACCESS_FORMAT
from tests.harness.local_gunicorn import SAMPLE_APP_DIR, LocalGunicorn, LocalGunicornFactory

pytestmark = pytest.mark.slow

HARNESS_DIR = Path(__file__).resolve().parents[1] / "harness"
# The verdict tests' sleep-bound load: 1 -> 2 sync workers doubles it on any
# machine (tests/compare/test_interleave_live.py).
WAIT_PROFILE = (
    '[run]\nmode = "closed"\nconcurrency = 4\nduration_s = 1\nconnections = 4\n'
    '[[request]]\npath = "/io?ms=50"\n'
)
CAP_S = 120.0


@pytest.fixture
def failing_gunicorn(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path
) -> Callable[[Path], LocalGunicorn]:
    """One sync worker serving failing_app, its access log read by gtui."""

    def start(flag: Path) -> LocalGunicorn:
        return local_gunicorn.start(
            # The later --pythonpath wins: the sample app's and the harness's directories.
            "--pythonpath", f"{SAMPLE_APP_DIR},{HARNESS_DIR}",
            "--access-logfile", str(tmp_path / "access.log"),
            "--access-logformat", ACCESS_FORMAT, "-w", "1",
            app="failing_app:app", env={"GTUI_TEST_FAIL_FLAG": str(flag)},
        )  # fmt: skip

    return start


def test_a_round_that_loses_its_load_to_errors_is_left_out_and_counted(
    failing_gunicorn: Callable[[Path], LocalGunicorn],
    monitor_of: Callable[[LocalGunicorn], Monitor],
    tmp_path: Path,
) -> None:
    flag = tmp_path / "fail"
    server = failing_gunicorn(flag)
    monitor = monitor_of(server)
    tracker = EpochTracker(warmup_s=0)
    sample = tracker.select(monitor.sample())
    assert sample is not None
    engine = ControlEngine(state_directory=tmp_path / "state")
    switcher = EngineSwitcher(
        engine, monitor.sample, tracker, sides_of(sample, RetuneRequest(workers=2))
    )
    failed_rounds: set[int] = set()

    def errors_in_round_three(progress: RoundProgress) -> None:
        # The server fails from the third round's start until the fourth's.
        if progress.round == 2 and not failed_rounds:
            flag.touch()
            failed_rounds.add(2)
        elif progress.round >= 3:
            flag.unlink(missing_ok=True)

    try:
        result = run_interleaved(
            monitor.sample, tracker, switcher,
            parse_profile_text(WAIT_PROFILE, source="sleep"), LoadTarget(server.base_url),
            pairwise_judge(0, 1, (THROUGHPUT, LATENCY_P50), LookPlan(cap_s=CAP_S, primary=2)),
            settings=InterleaveSettings(cap_s=CAP_S), on_progress=errors_in_round_three,
        )  # fmt: skip
    finally:
        flag.unlink(missing_ok=True)
        switcher.switch(0)  # back to 1 worker
    assert failed_rounds, "the run ended before its third round"
    notes = " ".join(result.notes)
    assert "round 3: " in notes and "failed" in notes and "round left out" in notes, notes
    assert f"more than {100 * ERROR_SHARE_LIMIT:.0f}% of their requests failed" in notes, notes
    # The run went on without the failed round(s), and its pairs exclude them.
    assert result.status is not InterleaveStatus.STOPPED, result.reason
    final = result.final
    assert final is not None, (result.reason, notes)
    assert final.rounds < result.rounds(), (final.rounds, result.rounds())


def test_a_server_that_keeps_failing_stops_the_sweep_which_restores(
    failing_gunicorn: Callable[[Path], LocalGunicorn],
    monitor_of: Callable[[LocalGunicorn], Monitor],
    tmp_path: Path,
) -> None:
    flag = tmp_path / "fail"
    server = failing_gunicorn(flag)
    monitor = monitor_of(server)
    sample = monitor.sample().instances[0]

    def errors_from_round_two(progress: SweepProgress) -> None:
        if progress.rounds is not None and progress.rounds.round >= 1:
            flag.touch()

    try:
        result = run_sweep(
            monitor.sample, EpochTracker(sample.key, warmup_s=2.0),
            ControlEngine(state_directory=tmp_path / "state"),
            build_grid((1, 2), ("sync",), None),
            parse_profile_text(WAIT_PROFILE, source="sleep"), LoadTarget(server.base_url),
            settings=SweepSettings(interleave=InterleaveSettings(cap_s=CAP_S)),
            on_progress=errors_from_round_two,
        )  # fmt: skip
    finally:
        flag.unlink(missing_ok=True)
    verdict = result.verdict
    assert verdict is not None, result.notes
    assert verdict.status is InterleaveStatus.STOPPED, (verdict.status, verdict.reason)
    assert verdict.reason is not None and "lost their load to errors" in verdict.reason
    assert result.reason == verdict.reason
    # Stopped early, not at the cap.
    assert verdict.elapsed_s < CAP_S
    assert result.status is SweepStatus.COMPLETED and result.restored, result.reason
    assert result.config_now == "1 x sync"
    assert len(psutil.Process(server.pid).children()) == 1 or _one_worker_soon(server)


def _one_worker_soon(server: LocalGunicorn, timeout_s: float = 20.0) -> bool:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(psutil.Process(server.pid).children()) == 1:
            return True
        time.sleep(0.5)
    return False
