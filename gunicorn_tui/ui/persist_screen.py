"""The ``P`` dialog (dashboard, Compare and Sweep screens): the running
config against its source, as a diff, written only when the operator says so.

The plan is made in a thread (it inspects the container and reads files);
the write goes through :mod:`gunicorn_tui.persist.safe_write` like
``gtui persist`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button

from gunicorn_tui.persist.plan import PersistKind, PersistPlan
from gunicorn_tui.persist.safe_write import FileRefused, replace_text
from gunicorn_tui.ui.widgets.safe_text import SafeStatic
from gunicorn_tui.ui.widgets.static_text import show_text


def persist_content(plan: PersistPlan) -> Content:
    """The drift, the diff (or why not) and the change to make by hand."""
    if plan.kind is PersistKind.IN_SYNC:
        where = f" ({plan.path})" if plan.path else ""
        return Content.styled(f"The running config matches its source{where}.", "$success")
    lines: list[Content] = [Content.styled(f"Differs from its source ({plan.kind.value}):", "bold")]
    lines += [Content(line) for line in plan.drift_lines()]
    if plan.refusal:
        lines.append(Content.assemble(("cannot rewrite it: ", "bold $error"), plan.refusal))
    for line in plan.diff().splitlines():
        style = "$success" if line.startswith("+") else "$error" if line.startswith("-") else ""
        lines.append(Content.styled(line, style) if style else Content(line))
    lines += [Content.styled(line, "$warning") for line in plan.manual]
    return Content("\n").join(lines)


class PersistScreen(ModalScreen[bool]):
    """Shows a persist plan; dismisses with True once the file was written."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "write", "Write", id="persist.write"),
        Binding("escape,n", "close", "Close", id="persist.close"),
    ]

    def __init__(self, title: str, compute: Callable[[], PersistPlan]) -> None:
        super().__init__()
        self.title_text = title
        self.compute = compute
        self.plan: PersistPlan | None = None
        self.written = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield SafeStatic(Content.styled(self.title_text, "bold"), id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield SafeStatic(Content.styled("Reading the source…", "$text-muted"), id="persist")
            with Horizontal(id="dialog-buttons"):
                yield Button("Write (y)", variant="warning", id="write", disabled=True)
                yield Button("Close (Esc)", id="close")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()
        self._plan()

    @work(thread=True, exclusive=True, group="persist")
    def _plan(self) -> None:
        try:
            plan = self.compute()
        except Exception as error:  # shown, never a crash of the dashboard
            self.app.call_from_thread(self._failed, f"{type(error).__name__}: {error}")
            return
        self.app.call_from_thread(self._show, plan)

    def _failed(self, text: str) -> None:
        show_text(self.query_one("#persist", SafeStatic), Content.styled(text, "$error"))

    def _show(self, plan: PersistPlan) -> None:
        self.plan = plan
        show_text(self.query_one("#persist", SafeStatic), persist_content(plan))
        self.query_one("#write", Button).disabled = not plan.writable

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "write":
            self.action_write()
        else:
            self.action_close()

    def action_write(self) -> None:
        plan = self.plan
        if plan is None or not plan.writable or self.written:
            return
        assert plan.path is not None and plan.old_text is not None and plan.new_text is not None
        try:
            replace_text(plan.path, plan.old_text, plan.new_text)
        except FileRefused as error:
            self._failed(f"not written: {error}")
            return
        self.written = True
        self.query_one("#write", Button).disabled = True
        show_text(
            self.query_one("#persist", SafeStatic),
            Content.assemble(
                (f"Written and read back: {plan.path}\n", "bold $success"),
                persist_content(plan),
            ),
        )

    def action_close(self) -> None:
        self.dismiss(self.written)
