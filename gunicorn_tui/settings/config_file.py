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
    """Top-level setting assignments of a Gunicorn config file.

    A setting assigned inside an ``if``, ``try``, ``for`` or ``with`` block,
    by augmented assignment (``+=``) or by unpacking is marked computed: which
    value the file ends with is only known by running it. Assignments inside
    functions and classes (hooks) are local names, not settings.
    """
    try:
        tree = ast.parse(source, filename=filename)
    except (SyntaxError, ValueError) as error:
        return ConfigFileSettings({}, (f"{filename}: not valid Python ({error})",))
    settings: dict[str, ConfigValue | Computed] = {}
    for node in tree.body:
        _read_statement(node, settings, conditional=False)
    return ConfigFileSettings(settings)


def _read_statement(
    node: ast.stmt, settings: dict[str, ConfigValue | Computed], conditional: bool
) -> None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for name_node in _assigned_names(target):
                if not is_known_setting(name_node.id):
                    continue
                if (
                    conditional
                    or isinstance(node, ast.AugAssign)
                    or name_node is not target
                    or node.value is None
                ):
                    expression = ast.unparse(node.value) if node.value is not None else "?"
                    settings[name_node.id] = Computed(expression)
                else:
                    settings[name_node.id] = _literal(name_node.id, node.value)
        return
    for field_name in ("body", "orelse", "finalbody", "handlers", "cases"):
        for child in getattr(node, field_name, None) or []:
            if isinstance(child, ast.ExceptHandler | ast.match_case):
                for statement in child.body:
                    _read_statement(statement, settings, conditional=True)
            else:
                _read_statement(child, settings, conditional=True)


def _assigned_names(target: ast.expr) -> list[ast.Name]:
    if isinstance(target, ast.Name):
        return [target]
    if isinstance(target, ast.Tuple | ast.List):
        return [name for element in target.elts for name in _assigned_names(element)]
    if isinstance(target, ast.Starred):
        return _assigned_names(target.value)
    return []


def _literal(name: str, node: ast.expr) -> ConfigValue | Computed:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return Computed(ast.unparse(node))
    return normalise_value(name, value)
