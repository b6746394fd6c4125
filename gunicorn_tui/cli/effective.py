"""Effective settings: the command line, else the config file, else the default.

Applied to the parsed arguments once, before any command runs, so every
command sees final values (``args.refresh``, ``args.statsd``,
``args.export_dir``, ``args.read_only``, ``args.theme``) and ``gtui config``
can say where each came from.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from gunicorn_tui.cli.options import DEFAULT_REFRESH_S, DEFAULT_STATSD
from gunicorn_tui.user_config.config_file import UserConfig

# config key -> (argparse dest, built-in default)
_SETTINGS: tuple[tuple[str, str, object], ...] = (
    ("refresh_s", "refresh", DEFAULT_REFRESH_S),
    ("statsd", "statsd", DEFAULT_STATSD),
    ("export_dir", "export_dir", None),
    ("read_only", "read_only", False),
    ("theme", "theme", None),
)


@dataclass(frozen=True)
class EffectiveSetting:
    """One setting's value and where it came from."""

    key: str
    value: object
    source: str  # "command line", "config file PATH", "default"


def apply_settings(args: argparse.Namespace, config: UserConfig) -> tuple[EffectiveSetting, ...]:
    """Fill each setting the command line left unset from ``config``, else
    the default, in ``args``; return every setting with its source."""
    effective = []
    for key, dest, default in _SETTINGS:
        given = getattr(args, dest, None)
        from_file = getattr(config, key)
        if given is not None:
            value, source = given, "command line"
        elif from_file is not None:
            value, source = from_file, f"config file {config.path}"
        else:
            value, source = default, "default"
        setattr(args, dest, value)
        effective.append(EffectiveSetting(key, value, source))
    args.user_config = config
    return tuple(effective)
