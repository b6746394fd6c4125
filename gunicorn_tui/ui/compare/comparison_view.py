"""A comparison drawn as text: the two epochs, then one row per metric.

Fits 80 columns: metric, before, after, delta, percent change and the
significance mark (``*`` significant, ``~`` real but negligible, ``n/d``
not enough data, ``-`` not measured). Rows are grouped by where they are
measured: the server (access log or StatsD), the instance's resources, and
the client side when a load run of gtui's supplied it. Every figure comes
from the comparison (the headless core); nothing is computed here.
"""

from __future__ import annotations

import math

from textual.content import Content

from gunicorn_tui.compare.comparison import EpochComparison, MetricComparison, Significance
from gunicorn_tui.compare.interleave import InterleaveResult
from gunicorn_tui.compare.metrics import METRICS, Side
from gunicorn_tui.compare.report import (
    effect_interval_text,
    format_delta,
    format_value,
    mark_text,
)
from gunicorn_tui.compare.summary import EpochSummary
from gunicorn_tui.compare.verdict import Verdict
from gunicorn_tui.compare.verdict_report import ending_line, level_percent
from gunicorn_tui.ui.widgets.safe_text import SafeStatic
from gunicorn_tui.ui.widgets.static_text import show_text

_SIDE_TITLES = {
    Side.SERVER: "server side (access log or StatsD)",
    Side.RESOURCES: "resources",
    Side.CLIENT: "client side (gtui's load run)",
}
_LABEL_W, _VALUE_W, _DELTA_W, _PERCENT_W = 18, 11, 11, 8


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def warmup_text(summary: EpochSummary) -> str:
    """How much of the epoch was left out as warm-up."""
    if math.isinf(summary.warmup_s):
        return "change in progress: all warm-up"
    return f"warm-up {summary.warmup_s:.0f} s"


def epoch_line(name: str, summary: EpochSummary) -> Content:
    """``A epoch 2 · workers 2 -> 3 · 3 x sync · warm-up 10 s · 40 s measured``
    (the warm-up is left out of every figure)."""
    config = summary.config
    shape = (
        f"{config.workers if config.workers is not None else '?'} x {config.worker_class or '?'}"
        if config is not None
        else "config unknown"
    )
    measured = f"{summary.measured_s:.0f} s measured"
    style = "" if summary.enough_data else "$warning"
    return Content.assemble(
        (f"{name} ", "bold $accent"),
        (f"epoch {summary.epoch_id}", "bold"),
        f" · {_cut(summary.change_label, 20)} · {_cut(shape, 14)} · ",
        (warmup_text(summary), "$text-muted"),
        " · ",
        (measured, style),
    )


def _percent(item: MetricComparison) -> str:
    if item.percent_change is None:
        return "-"
    return f"{item.percent_change:+.1f}%"


def _mark_style(item: MetricComparison) -> str:
    if item.significance is Significance.SIGNIFICANT:
        if item.improved is None:
            return "bold $accent"
        return "bold $success" if item.improved else "bold $error"
    if item.significance is Significance.NOT_ENOUGH_DATA:
        return "$warning"
    return "$text-muted"


def metric_row(item: MetricComparison, enough_data: bool = True) -> Content:
    """One metric's row (fixed column widths). When an epoch is too short
    to have any figure yet, its missing value is "not enough data" (``n/d``),
    not "not measured"."""
    before = format_value(item.metric, item.before)
    after = format_value(item.metric, item.after)
    mark, style = mark_text(item), _mark_style(item)
    if item.significance is Significance.UNAVAILABLE and not enough_data:
        mark, style = Significance.NOT_ENOUGH_DATA.mark, "$warning"
    return Content.assemble(
        f"{_cut(item.label, _LABEL_W - 1):<{_LABEL_W}}",
        f"{before:>{_VALUE_W}} {after:>{_VALUE_W}} ",
        f"{format_delta(item):>{_DELTA_W}} {_percent(item):>{_PERCENT_W}}  ",
        (mark, style),
    )


def header_row() -> Content:
    """The column titles."""
    return Content.styled(
        f"{'metric':<{_LABEL_W}}{'A before':>{_VALUE_W}} {'B after':>{_VALUE_W}} "
        f"{'delta':>{_DELTA_W}} {'%':>{_PERCENT_W}}  sig",
        "bold",
    )


