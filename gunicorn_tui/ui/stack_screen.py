"""The ``d`` screen: a worker's Python stack (py-spy), taken in a thread and
shown as plain text (what the target's frames say is never read as markup)."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from gunicorn_tui.worker_inspect.py_spy import PySpyError, dump_stack


class StackScreen(ModalScreen[None]):
    """Python stack of one worker; ``r`` takes it again."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,d", "close", "Close", id="stack.close"),
        Binding("r", "refresh_stack", "Again", id="stack.again"),
    ]

    def __init__(self, pid: int, label: str, *, take: bool = True) -> None:
        """``take``: dump at once (tests of the layout pass False and ``show``)."""
        super().__init__()
        self.pid = pid
        self.label = label
        self.take = take
        self.text: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="stack-dialog"):
            yield Static(
                Content.styled(f"Python stack of worker {self.pid} of {self.label}", "bold")
            )
            yield Static(
                Content.styled(
                    "py-spy dump: every thread, innermost frame last. r: again, Esc: close",
                    "$text-muted",
                )
            )
            with VerticalScroll(id="stack-body"):
                yield Static(Content("taking the stack..."), id="stack-text")

    def on_mount(self) -> None:
        if self.take:
            self.action_refresh_stack()

    def action_refresh_stack(self) -> None:
        self.query_one("#stack-text", Static).update(Content("taking the stack..."))
        self._dump()

    @work(thread=True, exclusive=True, group="stack")
    def _dump(self) -> None:
        try:
            text, failed = dump_stack(self.pid).text, False
        except PySpyError as error:
            text, failed = str(error), True
        self.app.call_from_thread(self.show, text, failed)

    def show(self, text: str, failed: bool = False) -> None:
        """Put ``text`` (a dump, or why there is none) on the screen."""
        self.text = text
        content = Content.styled(text, "$error") if failed else Content(text.rstrip())
        self.query_one("#stack-text", Static).update(content)

    def action_close(self) -> None:
        self.dismiss(None)
