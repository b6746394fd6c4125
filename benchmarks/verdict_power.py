"""Power and time to a verdict of the interleaved A/B, by simulation from the
machine's own same-config noise: what the defaults are chosen from.

Input: recordings of ``verdict_truth.py record`` (same-config runs, 1.0
CPU against 1.0 CPU, are the noise model; runs with a known effect are
ignored here). A same-config round's throughput log-ratio ``d_i`` is what
the machine's noise does to one round: the drift left after pairing, a
neighbour's burst, counting. A simulated run picks one recorded
same-config run (so a noisy period stays noisy for the whole run), draws
rounds with replacement (the run's spread times the pooled shape of
every run's centred, standardised rounds), adds a known effect
``ln(1 + effect)`` to each and replays the looks as ``run_interleaved``
makes them (first look after ``MIN_ROUNDS`` rounds, the level from the spending
function over the cap, Bonferroni over 2 primary metrics, the trimmed mean
and Yuen's t of ``verdict.py``, the 5 % negligible band of req/s).

Shorter segments than recorded are cut from the recorded ones: a 1 s
segment is the recorded segment's second next to the switch (the last
second before it, the first after it), so both sides stay as close in time
as they would be.

Time model of a round with two sides (A B | B A: one switch per round):
``2 x segment + gap``, the gap being the switch, the settle and the
alignment to the server's whole seconds (2 s with the 1 s settle); the
k-th look comes ``OFFSET_S + k x round`` after the load started (warm-up,
the first alignment, the access log's closing delay; measured on the
recordings: the script prints the recorded times beside the model's).
Old shape: the same-side segment after a round boundary lost a second to
the alignment (round 7 s with 2 s segments), fixed since.

    PYTHONPATH=. python benchmarks/verdict_power.py DIR [DIR...] --sims 4000

Prints per shape (segment, spending, cap) and effect (2x = -50 %, 20 %, 10 %,
0): share conclusive and significant by 20, 60 and 120 s, median and 90th
percentile time to the throughput verdict, and the false-alarm share.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gunicorn_tui.compare.metrics import Metric
from gunicorn_tui.compare.significance import t_quantile
from gunicorn_tui.compare.verdict import (
    MIN_ROUNDS,
    LookPlan,
    Scale,
    Spending,
    Verdict,
    classify,
    trimmed_stats,
)

# The k-th look, k rounds in: OFFSET_S + k x round_s (see the docstring).
OFFSET_S = 3.5
PRIMARY = 2
EFFECTS = (("2x", -0.5), ("20%", -0.2), ("10%", -0.1), ("none", 0.0))
HORIZONS_S = (20.0, 60.0, 120.0)
# A typical 1.0-CPU side's req/s (the negligible band's absolute floor needs one).
BEFORE_REQ_S = 45.0


@dataclass(frozen=True)
class Shape:
    """How a run is laid out and judged."""

    name: str
    segment_s: int
    gap_s: float  # switch + settle + alignment, once per round
    spending: Spending
    cap_s: float

    @property
    def round_s(self) -> float:
        return 2 * self.segment_s + self.gap_s

    def look_times(self) -> list[float]:
        """When the looks come, up to the cap (the last one at the cap)."""
        times = []
        k = MIN_ROUNDS
        while True:
            at = OFFSET_S + k * self.round_s
            if at > self.cap_s + self.round_s / 2:
                break
            times.append(min(at, self.cap_s))
            k += 1
        return times


def _rounds(document: dict[str, Any]) -> list[dict[int, dict[str, Any]]]:
    by_round: dict[int, dict[int, dict[str, Any]]] = {}
    for segment in document["segments"]:
        by_round.setdefault(segment["round"], {})[segment["side"]] = segment
    return [by_round[n] for n in sorted(by_round) if len(by_round[n]) == 2]


def _seconds(segment: dict[str, Any]) -> list[float]:
    numerators, denominators = segment["units"].get("requests_per_s", [[], []])
    return [n / d for n, d in zip(numerators, denominators, strict=True) if d > 0]


def round_log_ratios(document: dict[str, Any], segment_s: int) -> list[float]:
    """One same-config run's rounds as throughput log-ratios (side 1 over
    side 0) with segments of ``segment_s`` seconds, cut next to the switch."""
    values = []
    for number, turn in enumerate(_rounds(document)):
        # Rounds alternate A B, B A: the switch is between the round's two segments.
        first, second = (turn[0], turn[1]) if number % 2 == 0 else (turn[1], turn[0])
        a_seconds, b_seconds = _seconds(first), _seconds(second)
        if len(a_seconds) < segment_s or len(b_seconds) < segment_s:
            continue
        a = sum(a_seconds[-segment_s:]) / segment_s
        b = sum(b_seconds[:segment_s]) / segment_s
        if a <= 0 or b <= 0:
            continue
        ratio = math.log(b / a)
        values.append(ratio if number % 2 == 0 else -ratio)
    return values


def centered(values: list[float]) -> list[float]:
    """A run's rounds minus their mean, scaled so their spread is the
    run's (``sqrt(n / (n - 1))``): a same-config run's true effect is 0,
    and drawing from uncentred rounds would take its sample mean, an
    accident of 8 rounds, for a real effect."""
    mean = sum(values) / len(values)
    scale = math.sqrt(len(values) / (len(values) - 1))
    return [(v - mean) * scale for v in values]


@functools.lru_cache(maxsize=100_000)
def _t(level: float, df: float) -> float:
    return t_quantile(1.0 - (1.0 - level) / 2.0, df)


def simulate(
    shape: Shape, noise: list[list[float]], effect: float, sims: int, seed: int
) -> list[tuple[str, float | None]]:
    """Per simulated run: (throughput's first conclusive verdict, when)."""
    rng = random.Random(seed)
    # The noise's shape: every run's centred rounds over the run's spread,
    # pooled (drawing from one run's 8 rounds would repeat a value too
    # often: three equal rounds have no variance and fake a certainty).
    spreads = [statistics.stdev(run) for run in noise]
    shape_pool = [v / sd for run, sd in zip(noise, spreads, strict=True) for v in run]
    plan = LookPlan(cap_s=shape.cap_s, primary=PRIMARY, spending=shape.spending)
    times = shape.look_times()
    levels, previous = [], 0.0
    for at in times:
        levels.append(plan.level(previous, at))
        previous = at
    shift = math.log1p(effect)
    outcomes: list[tuple[str, float | None]] = []
    for _ in range(sims):
        spread = spreads[rng.randrange(len(spreads))]
        rounds = [
            spread * shape_pool[rng.randrange(len(shape_pool))] + shift
            for _ in range(MIN_ROUNDS + len(times))
        ]
        found: tuple[str, float | None] = (Verdict.INCONCLUSIVE.value, None)
        for index, (at, level) in enumerate(zip(times, levels, strict=True)):
            values = rounds[: MIN_ROUNDS + index]
            center, se, df = trimmed_stats(values)
            half = _t(level, max(1.0, df)) * se
            verdict = classify(
                Metric.REQUESTS_PER_S, Scale.RATIO, center - half, center + half, BEFORE_REQ_S
            )
            if verdict.conclusive:
                found = (verdict.value, at)
                break
        outcomes.append(found)
    return outcomes


def shapes(every: bool) -> list[Shape]:
    """The old shape, the defaults (first after it) and the alternatives
    they were chosen over (``every``: the whole grid)."""
    pocock, obf = Spending.POCOCK, Spending.OBRIEN_FLEMING
    found = [
        Shape("old: 2 s segments, settle 1 s, lost second", 2, 3.0, obf, 60.0),
        Shape("new default: 1 s segments, settle 0.5 s", 1, 1.0, pocock, 60.0),
    ]
    if every:
        grid = ((2, 2.0, "1"), (2, 1.0, "0.5"), (1, 2.0, "1"), (1, 1.0, "0.5"))
        for segment, gap, settle in grid:
            for spending in Spending:
                for cap in (60.0, 120.0):
                    name = f"{segment} s segments, settle {settle} s"
                    found.append(Shape(name, segment, gap, spending, cap))
        return found
    return [
        *found,
        Shape("1 s segments, settle 0.5 s", 1, 1.0, obf, 60.0),
        Shape("1 s segments, settle 0.5 s", 1, 1.0, pocock, 120.0),
        Shape("1 s segments, settle 1 s", 1, 2.0, pocock, 60.0),
        Shape("2 s segments, settle 0.5 s", 2, 1.0, pocock, 60.0),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directories", nargs="+")
    parser.add_argument("--sims", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--all", action="store_true", help="every shape of the grid")
    args = parser.parse_args()
    documents = [
        json.loads(path.read_text())
        for directory in args.directories
        for path in sorted(Path(directory).glob("run-1-*.json"))
    ]
    if not documents:
        print("no same-config recordings (run-1-*.json) found", file=sys.stderr)
        return 2
    found = {
        segment: [
            centered(r) for r in (round_log_ratios(d, segment) for d in documents) if len(r) >= 3
        ]
        for segment in (1, 2)
    }
    # A recording with 1 s segments cannot say what 2 s ones would see.
    noise = {segment: runs for segment, runs in found.items() if len(runs) >= 2}
    for segment, runs in noise.items():
        spread = [statistics.stdev(r) for r in runs]
        pooled = [v for r in runs for v in r]
        print(
            f"noise, {segment} s segments: {len(runs)} same-config runs, {len(pooled)} rounds, "
            f"round log-ratio sd {statistics.stdev(pooled):.3f} pooled, per run median "
            f"{statistics.median(spread):.3f} (min {min(spread):.3f}, max {max(spread):.3f})"
        )
    closes = [
        max(s["closed_at_s"] for s in turn.values())
        for d in documents
        for turn in _rounds(d)[MIN_ROUNDS - 1 : MIN_ROUNDS]
    ]
    if closes:
        print(f"recorded first look (round {MIN_ROUNDS} closed): median "
              f"{statistics.median(closes):.1f} s after the load started")  # fmt: skip
    print()
    print("| shape | spending | cap s | round s | effect | conclusive+right by 20 / 60 / 120 s "
          "| median s | p90 s | false alarms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for shape in shapes(args.all):
        if shape.segment_s not in noise:
            continue
        for label, effect in EFFECTS:
            outcomes = simulate(shape, noise[shape.segment_s], effect, args.sims, args.seed)
            wanted = Verdict.NEGLIGIBLE.value if effect == 0 else Verdict.SIGNIFICANT.value
            hits = [t for v, t in outcomes if v == wanted and t is not None]
            shares = " / ".join(
                f"{100 * sum(t <= h for t in hits) / len(outcomes):.0f}%" for h in HORIZONS_S
            )
            median = f"{statistics.median(hits):.0f}" if hits else "-"
            p90 = f"{sorted(hits)[math.ceil(0.9 * len(hits)) - 1]:.0f}" if hits else "-"
            alarms = sum(v == Verdict.SIGNIFICANT.value for v, _ in outcomes)
            alarm = f"{100 * alarms / len(outcomes):.1f}%" if effect == 0 else ""
            cells = (shape.name, shape.spending.value, f"{shape.cap_s:g}", f"{shape.round_s:g}",
                     label, shares, median, p90, alarm)  # fmt: skip
            print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
