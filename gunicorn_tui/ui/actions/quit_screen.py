"""Asked when the operator quits while an action changes a server."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button

from gunicorn_tui.ui.widgets.safe_text import SafeStatic


class QuitDuringActionScreen(ModalScreen[bool]):
    """Dismisses with True to stop the action (finish or roll back its step) and quit."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Quit", id="quit-action.yes"),
        Binding("escape,n", "cancel", "Stay", id="quit-action.no"),
    ]

    def __init__(self, running: str) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield SafeStatic(
                Content.styled("Quit while an action runs?", "bold"), id="dialog-title"
            )
            yield SafeStatic(
                Content.assemble(
                    (self.running, "bold"),
                    " is changing a server.\n\nQuitting lets the current step finish, then "
                    "rolls the change back (or completes it when only clean-up is left), and "
                    "waits for that before gtui exits. The service ends on the old or the new "
                    "configuration, never in between.",
                ),
                id="dialog-body",
            )
            with Horizontal(id="dialog-buttons"):
                yield Button("Stop it and quit (y)", variant="warning", id="quit")
                yield Button("Stay (Esc)", id="stay")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "quit")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
