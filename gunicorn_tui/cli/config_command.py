"""``gtui config`` (the effective settings and their sources) and
``gtui completion SHELL`` (a completion script from argcomplete)."""

from __future__ import annotations

import argparse
import json
import sys

from gunicorn_tui.cli.effective import EffectiveSetting
from gunicorn_tui.cli.exit_codes import EXIT_OK
from gunicorn_tui.output.text_table import render_table
from gunicorn_tui.user_config.config_file import UserConfig, write_template


def run_config(args: argparse.Namespace) -> int:
    """``gtui config [--json] [--path] [--init]``."""
    config: UserConfig = args.user_config
    settings: tuple[EffectiveSetting, ...] = args.settings
    if args.init:
        if write_template(config.path):
            print(f"wrote {config.path}")
        else:
            print(f"{config.path} exists: left as it is")
        return EXIT_OK
    if args.path:
        print(config.path)
        return EXIT_OK
    if args.json:
        document = {
            "config_file": {"path": str(config.path), "found": config.found},
            "settings": {s.key: {"value": s.value, "source": _source(s)} for s in settings},
        }
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    found = "" if config.found else " (not found: every setting has its default)"
    print(f"config file: {config.path}{found}")
    rows = [(s.key, "-" if s.value is None else _text(s.value), _source(s)) for s in settings]
    print(render_table(("SETTING", "VALUE", "FROM"), rows))
    return EXIT_OK


def _source(setting: EffectiveSetting) -> str:
    """``command line``, ``config file`` or ``default``."""
    return "config file" if setting.source.startswith("config file") else setting.source


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def run_completion(args: argparse.Namespace) -> int:
    """``gtui completion bash|zsh|fish``: print the script for that shell."""
    from argcomplete.shell_integration import shellcode

    sys.stdout.write(shellcode(["gtui"], shell=args.shell))
    return EXIT_OK
