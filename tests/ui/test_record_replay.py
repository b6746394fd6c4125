"""``gtui --record FILE`` and ``gtui replay FILE``: a retune recorded live on
a real Gunicorn replays with the same epochs and the same Compare result;
bad record and replay files are one-line errors."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from gunicorn_tui.compare.epochs import Epoch, EpochRegistry
from gunicorn_tui.compare.report import comparison_json
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.demo.server import DemoServer, start_demo_server
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.recording.playback import PlaybackSource, replay_epochs
from gunicorn_tui.recording.session_file import (
    RecordingError,
    SessionRecorder,
    read_recording,
)
from gunicorn_tui.sampling.local_instance import LaunchRecord
from gunicorn_tui.ui.actions.confirm_screen import ConfirmPlanScreen
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.ui.compare.compare_screen import CompareScreen
from tests.core.monitor_waits import run_gtui

WARMUP_S = 1.0


@pytest.fixture
def demo_server() -> Iterator[DemoServer]:
    server = start_demo_server(workers=2)
    try:
        yield server
    finally:
        server.stop()


async def _wait(pilot: Pilot[None], condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s}s")
        await pilot.pause(0.1)


def _comparison(app: GtuiApp) -> dict[str, Any]:
    screen = app.screen
    assert isinstance(screen, CompareScreen)
    assert screen.comparison is not None
    return comparison_json(screen.comparison)


def _epochs(registry: EpochRegistry, key: str) -> tuple[Epoch, ...]:
    tracker = registry.tracker(key)
    assert tracker is not None
    return tracker.epochs()


async def test_a_recorded_retune_replays_with_the_same_epochs_and_compare(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    path = tmp_path / "session.jsonl.gz"
    launch = LaunchRecord(demo_server.pid, demo_server.argv, demo_server.environment,
                          demo_server.cwd)  # fmt: skip
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"pid:{demo_server.pid}"),),
            use_docker=False,
            launched=(launch,),
            statsd_address=None,
        )
    )
    monitor.open()
    engine = ControlEngine(state_directory=tmp_path / "state", launched=(launch,))
    recorder = SessionRecorder(path, refresh_s=0.5, warmup_s=WARMUP_S)
    app = GtuiApp(monitor, refresh_s=0.5, engine=engine, warmup_s=WARMUP_S, recorder=recorder)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait(pilot, lambda: app.frames_seen >= 4, 20, "first frames")
        await pilot.press("greater_than_sign")  # one worker more: a retune of the count
        await _wait(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), 20, "the plan")
        await pilot.press("y")
        await _wait(pilot, lambda: app.last_outcome is not None, 60, "the outcome")
        assert app.last_outcome is not None and app.last_outcome.ok
        await pilot.press("enter")
        key = app.selected_key
        assert key is not None
        tracker = app.epochs.tracker(key)
        assert tracker is not None
        # The new epoch, past its warm-up, with a few measured seconds.
        await _wait(
            pilot,
            lambda: (
                len(tracker.epochs()) >= 2 and tracker.epochs()[-1].measured_from + 3 < time.time()
            ),
            30,
            "a measured second epoch",
        )
        await pilot.press("p")  # no more frames: the live state is final
        await pilot.pause(0.3)
        live_epochs = _epochs(app.epochs, key)
        await pilot.press("C")
        await _wait(pilot, lambda: isinstance(app.screen, CompareScreen), 5, "Compare")
        live = _comparison(app)
    assert len(live_epochs) >= 2
    kinds = [e.change.kind.value for e in live_epochs]
    assert "marked" in kinds, kinds  # the retune gtui made

    recording = read_recording(path)
    assert recording.skipped_lines == 0
    assert any(type(e).__name__ == "RecordedAction" for e in recording.events)
    assert _epochs(replay_epochs(recording), key) == live_epochs

    # The dashboard on the recording: same epochs, same Compare screen.
    registry = EpochRegistry(warmup_s=recording.header.warmup_s)
    source = PlaybackSource(recording, registry)
    replay = GtuiApp(source, refresh_s=0.5, warmup_s=WARMUP_S, epochs=registry, primed=True)
    async with replay.run_test(size=(120, 40)) as pilot:
        replay.action_faster()  # 0.5 s between frames is the fastest step
        await _wait(pilot, lambda: source.finished, 120, "the end of the replay")
        await pilot.pause(0.5)
        assert "frame " in str(replay.query_one("#status").render())
        assert _epochs(replay.epochs, key) == live_epochs
        # The time cursor: back to where the retune had not happened, and forward again.
        count = source.frame_count
        before_retune = next(
            i for i, f in enumerate(recording.frames, start=1)
            if f.taken_at >= live_epochs[-1].started_at
        ) - 1  # fmt: skip
        for _ in range((count - before_retune + 9) // 10):
            await pilot.press("left_square_bracket")
        await pilot.pause(0.3)
        assert replay.paused and source.frames_played <= before_retune
        assert len(_epochs(replay.epochs, key)) < len(live_epochs)
        assert f"frame {source.frames_played}/{count}" in str(replay.query_one("#status").render())
        for _ in range(count // 10 + 1):
            await pilot.press("right_square_bracket")
        await pilot.pause(0.3)
        assert source.finished
        assert _epochs(replay.epochs, key) == live_epochs
        replay.selected_key = key
        await pilot.press("C")
        await _wait(pilot, lambda: isinstance(replay.screen, CompareScreen), 5, "Compare")
        assert _comparison(replay) == live


def test_an_unwritable_record_file_is_one_line(tmp_path: Path) -> None:
    done = run_gtui("--record", str(tmp_path / "absent" / "s.jsonl"), "--no-docker")
    assert done.returncode == 2
    assert done.stderr.startswith("gtui: error: --record ")
    assert "No such file or directory" in done.stderr and done.stderr.count("\n") == 1
    with pytest.raises(RecordingError):
        SessionRecorder(tmp_path, refresh_s=1.0, warmup_s=1.0)  # a directory
    earlier = tmp_path / "earlier.jsonl"
    earlier.write_text("an earlier session\n")
    kept = run_gtui("--record", str(earlier), "--no-docker")
    assert kept.returncode == 2
    assert "exists, and a recording is never overwritten" in kept.stderr
    assert earlier.read_text() == "an earlier session\n"


def test_a_recording_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "future.jsonl"
    other.write_text(json.dumps({"schema": "gtui.recording/9", "gtui_version": "9.0"}) + "\n")
    done = run_gtui("replay", str(other))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"gtui replay: error: {other}: recorded as gtui.recording/9 by gtui 9.0; this gtui "
        "0.1.0 plays gtui.recording/1 only"
    )
    not_one = tmp_path / "notes.txt"
    not_one.write_text("hello\n")
    done = run_gtui("replay", str(not_one))
    assert done.returncode == 2 and "not a gtui recording" in done.stderr
    missing = run_gtui("replay", str(tmp_path / "nothing.jsonl"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_a_recording_cut_short_keeps_what_it_saw(tmp_path: Path) -> None:
    from tests.ui.replay import frames_from, recorded_instances, with_recorded_traffic

    path = tmp_path / "s.jsonl.gz"
    recorder = SessionRecorder(path, refresh_s=1.0, warmup_s=2.0)
    frames = with_recorded_traffic(frames_from(recorded_instances(), 3))
    for frame in frames:
        recorder.frame(frame)
    recorder.close()
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join([*lines, lines[-1][:100]]) + "\n")  # killed mid-write
    recording = read_recording(cut)
    assert recording.frames == tuple(frames)  # exactly the frames seen
    assert recording.skipped_lines == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([lines[0], '{"frame": {"taken_at": "x"}}', lines[1]]) + "\n")
    with pytest.raises(RecordingError, match=r"line 2: frame\.taken_at: expected a number"):
        read_recording(bad)
