"""Is a difference between two epochs more than noise? Batch means and Welch's t.

The data: one unit per second (a second of traffic, a resource reading, a
second of a load run) for each metric, typically 15 to 120 units per
epoch. Units next to each other are correlated: measured on this machine
(benchmarks/compare_calibration.py), the lag-1 autocorrelation of
per-second figures under a steady load was about 0 for request counts,
0.5 for CPU, 0.5 to 0.7 for server latency percentiles and 0.97 for
client latency (a stall of the server delays every request queued behind
it for several seconds). Tests that take seconds as independent (Welch on
the raw seconds, Mann-Whitney U) then see far more evidence than there is:
on same-config (A/A) data they called about a quarter to a half of the
latency comparisons significant at a nominal 5 %.

The method: **non-overlapping batch means** with **Welch's t-test**.
Each epoch's units are cut into ``batches`` consecutive batches of equal
length (at least ``min_batch_units``); each batch gives one value (the
metric's ratio of sums over the batch), and batch values, being averages
over many seconds, are far less correlated and close to normal. Welch's
t-test on the two sets of batch values (unequal variances, the
Welch-Satterthwaite degrees of freedom) then gives the p-value and the
95 % confidence interval of the difference. Few batches mean few degrees
of freedom, and the t distribution widens the interval accordingly, which
is what keeps the test honest on short epochs. This is the method of
batch means of simulation output analysis.

Why not the alternatives (figures from the calibration run):

* a moving-block bootstrap of the difference in means: with 15 to 60
  units and blocks long enough for the correlation, there are only a
  handful of blocks and percentile intervals come out too narrow; it
  called 9 to 14 % of A/A comparisons significant at a nominal 5 %;
  it is also random (a mark that flickers between redraws of the same
  data) and costs thousands of resamples per metric;
* Mann-Whitney U corrected by an effective sample size: the correction
  needs the autocorrelation, which cannot be estimated well from 20 to 60
  seconds; it was as anti-conservative as the bootstrap on short epochs.

Batch means stayed at or below the nominal rate on A/A data of every
metric at every epoch length tried, and still found 1 vs 4 workers under a
CPU-bound load with p < 0.001. Deterministic and cheap (microseconds).

Many metrics are compared at once, so p-values are adjusted with Holm's
step-down method (the family-wise error rate stays at ``alpha``); a
comparison then also asks whether a difference is large enough to matter
(see :class:`~gunicorn_tui.compare.metrics.MetricInfo`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gunicorn_tui.compare.metrics import Units

DEFAULT_ALPHA = 0.05
# Fewer units than this on either side: no test ("not enough data").
DEFAULT_MIN_UNITS = 10
# Fewer effective units than this (after the autocorrelation): no test.
MIN_EFFECTIVE_UNITS = 2.0
# The lag-1 autocorrelation is capped: above it one series holds next to
# no independent information, and the test says "not enough data".
MAX_AUTOCORRELATION = 0.98
METHOD = (
    "Welch t-test with an AR(1) effective sample size (pooled lag-1 autocorrelation, "
    "bias-corrected), Holm-adjusted over the metrics"
)


@dataclass(frozen=True)
class DifferenceTest:
    """The test of one metric: after minus before."""

    difference: float
    standard_error: float
    degrees_of_freedom: float
    p_value: float  # two-sided, before any adjustment for many metrics
    ci95_low: float
    ci95_high: float
    autocorrelation: float  # the lag-1 autocorrelation used (bias-corrected)
    effective_units_before: float
    effective_units_after: float


def _log_beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), for the t distribution's tail."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _log_beta_cf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _log_beta_cf(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    if math.isnan(t):
        return 1.0
    if math.isinf(t):
        return 0.0
    return regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))


def t_quantile(probability: float, df: float) -> float:
    """The ``probability`` quantile (above 0.5) of Student's t, by bisection."""
    low, high = 0.0, 1.0
    while t_two_sided_p(high, df) > 2.0 * (1.0 - probability):
        high *= 2.0
        if high > 1e6:
            return high
    for _ in range(100):
        middle = (low + high) / 2.0
        if t_two_sided_p(middle, df) > 2.0 * (1.0 - probability):
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def _residuals(units: Units) -> list[float]:
    """Linearised residuals of a ratio of sums: for plain means the
    deviations from the mean; for a rate, (num - R den) / mean(den), whose
    mean's variance is the ratio's (the delta method)."""
    ratio = units.value
    assert ratio is not None
    mean_denominator = sum(units.denominators) / len(units)
    return [
        (numerator - ratio * denominator) / mean_denominator
        for numerator, denominator in zip(units.numerators, units.denominators, strict=True)
    ]


