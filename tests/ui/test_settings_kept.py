"""The theme chosen in the command palette is kept in the config file and
used at the next start; gtui's own actions are in the palette."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gunicorn_tui.cli.dashboard_commands import theme_options
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.user_config.config_file import load_config
from tests.ui.replay import ReplaySource, frames_from, recorded_instances


def _app(config_path: Path) -> GtuiApp:
    config = load_config(config_path) if config_path.exists() else None
    from argparse import Namespace

    from gunicorn_tui.user_config.config_file import UserConfig

    args = Namespace(
        user_config=config or UserConfig(path=config_path, found=False),
        theme=config.theme if config else None,
    )
    frames = frames_from(recorded_instances(), 3)
    return GtuiApp(ReplaySource(frames), refresh_s=0.5, **theme_options(args))


async def test_palette_theme_is_kept_and_used_next_time(tmp_path: Path) -> None:
    path = tmp_path / "gtui" / "config.toml"
    app = _app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        assert not path.exists()  # the start theme is not written back
        app.theme = "nord"  # what the palette's "Change theme" sets
        await pilot.pause(0.2)
    assert load_config(path).theme == "nord"
    again = _app(path)
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        assert again.theme == "nord"


async def test_gtui_actions_are_in_the_command_palette(tmp_path: Path) -> None:
    app = _app(tmp_path / "config.toml")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for wanted in ("gtui: Retune", "gtui: Compare", "gtui: Advice", "gtui: Sweep",
                       "gtui: Kill worker", "gtui: Reload", "gtui: Pause", "Theme"):  # fmt: skip
            assert wanted in titles, titles
        # Run one through the palette as a user would.
        assert app.paused is False
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        for key in "gtui: Pause":
            await pilot.press("space" if key == " " else key)
        await pilot.pause(0.5)
        await pilot.press("enter")
        for _ in range(20):
            if app.paused:
                break
            await asyncio.sleep(0.1)
        assert app.paused is True
