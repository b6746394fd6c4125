"""The Retune form: every retunable setting, filled with the current values,
validated as you type; submitting asks for a plan (nothing runs yet).

The same form starts a guided A/B (ctrl+b, or the only choice when opened
from the Compare screen): baseline under the load profile named in the
form, the change, warm-up, measurement, comparison."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from gunicorn_tui.control.planning.requests import RETUNABLE_SETTINGS, RetuneRequest
from gunicorn_tui.control.planning.running_config import running_value
from gunicorn_tui.control.planning.validation import validate_request
from gunicorn_tui.load.profile import ProfileError, load_profile_or_builtin
from gunicorn_tui.model.instances import ConfigSource, ConfigValue, InstanceSample, Source
from gunicorn_tui.output.escape import escape_controls
from gunicorn_tui.settings.resolve import short_worker_class
from gunicorn_tui.ui.widgets.safe_text import SafeLabel, SafeStatic

_HINTS = {
    "workers": "2 x usable CPUs + 1 is the usual start",
    "worker_class": "sync, gthread, gevent, asgi, tornado or a dotted path",
    "threads": "gthread: threads per worker",
    "worker_connections": "async classes: connections per worker",
    "timeout": "seconds before a silent worker is killed (0: never)",
    "graceful_timeout": "seconds to finish requests on restart",
    "max_requests": "restart a worker after N requests (0: never)",
    "max_requests_jitter": "random 0..N added to max_requests",
    "keepalive": "seconds to keep an idle connection",
    "preload_app": "true/false: load the app before forking",
}


def current_text(sample: InstanceSample, name: str) -> str:
    """A field's starting text: the value that runs now (the master's worker
    target, not the count ``show config`` still reports after ``worker add``)."""
    return value_text(name, running_value(sample, name))


def value_text(name: str, value: ConfigValue) -> str:
    """A setting's value as the form shows it (read from the server: its
    control characters escaped)."""
    if value is None:
        return ""
    if name == "worker_class" and isinstance(value, str):
        return escape_controls(short_worker_class(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape_controls(str(value))


def parse_field(name: str, text: str) -> ConfigValue:
    """Turn a field's text into a setting value (ValueError when it cannot be)."""
    text = text.strip()
    if name == "worker_class":
        if not text:
            raise ValueError("worker_class cannot be empty")
        return text
    if name == "preload_app":
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise ValueError("preload_app must be true or false")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {text!r}") from None


def request_from_fields(
    sample: InstanceSample, texts: dict[str, str], allow_restart: bool
) -> tuple[RetuneRequest | None, list[str]]:
    """A request with only the changed settings, or the problems."""
    changes: dict[str, ConfigValue] = {}
    problems: list[str] = []
    for name in RETUNABLE_SETTINGS:
        text = texts.get(name, "").strip()
        if text == current_text(sample, name) or (not text and running_value(sample, name) is None):
            continue
        try:
            changes[name] = parse_field(name, text)
        except ValueError as error:
            problems.append(str(error))
    if problems:
        return None, problems
    request = RetuneRequest.from_changes(changes, allow_restart=allow_restart)
    problems = list(validate_request(request, sample.config))
    return (request if not problems else None), problems


DEFAULT_AB_PROFILE = "mixed"


@dataclass(frozen=True)
class GuidedAbChoice:
    """The form asks for a guided A/B of ``request`` under ``profile`` (a
    built-in profile name or a file, checked to load)."""

    request: RetuneRequest
    profile: str


