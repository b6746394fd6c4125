"""The ``c`` screen: every tracked setting, its value and where it comes from."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable

from gunicorn_tui.model.instances import ConfigSource, InstanceSample
from gunicorn_tui.output.escape import escape_controls
from gunicorn_tui.ui.widgets.safe_text import SafeStatic, safe_content

_EXPLAIN = (
    "value: what the server runs with. from: where gtui read it. "
    "declared in: the layer that sets it (command line beats GUNICORN_CMD_ARGS "
    "beats the config file); a retune must change that layer."
)


class ConfigScreen(ModalScreen[None]):
    """Settings of one instance with their origins."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,c", "close", "Close", id="config.close"),
    ]

    def __init__(self, sample: InstanceSample) -> None:
        super().__init__()
        self.sample = sample

    def compose(self) -> ComposeResult:
        with Vertical(id="config-body"):
            yield SafeStatic(Content.styled(f"Configuration of {self.sample.label}", "bold"))
            yield SafeStatic(Content.styled(_EXPLAIN, "$text-muted"))
            yield DataTable(id="config-table", cursor_type="row")
            notes = list(self.sample.config.warnings) + list(self.sample.warnings)
            if self.sample.config.config_file:
                notes.insert(0, f"config file: {self.sample.config.config_file}")
            if self.sample.control_socket:
                notes.insert(0, f"control socket: {self.sample.control_socket}")
            yield SafeStatic(Content("\n".join(f"· {note}" for note in notes)), id="config-notes")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("setting", "value", "from", "declared in")
        # Values come from the server's files and command line: shown as
        # text (a DataTable reads plain strings as markup), controls escaped.
        for name, setting in self.sample.config.settings.items():
            value = "?" if setting.value is None else str(setting.value)
            source = setting.source.value
            if setting.source is ConfigSource.UNKNOWN:
                shown = safe_content(Content.styled(value, "$text-disabled"))
                table.add_row(name, shown, source, "?")
            else:
                table.add_row(
                    name, Text(escape_controls(value)[:40]), source, setting.declared_in.value
                )

    def action_close(self) -> None:
        self.dismiss(None)
