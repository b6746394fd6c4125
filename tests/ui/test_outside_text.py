"""Outside text on the dashboard: shown escaped, never sent to the terminal,
never read as markup.

The frames are the recorded ones of ``data/two_containers.json`` with hostile
text put where servers put text: the container name (a real Docker engine
refuses such a name, so only data can carry it here; a remote or hostile
daemon is not held to that), the process title's name, a request path in
the access log (``%(U)s`` is percent-decoded, so any byte can come through),
an error-log line, a configuration value and an error string. What is
checked is what the terminal would receive: the screen rendered as the
driver writes it.
"""

from __future__ import annotations

import time
from dataclasses import replace

from textual.app import App
from textual.pilot import Pilot

from gunicorn_tui.model.instances import (
    ConfigSetting,
    ConfigSource,
    ContainerRef,
    GunicornConfig,
    InstanceSample,
)
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.traffic.instance_traffic import InstanceTraffic
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.ui.config_screen import ConfigScreen
from gunicorn_tui.ui.widgets.endpoint_table import EndpointTable
from gunicorn_tui.ui.widgets.instance_table import InstanceTable
from tests.traffic_live.traffic_waits import PID_AND_DURATION_FORMAT
from tests.ui.replay import ReplaySource, frames_from, recorded_instances

# OSC 52 sets the clipboard, OSC 0 the window title; CSI 6n asks the
# terminal to type an answer into gtui's input.
CLIPBOARD = "\x1b]52;c;Z3R1aQ==\x07"
TITLE = "\x1b]0;pwned\x07"
REPORT = "\x1b[6n"
MARKUP = "[bold red]x[/]"
NAME = f"web{CLIPBOARD}{MARKUP}"
PROC_NAME = f"app{TITLE}"
PATH = f"/p{REPORT}{CLIPBOARD}"


def shown(text: str) -> str:
    """How the screen must show ``text``: escapes, as typed."""
    return (
        text.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
        # Textual drops BEL from text it is given; the ESC before it is what matters.
    )


def hostile_frames(count: int) -> list[MonitorFrame]:
    first, *others = recorded_instances()
    assert first.container is not None
    container = ContainerRef(first.container.id, NAME, first.container.image)
    settings = dict(first.config.settings)
    settings["proc_name"] = ConfigSetting(
        PROC_NAME, ConfigSource.COMMAND_LINE, ConfigSource.COMMAND_LINE
    )
    hostile: InstanceSample = replace(
        first,
        container=container,
        name=PROC_NAME,
        config=GunicornConfig(settings, first.config.config_file, first.config.warnings),
    )
    frames = frames_from([hostile, *others], count)
    traffic = InstanceTraffic(PID_AND_DURATION_FORMAT)
    traffic.sources = ["container log stream"]
    traffic.access_log_expected = True
    worker = hostile.workers[0].ns_pid
    at = frames[0].taken_at
    access = (
        f'127.0.0.1 - - [28/Nov/2026:01:45:01 +0000] "GET {PATH} HTTP/1.1" 200 26 "-" '
        f'"curl" <{worker}> 819'
    )
    error = f"[2026-11-28 01:45:01 +0000] [1] [ERROR] Exception in worker {CLIPBOARD}{MARKUP}"
    traffic.add_lines([access] * 3 + [error], at - 0.5)
    return [replace(frame, traffic={hostile.key: traffic.view(frame.taken_at)}) for frame in frames]


def terminal_output(app: App[None]) -> str:
    """What the driver would write for the whole screen now."""
    return app.screen._compositor.render_full_update().render_segments(app.console)


def screen_text(app: App[None]) -> str:
    return "\n".join(
        "".join(segment.text for segment in strip)
        for strip in app.screen._compositor.render_strips()
    )


def assert_nothing_sent(app: App[None]) -> str:
    output = terminal_output(app)
    for sequence in ("\x1b]52", "\x1b]0;", REPORT):
        assert sequence not in output, repr(sequence)
    text = screen_text(app)
    assert "\x1b" not in text and "\x07" not in text
    return text


async def _frames(pilot: Pilot[None], app: GtuiApp, count: int) -> None:
    deadline = time.monotonic() + 10
    while app.frames_seen < count:
        assert time.monotonic() < deadline
        await pilot.pause(0.05)


async def test_hostile_text_is_shown_escaped_on_every_tab_and_screen() -> None:
    app = GtuiApp(ReplaySource(hostile_frames(4)), refresh_s=10.0)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await _frames(pilot, app, 2)
        table = app.query_one(InstanceTable)
        key = table.row_keys[0]
        assert table.row_text(key).strip().startswith(shown(NAME)[:20])
        text = assert_nothing_sent(app)
        assert "web\\x1b]52;c;Z3R1aQ==" in text  # the header: name as typed

        await pilot.press("3")  # endpoints: the request path
        await pilot.pause(0.3)
        endpoints = app.query_one(EndpointTable)
        (row,) = endpoints.row_keys
        assert "\\x1b[6n\\x1b]52" in endpoints.row_text(row)
        assert_nothing_sent(app)

        await pilot.press("4")  # events: the error-log line
        await pilot.pause(0.3)
        text = assert_nothing_sent(app)
        assert "Exception in worker \\x1b]52" in text
        assert MARKUP in text  # markup shows as typed

        await pilot.press("c")  # configuration: the process title's name
        await pilot.pause(0.3)
        assert isinstance(app.screen, ConfigScreen)
        text = assert_nothing_sent(app)
        assert "app\\x1b]0;pwned" in text
        assert f"Configuration of web\\x1b]52;c;Z3R1aQ=={MARKUP}" in text
        await pilot.press("escape")
        await pilot.pause(0.2)

        # Error strings reach notifications: text, not markup, escaped.
        link = "[link=https://example.invalid]here[/link]"
        app.notify(f"Export failed: {CLIPBOARD}{link}", severity="error")
        await pilot.pause(0.3)
        text = assert_nothing_sent(app)
        # The toast wraps it: its first line, then the escaped sequence and
        # the link markup, typed out.
        assert "Export failed:" in text
        assert f"{shown(CLIPBOARD)}[link=https://example.invalid]here[" in text


class _FailingSource(ReplaySource):
    def sample(self) -> MonitorFrame:
        if self.calls == 1:
            self.calls += 1
            raise RuntimeError(f"daemon said {CLIPBOARD}{MARKUP}")
        return super().sample()


async def test_a_sampling_error_from_outside_is_shown_escaped() -> None:
    app = GtuiApp(_FailingSource(hostile_frames(4)), refresh_s=0.5)
    async with app.run_test(size=(120, 30)) as pilot:
        deadline = time.monotonic() + 5
        while "sampling failed" not in screen_text(app):
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        text = assert_nothing_sent(app)
        assert f"daemon said \\x1b]52;c;Z3R1aQ=={MARKUP}" in text
