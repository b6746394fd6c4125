"""The verdict of an interleaved comparison: an effect with an interval per
metric, computed over rounds, and when the answer is known.

**Rounds, not seconds.** An interleaved run measures every configuration
once per round (:mod:`gunicorn_tui.compare.interleave`). Each round gives
one value per configuration and metric (a ratio of sums over the round's
measured seconds); the unit of analysis is the round-wise log-ratio
``d_i = ln(after_i / before_i)`` (a plain difference where a value can be
0, an error rate say). The machine's slow drift moves both sides of a
round alike and cancels in ``d_i``; what is left is close to independent
from round to round, so an ordinary one-sample test over the ``d_i`` is
honest where a test over seconds is not (see ``significance.py`` for what
autocorrelation and drift do to those).

**Robust t.** The estimate is the trimmed mean of the ``d_i`` (10 % cut at
each end from 10 rounds on; a plain mean below), its standard error Yuen's
(from the winsorized variance), with ``n - 2g - 1`` degrees of freedom.
One round hit by a neighbour's burst moves neither much. A segment's
client latency percentiles are those of every request the load driver sent
in it (its per-second histograms pooled); the server's come from the access
log's per-second percentiles (its history keeps no per-request durations),
averaged over the segment. Latency percentiles get the bootstrap's standard
error over rounds instead (the
trimmed mean of their round-wise log-ratios resampled by round, seeded, so
the same data gives the same interval), with the same t quantile.

**Classification.** From the interval and the metric's negligible band
(:class:`~gunicorn_tui.compare.metrics.MetricInfo`, e.g. 5 % for req/s):
*negligible* when the interval lies inside the band, *significant* when it
is clear of 0 (and not inside the band), *inconclusive* otherwise (across
0 and wider than the band: more rounds would tell).

**Looking after every round.** The interval that decides is at a level
that keeps the error rate under repeated looks: a group-sequential alpha
spending function of Lan-DeMets' Pocock type, ``alpha(t) = a ln(1 + (e-1)
t)`` with ``t`` the share of the run's cap used so far (the
O'Brien-Fleming type, ``2 - 2 Phi(z_{1 - a/2} / sqrt(t))``, is kept for
comparison: it spends almost nothing at the first looks, so a 2x change
waits for more rounds; ``benchmarks/verdict_power.py`` has the figures),
and each look spending only the increment since the previous look (a
Bonferroni bound over the looks: valid whatever the correlation between
looks, and free of the normal approximation that small round counts would
break). ``a`` is the family alpha divided over the primary metrics
(Bonferroni). So the reported interval is a simultaneous interval: over
the looks and the primary metrics, it misses the truth with probability at
most ``alpha``. The run stops when every primary metric is conclusive;
p-values (unadjusted) stay in the JSON.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gunicorn_tui.compare.metrics import METRICS, Metric
from gunicorn_tui.compare.significance import t_quantile, t_two_sided_p

DEFAULT_FAMILY_ALPHA = 0.05
# Rounds before the first look (two degrees of freedom).
MIN_ROUNDS = 3
TRIM_FRACTION = 0.10
BOOTSTRAP_RESAMPLES = 2000
LATENCY_METRICS = frozenset(
    {
        Metric.LATENCY_P50_MS,
        Metric.LATENCY_P90_MS,
        Metric.LATENCY_P99_MS,
        Metric.CLIENT_LATENCY_P50_MS,
        Metric.CLIENT_LATENCY_P90_MS,
        Metric.CLIENT_LATENCY_P99_MS,
    }
)
VERDICT_METHOD = (
    "interleaved rounds; per metric the trimmed mean of round-wise log-ratios with Yuen's "
    "standard error (latency: bootstrap over rounds), t interval at a level from "
    "Lan-DeMets Pocock-type alpha spending over the looks, Bonferroni over the "
    "primary metrics"
)


class Verdict(StrEnum):
    """What the interval says about one metric."""

    SIGNIFICANT = "significant"
    NEGLIGIBLE = "negligible"
    INCONCLUSIVE = "inconclusive"
    NO_DATA = "no data"

    @property
    def conclusive(self) -> bool:
        return self in (Verdict.SIGNIFICANT, Verdict.NEGLIGIBLE)


class Scale(StrEnum):
    """How an effect is expressed."""

    RATIO = "ratio"  # after / before - 1 (log-ratios averaged)
    DIFFERENCE = "difference"  # after - before, in the metric's unit


def normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    """Phi^-1(p) by bisection on erfc (deterministic, 1e-12)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    low, high = -40.0, 40.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if normal_cdf(middle) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def obf_spent(fraction: float, alpha: float) -> float:
    """Lan-DeMets O'Brien-Fleming-type spending: alpha spent by ``fraction``
    of the information (here: of the run's cap)."""
    if fraction <= 0.0:
        return 0.0
    fraction = min(1.0, fraction)
    return min(
        alpha, 2.0 - 2.0 * normal_cdf(normal_quantile(1.0 - alpha / 2.0) / math.sqrt(fraction))
    )


