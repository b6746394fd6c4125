"""Is a difference between two epochs more than noise? Welch's t-test with
an effective sample size that accounts for autocorrelation.

The data: one unit per second (a second of traffic, a resource reading, a
second of a load run) for each metric, typically 15 to 120 units per
epoch. Neighbouring seconds are correlated. Measured here
(``benchmarks/compare_calibration.py``: a sync Gunicorn under a steady
load, 109 s), the lag-1 autocorrelation was about 0 for request counts,
CPU and CPU per request, 0.3 to 0.4 for server latency percentiles, 0.5
for client latency; an earlier run on the busier shared machine gave 0.5
to 0.7 for server latency and 0.97 for client latency (a stall delays
every request queued behind it for seconds).

The method: Welch's t-test on the per-unit values, with each side's
sample size replaced by an **effective sample size** ``n / tau``, where
``tau = (1 + rho) / (1 - rho)`` is the integrated autocorrelation time of
an AR(1) series and ``rho`` the lag-1 autocorrelation, pooled over both
epochs (each centred on its own mean, so a real shift is not read as
correlation) and corrected for the downward bias of the estimate in short
series (``+ (1 + 4 rho) / n``). Rates (error rate, CPU per request) are
ratios of sums, linearised (the delta method). The Welch-Satterthwaite
degrees of freedom use the effective sizes, so short or strongly
correlated epochs get wide intervals; below two effective units a metric
gets "not enough data". Deterministic (the same data always gives the
same mark, so a redrawn screen does not flicker) and cheap.

What the calibration found (false positives at a nominal 5 %, A/A):

========================  =============  ==============  ==============
method                    AR(1) rho 0.5  AR(1) rho 0.8   real, 30 s / 15 s
                          n = 15 / 60    n = 15 / 60     windows
========================  =============  ==============  ==============
Welch on raw seconds      28 % / 26 %    60 % / 52 %     17 % / 21 %
Mann-Whitney U            24 % / 24 %    57 % / 50 %     48 % / 37 %
moving-block bootstrap    24 % / 15 %    53 % / 30 %     16 % / 22 %
batch means (5) + Welch   10 % / 4 %     32 % / 8 %      7 % / 13 %
this method               6 % / 6 %      11 % / 5 %      7 % / 10 %
========================  =============  ==============  ==============

Mann-Whitney U and the bootstrap treat seconds as (block-)exchangeable and
are far too eager on these series; batch means are good on long epochs but
not on short correlated ones. This method stays near the nominal rate,
and its power against a shift of one standard deviation is still 54 % at
rho 0.5 and n = 30 (a real retune shifts figures by many standard
deviations: 1 vs 4 workers gave p < 0.001).

Many metrics are compared at once, so p-values are adjusted with Holm's
step-down method (the family-wise error rate stays at ``alpha``); a
comparison then also asks whether a difference is large enough to matter
(see :class:`~gunicorn_tui.compare.metrics.MetricInfo`), which keeps a
slow creep of memory from being sold as an effect.
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
