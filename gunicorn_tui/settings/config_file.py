"""Read settings from a Gunicorn config file without running it.

A config file is Python. Executing another program's Python inside gtui is
out of the question, so top-level assignments are read with ``ast``: literal
values are taken, anything computed (``multiprocessing.cpu_count() * 2 + 1``)
is recorded as set-but-unknown.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

from gunicorn_tui.model.instances import ConfigValue
from gunicorn_tui.settings.command_line import is_known_setting, normalise_value


class Computed:
    """Marker for a setting assigned from an expression that is not a literal."""

    def __init__(self, expression: str) -> None:
        self.expression = expression

    def __repr__(self) -> str:
        return f"Computed({self.expression!r})"


@dataclass(frozen=True)
class ConfigFileSettings:
    """Settings found in one config file."""

    settings: Mapping[str, ConfigValue | Computed]
    warnings: tuple[str, ...] = ()


def parse_config_source(source: str, filename: str = "gunicorn.conf.py") -> ConfigFileSettings:
    """Top-level setting assignments of a Gunicorn config file."""
    try:
        tree = ast.parse(source, filename=filename)
    except (SyntaxError, ValueError) as error:
        return ConfigFileSettings({}, (f"{filename}: not valid Python ({error})",))
    settings: dict[str, ConfigValue | Computed] = {}
    for node in tree.body:
        targets: list[ast.expr]
        value: ast.expr | None
        if isinstance(node, ast.Assign):
            targets, value = list(node.targets), node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        if value is None:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and is_known_setting(target.id):
                settings[target.id] = _literal(target.id, value)
    return ConfigFileSettings(settings)


def _literal(name: str, node: ast.expr) -> ConfigValue | Computed:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return Computed(ast.unparse(node))
    return normalise_value(name, value)