def pocock_spent(fraction: float, alpha: float) -> float:
    """Lan-DeMets Pocock-type spending: ``alpha ln(1 + (e - 1) t)``; spends
    more early than the O'Brien-Fleming type, less at the end."""
    if fraction <= 0.0:
        return 0.0
    return min(alpha, alpha * math.log1p((math.e - 1.0) * min(1.0, fraction)))


class Spending(StrEnum):
    """A Lan-DeMets spending function."""

    OBRIEN_FLEMING = "obrien-fleming"
    POCOCK = "pocock"

    def spent(self, fraction: float, alpha: float) -> float:
        if self is Spending.POCOCK:
            return pocock_spent(fraction, alpha)
        return obf_spent(fraction, alpha)


def look_alpha(
    previous_fraction: float,
    fraction: float,
    alpha: float,
    spending: Spending = Spending.OBRIEN_FLEMING,
) -> float:
    """The nominal two-sided level of one look: what the spending function
    spends between the previous look and this one."""
    return max(0.0, spending.spent(fraction, alpha) - spending.spent(previous_fraction, alpha))


# What interleaved runs use unless told otherwise. Chosen from
# benchmarks/verdict_power.py (4000 simulated runs per row from 10 recorded
# same-config runs of benchmarks/verdict_truth.py, round log-ratio sd 0.41,
# 1 s segments, 0.5 s settle, cap 60 s): a 2x change conclusive by 20 s in
# 37 % of runs with Pocock, 5 % with O'Brien-Fleming (whose looks before
# 20 s spend ~1e-5); by 60 s 94 % against 96 %, a 20 % change 42 % against
# 51 %; false alarms 1.3 % and 0.9 %. The first goal (2x within 20 s) needs
# early spending.
DEFAULT_SPENDING = Spending.POCOCK


@dataclass(frozen=True)
class Effect:
    """One metric's effect over rounds (after relative to before).

    ``estimate``, ``low``, ``high``: on the ratio scale a fraction (+0.98
    is +98 %), on the difference scale in the metric's unit. ``low`` and
    ``high`` are the deciding interval (its level ``level``, adjusted for
    the looks when the metric is primary); ``low95``/``high95`` the plain
    95 % interval of this look.
    """

    metric: Metric
    rounds: int
    scale: Scale
    before: float | None  # mean over rounds
    after: float | None
    estimate: float | None
    low: float | None
    high: float | None
    low95: float | None
    high95: float | None
    level: float
    p_value: float | None  # two-sided, this look alone, unadjusted
    verdict: Verdict
    primary: bool = False
    bootstrap: bool = False

    def text(self) -> str:
        """``+98% [+85%, +112%]`` or ``+12.5 ms [+3.1 ms, +20.0 ms]``."""
        if self.estimate is None or self.low is None or self.high is None:
            return "no data"
        unit = METRICS[self.metric].unit
        if self.scale is Scale.RATIO:
            return f"{_percent(self.estimate)} [{_percent(self.low)}, {_percent(self.high)}]"
        low, high = _signed(self.low, unit), _signed(self.high, unit)
        return f"{_signed(self.estimate, unit)} [{low}, {high}]"


