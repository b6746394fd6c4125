"""The confirm dialog: the exact steps and commands of a plan, before they run."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button

from gunicorn_tui.control.planning.plan import RetunePlan
from gunicorn_tui.control.planning.requests import consents_named
from gunicorn_tui.ui.widgets.safe_text import SafeStatic

# What each consent allows, as the button says it.
CONSENT_LABELS = {
    "restart": "restart the master",
    "other_user": "run it as its user",
    "bind_mount": "write into the bind mount",
    "discard_changes": "lose the container's changes",
}


def plan_content(plan: RetunePlan) -> Content:
    """The plan as the operator reads it: change, strategy, numbered steps
    with their commands, notes."""
    lines: list[Content] = []
    changed = {k: v for k, v in plan.after.items() if plan.before.get(k) != v}
    if changed:
        lines.append(
            Content.assemble(
                ("change  ", "bold"),
                ", ".join(f"{k} {plan.before.get(k)!r} → {v!r}" for k, v in changed.items()),
            )
        )
    if plan.refusal is not None:
        lines.append(Content.assemble(("refused  ", "bold $error"), plan.refusal))
    else:
        strategy = plan.strategy.value if plan.strategy else "?"
        lines.append(Content.assemble(("strategy  ", "bold"), (strategy, "$accent")))
        for number, step in enumerate(plan.steps, start=1):
            lines.append(Content.assemble((f"{number:>2}. ", "bold"), step.description))
            lines.append(Content.styled(f"    $ {step.command}", "$text-muted"))
    for note in plan.notes:
        lines.append(Content.styled(f"note: {note}", "$warning"))
    return Content("\n").join(lines)


class ConfirmPlanScreen(ModalScreen[bool | tuple[str, ...]]):
    """Shows a plan; dismisses with True to run it, False to cancel, or, for a
    plan refused for want of an explicit consent (``--discard-changes``...),
    with the consents the operator gives to plan again."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Run", id="confirm.run"),
        Binding("a", "allow", "Allow and plan again", id="confirm.allow"),
        Binding("escape,n", "cancel", "Cancel", id="confirm.cancel"),
    ]

    def __init__(self, title: str, plan: RetunePlan) -> None:
        super().__init__()
        self.title_text = title
        self.plan = plan
        self.consents = () if plan.ok else consents_named(plan.refusal)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield SafeStatic(Content.styled(self.title_text, "bold"), id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield SafeStatic(plan_content(self.plan), id="plan")
            with Horizontal(id="dialog-buttons"):
                if self.plan.ok:
                    yield Button("Run (y)", variant="warning", id="run")
                elif self.consents:
                    allow = " and ".join(CONSENT_LABELS[name] for name in self.consents)
                    yield Button(f"Allow: {allow} (a)", variant="warning", id="allow")
                yield Button("Cancel (Esc)" if self.plan.ok else "Close (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "allow":
            self.action_allow()
            return
        self.dismiss(event.button.id == "run" and self.plan.ok)

    def action_allow(self) -> None:
        if self.consents:
            self.dismiss(self.consents)

    def action_confirm(self) -> None:
        if self.plan.ok:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
