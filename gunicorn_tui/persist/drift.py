"""Which retunable settings run differently from what their source declares.

The running value is what the master runs now (control socket, the count it
aims for). The source value is what a fresh start from the source would give:
the command line, then ``GUNICORN_CMD_ARGS``, then the image's own config
file (not gtui's: gtui's file lives in the container's writable layer and is
lost with it), then Gunicorn's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gunicorn_tui.control.planning.command_args import OPTION_FLAGS
from gunicorn_tui.control.planning.running_config import running_value
from gunicorn_tui.model.instances import ConfigSource, ConfigValue, InstanceSample
from gunicorn_tui.settings.command_line import default_value

RETUNABLE: tuple[str, ...] = tuple(OPTION_FLAGS)


@dataclass(frozen=True)
class SettingDrift:
    """One setting whose running value is not what its source gives."""

    name: str
    running: ConfigValue
    source: ConfigValue


def running_settings(sample: InstanceSample) -> dict[str, ConfigValue]:
    """The retunable settings as the master runs them (None when unknown)."""
    return {name: running_value(sample, name) for name in RETUNABLE}


def source_value(
    name: str,
    command_settings: Mapping[str, ConfigValue],
    env_settings: Mapping[str, ConfigValue],
    file_settings: Mapping[str, ConfigValue],
) -> ConfigValue:
    """What a fresh start from the source gives ``name`` (Gunicorn's precedence)."""
    for layer in (command_settings, env_settings, file_settings):
        if name in layer:
            return layer[name]
    return default_value(name)


def drift(
    running: Mapping[str, ConfigValue],
    command_settings: Mapping[str, ConfigValue],
    env_settings: Mapping[str, ConfigValue],
    file_settings: Mapping[str, ConfigValue],
) -> list[SettingDrift]:
    """The settings whose running value differs from the source's (unknown
    running values are left out: nothing is persisted on a guess)."""
    found: list[SettingDrift] = []
    for name in RETUNABLE:
        value = running.get(name)
        if value is None:
            continue
        declared = source_value(name, command_settings, env_settings, file_settings)
        if _same(value, declared):
            continue
        found.append(SettingDrift(name, value, declared))
    return found


def _same(left: ConfigValue, right: ConfigValue) -> bool:
    if isinstance(left, int | float) and isinstance(right, int | float):
        return float(left) == float(right)
    return left == right


def image_file_settings(
    declared_in: Mapping[str, ConfigSource],
    static_values: Mapping[str, ConfigValue],
    config_file_managed: bool,
) -> dict[str, ConfigValue]:
    """Settings the image's own config file declares (none when the file is
    gtui's: that one is not part of the source)."""
    if config_file_managed:
        return {}
    return {
        name: static_values.get(name)
        for name, layer in declared_in.items()
        if layer is ConfigSource.CONFIG_FILE and name in RETUNABLE
    }
