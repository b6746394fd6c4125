"""cli/ stays a house a newcomer can read: no import cycle between its
modules (lazy imports included) and no private name imported from another
module; shared options and helpers live in options.py and target_monitor.py."""

from __future__ import annotations

import ast
from pathlib import Path

import gunicorn_tui.cli

CLI = Path(gunicorn_tui.cli.__file__).parent


def _imports() -> dict[str, list[tuple[str, list[str]]]]:
    """module -> [(imported cli module, names)] for every import, anywhere in the file."""
    found: dict[str, list[tuple[str, list[str]]]] = {}
    for path in sorted(CLI.glob("*.py")):
        edges = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and (node.module.startswith("gunicorn_tui.cli."))
            ):
                edges.append((node.module.rsplit(".", 1)[1], [a.name for a in node.names]))
        found[path.stem] = edges
    return found


def test_no_private_name_crosses_cli_modules() -> None:
    private = [
        f"{module} imports {name} from {source}"
        for module, edges in _imports().items()
        for source, names in edges
        for name in names
        if name.startswith("_")
    ]
    assert private == []


def test_no_import_cycle_in_cli() -> None:
    graph = {m: {source for source, _ in edges} for m, edges in _imports().items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                if reaches(nxt, goal, seen):
                    return True
        return False

    cycles = [m for m in graph if reaches(m, m, set())]
    assert cycles == []


def test_options_are_declared_once() -> None:
    # Each shared flag has one add_argument in cli/ (in options.py), whatever
    # the number of commands that take it.
    declared: dict[str, list[str]] = {}
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                declared.setdefault(str(node.args[0].value), []).append(path.name)
    for flag in ("--read-only", "--no-docker", "--api-only", "--statsd", "--yes", "--json"):
        assert declared.get(flag) == ["options.py"], (flag, declared.get(flag))