def _percent(fraction: float) -> str:
    value = 100.0 * fraction
    digits = 0 if abs(value) >= 10 else 1
    return f"{value:+.{digits}f}%"


def _signed(value: float, unit: str) -> str:
    if unit == "share":
        return f"{100 * value:+.2f} pp"
    if unit == "bytes":
        return f"{value / (1024 * 1024):+.1f} MiB"
    return f"{value:+.3g} {unit}"


def trimmed_stats(
    values: Sequence[float], trim: float = TRIM_FRACTION
) -> tuple[float, float, float]:
    """Trimmed mean, Yuen's standard error and degrees of freedom."""
    n = len(values)
    ordered = sorted(values)
    g = math.floor(trim * n) if n >= 10 else 0
    kept = ordered[g : n - g]
    mean = sum(kept) / len(kept)
    winsorized = [ordered[g]] * g + kept + [ordered[n - g - 1]] * g
    w_mean = sum(winsorized) / n
    w_var = sum((v - w_mean) ** 2 for v in winsorized) / (n - 1)
    h = n - 2 * g
    se = math.sqrt(w_var) / ((h / n) * math.sqrt(n))
    return mean, se, float(h - 1)


def bootstrap_se(values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES) -> float:
    """The bootstrap standard error of the trimmed mean, resampling rounds
    (seeded by the data, so a redraw gives the same figure)."""
    rng = random.Random(hash(tuple(round(v, 12) for v in values)) & 0xFFFFFFFF)
    n = len(values)
    means = []
    for _ in range(resamples):
        sample = [values[rng.randrange(n)] for _ in range(n)]
        means.append(trimmed_stats(sample)[0])
    mean = sum(means) / resamples
    return math.sqrt(sum((m - mean) ** 2 for m in means) / (resamples - 1))


def classify(metric: Metric, scale: Scale, low: float, high: float, before: float) -> Verdict:
    """Significant / negligible / inconclusive from an interval and the
    metric's negligible band. On the ratio scale ``low`` and ``high`` are
    log-ratios; on the difference scale, in the metric's unit."""
    info = METRICS[metric]
    if scale is Scale.RATIO:
        band = info.negligible_fraction
        if before > 0:
            band = max(band, info.negligible_abs / before)
        band_low, band_high = math.log1p(-min(band, 0.99)), math.log1p(band)
    else:
        band = max(info.negligible_abs, info.negligible_fraction * abs(before))
        band_low, band_high = -band, band
    if band_low <= low and high <= band_high:
        return Verdict.NEGLIGIBLE
    if low > 0 or high < 0:
        return Verdict.SIGNIFICANT
    return Verdict.INCONCLUSIVE


def estimate_effect(
    metric: Metric,
    before: Sequence[float | None],
    after: Sequence[float | None],
    *,
    level: float = 0.95,
    primary: bool = False,
) -> Effect:
    """The effect of ``metric`` over paired rounds (``before[i]`` and
    ``after[i]`` from round i; a round with either value missing is left
    out), its interval at ``level`` and its verdict."""
    pairs = [(a, b) for a, b in zip(before, after, strict=True) if a is not None and b is not None]
    n = len(pairs)
    mean_a = sum(a for a, _ in pairs) / n if n else None
    mean_b = sum(b for _, b in pairs) / n if n else None
    empty = Effect(metric, n, Scale.RATIO, mean_a, mean_b, None, None, None, None, None,
                   level, None, Verdict.NO_DATA, primary)  # fmt: skip
    if n < 2 or mean_a is None:
        return empty
    ratio = all(a > 0 and b > 0 for a, b in pairs)
    scale = Scale.RATIO if ratio else Scale.DIFFERENCE
    values = [math.log(b / a) if ratio else b - a for a, b in pairs]
    center, se, df = trimmed_stats(values)
    use_bootstrap = metric in LATENCY_METRICS and n >= 3
    if use_bootstrap:
        se = max(se, bootstrap_se(values)) if n < 10 else bootstrap_se(values)
    df = max(1.0, df)
    if se == 0.0:
        # No variance at all: every round the same difference.
        p_value = 1.0 if center == 0.0 else 0.0
        half = half95 = 0.0
    else:
        p_value = t_two_sided_p(center / se, df)
        half = t_quantile(1.0 - (1.0 - level) / 2.0, df) * se
        half95 = t_quantile(0.975, df) * se
    low, high = center - half, center + half

    def back(value: float) -> float:
        # A huge interval (a tiny level over very few rounds) stays finite.
        return math.expm1(min(value, 700.0)) if ratio else value

    verdict = classify(metric, scale, low, high, mean_a)
    return Effect(
        metric=metric,
        rounds=n,
        scale=scale,
        before=mean_a,
        after=mean_b,
        estimate=back(center),
        low=back(low),
        high=back(high),
        low95=back(center - half95),
        high95=back(center + half95),
        level=level,
        p_value=p_value,
        verdict=verdict,
        primary=primary,
        bootstrap=use_bootstrap,
    )


