"""An interleaved run's verdict as Markdown and JSON: per metric the effect
with its interval (``req/s +98% [+85%, +112%]``) and its verdict, how the
run ended and when it was conclusive, the sides' configurations, the
method and every note; p-values in the JSON only."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from gunicorn_tui.compare.interleave import InterleaveResult, InterleaveStatus
from gunicorn_tui.compare.metrics import METRICS, Metric
from gunicorn_tui.compare.report import config_line, format_value
from gunicorn_tui.compare.verdict import VERDICT_METHOD, Effect, Look, Verdict
from gunicorn_tui.output.escape import escape_controls

VERDICT_SCHEMA = "gtui.verdict/1"


def effect_line(effect: Effect) -> str:
    """``req/s +98% [+85%, +112%] significant``."""
    return f"{METRICS[effect.metric].label} {effect.text()} {effect.verdict.value}"


def progress_line(look: Look, elapsed_s: float) -> str:
    """One line per look for a CLI's progress: the primary metrics' intervals."""
    parts = [effect_line(e) for e in look.effects if e.primary]
    state = "conclusive" if look.conclusive else "not yet conclusive"
    return f"[{elapsed_s:5.0f} s] round {look.rounds}: {'; '.join(parts)} ({state})"


def ending_line(result: InterleaveResult) -> str:
    """How the run ended, in words."""
    if result.status is InterleaveStatus.CONCLUSIVE and result.conclusive_after_s is not None:
        return f"conclusive after {result.conclusive_after_s:.0f} s ({result.rounds()} rounds)"
    if result.status is InterleaveStatus.CAP_REACHED:
        return (
            f"inconclusive at the cap ({result.elapsed_s:.0f} s, {result.rounds()} rounds): "
            "the difference is smaller than this run can tell from noise; a longer --cap "
            "narrows the intervals"
        )
    return f"{result.status.value}: {result.reason or '?'}"


def _side_configs(result: InterleaveResult) -> list[str]:
    lines = []
    for side, name in enumerate(result.sides):
        epochs = [s.epoch for s in result.segments if s.side == side and s.epoch is not None]
        config = epochs[-1].config if epochs else None
        lines.append(f"- **{name}**: {config_line(config)}")
    return lines


def verdict_markdown(
    result: InterleaveResult,
    *,
    title: str = "gtui A/B (interleaved)",
    before: int = 0,
    after: int = 1,
    extra_lines: Sequence[str] = (),
) -> str:
    """The verdict of ``after`` against ``before`` as Markdown."""
    lines = [f"## {title}", ""]
    look = result.final
    lines.append(f"**{result.sides[after]}** against **{result.sides[before]}**: "
                 f"{ending_line(result)}")  # fmt: skip
    lines.append("")
    if look is not None:
        lines.append("| metric | before | after | effect [interval] | verdict |")
        lines.append("|---|---:|---:|---|---|")
        for effect in look.effects:
            if effect.verdict is Verdict.NO_DATA:
                continue
            name = METRICS[effect.metric].label + (" (primary)" if effect.primary else "")
            lines.append(
                f"| {name} | {format_value(effect.metric, effect.before)} | "
                f"{format_value(effect.metric, effect.after)} | {effect.text()} | "
                f"{effect.verdict.value} |"
            )
        lines.append("")
        lines.append(
            f"- **intervals**: primary metrics at {100 * look.level:.3g}% (this look's share of "
            "alpha: together the looks and primary metrics keep a 95% simultaneous level); "
            "others plain 95%"
        )
    lines.extend(_side_configs(result))
    lines.append(f"- **load**: {result.profile_label}")
    switches = sum(1 for s in result.segments if s.switch is not None)
    lines.append(f"- **rounds**: {result.rounds()}, {switches} switches, {result.elapsed_s:.0f} s")
    lines.append(f"- **method**: {VERDICT_METHOD}")
    for note in (*result.notes, *extra_lines):
        lines.append(f"- note: {note}")
    return escape_controls("\n".join(lines) + "\n", keep_newlines=True)


def effect_json(effect: Effect) -> dict[str, Any]:
    """One effect as JSON (its figures, unit, verdict and text)."""
    return _effect_json(effect)


def _effect_json(effect: Effect) -> dict[str, Any]:
    data = dataclasses.asdict(effect)
    data["metric"] = effect.metric.value
    data["label"] = METRICS[effect.metric].label
    data["unit"] = METRICS[effect.metric].unit
    data["scale"] = effect.scale.value
    data["verdict"] = effect.verdict.value
    data["text"] = effect.text()
    return data


def verdict_json(
    result: InterleaveResult,
    *,
    before: int = 0,
    after: int = 1,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The verdict as plain JSON types (``schema`` names the layout)."""
    look = result.final
    data: dict[str, Any] = {
        "schema": VERDICT_SCHEMA,
        "method": VERDICT_METHOD,
        "status": result.status.value,
        "reason": result.reason,
        "before": result.sides[before],
        "after": result.sides[after],
        "conclusive": look.conclusive if look is not None else False,
        "conclusive_after_s": result.conclusive_after_s,
        "elapsed_s": result.elapsed_s,
        "rounds": result.rounds(),
        "level": look.level if look is not None else None,
        "effects": [_effect_json(e) for e in look.effects] if look is not None else [],
        "looks": [
            {
                "rounds": item.rounds,
                "measured_s": item.measured_s,
                "level": item.level,
                "conclusive": item.conclusive,
                "primary": {
                    e.metric.value: [e.estimate, e.low, e.high] for e in item.effects if e.primary
                },
            }
            for item in result.looks
        ],
        "segments": [
            {
                "round": s.round,
                "side": s.side,
                "measured_from": s.measured_from,
                "ended_at": s.ended_at,
                "switch": s.switch,
                "requests_per_s": s.value(Metric.REQUESTS_PER_S),
                "client_requests_per_s": s.value(Metric.CLIENT_REQUESTS_PER_S),
            }
            for s in result.segments
        ],
        "sides": [
            {"name": name, "config": _config_json(result, side)}
            for side, name in enumerate(result.sides)
        ],
        "load": result.profile_label,
        "notes": list(result.notes),
    }
    if extra:
        data.update(extra)
    return data


def _config_json(result: InterleaveResult, side: int) -> dict[str, Any] | None:
    epochs = [s.epoch for s in result.segments if s.side == side and s.epoch is not None]
    config = epochs[-1].config if epochs else None
    if config is None:
        return None
    return {
        "workers": config.workers,
        "worker_class": config.worker_class,
        "settings": {k: v for k, v in config.settings.items()},
    }
