"""``gtui`` (the dashboard) and ``gtui demo``."""

from __future__ import annotations

import argparse

from gunicorn_tui.cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
from gunicorn_tui.cli.inspect_commands import open_monitor


def _check_refresh(refresh_s: float) -> None:
    if not 0.1 <= refresh_s <= 60:
        raise CliError("--refresh must be between 0.1 and 60 seconds", EXIT_USAGE)


def run_dashboard(args: argparse.Namespace) -> int:
    """Open the dashboard on the TARGETs (default: everything found)."""
    _check_refresh(args.refresh)
    monitor = open_monitor(args)
    from gunicorn_tui.ui.app import GtuiApp

    subtitle = " ".join(args.targets) if args.targets else ""
    GtuiApp(monitor, refresh_s=args.refresh, subtitle=subtitle).run()
    return EXIT_OK


def run_demo(args: argparse.Namespace) -> int:
    raise NotImplementedError