class RetuneForm(ModalScreen[RetuneRequest | GuidedAbChoice | None]):
    """Dismisses with the request to plan, a guided A/B to run, or None
    when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="retune.cancel"),
        Binding("ctrl+s", "submit", "Plan", id="retune.submit"),
        Binding("ctrl+b", "guided_ab", "A/B under load", id="retune.ab"),
    ]

    def __init__(
        self,
        sample: InstanceSample,
        prepared: RetuneRequest | None = None,
        *,
        ab_only: bool = False,
    ) -> None:
        """``prepared``: settings to start from instead of the running ones
        (the advice panel's "prepare this retune"); nothing runs until submitted."""
        super().__init__()
        self.sample = sample
        self.ab_only = ab_only
        self.prepared = prepared.changes() if prepared is not None else {}

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            title = "Guided A/B on" if self.ab_only else "Retune"
            yield SafeStatic(
                Content.styled(f"{title} {self.sample.label}", "bold"), id="dialog-title"
            )
            # Everything but the title and the buttons scrolls: at 80x24 the
            # buttons stay on screen.
            with VerticalScroll(id="retune-body"):
                yield SafeStatic(
                    Content.styled(
                        "Change what you want; unchanged fields stay as they are. The plan is "
                        "shown before anything runs.",
                        "$text-muted",
                    )
                )
                with Grid(id="retune-grid"):
                    for name in RETUNABLE_SETTINGS:
                        setting = self.sample.config.get(name)
                        where = (
                            f"({setting.declared_in.value})"
                            if setting.declared_in is not ConfigSource.UNKNOWN
                            else "(unknown)"
                        )
                        label = Content.assemble((name, "bold"), (f" {where}", "$text-muted"))
                        yield SafeLabel(label)
                        yield Input(
                            value=value_text(name, self.prepared[name])
                            if name in self.prepared
                            else current_text(self.sample, name),
                            placeholder=_HINTS[name],
                            id=f"field-{name}",
                        )
                if self.sample.source is Source.LOCAL:
                    yield Checkbox("may restart this host master", id="allow-restart")
                    yield SafeStatic(
                        Content.styled(
                            "needed when a changed setting is pinned on its command line",
                            "$text-muted",
                        ),
                        id="allow-restart-hint",
                    )
                with Horizontal(id="ab-row"):
                    yield SafeLabel("A/B load profile", id="ab-profile-label")
                    yield Input(value=DEFAULT_AB_PROFILE, id="ab-profile", placeholder="profile")
                yield SafeStatic(id="problems")
            with Horizontal(id="dialog-buttons"):
                if not self.ab_only:
                    yield Button("Plan ^s", variant="primary", id="submit")
                yield Button("A/B ^b", id="ab")
                yield Button("Cancel Esc", id="cancel")

    def on_resize(self) -> None:
        # The body takes what the title, the buttons and the border leave of
        # the dialog's 90% of the screen.
        body = self.query_one("#retune-body", VerticalScroll)
        body.styles.max_height = max(4, int(self.size.height * 0.9) - 6)

    def on_mount(self) -> None:
        self.query_one(f"#field-{RETUNABLE_SETTINGS[0]}", Input).focus()
        self._validate()

    def _texts(self) -> dict[str, str]:
        return {name: self.query_one(f"#field-{name}", Input).value for name in RETUNABLE_SETTINGS}

    def _allow_restart(self) -> bool:
        boxes = self.query("#allow-restart")
        return bool(boxes) and bool(self.query_one("#allow-restart", Checkbox).value)

    def _validate(self) -> RetuneRequest | None:
        request, problems = request_from_fields(self.sample, self._texts(), self._allow_restart())
        nothing = problems == ["nothing to change: name at least one setting"]
        text = Content("\n").join(
            Content.styled(f"• {problem}", "$text-muted" if nothing else "$error")
            for problem in problems
        )
        self.query_one("#problems", Static).update(text)
        for button in self.query("#submit, #ab").results(Button):
            button.disabled = request is None
        return request

    @on(Input.Changed)
    def _changed(self) -> None:
        self._validate()

    @on(Checkbox.Changed)
    def _checked(self) -> None:
        self._validate()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "ab-profile":
            self.action_guided_ab()
        else:
            self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        elif event.button.id == "ab":
            self.action_guided_ab()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        if self.ab_only:
            self.action_guided_ab()
            return
        request = self._validate()
        if request is not None:
            self.dismiss(request)

    def action_guided_ab(self) -> None:
        request = self._validate()
        if request is None:
            return
        profile = self.query_one("#ab-profile", Input).value.strip() or DEFAULT_AB_PROFILE
        try:
            load_profile_or_builtin(profile)
        except ProfileError as error:
            self.query_one("#problems", Static).update(
                Content.styled(f"• A/B load profile: {error}", "$error")
            )
            return
        self.dismiss(GuidedAbChoice(request, profile))

    def action_cancel(self) -> None:
        self.dismiss(None)
