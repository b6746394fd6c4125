"""The significance test, on data: known t values, Holm, and the false
positive rate on generated autocorrelated series (seeded, so deterministic)."""

from __future__ import annotations

import math
import random

import pytest

from gunicorn_tui.compare.metrics import Units
from gunicorn_tui.compare.significance import (
    drift_variance,
    half_difference,
    holm_adjust,
    pooled_autocorrelation,
    t_quantile,
    t_two_sided_p,
    welch_test,
)


def plain(values: list[float]) -> Units:
    return Units(tuple(values), (1.0,) * len(values))


def ar1(rng: random.Random, n: int, rho: float, shift: float = 0.0) -> list[float]:
    value = rng.gauss(0, 1)
    out = []
    for _ in range(n + 30):
        value = rho * value + math.sqrt(1 - rho * rho) * rng.gauss(0, 1)
        out.append(value + shift)
    return out[30:]


@pytest.mark.parametrize(
    ("t", "df", "expected"),
    # Two-sided tail probabilities from statistical tables.
    [(2.0, 10, 0.07339), (2.228, 10, 0.05), (1.96, 1e6, 0.05), (0.0, 5, 1.0), (12.706, 1, 0.05)],
)
def test_t_tail_matches_tables(t: float, df: float, expected: float) -> None:
    assert t_two_sided_p(t, df) == pytest.approx(expected, abs=2e-4)


def test_t_quantile_inverts_the_tail() -> None:
    assert t_quantile(0.975, 10) == pytest.approx(2.228, abs=1e-3)
    assert t_quantile(0.975, 3) == pytest.approx(3.182, abs=1e-3)


def test_holm_adjusts_step_down_in_the_given_order() -> None:
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert holm_adjust([]) == []


def test_autocorrelation_is_pooled_and_not_fooled_by_a_shift() -> None:
    rng = random.Random(7)
    independent = [[rng.gauss(0, 1) for _ in range(200)] for _ in range(2)]
    # Each series is centred on its own mean, as the test passes them.
    centred = [[v - sum(s) / len(s) for v in s] for s in independent]
    assert pooled_autocorrelation(centred) < 0.15
    correlated = [ar1(rng, 200, 0.8) for _ in range(2)]
    centred = [[v - sum(s) / len(s) for v in s] for s in correlated]
    assert 0.65 < pooled_autocorrelation(centred) < 0.92


def test_too_few_units_gives_no_test() -> None:
    assert welch_test(plain([1.0] * 5), plain([2.0] * 30)) is None
    assert welch_test(plain([1.0, 2.0] * 10), plain([1.0] * 9)) is None


def test_identical_and_shifted_constants() -> None:
    same = welch_test(plain([5.0] * 20), plain([5.0] * 20))
    assert same is not None and same.p_value == 1.0
    moved = welch_test(plain([5.0] * 20), plain([6.0] * 20))
    assert moved is not None and moved.p_value == 0.0 and moved.difference == 1.0


def test_a_rate_is_a_ratio_of_sums() -> None:
    # 1 error in 100 requests, then 1 error in 1 request: the epoch's rate
    # weighs requests, not seconds.
    before = Units((1.0,) + (0.0,) * 11, (100.0,) + (100.0,) * 11)
    after = Units((1.0,) + (0.0,) * 11, (1.0,) + (100.0,) * 11)
    assert before.value == pytest.approx(1 / 1200)
    assert after.value == pytest.approx(1 / 1101)
    test = welch_test(before, after)
    assert test is not None and test.difference == pytest.approx(1 / 1101 - 1 / 1200)


@pytest.mark.parametrize(("rho", "n"), [(0.0, 20), (0.5, 30), (0.8, 60)])
def test_false_positive_rate_on_autocorrelated_noise(rho: float, n: int) -> None:
    rng = random.Random(int(rho * 100) + n)
    pairs = 300
    flagged = 0
    for _ in range(pairs):
        test = welch_test(plain(ar1(rng, n, rho)), plain(ar1(rng, n, rho)))
        flagged += test is not None and test.p_value < 0.05
    # Nominal 5 %; allow sampling error of 300 pairs (and the method's own
    # small excess on short, correlated series).
    assert flagged / pairs < 0.10


def test_a_real_shift_is_found() -> None:
    rng = random.Random(3)
    test = welch_test(plain(ar1(rng, 30, 0.5)), plain(ar1(rng, 30, 0.5, shift=3.0)))
    assert test is not None and test.p_value < 0.001
    assert test.ci95_low < test.difference < test.ci95_high
    assert test.ci95_low > 1.0


def drifting_pair(
    rng: random.Random, n: int, rho: float, drift: float, gap: int = 5
) -> tuple[list[float], list[float]]:
    """Two epochs of AR(1) noise on one random walk (``drift`` noise standard
    deviations per second), ``gap`` seconds apart: the same config on a
    machine whose neighbours come and go."""
    length = 2 * n + gap
    noise = ar1(rng, length, rho)
    walk, level = [], 0.0
    for _ in range(length):
        level += rng.gauss(0, drift)
        walk.append(level)
    series = [w + e for w, e in zip(walk, noise, strict=True)]
    return series[:n], series[n + gap :]


def test_half_difference_and_drift_variance_on_data() -> None:
    assert half_difference([1.0, 1.0, 5.0, 3.0, 3.0]) == pytest.approx(2.0)
    flat = [0.5, -0.5] * 10
    # Halves agreeing as well as the noise says: no drift.
    assert drift_variance(flat, flat, 0.01, 0.01) == 0.0
    trend = [0.1 * i - 0.95 for i in range(20)]
    # h = 1.0 on both sides, noise expects 2 * (0.01 + 0.01) = 0.04.
    assert drift_variance(trend, trend, 0.01, 0.01) == pytest.approx(4.0 * (1.0 - 0.04))


def test_drift_widens_the_interval_and_keeps_false_positives_down() -> None:
    rng = random.Random(11)
    pairs = 300
    with_drift = without = 0
    for _ in range(pairs):
        a, b = drifting_pair(rng, 40, 0.3, 0.2)
        kept = welch_test(plain(a), plain(b))
        plain_ar1 = welch_test(plain(a), plain(b), account_for_drift=False)
        assert kept is not None and plain_ar1 is not None
        assert kept.standard_error >= plain_ar1.standard_error
        with_drift += kept.p_value < 0.05
        without += plain_ar1.p_value < 0.05
    # AR(1) alone is fooled by the walk; the drift term brings the rate
    # most of the way back to the nominal 5 % (not all the way: the drift
    # is estimated from two half differences, and is 0 when both come out
    # small by chance; the calibration table has the figures).
    assert without / pairs > 0.4
    assert with_drift / pairs < 0.16
