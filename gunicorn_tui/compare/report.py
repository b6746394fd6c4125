"""A comparison as Markdown (pastes into a review) and as JSON.

The Markdown has one table (metric, before, after, delta, %, mark), the
configurations of both epochs, what was left out as warm-up, the load that
ran, the method, and every note. Marks: ``*`` significant, ``~`` a sure but
negligible difference, ``n/d`` not enough data, ``-`` not measured.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from gunicorn_tui.compare.comparison import EpochComparison, MetricComparison, Significance
from gunicorn_tui.compare.epochs import EpochConfig
from gunicorn_tui.compare.metrics import METRICS, Metric
from gunicorn_tui.compare.summary import EpochSummary
from gunicorn_tui.output.escape import escape_controls
from gunicorn_tui.output.units import format_bytes

REPORT_SCHEMA = "gtui.compare/1"


def format_value(metric: Metric, value: float | None) -> str:
    """A metric's value with its unit, for tables."""
    if value is None:
        return "-"
    unit = METRICS[metric].unit
    if unit == "bytes":
        return format_bytes(round(value))
    if unit == "share":
        return f"{100 * value:.2f}%"
    if unit == "ms":
        return f"{value:.1f} ms" if abs(value) < 100 else f"{value:.0f} ms"
    if unit == "% of a core":
        return f"{value:.1f}%"
    if unit == "per min":
        return f"{value:.2f}/min"
    return f"{value:.1f} {unit}"


def format_delta(item: MetricComparison) -> str:
    """After minus before, signed, in the metric's unit (``-`` when none)."""
    if item.delta is None:
        return "-"
    unit = item.unit
    sign = "+" if item.delta > 0 else ("-" if item.delta < 0 else "±")
    magnitude = abs(item.delta)
    if unit == "bytes":
        return sign + format_bytes(round(magnitude))
    if unit == "share":
        return f"{sign}{100 * magnitude:.2f} pp"
    return sign + format_value(item.metric, magnitude)


def format_percent_change(item: MetricComparison) -> str:
    """The change relative to before, signed (or "not enough data")."""
    if item.significance is Significance.NOT_ENOUGH_DATA and item.delta is None:
        return "not enough data"
    if item.percent_change is None:
        return "-"
    return f"{item.percent_change:+.1f}%"


def _signed_percent(value: float) -> str:
    return f"{value:+.0f}%" if abs(value) >= 10 else f"{value:+.1f}%"


def effect_interval_text(item: MetricComparison) -> str:
    """The change relative to before with its 95 % interval,
    ``+98% [+85%, +112%]`` (``-`` without a test or a before value)."""
    test = item.test
    if test is None or item.delta is None or not item.before:
        return "-"
    scale = 100.0 / abs(item.before)
    return (
        f"{_signed_percent(item.delta * scale)} [{_signed_percent(test.ci95_low * scale)}, "
        f"{_signed_percent(test.ci95_high * scale)}]"
    )


def mark_text(item: MetricComparison) -> str:
    """The significance mark, with "better"/"worse" on a significant change."""
    mark = item.significance.mark
    if item.significance is Significance.SIGNIFICANT and item.improved is not None:
        mark += " better" if item.improved else " worse"
    return mark


def config_line(config: EpochConfig | None) -> str:
    """An epoch's configuration in one line, with where it ran."""
    if config is None:
        return "unknown"
    settings = ", ".join(
        f"{name}={value}" for name, value in config.settings.items() if value is not None
    )
    where = config.container_name or (f"pid {config.master_pid}" if config.master_pid else "?")
    return f"{config.describe()} ({where}; {settings or 'settings unknown'})"


def clock_text(at: float | None) -> str:
    """Local date and time of ``at`` ("now" for an open end)."""
    if at is None or not math.isfinite(at):
        return "now"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _epoch_line(name: str, summary: EpochSummary) -> str:
    return (
        f"- **{name}**: epoch {summary.epoch_id} ({summary.change_label}), "
        f"{clock_text(summary.started_at)} to {clock_text(summary.ended_at)}; "
        f"{summary.warmup_s:.0f} s of warm-up left out, {summary.measured_s:.0f} s measured; "
        f"config: {config_line(summary.config)}"
    )


