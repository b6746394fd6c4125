"""Two epochs side by side: values, deltas, percent change, significance.

A metric is marked **significant** only when both hold: the test on batch
means (:mod:`gunicorn_tui.compare.significance`) rejects "no difference" at
``alpha`` after Holm's adjustment over every metric compared, and the
difference is larger than the metric's negligible size
(:class:`~gunicorn_tui.compare.metrics.MetricInfo`). A sure but tiny
difference is marked **negligible**. Epochs with too little data after
their warm-up give **not enough data** and no delta at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from gunicorn_tui.compare.epochs import Epoch, EpochConfig
from gunicorn_tui.compare.metrics import METRICS, Metric, metric_units
from gunicorn_tui.compare.significance import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_UNITS,
    METHOD,
    DifferenceTest,
    holm_adjust,
    welch_test,
)
from gunicorn_tui.compare.summary import DEFAULT_MIN_MEASURED_S, EpochSummary, summarize


class Significance(StrEnum):
    """The mark of one metric's difference."""

    SIGNIFICANT = "significant"
    NEGLIGIBLE = "negligible"  # surely there, too small to matter
    NOT_SIGNIFICANT = "not significant"
    NOT_ENOUGH_DATA = "not enough data"
    UNAVAILABLE = "unavailable"  # not measured in one epoch or both

    @property
    def mark(self) -> str:
        """A short mark for tables."""
        return {
            Significance.SIGNIFICANT: "*",
            Significance.NEGLIGIBLE: "~",
            Significance.NOT_SIGNIFICANT: "",
            Significance.NOT_ENOUGH_DATA: "n/d",
            Significance.UNAVAILABLE: "-",
        }[self]


@dataclass(frozen=True)
class MetricComparison:
    """One metric in both epochs.

    ``delta`` is after minus before; ``percent_change`` is relative to
    before (None when before is 0). ``improved`` says whether the change
    goes the good way for this metric (None when no way is better, or no
    delta). ``p_value`` is Holm-adjusted; ``test`` has the raw figures.
    """

    metric: Metric
    label: str
    unit: str
    before: float | None
    after: float | None
    delta: float | None
    percent_change: float | None
    significance: Significance
    p_value: float | None
    test: DifferenceTest | None
    improved: bool | None


@dataclass(frozen=True)
class EpochComparison:
    """Two epochs compared (``before`` is usually the previous epoch)."""

    before: EpochSummary
    after: EpochSummary
    metrics: tuple[MetricComparison, ...]
    alpha: float
    method: str
    notes: tuple[str, ...]

    @property
    def enough_data(self) -> bool:
        """Whether both epochs had enough data for deltas."""
        return self.before.enough_data and self.after.enough_data

    @property
    def significant(self) -> tuple[MetricComparison, ...]:
        """The metrics marked significant."""
        return tuple(m for m in self.metrics if m.significance is Significance.SIGNIFICANT)

    @property
    def any_significant(self) -> bool:
        """The overall verdict: did anything change beyond noise?"""
        return bool(self.significant)

    def metric(self, metric: Metric) -> MetricComparison:
        """The comparison of one metric."""
        for item in self.metrics:
            if item.metric is metric:
                return item
        raise KeyError(metric)


def judge(metric: Metric, value_before: float, delta: float, p_value: float | None,
          alpha: float) -> Significance:  # fmt: skip
    """The mark of a tested difference: significant when the (Holm-adjusted)
    ``p_value`` is below ``alpha`` and ``delta`` is larger than the metric's
    negligible size, negligible when only the first holds."""
    if p_value is None or p_value >= alpha:
        return Significance.NOT_SIGNIFICANT
    info = METRICS[metric]
    margin = max(info.negligible_abs, info.negligible_fraction * abs(value_before))
    return Significance.SIGNIFICANT if abs(delta) > margin else Significance.NEGLIGIBLE


def _same_config(a: EpochConfig, b: EpochConfig) -> bool:
    return a.workers == b.workers and dict(a.settings) == dict(b.settings)


def _config_notes(before: Epoch, after: Epoch) -> list[str]:
    notes: list[str] = []
    if (
        before.config is not None
        and after.config is not None
        and _same_config(before.config, after.config)
    ):
        notes.append("both epochs ran the same configuration")
    if set(before.load_profiles) != set(after.load_profiles):
        notes.append(
            "the epochs ran under different loads ("
            f"{', '.join(before.load_profiles) or 'no load of gtui'} vs "
            f"{', '.join(after.load_profiles) or 'no load of gtui'}): "
            "differences may come from the load, not the configuration"
        )
    return notes


def compare_epochs(
    before: Epoch,
    after: Epoch,
    *,
    alpha: float = DEFAULT_ALPHA,
    min_measured_s: float = DEFAULT_MIN_MEASURED_S,
    min_units: int = DEFAULT_MIN_UNITS,
    notes: Sequence[str] = (),
) -> EpochComparison:
    """Compare ``after`` with ``before`` (warm-ups left out of both)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    before_summary = summarize(before, min_measured_s=min_measured_s)
    after_summary = summarize(after, min_measured_s=min_measured_s)
    measured_before, measured_after = before.measured(), after.measured()
    enough = before_summary.enough_data and after_summary.enough_data
    tests: dict[Metric, DifferenceTest | None] = {}
    for metric in Metric:
        if enough:
            tests[metric] = welch_test(
                metric_units(measured_before, metric),
                metric_units(measured_after, metric),
                min_units=min_units,
            )
        else:
            tests[metric] = None
    tested = [(metric, test) for metric, test in tests.items() if test is not None]
    adjusted = dict(
        zip(
            [metric for metric, _ in tested],
            holm_adjust([test.p_value for _, test in tested]),
            strict=True,
        )
    )
    results: list[MetricComparison] = []
    for metric in Metric:
        info = METRICS[metric]
        value_before = before_summary.value(metric)
        value_after = after_summary.value(metric)
        test = tests[metric]
        delta: float | None = None
        percent: float | None = None
        p_value = adjusted.get(metric)
        if value_before is None or value_after is None:
            significance = Significance.UNAVAILABLE
        elif not enough or test is None:
            significance = Significance.NOT_ENOUGH_DATA
        else:
            delta = value_after - value_before
            percent = 100.0 * delta / value_before if value_before else None
            significance = judge(metric, value_before, delta, p_value, alpha)
        improved: bool | None = None
        if delta is not None and delta != 0 and info.higher_is_better is not None:
            improved = (delta > 0) == info.higher_is_better
        results.append(
            MetricComparison(
                metric=metric,
                label=info.label,
                unit=info.unit,
                before=value_before,
                after=value_after,
                delta=delta,
                percent_change=percent,
                significance=significance,
                p_value=p_value,
                test=test,
                improved=improved,
            )
        )
    all_notes = [*notes, *_config_notes(before, after)]
    if not enough:
        short = [s for s in (before_summary, after_summary) if not s.enough_data]
        all_notes.append(
            "not enough data: "
            + "; ".join(
                f"epoch {s.epoch_id} has {s.measured_s:.0f} s after its warm-up "
                f"(needs {s.min_measured_s:.0f} s)"
                for s in short
            )
        )
    return EpochComparison(
        before=before_summary,
        after=after_summary,
        metrics=tuple(results),
        alpha=alpha,
        method=METHOD,
        notes=tuple(all_notes),
    )
