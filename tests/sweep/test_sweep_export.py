"""A sweep's export on data: the report's rows, and the two files written
the way the compare export writes its own (new stem, never overwriting)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

from gunicorn_tui.sweep.export import sweep_stem, write_sweep
from gunicorn_tui.sweep.grid import SweepConfig
from gunicorn_tui.sweep.plot_svg import sweep_svg
from gunicorn_tui.sweep.report import report_rows, sweep_markdown
from gunicorn_tui.sweep.runner import ConfigResult, ConfigStatus, SweepResult, SweepStatus

ORIGINAL = SweepConfig(1, "sync", 1)
RESULT = SweepResult(
    status=SweepStatus.CANCELLED,
    original=ORIGINAL,
    results=(
        ConfigResult(SweepConfig(2, "gthread", 4), ConfigStatus.FAILED, None, None, "no boot"),
        ConfigResult(SweepConfig(4, "sync", 1), ConfigStatus.SKIPPED, None, None, "cancelled"),
    ),
    winner=None,
    runner_up=None,
    comparison=None,
    config_now="1 x sync",
    restored=True,
    reason=None,
    elapsed_s=12.34,
    profile_label="GET / at 20 req/s",
    journal_path=None,
)


def test_rows_say_n_a_where_nothing_was_measured() -> None:
    rows = report_rows(RESULT)
    assert [(r.label, r.status, r.throughput_rps, r.note) for r in rows] == [
        ("2 x gthread/4", "failed", "n/a", "no boot"),
        ("4 x sync", "skipped", "n/a", "cancelled"),
    ]
    assert not any(r.winner for r in rows)
    assert "| 2 x gthread/4 | failed | n/a | n/a | n/a | n/a | no boot |" in sweep_markdown(RESULT)


def test_write_sweep_writes_markdown_and_json_and_never_overwrites(tmp_path: Path) -> None:
    stem = sweep_stem("web/1 (api)", 0.0)
    assert stem.startswith("gtui-sweep-web-1-api-") and "/" not in stem
    directory = tmp_path / "new" / "dir"
    first = write_sweep(RESULT, directory, stem, instance_label="web-1")
    second = write_sweep(RESULT, directory, stem, instance_label="web-1")
    assert first.markdown_path.name == f"{stem}.md" and first.json_path.name == f"{stem}.json"
    assert first.svg_path.name == f"{stem}.svg"
    assert second.markdown_path.name == f"{stem}-2.md"
    markdown = first.markdown_path.read_text()
    assert markdown.startswith("# gtui sweep: web-1\n") and "| 4 x sync | skipped |" in markdown
    data = json.loads(first.json_path.read_text())
    assert data["instance"] == "web-1" and data["schema"] == "gtui.sweep/1"
    assert [c["label"] for c in data["configs"]] == ["2 x gthread/4", "4 x sync"]
    assert not list(directory.glob(".*.tmp"))


def test_plot_of_configs_without_figures_has_no_bars_and_says_why() -> None:
    plot = ElementTree.fromstring(sweep_svg(RESULT, title="t", verdict="no winner"))
    texts = [e.text or "" for e in plot.iter() if e.tag.endswith("text")]
    bars = [e for e in plot.iter() if e.tag.endswith("rect") and e.get("height") != "100%"]
    assert bars == []
    # Each of the four panels names both configs and why they have no figure.
    assert texts.count("2 x gthread/4") == 4 and texts.count("failed") == 4
    assert texts.count("skipped") == 4 and "no winner" in texts


def test_an_interleaved_sweep_reports_the_winners_lead_with_its_interval() -> None:
    import dataclasses

    from gunicorn_tui.compare.interleave import InterleaveResult, InterleaveStatus
    from gunicorn_tui.compare.metrics import Metric
    from gunicorn_tui.compare.verdict import Look, estimate_effect
    from gunicorn_tui.sweep.report import sweep_json, winner_line

    lead = estimate_effect(
        Metric.REQUESTS_PER_S, [30.0, 31.0, 29.0, 30.5], [45.0, 46.0, 44.0, 46.5], primary=True
    )
    verdict = InterleaveResult(
        status=InterleaveStatus.CONCLUSIVE, sides=("2 x gthread/4", "4 x sync"), segments=(),
        looks=(Look(4, 28.0, 0.999, (lead,), (0, 1)),), conclusive_after_s=28.0, reason=None,
        notes=("1 round(s) left out: the server stalled",), elapsed_s=30.0, side_now=1,
        profile_label="cpu", run=None, primary=(),
    )  # fmt: skip
    result = dataclasses.replace(
        RESULT, status=SweepStatus.COMPLETED, winner=1, runner_up=0, verdict=verdict,
        notes=verdict.notes,
    )  # fmt: skip
    line = winner_line(result)
    assert line.startswith("winner: 4 x sync, throughput +5")
    assert "[" in line and "over the runner-up 2 x gthread/4 (significant" in line
    assert "conclusive after 28 s" in line
    assert "- note: 1 round(s) left out: the server stalled" in sweep_markdown(result)
    document = sweep_json(result)
    assert document["winner_significance"] == "significant"
    assert document["verdict"]["effects"][0]["verdict"] == "significant"
    assert document["winner_p_value"] is not None and document["winner_p_value"] < 0.01
    json.dumps(document)
