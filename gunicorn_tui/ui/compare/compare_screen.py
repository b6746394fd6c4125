"""The Compare screen (``C``): two epochs of the selected instance side by side.

By default the current epoch (B) against the one before (A); ``[``/``]``
pick another A, ``{``/``}`` another B. While it shows live epochs it
recomputes every few seconds, so a warm-up ending or data arriving shows
up. A comparison handed in (a guided A/B's) is shown as is until another
epoch is picked. ``e`` exports (Markdown, JSON, SVG), ``a`` starts a
guided A/B, Esc goes back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from gunicorn_tui.compare.comparison import EpochComparison, compare_epochs
from gunicorn_tui.compare.epochs import Epoch, EpochTracker
from gunicorn_tui.compare.interleave import InterleaveResult
from gunicorn_tui.compare.summary import DEFAULT_MIN_MEASURED_S
from gunicorn_tui.ui.compare.comparison_view import ComparisonView
from gunicorn_tui.ui.widgets.safe_text import SafeStatic
from gunicorn_tui.ui.widgets.static_text import show_text

LIVE_REFRESH_S = 2.0


def pick_pair(
    epochs: tuple[Epoch, ...], before_id: int | None, after_id: int | None
) -> tuple[Epoch, Epoch] | None:
    """The epochs to compare: the ones asked for if still kept, else the
    current one (B) and the one before it (A)."""
    if len(epochs) < 2:
        return None
    by_id = {epoch.id: epoch for epoch in epochs}
    after = by_id.get(after_id) if after_id is not None else None
    after = after or epochs[-1]
    before = by_id.get(before_id) if before_id is not None else None
    if before is None or before.id == after.id:
        earlier = [epoch for epoch in epochs if epoch.id < after.id]
        before = earlier[-1] if earlier else next(e for e in epochs if e.id != after.id)
    return before, after


def step_epoch(epochs: tuple[Epoch, ...], current: int, step: int, avoid: int) -> int:
    """The id ``step`` epochs away from ``current``, skipping ``avoid`` (the
    other side), clamped to the epochs kept."""
    ids = [epoch.id for epoch in epochs]
    if current not in ids:
        return current
    index = ids.index(current)
    while True:
        index += step
        if not 0 <= index < len(ids):
            return current
        if ids[index] != avoid:
            return ids[index]


class CompareScreen(Screen[None]):
    """Two epochs side by side (module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,C,m", "close", "Back", id="compare.close"),
        Binding("left_square_bracket", "step('before', -1)", "A older", id="compare.a_older"),
        Binding("right_square_bracket", "step('before', 1)", "A newer", id="compare.a_newer"),
        Binding("left_curly_bracket", "step('after', -1)", "B older", id="compare.b_older"),
        Binding("right_curly_bracket", "step('after', 1)", "B newer", id="compare.b_newer"),
        Binding("e", "export", "Export", id="compare.export"),
        Binding("a", "guided_ab", "A/B", id="compare.ab"),
        Binding("P", "persist", "Persist", id="compare.persist"),
    ]

    def __init__(
        self,
        label: str,
        tracker: EpochTracker | None,
        *,
        fixed: EpochComparison | None = None,
        title: str = "Compare",
        on_export: Callable[[CompareScreen], object] | None = None,
        on_guided_ab: Callable[[], None] | None = None,
        on_persist: Callable[[], None] | None = None,
        min_measured_s: float = DEFAULT_MIN_MEASURED_S,
        export_lines: tuple[str, ...] = (),
        verdict: InterleaveResult | None = None,
    ) -> None:
        super().__init__()
        self.verdict = verdict
        self.label = label
        self.tracker = tracker
        self.fixed = fixed
        self.title_text = title
        self.on_export = on_export
        self.on_guided_ab = on_guided_ab
        self.on_persist = on_persist
        self.min_measured_s = min_measured_s
        self.export_lines = export_lines
        self.before_id: int | None = fixed.before.epoch_id if fixed else None
        self.after_id: int | None = fixed.after.epoch_id if fixed else None
        self.comparison: EpochComparison | None = fixed

    def compose(self) -> ComposeResult:
        yield SafeStatic(id="compare-title")
        with VerticalScroll(id="compare-body"):
            yield ComparisonView(id="comparison")
        yield Footer()

    def on_mount(self) -> None:
        self.recompute()
        if self.tracker is not None:
            self.set_interval(LIVE_REFRESH_S, self._tick)

    def _tick(self) -> None:
        if self.fixed is None:
            self.recompute()

    def recompute(self) -> None:
        """Compare the chosen epochs again (or show the comparison handed in)."""
        message = ""
        if self.fixed is not None:
            self.comparison = self.fixed
        else:
            epochs = self.tracker.epochs() if self.tracker is not None else ()
            pair = pick_pair(epochs, self.before_id, self.after_id)
            if pair is None:
                self.comparison = None
                message = (
                    "Only one epoch so far: nothing to compare. Change the configuration "
                    "(t retune, > or < workers, R reload), or run a guided A/B (a)."
                    if epochs
                    else "No epoch yet: no sample of this instance."
                )
            else:
                before, after = pair
                self.comparison = compare_epochs(before, after, min_measured_s=self.min_measured_s)
        self._show(message)

    def _show(self, message: str) -> None:
        comparison = self.comparison
        pair = (
            f"epoch {comparison.before.epoch_id} (A) vs {comparison.after.epoch_id} (B)"
            if comparison is not None
            else ""
        )
        show_text(
            self.query_one("#compare-title", Static),
            Content.assemble(
                (f"{self.title_text} ", "bold $accent"),
                (self.label, "bold"),
                f"  {pair}",
            ),
        )
        verdict = self.verdict if self.fixed is not None else None
        self.query_one(ComparisonView).show(comparison, message, verdict)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_step(self, side: str, step: int) -> None:
        if self.tracker is None:
            return
        epochs = self.tracker.epochs()
        if self.comparison is None or len(epochs) < 2:
            return
        before_id = self.comparison.before.epoch_id
        after_id = self.comparison.after.epoch_id
        if side == "before":
            self.before_id, self.after_id = step_epoch(epochs, before_id, step, after_id), after_id
        else:
            self.before_id, self.after_id = before_id, step_epoch(epochs, after_id, step, before_id)
        self.fixed = None  # from now on, live epochs
        self.recompute()

    def action_export(self) -> None:
        if self.comparison is None:
            self.notify("Nothing to export: no comparison yet.", severity="warning")
            return
        if self.on_export is not None:
            self.on_export(self)

    def action_persist(self) -> None:
        """The running config (after a guided A/B: the winner's) against its source."""
        if self.on_persist is not None:
            self.on_persist()

    def action_guided_ab(self) -> None:
        if self.on_guided_ab is not None:
            self.on_guided_ab()
