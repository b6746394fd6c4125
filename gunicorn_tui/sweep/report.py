"""Sweep results as Markdown (with a text plot) and JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gunicorn_tui.compare.metrics import Metric
from gunicorn_tui.compare.report import summary_json
from gunicorn_tui.compare.verdict_report import effect_json, ending_line, verdict_json
from gunicorn_tui.output.escape import escape_controls
from gunicorn_tui.sweep.runner import SweepResult

SCHEMA = "gtui.sweep/1"
_BAR_WIDTH = 30
_MIB = 1024 * 1024


def _number(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / _MIB:,.1f}"


@dataclass(frozen=True)
class ReportRow:
    """One config's line of the report, as text (``n/a`` where nothing was
    measured): the Markdown table and the dashboard's table both show these."""

    label: str
    winner: bool
    status: str
    throughput_rps: str
    latency_p99_ms: str
    cpu_ms_per_request: str
    memory_mib: str
    note: str


def report_rows(sweep: SweepResult) -> tuple[ReportRow, ...]:
    """Every config of ``sweep`` in the order they ran."""
    rows = []
    for index, result in enumerate(sweep.results):
        summary = result.summary
        figures: tuple[str, str, str, str]
        if summary is None:
            figures = ("n/a", "n/a", "n/a", "n/a")
            note = result.error or ""
        else:
            figures = (
                _number(result.throughput_rps),
                _number(result.latency_p99_ms),
                _number(summary.cpu_ms_per_request, 2),
                _mib(summary.memory_bytes),
            )
            note = result.error or ("" if summary.enough_data else "not enough data")
        throughput, p99, cpu, memory = figures
        rows.append(
            ReportRow(
                label=result.config.label,
                winner=index == sweep.winner,
                status=result.status.value,
                throughput_rps=throughput,
                latency_p99_ms=p99,
                cpu_ms_per_request=cpu,
                memory_mib=memory,
                note=note,
            )
        )
    return tuple(rows)


def _row(row: ReportRow) -> str:
    mark = " **winner**" if row.winner else ""
    return (
        f"| {row.label}{mark} | {row.status} | {row.throughput_rps} | {row.latency_p99_ms} "
        f"| {row.cpu_ms_per_request} | {row.memory_mib} | {row.note} |"
    )


def _bars(sweep: SweepResult, title: str, values: list[float | None], unit: str) -> list[str]:
    top = max((v for v in values if v is not None), default=0.0)
    width = max(len(r.config.label) for r in sweep.results)
    lines = [title]
    for result, value in zip(sweep.results, values, strict=True):
        if value is None:
            why = result.status.value if result.summary is None else "n/a"
            lines.append(f"{result.config.label:<{width}} | {why}")
            continue
        bar = "#" * (round(value / top * _BAR_WIDTH) if top > 0 else 0)
        lines.append(f"{result.config.label:<{width}} | {bar} {value:,.1f} {unit}")
    return lines


def winner_line(sweep: SweepResult) -> str:
    """The verdict in one line."""
    if sweep.winner is None:
        return "no winner: no config was measured with enough data"
    winner = sweep.results[sweep.winner]
    effect = sweep.winner_effect
    if effect is not None and sweep.verdict is not None and sweep.runner_up is not None:
        runner = sweep.results[sweep.runner_up].config.label
        return (
            f"winner: {winner.config.label}, throughput {effect.text()} over the runner-up "
            f"{runner} ({effect.verdict.value}; {ending_line(sweep.verdict)})"
        )
    if sweep.runner_up is None or sweep.comparison is None:
        return f"winner: {winner.config.label} (the only config measured with enough data)"
    runner_up = sweep.results[sweep.runner_up]
    margin = sweep.winner_margin_percent
    significance = sweep.winner_significance
    shown = "n/a" if margin is None else f"{margin:+.1f}%"
    verdict = significance.value if significance is not None else "n/a"
    return (
        f"winner: {winner.config.label}, throughput {shown} over the runner-up "
        f"{runner_up.config.label} ({verdict})"
    )


