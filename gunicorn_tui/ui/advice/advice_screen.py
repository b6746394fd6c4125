"""A modal that lists the advice for one instance, each item with the
evidence it was judged on; Enter or ``p`` on an item that names a retune
dismisses with that retune (the app opens the Retune form filled in)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from gunicorn_tui.advice.items import AdviceItem, AdviceKind
from gunicorn_tui.capacity.facts import CapacityFacts
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.output.units import format_bytes
from gunicorn_tui.ui.widgets.safe_text import SafeStatic, safe_content

_KIND_STYLE = {
    AdviceKind.SUGGESTION: "bold $success",
    AdviceKind.CAUTION: "bold $warning",
    AdviceKind.FINE: "$text-muted",
    AdviceKind.NOT_ENOUGH_DATA: "$text-muted",
}


def retune_text(request: RetuneRequest) -> str:
    """``workers=5, worker_class=gthread`` for a request."""
    return ", ".join(f"{name}={value}" for name, value in request.changes().items())


def item_content(item: AdviceItem) -> Content:
    """An item as the list shows it: kind and title, detail, evidence, retune."""
    lines = [
        Content.assemble((f"[{item.kind.value}] ", _KIND_STYLE[item.kind]), (item.title, "bold")),
        Content(f"  {item.detail}"),
    ]
    for evidence in item.evidence:
        lines.append(Content.styled(f"  • {evidence.text()}", "$text-muted"))
    if item.retune is not None:
        lines.append(
            Content.assemble(
                ("  Enter/p: prepare ", "$accent"), (retune_text(item.retune), "bold $accent")
            )
        )
    return Content("\n").join(lines)


def capacity_content(capacity: CapacityFacts | None) -> Content:
    """One line of the capacity facts the advice stands on."""
    if capacity is None:
        return Content.styled("capacity: not measured", "$text-muted")
    cpu = capacity.cpu
    cpus = "?" if cpu.usable_cpus is None else f"{cpu.usable_cpus:g}"
    memory = capacity.memory
    limit = "?" if memory.limit_bytes is None else format_bytes(memory.limit_bytes)
    fit = "?" if memory.workers_fit is None else str(memory.workers_fit)
    guideline = "?" if capacity.guideline_workers is None else str(capacity.guideline_workers)
    backlog = capacity.backlog.queued_connections
    parts = [
        f"usable CPUs {cpus} ({cpu.limited_by})",
        f"memory limit {limit} ({memory.limit_source})",
        f"workers {capacity.workers_current}, guideline {guideline}, fit in memory {fit}",
        f"backlog {'?' if backlog is None else backlog}",
    ]
    return Content.styled("  ·  ".join(parts), "$text-muted")


class AdviceScreen(ModalScreen[RetuneRequest | None]):
    """Dismisses with the highlighted item's retune, or None (Esc)."""

    CSS_PATH = "advice.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="advice.close"),
        Binding("p", "prepare", "Prepare retune", id="advice.prepare"),
    ]

    def __init__(
        self,
        sample_key: str,
        items: Sequence[AdviceItem],
        capacity: CapacityFacts | None,
        *,
        label: str | None = None,
        window_note: str = "",
    ) -> None:
        """``label`` names the instance in the title (its key when not given);
        ``window_note`` says what the advice was made from ("12 samples over 10 s")."""
        super().__init__()
        self.sample_key = sample_key
        self.items = tuple(items)
        self.capacity = capacity
        self.label = label or sample_key
        self.window_note = window_note

    def compose(self) -> ComposeResult:
        with Vertical(id="advice-body"):
            title = Content.assemble(
                (f"Advice for {self.label}", "bold"),
                (f"  {self.window_note}" if self.window_note else "", "$text-muted"),
            )
            yield SafeStatic(title, id="advice-title")
            yield SafeStatic(capacity_content(self.capacity), id="advice-capacity")
            options = [
                Option(safe_content(item_content(item)), id=f"item-{index}")
                for index, item in enumerate(self.items)
            ]
            if not options:
                options = [Option("no advice: nothing was measured", disabled=True)]
            yield OptionList(*options, id="advice-items")
            yield SafeStatic(
                Content.styled("Enter/p prepare the retune · Esc close", "$text-muted"),
                id="advice-hint",
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def highlighted_item(self) -> AdviceItem | None:
        """The item under the cursor."""
        index = self.query_one(OptionList).highlighted
        if index is None or not self.items or index >= len(self.items):
            return None
        return self.items[index]

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_prepare()

    def action_prepare(self) -> None:
        """Dismiss with the highlighted item's retune (a notice when it has none)."""
        item = self.highlighted_item()
        if item is None or item.retune is None:
            self.notify("This item names no retune to prepare.", severity="warning", timeout=3)
            return
        self.dismiss(item.retune)

    def action_close(self) -> None:
        self.dismiss(None)
