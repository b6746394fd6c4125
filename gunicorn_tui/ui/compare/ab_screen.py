"""While a guided A/B runs: its stage, the measurement's progress, the
retune's steps; Esc (or the button) cancels. The run itself is the core's
:func:`~gunicorn_tui.compare.guided_ab.run_guided_ab`, in a thread."""

from __future__ import annotations

import threading
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from gunicorn_tui.compare.guided_ab import AbProgress, AbStage
from gunicorn_tui.compare.interleave import RoundProgress
from gunicorn_tui.compare.metrics import METRICS
from gunicorn_tui.control.running.progress import StepFailed, StepFinished, StepStarted
from gunicorn_tui.ui.widgets.safe_text import SafeStatic

_STAGES = (
    AbStage.PLANNING,
    AbStage.BASELINE,
    AbStage.APPLYING,
    AbStage.MEASURING_AFTER,
    AbStage.COMPARING,
)


def rounds_line(rounds: RoundProgress) -> Content:
    """Interleaved rounds: the round, the side, the time against the cap, and
    the primary metrics' intervals as of the last look (they narrow as
    rounds come in)."""
    share = min(1.0, rounds.elapsed_s / rounds.cap_s) if rounds.cap_s else 0.0
    bar = "█" * round(share * 20) + "░" * (20 - round(share * 20))
    parts: list[Content | str | tuple[str, str]] = [
        f"round {rounds.round + 1}: {rounds.side_name} {rounds.detail}",
        f"  {bar} {rounds.elapsed_s:.0f}/{rounds.cap_s:.0f} s",
    ]
    look = rounds.look
    if look is None:
        parts.append(("\nfirst look after 3 rounds", "$text-muted"))
    else:
        for effect in look.effects:
            if effect.primary:
                style = "$success" if effect.verdict.conclusive else "$warning"
                parts.append(f"\n{METRICS[effect.metric].label} {effect.text()} ")
                parts.append((effect.verdict.value, style))
        if look.conclusive:
            parts.append(("\nconclusive", "bold $success"))
    return Content.assemble(*parts)


def progress_line(progress: AbProgress) -> Content:
    """The line under the stages: what runs now, and how far it is."""
    if progress.rounds is not None:
        return rounds_line(progress.rounds)
    measurement = progress.measurement
    event = progress.retune_event
    if event is not None:
        if isinstance(event, StepStarted):
            return Content(f"step {event.index + 1}/{event.total}: {event.description}")
        if isinstance(event, StepFinished):
            return Content.styled(f"done: {event.description}", "$success")
        if isinstance(event, StepFailed):
            return Content.styled(f"failed: {event.description}: {event.error}", "$error")
        return Content(type(event).__name__)
    if measurement is None:
        return Content(progress.detail)
    state = "warm-up (left out)" if measurement.in_warmup else "measuring"
    share = min(1.0, measurement.elapsed_s / measurement.total_s) if measurement.total_s else 0
    bar = "█" * round(share * 20) + "░" * (20 - round(share * 20))
    return Content.assemble(
        f"{progress.detail}: ",
        (state, "$warning" if measurement.in_warmup else "$accent"),
        f"  {bar} {measurement.elapsed_s:.0f}/{measurement.total_s:.0f} s",
        (f"  {measurement.client_requests} requests", "$text-muted"),
    )


def stages_line(current: AbStage) -> Content:
    """Every stage, the current one highlighted, the ones done ticked."""
    parts: list[Content | str] = []
    reached = current is AbStage.DONE
    stages = (
        (AbStage.PLANNING, AbStage.INTERLEAVING, AbStage.COMPARING)
        if current is AbStage.INTERLEAVING
        else _STAGES
    )
    for stage in stages:
        if stage is current:
            parts.append(Content.styled(f"▶ {stage.value}", "bold $accent"))
            reached = True
        elif reached:
            parts.append(Content.styled(f"  {stage.value}", "$text-muted"))
        else:
            parts.append(Content.styled(f"✔ {stage.value}", "$success"))
        parts.append("  ")
    return Content.assemble(*parts)


class AbProgressScreen(ModalScreen[None]):
    """Fed :class:`AbProgress` by the app; the app closes it when the run ends."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel A/B", id="ab.cancel"),
    ]

    def __init__(self, title: str, cancel: threading.Event) -> None:
        super().__init__()
        self.title_text = title
        self.cancel_event = cancel
        self.last: AbProgress | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield SafeStatic(Content.styled(self.title_text, "bold"), id="dialog-title")
            yield SafeStatic(stages_line(AbStage.PLANNING), id="ab-stages")
            yield SafeStatic("checking the retune", id="ab-progress")
            with Horizontal(id="dialog-buttons"):
                yield Button("Cancel (Esc)", id="ab-cancel", variant="error")

    def record(self, progress: AbProgress) -> None:
        """Show one progress report."""
        self.last = progress
        self.query_one("#ab-stages", Static).update(stages_line(progress.stage))
        self.query_one("#ab-progress", Static).update(progress_line(progress))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        if self.cancel_event.is_set():
            return
        self.cancel_event.set()
        button = self.query_one("#ab-cancel", Button)
        button.label = "Cancelling…"
        button.disabled = True
        self.query_one("#ab-progress", Static).update(
            Content.styled(
                "cancelling: the load stops; a retune under way is finished or rolled back",
                "$warning",
            )
        )
