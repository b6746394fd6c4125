"""The command line builds only the parser it needs, and misses none."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gunicorn_tui.cli.main import COMMAND_NAMES, build_parsers


def test_command_names_are_every_subcommand() -> None:
    _, commands = build_parsers()
    assert set(commands) == COMMAND_NAMES


@pytest.mark.parametrize("name", sorted(COMMAND_NAMES))
def test_building_one_command_keeps_that_parser(name: str) -> None:
    _, full = build_parsers()
    _, some = build_parsers(only=name)
    assert name in some
    assert some[name].format_help() == full[name].format_help()


def test_dashboard_start_does_not_load_the_load_driver_or_sweeps() -> None:
    # What `gtui TARGET` imports before it opens the UI: not httpx (the load
    # driver's client), the comparison or the sweep runner.
    probe = (
        "import sys\n"
        "from gunicorn_tui.cli.main import build_parsers\n"
        "dashboard, commands = build_parsers(only='dashboard')\n"
        "dashboard.parse_args(['some-target'])\n"
        "heavy = ('httpx', 'gunicorn_tui.load.driver', 'gunicorn_tui.compare.comparison',"
        " 'gunicorn_tui.sweep.runner')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_help_of_a_compare_command_still_works() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn_tui", "compare", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "gtui compare" in done.stdout
