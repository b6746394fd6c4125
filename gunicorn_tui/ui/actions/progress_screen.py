"""While an action runs: its steps ticking off; when done, the outcome."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from gunicorn_tui.control.durability.journal import OutcomeStatus
from gunicorn_tui.control.planning.plan import RetunePlan
from gunicorn_tui.control.running.progress import (
    ActionOutcome,
    ProgressEvent,
    RollbackFinished,
    RollbackStarted,
    StepFailed,
    StepFinished,
    StepStarted,
)
from gunicorn_tui.ui.widgets.safe_text import SafeStatic


def outcome_content(outcome: ActionOutcome) -> Content:
    """The result, with the disruption measured during the action."""
    style = "bold $success" if outcome.status is OutcomeStatus.OK else "bold $error"
    lines = [Content.assemble((outcome.status.value.upper(), style), f"  {outcome.summary()}")]
    changed = {k: v for k, v in outcome.after.items() if outcome.before.get(k) != v}
    if changed:
        lines.append(
            Content(
                "now: "
                + ", ".join(f"{k} {outcome.before.get(k)!r} → {v!r}" for k, v in changed.items())
            )
        )
    if outcome.disruption is not None:
        d = outcome.disruption
        lines.append(
            Content(
                f"disruption: {d.failed_probes} of {d.probes} probes failed, longest outage "
                f"{d.longest_outage_s:.2f} s ({d.url})"
            )
        )
    for note in outcome.notes:
        lines.append(Content.styled(f"note: {note}", "$text-muted"))
    if outcome.new_container_logs:
        lines.append(Content.styled("logs of the new container:", "bold"))
        tail = outcome.new_container_logs.strip().splitlines()[-15:]
        lines.extend(Content.styled(line[:200], "$text-muted") for line in tail)
    if outcome.journal_path:
        lines.append(Content.styled(f"journal: {outcome.journal_path}", "$text-muted"))
    return Content("\n").join(lines)


class ActionProgressScreen(ModalScreen[None]):
    """Fed progress events by the app; closed by the operator once done."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close", id="progress.close"),
        # Quitting while it runs asks first (the app's quit does).
        Binding("q", "app.quit", "Quit", id="progress.quit"),
    ]

    def __init__(self, title: str, plan: RetunePlan) -> None:
        super().__init__()
        self.title_text = title
        self.plan = plan
        self.lines: list[Content] = [
            Content.styled(f"{n:>2}. {step.description}", "$text-muted")
            for n, step in enumerate(plan.steps, start=1)
        ]
        self.outcome: ActionOutcome | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield SafeStatic(Content.styled(self.title_text, "bold"), id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield SafeStatic(Content("\n").join(self.lines), id="steps")
                yield SafeStatic(id="outcome")
            with Horizontal(id="dialog-buttons"):
                yield Button("Running…", id="close", disabled=True)

    def _redraw(self) -> None:
        self.query_one("#steps", Static).update(Content("\n").join(self.lines))

    def record(self, event: ProgressEvent) -> None:
        """Show one progress event."""
        if isinstance(event, StepStarted):
            self._set(event.index, Content.assemble(("▶ ", "$accent"), event.description))
        elif isinstance(event, StepFinished):
            self._set(
                event.index,
                Content.assemble(
                    ("✔ ", "$success"),
                    event.description,
                    (f"  {event.duration_ms:.0f} ms", "$text-muted"),
                    (f"  {event.detail}" if event.detail else "", "$text-muted"),
                ),
            )
        elif isinstance(event, StepFailed):
            self._set(
                event.index,
                Content.assemble(
                    ("✘ ", "$error"), event.description, (f"  {event.error}", "$error")
                ),
            )
        elif isinstance(event, RollbackStarted):
            self.lines.append(Content.styled(f"rolling back: {event.reason}", "bold $warning"))
        elif isinstance(event, RollbackFinished):
            style = "$success" if event.ok else "bold $error"
            self.lines.append(Content.styled(f"rollback: {event.detail}", style))
        self._redraw()

    def _set(self, index: int, line: Content) -> None:
        # Step events count from 0, like the plan's steps.
        if 0 <= index < len(self.lines):
            self.lines[index] = line
        else:
            self.lines.append(line)

    def finish(self, outcome: ActionOutcome) -> None:
        """Show the outcome and let the operator close the dialog."""
        self.outcome = outcome
        self.query_one("#outcome", Static).update(outcome_content(outcome))
        button = self.query_one("#close", Button)
        button.label = "Close (Enter)"
        button.disabled = False
        button.focus()

    def fail(self, message: str) -> None:
        """The action could not run at all (refused, engine error)."""
        self.query_one("#outcome", Static).update(Content.styled(message, "bold $error"))
        button = self.query_one("#close", Button)
        button.label = "Close (Enter)"
        button.disabled = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_close()

    def action_close(self) -> None:
        if not self.query_one("#close", Button).disabled:
            self.dismiss(None)