def comparison_markdown(
    comparison: EpochComparison,
    *,
    title: str = "gtui comparison",
    extra_lines: Sequence[str] = (),
) -> str:
    """The comparison as Markdown."""
    lines = [f"## {title}", ""]
    lines.append("| metric | before | after | delta | % | effect [95% CI] | sig. |")
    lines.append("|---|---:|---:|---:|---:|---|:---:|")
    for item in comparison.metrics:
        if (
            item.significance is Significance.UNAVAILABLE
            and item.before is None
            and (item.after is None)
        ):
            continue
        lines.append(
            f"| {item.label} | {format_value(item.metric, item.before)} | "
            f"{format_value(item.metric, item.after)} | {format_delta(item)} | "
            f"{format_percent_change(item)} | {effect_interval_text(item)} | {mark_text(item)} |"
        )
    lines.append("")
    lines.append(_epoch_line("before", comparison.before))
    lines.append(_epoch_line("after", comparison.after))
    profiles = sorted(set(comparison.before.load_profiles) | set(comparison.after.load_profiles))
    lines.append(f"- **load**: {', '.join(profiles) if profiles else 'none run by gtui'}")
    lines.append(
        f"- **method**: {comparison.method}; alpha {comparison.alpha:g}. "
        "`*` significant, `~` real but negligible, `n/d` not enough data, `-` not measured."
    )
    verdict = (
        "significant differences: " + ", ".join(m.label for m in comparison.significant)
        if comparison.any_significant
        else "no significant difference"
    )
    if not comparison.enough_data:
        verdict = "not enough data for a verdict"
    lines.append(f"- **verdict**: {verdict}")
    for note in (*comparison.notes, *extra_lines):
        lines.append(f"- note: {note}")
    # Names and notes come from the servers: shown, never sent to a terminal.
    return escape_controls("\n".join(lines) + "\n", keep_newlines=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def summary_json(summary: EpochSummary) -> dict[str, Any]:
    """One epoch summary as plain JSON types."""
    data: dict[str, Any] = _jsonable(dataclasses.asdict(summary))
    return data


def comparison_json(
    comparison: EpochComparison, *, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The comparison as plain JSON types (``schema`` names the layout)."""
    metrics = []
    for item in comparison.metrics:
        test = item.test
        metrics.append(
            {
                "metric": item.metric.value,
                "label": item.label,
                "unit": item.unit,
                "before": item.before,
                "after": item.after,
                "delta": item.delta,
                "percent_change": item.percent_change,
                "effect_95ci": effect_interval_text(item),
                "significance": item.significance.value,
                "p_value_adjusted": item.p_value,
                "improved": item.improved,
                "test": _jsonable(dataclasses.asdict(test)) if test is not None else None,
            }
        )
    data: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "method": comparison.method,
        "alpha": comparison.alpha,
        "enough_data": comparison.enough_data,
        "any_significant": comparison.any_significant,
        "before": summary_json(comparison.before),
        "after": summary_json(comparison.after),
        "metrics": _jsonable(metrics),
        "notes": list(comparison.notes),
    }
    if extra:
        data.update(_jsonable(dict(extra)))
    return data


def summary_markdown(summary: EpochSummary, *, title: str = "gtui epoch") -> str:
    """One epoch's figures as Markdown (when there is nothing to compare)."""
    lines = [f"## {title}", "", "| metric | value |", "|---|---:|"]
    for metric in Metric:
        value = summary.value(metric)
        if value is not None:
            lines.append(f"| {METRICS[metric].label} | {format_value(metric, value)} |")
    lines.append("")
    lines.append(_epoch_line("epoch", summary))
    profiles = ", ".join(summary.load_profiles) or "none run by gtui"
    lines.append(f"- **load**: {profiles}")
    for note in summary.notes:
        lines.append(f"- note: {note}")
    return escape_controls("\n".join(lines) + "\n", keep_newlines=True)
