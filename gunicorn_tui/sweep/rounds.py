"""The shape of a sweep's interleaved rounds, shared by ``gtui sweep`` and
the dashboard's sweep screen (one rule for both: the same default cap, the
same refusal of a cap too short to answer)."""

from __future__ import annotations

import dataclasses

from gunicorn_tui.compare.interleave import MIN_CAP_S, InterleaveSettings, too_short

MAX_SWEEP_CAP_S = 600.0
# The interleaved runs' default (see InterleaveSettings: benchmarks/verdict_power.py).
DEFAULT_SEGMENT_S = InterleaveSettings.segment_s


def default_cap_s(configs: int) -> float:
    """30 s per config, at least 60 s, at most 600 s.

    From benchmarks/verdict_power.py (benchmarks/README.md): for two configs
    a 60 s cap gave more power by 20 and 60 s than 120 s did (2x by 60 s:
    94 % against 91 %; 20 %: 42 % against 36 %, on a busy machine's noise),
    since the spending runs over the cap; a sweep's round holds every config once, so its cap
    grows with them, a round's share of it staying the same."""
    return min(MAX_SWEEP_CAP_S, max(60.0, 30.0 * configs))


def sweep_rounds(
    configs: int,
    *,
    cap_s: float | None = None,
    segment_s: float | None = None,
    base: InterleaveSettings | None = None,
) -> tuple[InterleaveSettings | None, str | None]:
    """(the rounds' settings, None) or (None, why they cannot answer).

    One config has nothing to interleave: (None, None). ``base`` gives the
    shape (settle, warm-up, seed); ``cap_s`` defaults to :func:`default_cap_s`,
    ``segment_s`` to ``base``'s (else 1 s)."""
    if configs < 2:
        return None, None
    shape = base or InterleaveSettings(segment_s=DEFAULT_SEGMENT_S)
    cap = cap_s if cap_s is not None else default_cap_s(configs)
    if not MIN_CAP_S <= cap <= MAX_SWEEP_CAP_S:
        return None, f"the cap must be in [{MIN_CAP_S:g}, {MAX_SWEEP_CAP_S:g}] seconds"
    segment = segment_s if segment_s is not None else shape.segment_s
    if not 1.0 <= segment <= 60.0:
        return None, "the segment must be in [1, 60] seconds"
    settings = dataclasses.replace(shape, cap_s=cap, segment_s=segment)
    problem = too_short(settings, configs)
    if problem is not None:
        return None, problem
    return settings, None
