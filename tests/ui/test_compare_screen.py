"""The Compare screen, graph marks and export, on data (no server needed).

The comparison itself is the core's (tested in tests/compare); here: that
the UI draws what the core computed, marks epochs where they are, picks
epochs, writes exports, and refuses a guided A/B in a read-only session.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from textual.pilot import Pilot

from gunicorn_tui.compare.comparison import Significance, compare_epochs
from gunicorn_tui.compare.epochs import ChangeKind, EpochMark
from gunicorn_tui.compare.export import ExportError, export_stem, write_comparison
from gunicorn_tui.compare.metrics import Metric
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.ui.compare.compare_screen import CompareScreen, pick_pair, step_epoch
from gunicorn_tui.ui.compare.comparison_view import ComparisonView, comparison_content
from gunicorn_tui.ui.widgets.bar_graph import ColumnKind, bucket_kinds, marked_rows
from gunicorn_tui.ui.widgets.epoch_columns import epoch_columns
from tests.ui.compare_data import T0, CompareOnlyApp, two_epoch_tracker
from tests.ui.replay import ReplaySource, frames_from, recorded_instances
from tests.ui.test_dashboard import wait_frames

P, W, M = ColumnKind.PLAIN, ColumnKind.WARMUP, ColumnKind.MARK


def mark(epoch_id: int, at: float, measured_from: float, kind: ChangeKind) -> EpochMark:
    return EpochMark(epoch_id, at, kind, "x", measured_from)


def test_a_change_marks_the_first_sample_after_it_and_mutes_its_warmup() -> None:
    times = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    marks = [
        mark(1, 0.0, 0.0, ChangeKind.STARTED),  # watching began: no mark
        mark(2, 11.5, 14.0, ChangeKind.MARKED),
    ]
    columns = epoch_columns(times, marks)
    assert columns.kinds == (P, P, M, W, P, P)
    assert columns.labels == {2: "2"}


def test_a_change_in_progress_keeps_everything_after_it_in_warmup() -> None:
    columns = epoch_columns([1.0, 2.0, 3.0], [mark(12, 1.5, math.inf, ChangeKind.WORKER_COUNT)])
    assert columns.kinds == (P, M, W)
    assert columns.labels == {1: "2"}  # epoch 12: its last digit


def test_a_change_newer_than_the_last_sample_is_not_drawn_yet() -> None:
    columns = epoch_columns([1.0, 2.0], [mark(2, 5.0, 9.0, ChangeKind.RELOAD)])
    assert columns.kinds == (P, P)
    assert columns.labels == {}


def test_a_mark_survives_bucketing_and_shows_in_empty_cells() -> None:
    # Eight samples in four columns: the mark (sample 5) wins its bucket.
    kinds = [P, P, P, P, W, M, W, P]
    assert bucket_kinds(kinds, 4) == [P, P, M, W]
    rows = marked_rows(["  ▄ ", "▂▂█▂"], [P, P, M, P], {2: "3"})
    assert rows == ["  3 ", "▂▂█▂"]
    rows = marked_rows(["    ", "▂▂ ▂"], [P, P, M, P], {})
    assert rows == ["  │ ", "▂▂│▂"]


def test_pick_pair_defaults_to_current_and_previous_and_honours_choices() -> None:
    epochs = two_epoch_tracker(after_seconds=12).epochs()
    before, after = pick_pair(epochs, None, None) or (None, None)
    assert (before.id, after.id) == (1, 2)  # type: ignore[union-attr]
    assert pick_pair(epochs[:1], None, None) is None
    # Asking for the same epoch on both sides falls back to another one.
    before, after = pick_pair(epochs, 2, 2) or (None, None)
    assert (before.id, after.id) == (1, 2)  # type: ignore[union-attr]
    assert step_epoch(epochs, 1, 1, avoid=2) == 1  # nothing newer but B itself
    assert step_epoch(epochs, 2, -1, avoid=1) == 2
    assert step_epoch(epochs, 1, -1, avoid=2) == 1  # clamped


def test_the_view_shows_both_epochs_values_deltas_and_marks() -> None:
    tracker = two_epoch_tracker()
    epochs = tracker.epochs()
    comparison = compare_epochs(epochs[0], epochs[1])
    text = comparison_content(comparison).plain
    assert "A epoch 1" in text and "B epoch 2" in text
    # 5 s of warm-up, restarted when the new worker count was confirmed
    # (3 readings after the change): 8 s left out.
    assert "warm-up 8 s" in text
    rate = comparison.metric(Metric.REQUESTS_PER_S)
    assert rate.significance is Significance.SIGNIFICANT
    row = next(line for line in text.splitlines() if line.startswith("req/s "))
    assert "+" in row and "* better" in row
    memory = next(line for line in text.splitlines() if line.startswith("memory per worker"))
    assert "*" not in memory  # the same in both epochs
    assert "client side (gtui's load run)" in text
    assert "client p99" in text


@pytest.mark.parametrize("after_seconds", [6, 14])
def test_an_epoch_with_too_little_data_says_not_enough_data(after_seconds: int) -> None:
    # 6 s: all warm-up, no figure at all; 14 s: 6 s measured, short of 10.
    epochs = two_epoch_tracker(after_seconds=after_seconds).epochs()
    comparison = compare_epochs(epochs[0], epochs[1])
    text = comparison_content(comparison).plain
    assert "not enough data" in text
    row = next(line for line in text.splitlines() if line.startswith("req/s "))
    assert row.rstrip().endswith("n/d")
    assert "%" not in row  # no delta, no percent change
    assert comparison.metric(Metric.REQUESTS_PER_S).delta is None


def test_export_writes_markdown_json_and_svg_and_never_overwrites(tmp_path: Path) -> None:
    epochs = two_epoch_tracker().epochs()
    comparison = compare_epochs(epochs[0], epochs[1])
    stem = export_stem("web/1 (pid 4)", comparison, float(T0))
    assert stem.startswith("gtui-compare-web-1-pid-4-e1-e2-")
    first = write_comparison(comparison, tmp_path / "out", stem, svg="<svg>screen</svg>")
    assert [p.suffix for p in first.paths] == [".md", ".json", ".svg"]
    markdown = first.markdown_path.read_text()
    assert "| metric | before | after | delta | % | effect [95% CI] | sig. |" in markdown
    assert "| req/s | 50.0 req/s | 99.8 req/s |" in markdown
    data = json.loads(first.json_path.read_text())
    assert data["schema"] == "gtui.compare/1"
    assert (data["before"]["epoch_id"], data["after"]["epoch_id"]) == (1, 2)
    assert first.svg_path is not None and first.svg_path.read_text() == "<svg>screen</svg>"
    second = write_comparison(comparison, tmp_path / "out", stem, svg="<svg/>")
    assert second.markdown_path.name == f"{stem}-2.md"
    assert first.markdown_path.read_text() == markdown


def test_export_into_a_file_is_a_clear_error(tmp_path: Path) -> None:
    epochs = two_epoch_tracker().epochs()
    comparison = compare_epochs(epochs[0], epochs[1])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="file"):
        write_comparison(comparison, blocker, "stem")
    assert blocker.read_text() == "x"


def test_compare_screen_snapshot(snap_compare: object) -> None:
    app = CompareOnlyApp(two_epoch_tracker())

    async def settle(pilot: Pilot[None]) -> None:
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)  # type: ignore[operator]


async def test_picking_epochs_with_brackets_changes_the_sides() -> None:
    tracker = two_epoch_tracker()
    tracker.mark_change("third", at=float(T0 + 200))
    app = CompareOnlyApp(tracker)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.1)
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.comparison is not None
        assert (screen.comparison.before.epoch_id, screen.comparison.after.epoch_id) == (2, 3)
        await pilot.press("left_square_bracket")
        assert (screen.comparison.before.epoch_id, screen.comparison.after.epoch_id) == (1, 3)
        await pilot.press("left_curly_bracket")
        assert (screen.comparison.before.epoch_id, screen.comparison.after.epoch_id) == (1, 2)
        text = str(screen.query_one(ComparisonView).render())
        assert "A epoch 1" in text and "B epoch 2" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, CompareScreen)


async def test_compare_with_one_epoch_says_so_and_ab_is_refused_read_only(
    tmp_path: Path,
) -> None:
    engine = ControlEngine(read_only=True, state_directory=tmp_path / "state")
    source = ReplaySource(frames_from(recorded_instances(), 3))
    app = GtuiApp(source, refresh_s=10.0, engine=engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_frames(pilot, app, 2)
        await pilot.press("m")
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert screen.comparison is None
        assert "Only one epoch so far" in str(screen.query_one(ComparisonView).render())
        await pilot.press("a")
        await pilot.pause(0.1)
        assert app.screen is screen  # no form, no progress dialog
        assert not app.ab.running
        messages = [n.message for n in app._notifications]
        assert any("read-only" in message for message in messages), messages
