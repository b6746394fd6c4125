"""cli/ stays a house a newcomer can read: no import cycle between its
modules (lazy imports included), no private name imported from another
module, and no command module importing another command module; shared
options and helpers live in options.py, target_monitor.py and the small
modules beside them."""

from __future__ import annotations

import argparse
import ast
import importlib
import pkgutil
from pathlib import Path

import gunicorn_tui.cli
from gunicorn_tui.cli.main import handler_of
from gunicorn_tui.cli.parser import COMMANDS, build_parser

CLI = Path(gunicorn_tui.cli.__file__).parent
PACKAGE = "gunicorn_tui.cli"


def _cli_module(node: ast.ImportFrom) -> str | None:
    """The cli module an ``import from`` names (absolute or relative), if any."""
    if node.level:  # relative: resolved against this package
        return node.module.split(".")[0] if node.level == 1 and node.module else None
    if node.module and node.module.startswith(PACKAGE + "."):
        return node.module.removeprefix(PACKAGE + ".").split(".")[0]
    return None


def _imports() -> dict[str, list[tuple[str, list[str]]]]:
    """module -> [(imported cli module, names)] for every import, anywhere in
    the file, in every form (``from gunicorn_tui.cli.x import n``, ``from
    gunicorn_tui.cli import x``, ``import gunicorn_tui.cli.x``, ``from .x
    import n``)."""
    found: dict[str, list[tuple[str, list[str]]]] = {}
    for path in sorted(CLI.glob("*.py")):
        edges: list[tuple[str, list[str]]] = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                names = [a.name for a in node.names]
                source = _cli_module(node)
                if source is not None:
                    edges.append((source, names))
                elif node.module == PACKAGE or (node.level == 1 and not node.module):
                    edges += [(name, []) for name in names]
            elif isinstance(node, ast.Import):
                edges += [
                    (a.name.removeprefix(PACKAGE + ".").split(".")[0], [])
                    for a in node.names
                    if a.name.startswith(PACKAGE + ".")
                ]
        found[path.stem] = edges
    return found


def test_every_cli_module_is_seen_and_imports() -> None:
    # The checks below read the files; this ties them to the package as it
    # imports (a module the glob missed, or one that fails to import, shows here).
    names = sorted(m.name for m in pkgutil.iter_modules(gunicorn_tui.cli.__path__))
    assert names == sorted(m for m in _imports() if m != "__init__")
    for name in names:
        importlib.import_module(f"{PACKAGE}.{name}")


def test_command_modules_do_not_import_each_other() -> None:
    commands = {c.handler.partition(":")[0].removeprefix(PACKAGE + ".") for c in COMMANDS}
    crossing = [
        f"{module} imports {source}"
        for module, edges in _imports().items()
        if module in commands
        for source, _ in edges
        if source in commands and source != module
    ]
    assert crossing == []


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
    for flag in (
        "--read-only",
        "--no-docker",
        "--api-only",
        "--statsd",
        "--yes",
        "--json",
        "--warmup",
    ):
        assert declared.get(flag) == ["options.py"], (flag, declared.get(flag))


def _helps(flag: str) -> dict[str, str]:
    """command -> help text of ``flag`` in that command, for the commands that take it."""
    root = build_parser()
    subparsers = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: action.help or ""
        for name, parser in subparsers.choices.items()
        for action in parser._actions
        if flag in action.option_strings
    }


def test_a_flag_shared_by_commands_reads_the_same_in_each() -> None:
    # Where commands give a flag the same meaning, they give it one help text
    # (one declaration in options.py); other flags of the same name in other
    # commands (gtui compare --duration: how long to measure) mean other things.
    shared = {
        "--read-only": {c.name for c in COMMANDS},
        "--no-docker": {"dashboard", "ls", "snapshot", "watch", "agent", "compare", "ab"},
        "--warmup": {"compare", "ab", "sweep"},
        "--duration": {"watch", "agent"},
    }
    for flag, commands in shared.items():
        helps = _helps(flag)
        assert commands <= set(helps), (flag, sorted(commands - set(helps)))
        assert len({helps[name] for name in commands}) == 1, (flag, helps)


def test_every_command_row_names_a_handler_that_exists() -> None:
    # Dispatch is COMMANDS alone: a row whose 'module:function' is wrong fails
    # here, not when a user runs the command.
    for command in COMMANDS:
        handler = handler_of(command.name)
        assert callable(handler), command.name
        assert handler.__name__ == command.handler.partition(":")[2], command.name


def test_only_the_dashboards_and_the_server_escape_their_own_output() -> None:
    # Every other command's output goes through main's escaping; a new command
    # is escaped unless its row says otherwise.
    exempt = {c.name for c in COMMANDS if c.escapes_own_output}
    assert exempt == {"dashboard", "demo", "replay", "serve"}
