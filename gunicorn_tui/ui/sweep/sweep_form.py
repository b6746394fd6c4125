"""The Sweep form (``w``): the grid (workers, classes, threads), the timing
and the load, checked as you type with ``gtui sweep``'s rules; Start is
enabled only when every value can run. Nothing changes until the sweep
screen opens."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from gunicorn_tui.control.planning.running_config import running_config
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.output.escape import escape_controls
from gunicorn_tui.sweep.grid import config_of
from gunicorn_tui.sweep.runner import SweepSettings
from gunicorn_tui.ui.sweep.sweep_choice import SweepChoice, SweepFields, choose, default_fields
from gunicorn_tui.ui.widgets.safe_text import SafeLabel, SafeStatic

# (field, label, hint), in the form's order.
_FIELDS = (
    ("workers", "workers", "counts to try: 1,2,4"),
    ("worker_classes", "worker classes", "sync, gthread, gevent, ... comma-separated"),
    ("threads", "threads (gthread)", "thread counts for gthread: 1,4"),
    ("cap_s", "rounds cap (s)", "stop by then if not clear: empty = 30 s a config, 60+"),
    ("measure_s", "in turn: per config (s)", "measured seconds per config, measured in turn"),
    ("warmup_s", "in turn: warm-up (s)", "left out after each retune"),
    ("profile", "load profile", "file or built-in name (mixed); or clear it for:"),
    ("rate", "  or rate (req/s)", "open loop: requests per second"),
    ("concurrency", "  or concurrency", "closed loop: clients back to back"),
    ("path", "  path", "path the rate or clients request"),
)


def plan_content(choice: SweepChoice, original: str, settings: SweepSettings) -> Content:
    """What will run, how long, and what the service ends on."""
    count = len(choice.configs)
    end = "the best one is kept" if choice.keep_winner else f"{original} is restored at the end"
    names = ", ".join(config.label for config in choice.configs)
    lines = [Content(f"{count} config{'s' if count != 1 else ''}: {names}")]
    rounds = choice.settings(settings).interleave
    if rounds is not None:
        lines.append(
            Content.styled(
                f"interleaved in rounds until the winner is clear or {rounds.cap_s:g} s, under "
                f"{choice.profile.source}; {end} (one config at a time if a change needs a "
                "re-create)",
                "$text-muted",
            )
        )
        return Content("\n").join(lines)
    minutes = count * choice.per_config_s / 60
    lines.append(
        Content.styled(
            f"about {minutes:.1f} min plus the retunes, under {choice.profile.source}; {end}",
            "$text-muted",
        )
    )
    if choice.measure_s < settings.min_measured_s:
        lines.append(
            Content.styled(
                f"{choice.measure_s:g} s per config is less than the {settings.min_measured_s:g} s "
                "a config needs to be ranked: no winner will be named",
                "$warning",
            )
        )
    return Content("\n").join(lines)


class SweepForm(ModalScreen[SweepChoice | None]):
    """Dismisses with the sweep to run, or None when cancelled."""

    CSS_PATH = "sweep.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="sweep_form.cancel"),
        Binding("ctrl+s", "submit", "Start", id="sweep_form.submit"),
    ]

    def __init__(self, sample: InstanceSample, settings: SweepSettings) -> None:
        super().__init__()
        self.sample = sample
        self.settings = settings
        self.initial = default_fields(sample, settings)
        running = config_of(running_config(sample))
        self.original = running.label if running is not None else "the original config"
        self.problems: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="sweep-dialog"):
            yield SafeStatic(
                Content.styled(f"Sweep {self.sample.label} (now {self.original})", "bold"),
                id="dialog-title",
            )
            yield SafeStatic(
                Content.styled(
                    "Each config: retune, warm-up, measure under the same load; then ranked.",
                    "$text-muted",
                )
            )
            with Grid(id="sweep-grid"):
                for name, label, hint in _FIELDS:
                    yield SafeLabel(Content.styled(label, "bold"))
                    # Prepared from the running config: its controls escaped.
                    yield Input(
                        value=escape_controls(getattr(self.initial, name)),
                        placeholder=hint,
                        id=f"sweep-{name}",
                    )
            yield Checkbox(
                "keep the winner (else the original config is restored)",
                value=self.initial.keep_winner,
                id="sweep-keep-winner",
            )
            yield Checkbox(
                "measure each config once, in turn (else interleaved in rounds)",
                value=self.initial.in_turn,
                id="sweep-in-turn",
            )
            yield SafeStatic(id="sweep-plan")
            yield SafeStatic(id="sweep-problems")
            with Horizontal(id="dialog-buttons"):
                yield Button("Start (ctrl+s)", variant="primary", id="sweep-start")
                yield Button("Cancel (Esc)", id="sweep-form-cancel")

    def on_mount(self) -> None:
        self.query_one("#sweep-workers", Input).focus()
        self._validate()

    def fields(self) -> SweepFields:
        """The form's values as they stand."""

        def text(name: str) -> str:
            return self.query_one(f"#sweep-{name}", Input).value

        return SweepFields(
            workers=text("workers"),
            worker_classes=text("worker_classes"),
            threads=text("threads"),
            measure_s=text("measure_s"),
            warmup_s=text("warmup_s"),
            profile=text("profile"),
            rate=text("rate"),
            concurrency=text("concurrency"),
            path=text("path"),
            keep_winner=bool(self.query_one("#sweep-keep-winner", Checkbox).value),
            cap_s=text("cap_s"),
            in_turn=bool(self.query_one("#sweep-in-turn", Checkbox).value),
        )

    def _validate(self) -> SweepChoice | None:
        choice, self.problems = choose(self.fields(), running_config(self.sample))
        self.query_one("#sweep-problems", Static).update(
            Content("\n").join(Content.styled(f"• {p}", "$error") for p in self.problems)
        )
        self.query_one("#sweep-plan", Static).update(
            plan_content(choice, self.original, self.settings) if choice is not None else ""
        )
        self.query_one("#sweep-start", Button).disabled = choice is None
        return choice

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _changed(self) -> None:
        self._validate()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "sweep-start":
            self.action_submit()
        else:
            self.action_cancel()

    def action_submit(self) -> None:
        choice = self._validate()
        if choice is not None:
            self.dismiss(choice)

    def action_cancel(self) -> None:
        self.dismiss(None)
