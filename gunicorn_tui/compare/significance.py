"""Is a difference between two epochs more than noise? Welch's t-test with
an effective sample size that accounts for autocorrelation, and a drift
term for the slow variation that autocorrelation does not describe.

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
ratios of sums, linearised (the delta method).

**Drift.** On a shared machine the level itself wanders: a neighbour's job
starts or ends and throughput and latency move for tens of seconds (in
recorded same-config pairs under a CPU-bound load, one epoch ran at 22
req/s for 4 s and then at 40 for the rest). A lag-1 autocorrelation hardly
sees such a slow change, but it moves an epoch's mean, and the difference
of two epochs' means, far more than the per-second noise says. It is
estimated inside each epoch from its half difference ``h`` (the second
half's mean minus the first half's). Under the AR(1) noise alone
``E[h^2]`` is four times the variance of the epoch's mean (each half has
twice that variance); what the squares of both epochs hold beyond that
(pooled, never negative) is drift over half an epoch. Between two epochs
drift acts over a longer span: the epochs' centres are a whole epoch
apart, so a steady trend moves the difference of their means by twice
``h``, four times in variance; a random walk gives two times plus the gap
between the epochs (a warm-up). The test adds four times the excess
(``DRIFT_FACTOR``, the trend's figure, which also covers the random walk
across a gap of up to two thirds of an epoch) to the variance of the
difference. The excess is estimated from two numbers, so in the
Welch-Satterthwaite degrees of freedom it counts with two: an epoch pair
whose halves disagree gets a wide interval. Deterministic (the same data
always gives the same mark, so a redrawn screen does not flicker) and
cheap (two more means per side). Below two effective units a metric gets
"not enough data".

What the calibration found (``compare_calibration.py --reps 400``; share
of A/A pairs called significant at a nominal 5 %; "+ drift" adds a random
walk of 0.1 noise standard deviations per second, epochs 5 s apart; the
real pairs are consecutive same-config epochs recorded by
``compare_truth.py --save``, each of 10 metrics tested alone):

=======================  ===========  ===========  ============  ========  ========
method                   AR(1) rho    AR(1) rho    + drift 0.1,  real,     real,
                         0.5, n = 15  0.8, n = 15  rho 0.5,      CPU-      steady
                         / 60         / 60         n = 15 / 60   bound     load
=======================  ===========  ===========  ============  ========  ========
Welch on raw seconds     26 % / 24 %  54 % / 54 %  39 % / 64 %   38 %      10 %
Mann-Whitney U           25 % / 24 %  50 % / 51 %  36 % / 63 %   51 %      33 %
moving-block bootstrap   26 % / 13 %  47 % / 33 %  35 % / 52 %   34 %      16 %
batch means (5) + Welch  11 % / 4 %   25 % / 9 %   20 % / 30 %   21 %      6 %
AR(1) effective n        9 % / 6 %    9 % / 7 %    14 % / 38 %   9 %       2 %
this method (+ drift)    6 % / 4 %    7 % / 4 %    8 % / 14 %    4 %       2 %
=======================  ===========  ===========  ============  ========  ========

The real columns: 14 pairs of 14 s under a closed CPU-bound load on one
worker (140 metric pairs; the server's throughput is whatever CPU the
shared machine leaves it, load average 1 to 6.5 during the recording),
and the 20 pairs of 12 s of ``compare_truth.py`` at 30 req/s on two
workers (199 metric pairs; a second run of 20 pairs gave 3 %, AR(1)
alone 5 %, Welch on raw seconds 14 %). With every metric, Holm and the negligible
sizes, as a comparison judges a pair: 1 of the 14 CPU-bound pairs was
flagged with the drift term and 2 without (the flagged one ran at 12 req/s
in the first epoch and 18 to 29 in the second: the machine, not noise,
changed); 0 of 20 steady pairs either way, in both runs. One 114 s run at 40 req/s
on two workers cut into adjacent windows (pairs shifted by 3 s, so far
from independent) gave 3 % for 15 s windows and 13 % for 30 s windows
(AR(1) alone: 6 % and 24 %): on longer epochs the drift the method sees
within an epoch still falls short of the drift between them.

Mann-Whitney U and the bootstrap treat seconds as (block-)exchangeable and
are far too eager on these series; batch means are good on long epochs but
not on short correlated ones; AR(1) alone is fooled by drift. The drift
term costs power when there is no drift (its estimate is above 0 in about
a third of pairs by chance): against a shift of one standard deviation
at rho 0 and n = 30 its power is 72 % (AR(1) alone: 97 %), at rho 0.5
and n = 30 42 % (56 %). A retune that matters moves figures by far more: 1 to 4
sync workers under a CPU-bound load (4 clients on /cpu?ms=20, 12 s a
side, load average about 3) gave client req/s +43 % (raw p 0.0005, Holm
0.006), server p50 +178 % (Holm 0.0001) and client p50 -32 % (Holm
0.009), while the same run's 20 same-config pairs were all clean
(``benchmarks/compare_truth.py``).

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
# Drift between two epoch means, as a multiple of the drift part of an
# epoch's squared half difference (see the module docstring).
DRIFT_FACTOR = 4.0
# The drift is estimated from two half differences, one per epoch.
DRIFT_DEGREES_OF_FREEDOM = 2.0
METHOD = (
    "Welch t-test with an AR(1) effective sample size (pooled lag-1 autocorrelation, "
    "bias-corrected) and a drift term from each epoch's half difference, "
    "Holm-adjusted over the metrics"
)


@dataclass(frozen=True)
class DifferenceTest:
    """The test of one metric: after minus before.

    ``drift_variance`` is the part of ``standard_error ** 2`` that comes
    from slow drift (0 when the halves of each epoch agree as well as
    their per-second noise says they should).
    """

    difference: float
    standard_error: float
    degrees_of_freedom: float
    p_value: float  # two-sided, before any adjustment for many metrics
    ci95_low: float
    ci95_high: float
    autocorrelation: float  # the lag-1 autocorrelation used (bias-corrected)
    effective_units_before: float
    effective_units_after: float
    drift_variance: float = 0.0


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


def half_difference(values: Sequence[float]) -> float:
    """Mean of the second half minus mean of the first (the middle value of
    an odd count left out)."""
    half = len(values) // 2
    return sum(values[len(values) - half :]) / half - sum(values[:half]) / half


def drift_variance(
    residuals_before: Sequence[float],
    residuals_after: Sequence[float],
    variance_of_mean_before: float,
    variance_of_mean_after: float,
) -> float:
    """The variance slow drift adds to a difference of epoch means.

    Each epoch's half difference ``h`` (second half's mean minus the
    first's) has, under the AR(1) noise alone, an expected square of four
    times the variance of the epoch's mean (two halves, each with twice
    that variance). Whatever the squares hold beyond that, pooled over
    both epochs, is drift, and the drift between two epoch means is
    ``DRIFT_FACTOR`` times it (see the module docstring); never negative.
    """
    pooled_square = (
        half_difference(residuals_before) ** 2 + half_difference(residuals_after) ** 2
    ) / 2.0
    expected_from_noise = 2.0 * (variance_of_mean_before + variance_of_mean_after)
    return DRIFT_FACTOR * max(0.0, pooled_square - expected_from_noise)


def welch_test(
    before: Units,
    after: Units,
    *,
    min_units: int = DEFAULT_MIN_UNITS,
    account_for_drift: bool = True,
) -> DifferenceTest | None:
    """Test after minus before; None when either side has fewer than
    ``min_units`` units, or fewer than ``MIN_EFFECTIVE_UNITS`` once the
    autocorrelation is taken into account. ``account_for_drift=False``
    leaves the drift term out (the calibration compares both)."""
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
    var_drift = drift_variance(residuals_a, residuals_b, var_a, var_b) if account_for_drift else 0.0
    difference = after_value - before_value
    se = math.sqrt(var_a + var_b + var_drift)
    if se == 0.0:
        # Every unit alike on both sides (a fixed count, a constant gauge).
        p_value = 1.0 if difference == 0.0 else 0.0
        return DifferenceTest(
            difference, 0.0, math.inf, p_value, difference, difference,
            rho, effective_a, effective_b, 0.0,
        )  # fmt: skip
    # Welch-Satterthwaite over the three parts; the drift is estimated from
    # two half differences, so it brings DRIFT_DEGREES_OF_FREEDOM.
    denominator = 0.0
    if var_a > 0:
        denominator += var_a * var_a / max(1.0, effective_a - 1.0)
    if var_b > 0:
        denominator += var_b * var_b / max(1.0, effective_b - 1.0)
    if var_drift > 0:
        denominator += var_drift * var_drift / DRIFT_DEGREES_OF_FREEDOM
    df = (var_a + var_b + var_drift) ** 2 / denominator
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
        drift_variance=var_drift,
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