@dataclass(frozen=True)
class LookPlan:
    """How the looks of a sequential run spend alpha.

    ``cap_s`` is the run's measuring time at most (the information fraction
    of a look is the measured time so far over it); ``primary`` counts the
    metrics the stop waits for (Bonferroni).
    """

    cap_s: float
    family_alpha: float = DEFAULT_FAMILY_ALPHA
    primary: int = 1
    spending: Spending = DEFAULT_SPENDING

    def metric_alpha(self) -> float:
        return self.family_alpha / max(1, self.primary)

    def level(self, previous_s: float, now_s: float) -> float:
        """The confidence level of the deciding intervals at a look made
        after ``now_s`` seconds (the previous look at ``previous_s``)."""
        alpha = self.metric_alpha()
        previous, now = previous_s / self.cap_s, now_s / self.cap_s
        spent = look_alpha(previous, now, alpha, self.spending)
        if now >= 1.0:
            # The last look spends what is left.
            spent = max(spent, alpha - self.spending.spent(previous, alpha))
        return 1.0 - max(spent, 1e-12)


@dataclass(frozen=True)
class Look:
    """One look at the rounds so far: every metric's effect, and whether
    every primary metric is conclusive."""

    rounds: int
    measured_s: float
    level: float  # of the primary metrics' intervals
    effects: tuple[Effect, ...]
    # The sides judged (before, after), where a run has more than two.
    pair: tuple[int, int] = (0, 1)

    @property
    def conclusive(self) -> bool:
        primaries = [e for e in self.effects if e.primary]
        return bool(primaries) and all(e.verdict.conclusive for e in primaries)

    def effect(self, metric: Metric) -> Effect | None:
        for effect in self.effects:
            if effect.metric is metric:
                return effect
        return None


def look_at(
    rounds_before: Mapping[Metric, Sequence[float | None]],
    rounds_after: Mapping[Metric, Sequence[float | None]],
    primary: Sequence[Metric],
    *,
    level: float,
) -> tuple[Effect, ...]:
    """Every metric's effect at one look: primary metrics at ``level``
    (the sequential one), the others at a plain 95 %."""
    effects = []
    for metric in Metric:
        if metric not in rounds_before or metric not in rounds_after:
            continue
        is_primary = metric in primary
        effects.append(
            estimate_effect(
                metric,
                rounds_before[metric],
                rounds_after[metric],
                level=level if is_primary else 0.95,
                primary=is_primary,
            )
        )
    return tuple(effects)


def rounds_needed(relative_effect: float, round_sd: float, *, level: float = 0.999) -> int:
    """Rounds for an interval of ``level`` to clear 0 by the effect with 80 %
    power, given the standard deviation of a round's log-ratio (a power
    figure for defaults: never fewer than MIN_ROUNDS)."""
    if relative_effect <= 0 or round_sd <= 0:
        return MIN_ROUNDS
    z = normal_quantile(1.0 - (1.0 - level) / 2.0) + normal_quantile(0.8)
    n = (z * round_sd / math.log1p(relative_effect)) ** 2
    return max(MIN_ROUNDS, math.ceil(n) + 1)
