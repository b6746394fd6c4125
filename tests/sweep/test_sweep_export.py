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
