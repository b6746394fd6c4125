"""While a sweep runs: which config, which phase, how long so far; Esc or
``x`` cancels (the runner finishes a retune under way, then restores the
original config). When it ends: the verdict and the report's table, ``e``
exports it, Esc closes. Fed by the launcher's messages; computes nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from gunicorn_tui.compare.interleave import RoundProgress
from gunicorn_tui.model.instances import ConfigValue
from gunicorn_tui.sweep.grid import SweepConfig
from gunicorn_tui.sweep.report import ReportRow, baseline_lines, report_rows, winner_line
from gunicorn_tui.sweep.runner import ConfigStatus, SweepProgress, SweepResult, SweepStatus
from gunicorn_tui.ui.compare.ab_screen import rounds_line
from gunicorn_tui.ui.compare.comparison_view import rounds_verdict_lines
from gunicorn_tui.ui.sweep.messages import SweepFinished, SweepProgressed
from gunicorn_tui.ui.widgets.row_table import Cell, Column, Row, RowTable
from gunicorn_tui.ui.widgets.safe_text import SafeStatic

_BAR = 20
_TABLE_MAX_ROWS = 14
WINNER_MARK = "★"
COLUMNS = (
    Column("winner", "", 1),
    Column("config", "Config", 14),
    Column("status", "Status", 8),
    Column("rps", "Req/s", 8, right=True),
    Column("p99", "p99 ms", 7, right=True),
    Column("cpu", "CPU ms/req", 10, right=True),
    Column("memory", "Mem MiB", 8, right=True),
    Column("note", "Note", 40),
)


def result_row(index: int, row: ReportRow) -> Row:
    """One config of the report as the result table shows it."""

    def figure(text: str) -> Cell:
        return Cell(text, "dim") if text == "n/a" else Cell(text)

    return Row(
        str(index),
        (
            Cell(WINNER_MARK, "good") if row.winner else Cell(""),
            Cell(row.label, "bold" if row.winner else ""),
            Cell(row.status, "" if row.status == "measured" else "error"),
            figure(row.throughput_rps),
            figure(row.latency_p99_ms),
            figure(row.cpu_ms_per_request),
            figure(row.memory_mib),
            Cell(row.note, "dim"),
        ),
    )


def phase_of(progress: SweepProgress, warmup_s: float) -> str:
    """retune, warm-up, measure, rounds, restore: what the runner is doing now."""
    if progress.stage != "measure":
        return progress.stage
    if progress.rounds is not None:
        return "rounds"
    measurement = progress.measurement
    if measurement is None:
        return "warm-up" if warmup_s > 0 else "measure"
    return "warm-up" if measurement.in_warmup else "measure"


def progress_content(
    progress: SweepProgress, warmup_s: float, names: tuple[str, ...] = ()
) -> Content:
    """``config 2 of 3: 2 x sync  warm-up ████░░ 3/8 s``; interleaved rounds
    as :func:`rounds_content` (``names``: the configs' labels)."""
    if progress.rounds is not None:
        return rounds_content(progress.rounds, names)
    phase = phase_of(progress, warmup_s)
    style = {"warm-up": "$warning", "measure": "$accent"}.get(phase, "bold $accent")
    if progress.index < 0:
        return Content.assemble((phase, style), f"  {progress.detail}")
    head = f"config {progress.index + 1} of {progress.total}: "
    measurement = progress.measurement
    if measurement is None:
        label = progress.detail.split(":")[0]
        return Content.assemble(head, (label, "bold"), "  ", (phase, style))
    share = min(1.0, measurement.elapsed_s / measurement.total_s) if measurement.total_s else 0
    filled = round(share * _BAR)
    return Content.assemble(
        head,
        (progress.detail, "bold"),
        "  ",
        (phase, style),
        f"  {'█' * filled}{'░' * (_BAR - filled)} "
        f"{measurement.elapsed_s:.0f}/{measurement.total_s:.0f} s",
        (f"  {measurement.client_requests} requests", "$text-muted"),
    )


def rounds_content(rounds: RoundProgress, names: tuple[str, ...] = ()) -> Content:
    """Interleaved rounds, as the guided A/B shows them: the round, the
    config on now, the time against the cap, and the leader's intervals
    against the runner-up as of the last look."""
    parts: list[Content | str | tuple[str, str]] = [rounds_line(rounds)]
    look = rounds.look
    if look is not None:
        before, after = look.pair
        if len(names) > max(before, after):
            parts.append((f"\nleading: {names[after]} against {names[before]}", "$text-muted"))
    return Content.assemble(*parts)


def configs_content(configs: tuple[SweepConfig, ...], current: int) -> Content:
    """The configs in order: done ticked, the current one marked."""
    parts: list[Content | str] = []
    for index, config in enumerate(configs):
        if index < current:
            parts.append(Content.styled(f"✔ {config.label}", "$success"))
        elif index == current:
            parts.append(Content.styled(f"▶ {config.label}", "bold $accent"))
        else:
            parts.append(Content.styled(f"  {config.label}", "$text-muted"))
        parts.append("   ")
    return Content.assemble(*parts)


def round_configs_content(configs: tuple[SweepConfig, ...], current: int) -> Content:
    """Interleaved: every config comes once a round; the one on now marked."""
    parts: list[Content | str] = []
    for index, config in enumerate(configs):
        if index == current:
            parts.append(Content.styled(f"▶ {config.label}", "bold $accent"))
        else:
            parts.append(Content.styled(f"  {config.label}", "$text-muted"))
        parts.append("   ")
    return Content.assemble(*parts)


_RESULT_MARKS = {
    ConfigStatus.MEASURED: ("✔", "$success"),
    ConfigStatus.FAILED: ("✘", "$error"),
    ConfigStatus.SKIPPED: ("-", "$text-muted"),
}


def results_content(result: SweepResult) -> Content:
    """The configs in order, each marked with how it fared."""
    parts: list[Content | str] = []
    for item in result.results:
        mark, style = _RESULT_MARKS[item.status]
        parts += [Content.styled(f"{mark} {item.config.label}", style), "   "]
    return Content.assemble(*parts)


def verdict_content(result: SweepResult) -> Content:
    """How it ended, what runs now, and the winner with its margin."""
    style = "bold $success" if result.status is SweepStatus.COMPLETED else "bold $warning"
    if result.status is SweepStatus.FAILED:
        style = "bold $error"
    kept = "original restored" if result.restored else "not the original"
    lines = [
        Content.assemble(
            (result.status.value.upper(), style),
            f"  in {result.elapsed_s:.0f} s; now {result.config_now} ({kept})",
            (f"; {result.reason}" if result.reason else "", "$warning"),
        ),
        Content.styled(winner_line(result), "bold"),
    ]
    verdict = result.verdict
    if verdict is not None:
        look = verdict.final
        if look is not None:
            before, after = look.pair
            lines.append(
                Content.styled(
                    f"effects of {verdict.sides[after]} against {verdict.sides[before]}, "
                    "with their intervals:",
                    "$text-muted",
                )
            )
        lines += rounds_verdict_lines(verdict)
    # Each config against the baseline: the report's lines, as a list here.
    for line in baseline_lines(result):
        head = line.startswith("- ")
        text = line.removeprefix("- ") if head else "  " + line.strip().removeprefix("- ")
        lines.append(Content.styled(text, "$text-muted" if head else ""))
    # Why the configs were not interleaved (a re-create among them), rounds
    # left out, and the like.
    lines += [Content.styled(f"note: {note}", "$warning") for note in result.notes]
    return Content("\n").join(lines)


def elapsed_text(seconds: float) -> str:
    """``elapsed 1:05``."""
    minutes, rest = divmod(int(seconds), 60)
    return f"elapsed {minutes}:{rest:02d}"


class SweepScreen(ModalScreen[None]):
    """Progress, then the result (module docstring). The app receives
    :class:`SweepFinished` after this screen, by bubbling."""

    CSS_PATH = "sweep.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Cancel / close", id="sweep.back"),
        Binding("x", "cancel", "Cancel sweep", id="sweep.cancel"),
        Binding("e", "export", "Export", id="sweep.export"),
        Binding("P", "persist", "Persist", id="sweep.persist"),
    ]

    def __init__(
        self,
        instance_label: str,
        title: str,
        configs: tuple[SweepConfig, ...],
        warmup_s: float,
        cancel: threading.Event,
        on_export: Callable[[SweepScreen], object],
        on_persist: Callable[[Mapping[str, ConfigValue] | None], None] | None = None,
    ) -> None:
        super().__init__()
        self.instance_label = instance_label
        self.title_text = title
        self.configs = configs
        self.warmup_s = warmup_s
        self.cancel_event = cancel
        self.on_export = on_export
        self.on_persist = on_persist
        self.started = time.monotonic()
        self.running = True
        self.last: SweepProgress | None = None
        self.result: SweepResult | None = None
        self.error: str | None = None
        self.names = tuple(config.label for config in configs)
        self.interleaved = False  # set on the first round's progress

    def compose(self) -> ComposeResult:
        with Vertical(id="sweep-dialog"):
            yield SafeStatic(Content.styled(self.title_text, "bold"), id="dialog-title")
            yield SafeStatic(configs_content(self.configs, -1), id="sweep-configs")
            yield SafeStatic("checking the values against the server", id="sweep-progress")
            yield SafeStatic(elapsed_text(0), id="sweep-elapsed")
            yield SafeStatic(id="sweep-verdict")
            yield RowTable(COLUMNS, id="sweep-results")
            with Horizontal(id="dialog-buttons"):
                yield Button("Export (e)", id="sweep-export", disabled=True)
                yield Button("Cancel (Esc/x)", id="sweep-cancel", variant="error")

    def on_mount(self) -> None:
        self.query_one("#sweep-results", RowTable).display = False
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self.running:
            self.query_one("#sweep-elapsed", Static).update(
                elapsed_text(time.monotonic() - self.started)
            )

    @on(SweepProgressed)
    def _progressed(self, message: SweepProgressed) -> None:
        progress = message.progress
        self.last = progress
        if progress.rounds is not None:
            self.interleaved = True
            self.query_one("#sweep-configs", Static).update(
                round_configs_content(self.configs, progress.index)
            )
        elif progress.index >= 0:
            self.query_one("#sweep-configs", Static).update(
                configs_content(self.configs, progress.index)
            )
        elif progress.stage in ("restore", "done"):
            self.query_one("#sweep-configs", Static).update(
                configs_content(self.configs, len(self.configs))
            )
        if not self.cancel_event.is_set() or progress.stage in ("restore", "done"):
            self.query_one("#sweep-progress", Static).update(
                progress_content(progress, self.warmup_s, self.names)
            )

    @on(SweepFinished)
    def _finished(self, message: SweepFinished) -> None:
        # Not stopped: the app settles the dashboard's side after this.
        self.running = False
        self.result = message.result
        self.error = message.error
        progress = self.query_one("#sweep-progress", Static)
        cancel = self.query_one("#sweep-cancel", Button)
        cancel.label = "Close (Esc)"
        cancel.variant = "default"
        cancel.disabled = False
        result = message.result
        if result is None:
            progress.update(Content.styled(message.error or "the sweep did not run", "bold $error"))
            return
        progress.display = False
        self.query_one("#sweep-configs", Static).update(results_content(result))
        self.query_one("#sweep-elapsed", Static).update(elapsed_text(result.elapsed_s))
        self.query_one("#sweep-verdict", Static).update(verdict_content(result))
        self._show_rows(result)
        self.query_one("#sweep-export", Button).disabled = False

    def _show_rows(self, result: SweepResult) -> None:
        table = self.query_one("#sweep-results", RowTable)
        rows = [result_row(i, row) for i, row in enumerate(report_rows(result))]
        table.set_rows(rows)
        # As tall as its rows, the header and a horizontal scrollbar (long
        # notes), up to the dialog's room.
        table.styles.height = min(len(rows) + 2, _TABLE_MAX_ROWS)
        table.display = True
        table.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "sweep-export":
            self.action_export()
        else:
            self.action_back()

    def action_back(self) -> None:
        if self.running:
            self.action_cancel()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        if not self.running or self.cancel_event.is_set():
            return
        self.cancel_event.set()
        button = self.query_one("#sweep-cancel", Button)
        button.label = "Cancelling…"
        button.disabled = True
        self.query_one("#sweep-progress", Static).update(
            Content.styled(
                "cancelling: the load stops; a retune under way finishes; then the original "
                "config is restored",
                "$warning",
            )
        )

    def action_persist(self) -> None:
        """After the sweep: the config running now against its source."""
        if self.running:
            self.notify("The sweep is still running.", severity="warning")
        elif self.on_persist is not None:
            self.on_persist(self.winner_settings())

    def winner_settings(self) -> dict[str, ConfigValue] | None:
        """The winner's settings, to persist although the sweep restored the original."""
        result = self.result
        if result is None or result.winner is None:
            return None
        config = result.results[result.winner].config
        settings: dict[str, ConfigValue] = {
            "workers": config.workers,
            "worker_class": config.worker_class,
        }
        if config.threads is not None:
            settings["threads"] = config.threads
        return settings

    def action_export(self) -> None:
        if self.result is None:
            self.notify("Nothing to export yet: the sweep has not ended.", severity="warning")
            return
        self.on_export(self)