def pooled_autocorrelation(series: Sequence[Sequence[float]]) -> float:
    """Lag-1 autocorrelation pooled over series of deviations (each series
    already centred on its own mean, so a shift between epochs is not
    taken for correlation), corrected for the downward bias of the
    estimate in short series, within [0, MAX_AUTOCORRELATION]."""
    numerator = denominator = 0.0
    lengths = []
    for values in series:
        if len(values) < 2:
            continue
        lengths.append(len(values))
        numerator += sum(values[i] * values[i + 1] for i in range(len(values) - 1))
        denominator += sum(value * value for value in values)
    if denominator <= 0 or not lengths:
        return 0.0
    estimate = numerator / denominator
    # The lag-1 estimate of an AR(1) series of length n is low by about
    # (1 + 4 rho) / n; add it back (from the estimate itself).
    average_length = sum(lengths) / len(lengths)
    corrected = estimate + (1.0 + 4.0 * max(0.0, estimate)) / average_length
    return min(MAX_AUTOCORRELATION, max(0.0, corrected))


def _variance(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return sum((value - mean) ** 2 for value in values) / (len(values) - 1)


def welch_test(
    before: Units,
    after: Units,
    *,
    min_units: int = DEFAULT_MIN_UNITS,
) -> DifferenceTest | None:
    """Test after minus before; None when either side has fewer than
    ``min_units`` units, or fewer than ``MIN_EFFECTIVE_UNITS`` once the
    autocorrelation is taken into account."""
    if len(before) < min_units or len(after) < min_units:
        return None
    before_value, after_value = before.value, after.value
    if before_value is None or after_value is None:
        return None
    residuals_a, residuals_b = _residuals(before), _residuals(after)
    rho = pooled_autocorrelation((residuals_a, residuals_b))
    # The integrated autocorrelation time of an AR(1) series: how many
    # seconds one independent observation is worth.
    tau = (1.0 + rho) / (1.0 - rho)
    effective_a, effective_b = len(before) / tau, len(after) / tau
    if effective_a < MIN_EFFECTIVE_UNITS or effective_b < MIN_EFFECTIVE_UNITS:
        return None
    var_a = _variance(residuals_a) / effective_a
    var_b = _variance(residuals_b) / effective_b
    difference = after_value - before_value
    se = math.sqrt(var_a + var_b)
    if se == 0.0:
        # Every unit alike on both sides (a fixed count, a constant gauge).
        p_value = 1.0 if difference == 0.0 else 0.0
        return DifferenceTest(
            difference, 0.0, math.inf, p_value, difference, difference,
            rho, effective_a, effective_b,
        )  # fmt: skip
    denominator = 0.0
    if var_a > 0:
        denominator += var_a * var_a / max(1.0, effective_a - 1.0)
    if var_b > 0:
        denominator += var_b * var_b / max(1.0, effective_b - 1.0)
    df = (var_a + var_b) ** 2 / denominator
    p_value = t_two_sided_p(difference / se, df)
    half_width = t_quantile(0.975, df) * se
    return DifferenceTest(
        difference=difference,
        standard_error=se,
        degrees_of_freedom=df,
        p_value=p_value,
        ci95_low=difference - half_width,
        ci95_high=difference + half_width,
        autocorrelation=rho,
        effective_units_before=effective_a,
        effective_units_after=effective_b,
    )


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    count = len(p_values)
    order = sorted(range(count), key=lambda index: p_values[index])
    adjusted = [1.0] * count
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (count - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
