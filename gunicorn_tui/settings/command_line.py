"""Read Gunicorn settings from a master's arguments, with Gunicorn's own parser.

Using ``gunicorn.config.Config().parser()`` means every option, short form and
type conversion is exactly what the running server saw (within the options
its version shares with ours), instead of a copy that drifts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from gunicorn_tui.model.instances import ConfigValue


@dataclass(frozen=True)
class ParsedArguments:
    """Settings named on a command line (or in ``GUNICORN_CMD_ARGS``)."""

    settings: Mapping[str, ConfigValue]
    config_path: str | None
    app_module: str | None
    warnings: tuple[str, ...] = ()


@cache
def _gunicorn_config() -> Any:
    from gunicorn.config import Config

    return Config(usage="gunicorn [OPTIONS] [APP_MODULE]", prog="gunicorn")


@cache
def _parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _gunicorn_config().parser()
    return parser


def default_value(name: str) -> ConfigValue:
    """Gunicorn's default for setting ``name`` (from the installed Gunicorn)."""
    setting = _gunicorn_config().settings.get(name)
    if setting is None:
        return None
    return normalise_value(name, setting.default)


def is_known_setting(name: str) -> bool:
    return name in _gunicorn_config().settings


def normalise_value(name: str, value: Any) -> ConfigValue:
    """Turn a setting value into a plain JSON-able scalar.

    ``bind`` is a list in Gunicorn; it is shown as a comma-separated string.
    """
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def parse_arguments(args: Sequence[str]) -> ParsedArguments:
    """Parse the arguments that follow ``gunicorn`` on a command line.

    Never raises: an argument list Gunicorn itself would reject yields what
    could be read and a warning.
    """
    parser = _parser()
    warnings: list[str] = []
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            namespace, unknown = parser.parse_known_args(list(args))
    except SystemExit:
        message = stderr.getvalue().strip().splitlines()
        reason = message[-1] if message else "unparseable arguments"
        return ParsedArguments({}, None, None, (f"command line not understood: {reason}",))
    if unknown:
        warnings.append("unknown options ignored: " + " ".join(unknown))
    values = {key: value for key, value in vars(namespace).items() if value is not None}
    positional = values.pop("args", []) or []
    config_path = values.pop("config", None)
    settings = {name: normalise_value(name, value) for name, value in values.items()}
    app_module = positional[-1] if positional else None
    return ParsedArguments(
        settings=settings,
        config_path=str(config_path) if config_path else None,
        app_module=app_module,
        warnings=tuple(warnings),
    )


def parse_env_arguments(value: str) -> ParsedArguments:
    """Parse ``GUNICORN_CMD_ARGS`` the way Gunicorn does (shlex split)."""
    try:
        words = shlex.split(value)
    except ValueError as error:
        return ParsedArguments({}, None, None, (f"GUNICORN_CMD_ARGS not understood: {error}",))
    return parse_arguments(words)
