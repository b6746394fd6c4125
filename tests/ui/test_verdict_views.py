"""The interleaved run's views, from data: the progress line shows the
primary intervals of the last look, the Compare screen's verdict block each
effect with its interval."""

from __future__ import annotations

from gunicorn_tui.compare.interleave import InterleaveResult, InterleaveStatus, RoundProgress
from gunicorn_tui.compare.metrics import Metric
from gunicorn_tui.compare.verdict import Look, estimate_effect
from gunicorn_tui.ui.compare.ab_screen import rounds_line
from gunicorn_tui.ui.compare.comparison_view import rounds_verdict_lines


def _look() -> Look:
    throughput = estimate_effect(
        Metric.REQUESTS_PER_S, [30.0, 31.0, 29.0, 30.5], [60.0, 61.0, 59.5, 62.0], primary=True
    )
    latency = estimate_effect(
        Metric.LATENCY_P50_MS, [20.0, 21.0, 20.5, 20.0], [20.2, 20.8, 20.4, 20.1], primary=True
    )
    cpu = estimate_effect(Metric.CPU_PERCENT, [50.0, 55.0, 52.0, 51.0], [90.0, 99.0, 95.0, 97.0])
    return Look(4, 30.0, 0.999, (throughput, latency, cpu))


def test_the_progress_line_shows_the_primary_intervals_of_the_last_look() -> None:
    text = rounds_line(RoundProgress(30.0, 60.0, 4, 1, "workers=2", _look(), "measuring")).plain
    assert "round 5: workers=2 measuring" in text and "30/60 s" in text
    assert "req/s +" in text and "[" in text and "significant" in text
    assert "p50 " in text and "negligible" in text and "conclusive" in text
    assert "CPU total" not in text  # not a primary metric
    first = rounds_line(RoundProgress(5.0, 60.0, 0, 0, "workers=1", None, "measuring")).plain
    assert "first look after 3 rounds" in first


def test_the_verdict_block_lists_effects_primary_first_with_how_the_run_ended() -> None:
    look = _look()
    result = InterleaveResult(
        status=InterleaveStatus.CONCLUSIVE, sides=("workers=1", "workers=2"), segments=(),
        looks=(look,), conclusive_after_s=31.0, reason=None, notes=(), elapsed_s=33.0,
        side_now=1, profile_label="cpu", run=None, primary=(),
    )  # fmt: skip
    lines = [line.plain for line in rounds_verdict_lines(result)]
    assert lines[0].startswith("interleaved rounds: conclusive after 31 s")
    assert "req/s (primary)" in lines[1] and "significant" in lines[1]
    assert "p50 (primary)" in lines[2] and "negligible" in lines[2]
    assert "CPU total" in lines[3]
