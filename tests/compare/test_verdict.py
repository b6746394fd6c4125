"""The verdict's statistics on data: intervals, classification, alpha spending."""

from __future__ import annotations

import math
import random

import pytest

from gunicorn_tui.compare.metrics import Metric
from gunicorn_tui.compare.verdict import (
    LookPlan,
    Scale,
    Spending,
    Verdict,
    estimate_effect,
    obf_spent,
    pocock_spent,
    rounds_needed,
    trimmed_stats,
)
from gunicorn_tui.compare.verdict_report import level_percent


def test_trimmed_stats_is_the_t_test_below_ten_rounds_and_trims_from_ten() -> None:
    mean, se, df = trimmed_stats([1.0, 2.0, 3.0])
    assert (mean, df) == (2.0, 2.0) and se == pytest.approx(1.0 / math.sqrt(3))
    # One wild round among ten moves the trimmed mean little.
    values = [0.1] * 9 + [5.0]
    mean, _, df = trimmed_stats(values)
    assert mean == pytest.approx(0.1) and df == 7.0


def test_a_doubling_is_significant_with_an_interval_around_it() -> None:
    rng = random.Random(1)
    before = [100.0 * math.exp(rng.gauss(0, 0.05)) for _ in range(6)]
    after = [2 * b * math.exp(rng.gauss(0, 0.03)) for b in before]
    effect = estimate_effect(Metric.REQUESTS_PER_S, before, after)
    assert effect.scale is Scale.RATIO and effect.verdict is Verdict.SIGNIFICANT
    assert effect.low is not None and effect.high is not None
    assert effect.low < 1.0 < effect.high  # +100 % inside
    assert effect.text().startswith("+")
    assert effect.p_value is not None and effect.p_value < 1e-4


def test_the_same_config_is_negligible_once_the_interval_is_narrow() -> None:
    rng = random.Random(2)
    before = [100.0 + rng.gauss(0, 0.5) for _ in range(8)]
    after = [100.0 + rng.gauss(0, 0.5) for _ in range(8)]
    assert estimate_effect(Metric.REQUESTS_PER_S, before, after).verdict is Verdict.NEGLIGIBLE
    # Noisy rounds: neither shown nor ruled out.
    noisy_after = [100.0 * math.exp(rng.gauss(0, 0.3)) for _ in range(4)]
    noisy = estimate_effect(Metric.REQUESTS_PER_S, before[:4], noisy_after)
    assert noisy.verdict is Verdict.INCONCLUSIVE


def test_no_variance_and_missing_rounds_and_zeros() -> None:
    # Every round the same ratio: a certain, exact interval.
    same = estimate_effect(Metric.REQUESTS_PER_S, [10.0, 20.0, 30.0], [20.0, 40.0, 60.0])
    assert same.verdict is Verdict.SIGNIFICANT and same.low == pytest.approx(1.0)
    flat = estimate_effect(Metric.CPU_PERCENT, [50.0] * 4, [50.0] * 4)
    assert flat.verdict is Verdict.NEGLIGIBLE and flat.p_value == 1.0
    # A round with a side missing is left out; one round is no data.
    sparse = estimate_effect(Metric.REQUESTS_PER_S, [10.0, None, 12.0], [20.0, 22.0, None])
    assert sparse.rounds == 1 and sparse.verdict is Verdict.NO_DATA
    # Zeros (no errors on one side): a difference, not a ratio.
    errors = estimate_effect(Metric.ERROR_RATE, [0.0, 0.0, 0.0], [0.0, 0.001, 0.0])
    assert errors.scale is Scale.DIFFERENCE and errors.verdict is Verdict.NEGLIGIBLE


def test_intervals_cover_the_truth_about_95_percent_of_the_time() -> None:
    rng = random.Random(3)
    covered = 0
    trials = 2000
    for _ in range(trials):
        before = [100.0] * 5
        after = [100.0 * 1.2 * math.exp(rng.gauss(0, 0.1)) for _ in range(5)]
        effect = estimate_effect(Metric.REQUESTS_PER_S, before, after)
        assert effect.low is not None and effect.high is not None
        # exp(mean of logs) is centred on 1.2 * E-free median: the truth here.
        covered += effect.low <= 0.2 <= effect.high
    assert 0.93 <= covered / trials <= 0.97