def verdict_line(comparison: EpochComparison) -> Content:
    """Did anything change beyond noise?"""
    if not comparison.enough_data:
        return Content.styled("verdict: n/d, not enough data for a verdict", "bold $warning")
    if comparison.any_significant:
        significant = comparison.significant
        names = (
            ", ".join(m.label for m in significant)
            if len(significant) <= 3
            else f"{len(significant)} metrics, marked * below"
        )
        return Content.assemble(("verdict: ", "bold"), ("significant: ", "bold $accent"), names)
    return Content.assemble(("verdict: ", "bold"), "no significant difference")


def effects_lines(comparison: EpochComparison) -> list[Content]:
    """The significant metrics' effects with their 95 % intervals."""
    return [
        Content.assemble("  ", (f"{item.label} ", "bold"), effect_interval_text(item))
        for item in comparison.significant[:4]
    ]


def rounds_verdict_lines(result: InterleaveResult) -> list[Content]:
    """An interleaved run's verdict: how it ended, then each metric's effect
    with its interval (primary metrics first)."""
    look = result.final
    lines = [Content.assemble(("interleaved rounds: ", "bold"), ending_line(result))]
    if look is None:
        return lines
    effects = sorted(look.effects, key=lambda e: not e.primary)
    for effect in effects:
        if effect.verdict is Verdict.NO_DATA:
            continue
        style = {
            Verdict.SIGNIFICANT: "bold $accent",
            Verdict.NEGLIGIBLE: "$success",
            Verdict.INCONCLUSIVE: "$warning",
        }.get(effect.verdict, "")
        name = METRICS[effect.metric].label + (" (primary)" if effect.primary else "")
        lines.append(
            Content.assemble(
                f"  {_cut(name, 24):<25}{effect.text():<32}", (effect.verdict.value, style)
            )
        )
    lines.append(
        Content.styled(
            f"primary intervals at {level_percent(look.level)}% (alpha spent over the looks); "
            "others 95%. The table below: each side's segments together.",
            "$text-muted",
        )
    )
    return lines


def comparison_content(
    comparison: EpochComparison, verdict: InterleaveResult | None = None
) -> Content:
    """The whole comparison as lines of text (an interleaved run's verdict first)."""
    lines: list[Content] = rounds_verdict_lines(verdict) if verdict is not None else []
    lines += [
        epoch_line("A", comparison.before),
        epoch_line("B", comparison.after),
        verdict_line(comparison),
        *effects_lines(comparison),
        header_row(),
    ]
    for side in Side:
        rows = [
            item
            for item in comparison.metrics
            if METRICS[item.metric].side is side
            and not (item.before is None and item.after is None)
        ]
        if not rows:
            if side is Side.CLIENT:
                lines.append(
                    Content.styled(
                        "client side: no load run of gtui's in these epochs", "$text-muted"
                    )
                )
            continue
        lines.append(Content.styled(_SIDE_TITLES[side], "bold $text-muted"))
        lines.extend(metric_row(item, comparison.enough_data) for item in rows)
    lines.append(
        Content.styled(
            f"{comparison.method}, alpha {comparison.alpha:g}. * significant  ~ negligible  "
            "n/d not enough data  - not measured",
            "$text-muted",
        )
    )
    lines.extend(Content.styled(f"note: {note}", "$text-muted") for note in comparison.notes)
    return Content("\n").join(lines)


class ComparisonView(SafeStatic):
    """Shows one comparison, or why there is none."""

    DEFAULT_CSS = """
    ComparisonView { height: auto; width: 100%; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.comparison: EpochComparison | None = None

    def show(
        self,
        comparison: EpochComparison | None,
        message: str = "",
        verdict: InterleaveResult | None = None,
    ) -> None:
        """Draw ``comparison``; with None, ``message`` says why there is none."""
        self.comparison = comparison
        if comparison is None:
            show_text(
                self, Content.styled(message or "nothing to compare", "$text-muted"), layout=True
            )
        else:
            show_text(self, comparison_content(comparison, verdict), layout=True)
