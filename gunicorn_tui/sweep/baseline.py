"""Each config of an interleaved sweep against the baseline config.

The sweep's stopping rule judges the winner against the runner-up. Beside
it, every other config's throughput effect against the baseline (the
original config when it is in the grid, else the first one) is read from
the same rounds, as pairs (:func:`~gunicorn_tui.compare.interleave.pairwise_judge`),
leaving out the rounds the run left out. Its interval is a plain 95 % one:
these comparisons did not decide when the run stopped, and they are not
adjusted for the number of configs (say so where they are shown).
"""

from __future__ import annotations

from dataclasses import dataclass

from gunicorn_tui.compare.interleave import (
    MIN_CAP_S,
    THROUGHPUT,
    InterleaveResult,
    pairwise_judge,
)
from gunicorn_tui.compare.verdict import Effect, LookPlan, Verdict
from gunicorn_tui.sweep.grid import SweepConfig, same_point


@dataclass(frozen=True)
class BaselineEffect:
    """One config's throughput against the baseline config's, over the rounds."""

    config: int  # index into the sweep's configs
    baseline: int
    effect: Effect


def baseline_index(configs: tuple[SweepConfig, ...], original: SweepConfig) -> int:
    """The original config's index in the grid, else 0."""
    return next((i for i, config in enumerate(configs) if same_point(config, original)), 0)


def effects_against(verdict: InterleaveResult, baseline: int) -> tuple[BaselineEffect, ...]:
    """Every other side's throughput effect against ``baseline``'s (see
    the module docstring); sides without data are left out."""
    sides = len(verdict.sides)
    segments = [s for s in verdict.segments if s.round not in verdict.left_out]
    # One look spending the whole alpha: a plain 95 % interval.
    plan = LookPlan(cap_s=max(verdict.elapsed_s, MIN_CAP_S), primary=1)
    found = []
    for side in range(sides):
        if side == baseline:
            continue
        look = pairwise_judge(baseline, side, (THROUGHPUT,), plan)(segments, sides, plan.cap_s)
        effect = next((e for e in look.effects if e.primary), None)
        if effect is not None and effect.verdict is not Verdict.NO_DATA:
            found.append(BaselineEffect(side, baseline, effect))
    return tuple(found)