def baseline_lines(sweep: SweepResult) -> list[str]:
    """Interleaved: each config's throughput against the baseline config."""
    if not sweep.versus_baseline:
        return []
    baseline = sweep.results[sweep.versus_baseline[0].baseline].config.label
    lines = [f"- against the baseline {baseline} (req/s, 95 % intervals, not adjusted for "
             "the number of configs):"]  # fmt: skip
    for item in sweep.versus_baseline:
        label = sweep.results[item.config].config.label
        lines.append(f"  - {label}: {item.effect.text()} {item.effect.verdict.value}")
    return lines


def sweep_markdown(sweep: SweepResult, *, title: str = "gtui sweep") -> str:
    """A review-ready Markdown report: table, verdict, text plots."""
    lines = [
        f"# {title}",
        "",
        f"- load: {sweep.profile_label}",
        f"- original config: {sweep.original.label}; now: {sweep.config_now}",
        f"- status: {sweep.status.value}" + (f" ({sweep.reason})" if sweep.reason else ""),
        f"- {winner_line(sweep)}",
        "- req/s and p99: server side (access log) where Gunicorn logs them, else the"
        " load driver's (client side)",
        *(f"- note: {note}" for note in sweep.notes),
        *baseline_lines(sweep),
        "",
        "| config | status | req/s | p99 ms | CPU ms/req | memory MiB | note |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    lines += [_row(row) for row in report_rows(sweep)]
    plots = _bars(sweep, "throughput (req/s)", [r.throughput_rps for r in sweep.results], "req/s")
    plots += [""]
    plots += _bars(
        sweep,
        "p99 latency (ms)",
        [r.latency_p99_ms for r in sweep.results],
        "ms",
    )
    lines += ["", "```", *plots, "```", ""]
    # Reasons and notes quote the servers' errors: shown, never sent.
    return escape_controls("\n".join(lines), keep_newlines=True)


def sweep_json(sweep: SweepResult) -> dict[str, Any]:
    """The sweep as one JSON document."""
    comparison = sweep.comparison
    return {
        "schema": SCHEMA,
        "status": sweep.status.value,
        "reason": sweep.reason,
        "profile": sweep.profile_label,
        "original": sweep.original.__dict__,
        "config_now": sweep.config_now,
        "restored": sweep.restored,
        "elapsed_s": round(sweep.elapsed_s, 1),
        "winner": sweep.winner,
        "runner_up": sweep.runner_up,
        "winner_margin_percent": sweep.winner_margin_percent,
        "winner_significance": (
            sweep.winner_significance.value if sweep.winner_significance else None
        ),
        "winner_p_value": (
            comparison.metric(Metric.REQUESTS_PER_S).p_value
            if comparison is not None
            else (sweep.winner_effect.p_value if sweep.winner_effect is not None else None)
        ),
        "verdict": verdict_json(
            sweep.verdict, before=sweep.verdict.final.pair[0], after=sweep.verdict.final.pair[1]
        )
        if sweep.verdict is not None and sweep.verdict.final is not None
        else None,
        "notes": list(sweep.notes),
        "versus_baseline": [
            {
                "config": item.config,
                "label": sweep.results[item.config].config.label,
                "baseline": item.baseline,
                "baseline_label": sweep.results[item.baseline].config.label,
                "effect": effect_json(item.effect),
            }
            for item in sweep.versus_baseline
        ],
        "configs": [
            {
                "config": result.config.__dict__,
                "label": result.config.label,
                "status": result.status.value,
                "error": result.error,
                "retune": result.retune,
                "throughput_rps": result.throughput_rps,
                "summary": summary_json(result.summary) if result.summary else None,
            }
            for result in sweep.results
        ],
        "journal": sweep.journal_path,
    }