@pytest.mark.parametrize("spending", list(Spending))
def test_the_looks_never_spend_more_than_alpha(spending: Spending) -> None:
    plan = LookPlan(cap_s=60.0, family_alpha=0.05, primary=2, spending=spending)
    previous, spent = 0.0, 0.0
    for now in (14.0, 21.0, 28.0, 35.0, 42.0, 49.0, 56.0, 60.0):
        spent += 1.0 - plan.level(previous, now)
        previous = now
    assert spent == pytest.approx(0.025, rel=1e-6)
    assert obf_spent(1.0, 0.05) == pytest.approx(0.05)
    assert pocock_spent(1.0, 0.05) == pytest.approx(0.05)
    # O'Brien-Fleming spends next to nothing early, Pocock much more.
    assert obf_spent(0.25, 0.05) < 1e-3 < pocock_spent(0.25, 0.05)


def test_a_false_alarm_rate_under_repeated_looks_stays_below_alpha() -> None:
    rng = random.Random(4)
    alarms = 0
    runs = 400
    for _ in range(runs):
        plan = LookPlan(cap_s=60.0, primary=1, spending=Spending.POCOCK)
        before: list[float | None] = []
        after: list[float | None] = []
        previous = 0.0
        for round_index in range(10):
            before.append(100.0 * math.exp(rng.gauss(0, 0.1)))
            after.append(100.0 * math.exp(rng.gauss(0, 0.1)))
            if round_index + 1 < 3:
                continue
            now = 6.0 * (round_index + 1)
            level = plan.level(previous, now)
            previous = now
            effect = estimate_effect(Metric.REQUESTS_PER_S, before, after, level=level)
            if effect.verdict is Verdict.SIGNIFICANT:
                alarms += 1
                break
    assert alarms / runs <= 0.05


def test_rounds_needed_grows_as_the_effect_shrinks() -> None:
    assert rounds_needed(1.0, 0.1) < rounds_needed(0.2, 0.1) < rounds_needed(0.1, 0.1)


def test_an_interval_far_below_minus_100_percent_is_classified_without_error() -> None:
    effect = estimate_effect(Metric.REQUESTS_PER_S, [100.0, 1.0, 50.0], [1e-300, 90.0, 1e-200])
    assert effect.verdict is Verdict.INCONCLUSIVE


def test_segment_latency_pools_every_request_of_the_driver_seconds() -> None:
    from gunicorn_tui.compare.epochs import ClientSecond
    from gunicorn_tui.compare.interleave import pooled_latency_ms
    from gunicorn_tui.load.latency_histogram import LatencyHistogram

    def second(latencies_ms: list[float]) -> ClientSecond:
        histogram = LatencyHistogram()
        histogram.record_many(int(ms * 1e6) for ms in latencies_ms)
        return ClientSecond(0.0, 1.0, len(latencies_ms), len(latencies_ms), 0, 0, None, None,
                            None, tuple(histogram.buckets.items()))  # fmt: skip

    # A quiet second of 9 fast requests and a busy one of 91 slow ones: the
    # median request is slow (the mean of the two seconds' medians is not).
    seconds = [second([10.0] * 9), second([100.0] * 91)]
    assert pooled_latency_ms(seconds, 0.5) == pytest.approx(100.0, rel=0.01)
    assert pooled_latency_ms(seconds, 0.05) == pytest.approx(10.0, rel=0.01)
    assert pooled_latency_ms([second([])], 0.5) is None


def test_a_tiny_level_over_few_noisy_rounds_gives_a_finite_interval() -> None:
    effect = estimate_effect(
        Metric.REQUESTS_PER_S, [1.0, 100.0, 1.0], [100.0, 1.0, 90.0], level=1 - 1e-12
    )
    assert effect.high is not None and math.isfinite(effect.high)
    assert effect.verdict is Verdict.INCONCLUSIVE


def test_a_level_is_never_printed_as_100_percent_unless_it_is() -> None:
    assert level_percent(0.95) == "95"
    assert level_percent(0.9875) == "98.8"
    assert level_percent(0.99998) == "99.998"
    assert level_percent(0.9999994) == "99.9999"
    assert level_percent(1.0) == "100"
