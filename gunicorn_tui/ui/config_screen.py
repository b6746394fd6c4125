"""The ``c`` screen: every tracked setting, its value and where it comes from."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from gunicorn_tui.model.instances import ConfigSource, InstanceSample

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
            yield Static(Content.styled(f"Configuration of {self.sample.label}", "bold"))
            yield Static(Content.styled(_EXPLAIN, "$text-muted"))
            yield DataTable(id="config-table", cursor_type="row")
            notes = list(self.sample.config.warnings) + list(self.sample.warnings)
            if self.sample.config.config_file:
                notes.insert(0, f"config file: {self.sample.config.config_file}")
            if self.sample.control_socket:
                notes.insert(0, f"control socket: {self.sample.control_socket}")
            yield Static(Content("\n".join(f"· {note}" for note in notes)), id="config-notes")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("setting", "value", "from", "declared in")
        for name, setting in self.sample.config.settings.items():
            value = "?" if setting.value is None else str(setting.value)
            source = setting.source.value
            if setting.source is ConfigSource.UNKNOWN:
                table.add_row(name, Content.styled(value, "$text-disabled"), source, "?")
            else:
                table.add_row(name, value[:40], source, setting.declared_in.value)

    def action_close(self) -> None:
        self.dismiss(None)
